//! One access-log line read into its parts.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

/// One request as an access log records it. Text fields borrow from the
/// line (no allocation per line); a field the format does not have, or
/// that the log wrote as `-`, is empty (text), 0 (`bytes`) or `None`
/// (times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Request<'a> {
    /// When the request was logged (nginx: when it ended; Apache: when it
    /// was received).
    pub time: Timestamp,
    /// `GET`, `POST`, ... Empty when the request line was not one (`"-"`,
    /// a TLS handshake sent to a plain port).
    pub method: &'a str,
    /// The request target without its query string, as written (not
    /// decoded).
    pub path: &'a str,
    pub status: u16,
    /// Body bytes sent (`$body_bytes_sent`, `%b`), or all bytes sent when
    /// that is what the format records.
    pub bytes: u64,
    /// Time the server spent on the request (`$request_time`, `%D`, `%T`).
    pub request_time: Option<Duration>,
    /// Time spent waiting for upstreams (`$upstream_response_time`), summed
    /// over every upstream tried.
    pub upstream_time: Option<Duration>,
    /// The client address as logged (`$remote_addr`, `%h`).
    pub client: &'a str,
    /// `Host` or the virtual server name, when logged.
    pub host: &'a str,
    pub referer: &'a str,
    pub user_agent: &'a str,
}

impl Request<'_> {
    /// The latency statistics use: the request time, else the upstream
    /// time, else none.
    pub fn latency(&self) -> Option<Duration> {
        self.request_time.or(self.upstream_time)
    }
}

/// Why a line could not be read with a format: where (byte column, from 1)
/// and which part of the format failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub column: usize,
    pub expected: Expected,
}

/// What a line was expected to have at the failing column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// Text written in the format between fields.
    Literal,
    Time,
    Status,
    Bytes,
    Duration,
    Request,
    /// A JSON object (JSON lines).
    Object,
    /// A JSON field the mapping names.
    Field,
    /// A line not valid UTF-8 or holding NUL bytes.
    Text,
    /// A line over 1 MiB.
    ShortLine,
}

impl Expected {
    pub fn describe(self, lang: tejun_locale::Lang) -> &'static str {
        match self {
            Expected::Literal => lang.pick(
                "the format's text between fields",
                "書式のフィールド間の文字列",
            ),
            Expected::Time => lang.pick("a time", "日時"),
            Expected::Status => lang.pick("a 3-digit status", "3 桁のステータス"),
            Expected::Bytes => lang.pick("a byte count", "バイト数"),
            Expected::Duration => lang.pick("a duration", "所要時間"),
            Expected::Request => lang.pick("a request line", "リクエスト行"),
            Expected::Object => lang.pick("a JSON object", "JSON オブジェクト"),
            Expected::Field => lang.pick("a mapped JSON field", "対応付けた JSON フィールド"),
            Expected::Text => lang.pick(
                "UTF-8 text without NUL bytes",
                "NUL を含まない UTF-8 テキスト",
            ),
            Expected::ShortLine => lang.pick("a line under 1 MiB", "1 MiB 未満の行"),
        }
    }
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "column {}: expected {}",
            self.column,
            self.expected.describe(tejun_locale::Lang::En)
        )
    }
}
