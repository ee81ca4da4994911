//! A compiled line format: text between fields, and what each field is.
//! nginx `log_format` lines and Apache `LogFormat` strings compile to the
//! same [`LineFormat`], which reads a line in one pass over its bytes.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::request::{Expected, LineError, Request};
use super::time::{DurationUnit, TimeFormat};

/// What a field of a line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Client,
    Time(TimeFormat),
    /// `GET /path?query HTTP/1.1`.
    Request,
    Method,
    /// The target with its query string (`$request_uri`, `%U%q`).
    Target,
    Status,
    Bytes,
    RequestTime(DurationUnit),
    /// nginx's `0.010, 0.020 : 0.005` (one per upstream tried).
    UpstreamTime,
    Referer,
    UserAgent,
    Host,
    /// Read over and not kept.
    Skip,
}

/// A field and the text that follows it in the format.
#[derive(Debug, Clone)]
struct Slot {
    field: Field,
    after: Box<[u8]>,
}

/// A compiled format. Build one with [`LineFormat::combined`],
/// [`super::nginx::compile`] or [`super::apache::compile`].
#[derive(Debug, Clone)]
pub struct LineFormat {
    prefix: Box<[u8]>,
    slots: Vec<Slot>,
    zone: TimeZone,
}

/// nginx's predefined `combined` format (the same fields as Apache's).
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// The common log format: combined without referer and user agent.
pub const COMMON: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#;

/// A format's items in order, as a compiler produces them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Literal(Vec<u8>),
    Field(Field),
}

impl LineFormat {
    /// nginx/Apache combined. `zone` reads times written without an offset.
    pub fn combined(zone: TimeZone) -> LineFormat {
        super::nginx::compile(COMBINED, zone).expect("the combined format compiles")
    }

    /// The common log format (no referer, no user agent).
    pub fn common(zone: TimeZone) -> LineFormat {
        super::nginx::compile(COMMON, zone).expect("the common format compiles")
    }

    /// Builds a format from items whose fields are each followed by a
    /// literal (or end the format); the compilers check that.
    pub(crate) fn from_items(items: Vec<Item>, zone: TimeZone) -> LineFormat {
        let mut prefix = Vec::new();
        let mut slots: Vec<Slot> = Vec::new();
        for item in items {
            match item {
                Item::Literal(text) => match slots.last_mut() {
                    Some(slot) => {
                        let mut after = std::mem::take(&mut slot.after).into_vec();
                        after.extend_from_slice(&text);
                        slot.after = after.into_boxed_slice();
                    }
                    None => prefix.extend_from_slice(&text),
                },
                Item::Field(field) => slots.push(Slot {
                    field,
                    after: Box::default(),
                }),
            }
        }
        LineFormat {
            prefix: prefix.into_boxed_slice(),
            slots,
            zone,
        }
    }

    /// Reads one line (without its newline).
    pub fn parse<'a>(&self, line: &'a str) -> Result<Request<'a>, LineError> {
        let b = line.as_bytes();
        if !b.starts_with(&self.prefix) {
            return Err(error(0, Expected::Literal));
        }
        let mut pos = self.prefix.len();
        let mut time: Option<Timestamp> = None;
        let mut req = Request {
            time: Timestamp::UNIX_EPOCH,
            method: "",
            path: "",
            status: 0,
            bytes: 0,
            request_time: None,
            upstream_time: None,
            client: "",
            host: "",
            referer: "",
            user_agent: "",
        };
        let mut status_seen = false;
        for slot in &self.slots {
            let end = if slot.after.is_empty() {
                b.len()
            } else {
                find_end(b, pos, &slot.after, slot.field).ok_or(error(pos, Expected::Literal))?
            };
            let value = &line[pos..end];
            match slot.field {
                Field::Client => req.client = dash_empty(value),
                Field::Time(format) => {
                    time = Some(
                        format
                            .parse(value, &self.zone)
                            .ok_or(error(pos, Expected::Time))?,
                    );
                }
                Field::Request => {
                    let (method, target) = split_request(value);
                    req.method = method;
                    req.path = path_of(target);
                }
                Field::Method => req.method = dash_empty(value),
                Field::Target => req.path = path_of(value),
                Field::Status => {
                    req.status = parse_status(value).ok_or(error(pos, Expected::Status))?;
                    status_seen = true;
                }
                Field::Bytes => {
                    req.bytes = parse_bytes(value).ok_or(error(pos, Expected::Bytes))?;
                }
                Field::RequestTime(unit) => {
                    if value != "-" {
                        req.request_time =
                            Some(unit.parse(value).ok_or(error(pos, Expected::Duration))?);
                    }
                }
                Field::UpstreamTime => req.upstream_time = upstream_time(value),
                Field::Referer => req.referer = dash_empty(value),
                Field::UserAgent => req.user_agent = dash_empty(value),
                Field::Host => req.host = dash_empty(value),
                Field::Skip => {}
            }
            pos = end + slot.after.len();
        }
        if pos != b.len() {
            return Err(error(pos, Expected::Literal));
        }
        req.time = time.ok_or(error(0, Expected::Time))?;
        if !status_seen {
            return Err(error(0, Expected::Status));
        }
        Ok(req)
    }
}

fn error(pos: usize, expected: Expected) -> LineError {
    LineError {
        column: pos + 1,
        expected,
    }
}

/// Where the field starting at `from` ends: the next place `after`
/// follows. nginx writes several upstream times as `a, b : c`, so for them
/// a space after `,` or `:`, or before `:`, is not the end.
fn find_end(b: &[u8], from: usize, after: &[u8], field: Field) -> Option<usize> {
    let first = after[0];
    let mut at = from;
    // Bounded: `at` moves forward every turn.
    loop {
        let found = at + memchr::memchr(first, &b[at..])?;
        if b[found..].starts_with(after) {
            let inside_upstream_list = field == Field::UpstreamTime
                && first == b' '
                && found > from
                && (matches!(b[found - 1], b',' | b':') || b.get(found + 1) == Some(&b':'));
            if !inside_upstream_list {
                return Some(found);
            }
        }
        at = found + 1;
    }
}

fn dash_empty(value: &str) -> &str {
    if value == "-" { "" } else { value }
}

/// Method and target of `GET /x HTTP/1.1`; a request line that is not one
/// (`-`, binary from a TLS client) has no method and is kept whole.
fn split_request(value: &str) -> (&str, &str) {
    let Some((method, rest)) = value.split_once(' ') else {
        return ("", value);
    };
    if method.is_empty()
        || !method
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'-' || c == b'_')
    {
        return ("", value);
    }
    let target = match rest.rsplit_once(' ') {
        Some((target, protocol)) if protocol.starts_with("HTTP/") => target,
        _ => rest,
    };
    (method, target)
}

fn path_of(target: &str) -> &str {
    match memchr::memchr(b'?', target.as_bytes()) {
        Some(q) => &target[..q],
        None => target,
    }
}

fn parse_status(value: &str) -> Option<u16> {
    let b = value.as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0'))
}

fn parse_bytes(value: &str) -> Option<u64> {
    if value == "-" {
        return Some(0);
    }
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(
        value
            .bytes()
            .fold(0u64, |n, c| n * 10 + u64::from(c - b'0')),
    )
}

/// The sum of nginx's upstream times (`-` parts, upstreams not reached,
/// count as nothing); `None` when none was reached.
fn upstream_time(value: &str) -> Option<Duration> {
    if value == "-" {
        return None;
    }
    let mut total: Option<Duration> = None;
    for part in value.split([',', ':']) {
        if let Some(d) = DurationUnit::Seconds.parse(part.trim()) {
            total = Some(total.unwrap_or_default() + d);
        }
    }
    total
}

/// Refuses a format that lacks what every statistic needs: a time, a
/// status and a request (or its target). Located at the format's start.
pub(crate) fn check_required(
    source: &str,
    items: &[(Item, usize)],
) -> Result<(), super::format_error::FormatError> {
    let has = |pred: &dyn Fn(Field) -> bool| {
        items
            .iter()
            .any(|(item, _)| matches!(item, Item::Field(f) if pred(*f)))
    };
    let start = items.first().map_or(0, |(_, at)| *at);
    let missing = if !has(&|f| matches!(f, Field::Time(_))) {
        Some((
            "a time ($time_local, $time_iso8601, $msec / %t)",
            "日時（$time_local、$time_iso8601、$msec / %t）",
        ))
    } else if !has(&|f| f == Field::Status) {
        Some(("a status ($status / %s)", "ステータス（$status / %s）"))
    } else if !has(&|f| matches!(f, Field::Request | Field::Target)) {
        Some((
            "a request ($request, $request_uri / %r, %U)",
            "リクエスト（$request、$request_uri / %r、%U）",
        ))
    } else {
        None
    };
    match missing {
        Some((en, ja)) => Err(super::format_error::FormatError::at(
            source,
            start,
            format!("the format has no {en}, which statistics need"),
            format!("書式に{ja}がありません。統計に必要です"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc_combined() -> LineFormat {
        LineFormat::combined(TimeZone::UTC)
    }

    #[test]
    fn a_combined_line_reads_into_its_parts() {
        let line = r#"203.0.113.7 - alice [04/Dec/2026:10:00:01 +0900] "GET /api/items/42?x=1 HTTP/1.1" 200 512 "https://example.com/" "curl/8.5.0""#;
        let r = utc_combined().parse(line).unwrap();
        assert_eq!(r.client, "203.0.113.7");
        assert_eq!(r.time.to_string(), "2026-12-04T01:00:01Z");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/api/items/42");
        assert_eq!(r.status, 200);
        assert_eq!(r.bytes, 512);
        assert_eq!(r.referer, "https://example.com/");
        assert_eq!(r.user_agent, "curl/8.5.0");
        assert_eq!(r.request_time, None);
    }

    #[test]
    fn odd_request_lines_are_kept_without_a_method() {
        let line = r#"198.51.100.1 - - [04/Dec/2026:10:00:01 +0000] "-" 400 0 "-" "-""#;
        let r = utc_combined().parse(line).unwrap();
        assert_eq!(
            (r.method, r.path, r.status, r.user_agent),
            ("", "-", 400, "")
        );
        let line =
            r#"198.51.100.1 - - [04/Dec/2026:10:00:01 +0000] "\x16\x03\x01 junk" 400 157 "-" "-""#;
        let r = utc_combined().parse(line).unwrap();
        assert_eq!(r.method, "");
    }

    #[test]
    fn a_broken_line_says_where_it_broke() {
        let f = utc_combined();
        let e = f.parse("not a log line").unwrap_err();
        assert_eq!(e.expected, Expected::Literal);
        let line = r#"1.2.3.4 - - [04/Dec/2026:10:00:01 +0000] "GET / HTTP/1.1" 2x0 5 "-" "-""#;
        let e = f.parse(line).unwrap_err();
        assert_eq!((e.column, e.expected), (59, Expected::Status));
        let line = r#"1.2.3.4 - - [99/Dec/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "-""#;
        assert_eq!(f.parse(line).unwrap_err().expected, Expected::Time);
    }

    #[test]
    fn upstream_lists_are_summed() {
        assert_eq!(
            upstream_time("0.010, 0.020 : 0.005"),
            Some(Duration::from_millis(35))
        );
        assert_eq!(upstream_time("-"), None);
        assert_eq!(upstream_time("-, 0.5"), Some(Duration::from_millis(500)));
    }
}
