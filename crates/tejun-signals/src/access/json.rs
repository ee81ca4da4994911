//! JSON lines (one object per line, as nginx `escape=json` formats or
//! application loggers write them) read with a field mapping.
//!
//! Only top-level keys are read; nested objects and arrays are stepped
//! over. String values are used as written between their quotes (escapes
//! are not decoded: paths and addresses rarely hold any), so a line costs
//! no allocation.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::format_error::FormatError;
use super::request::{Expected, LineError, Request};
use super::time::{DurationUnit, TimeFormat};

/// A request part a JSON key can be mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonField {
    Time,
    Method,
    /// The target, query string cut off.
    Path,
    /// A whole request line, `GET /x HTTP/1.1`.
    Request,
    Status,
    Bytes,
    RequestTime(DurationUnit),
    UpstreamTime(DurationUnit),
    Client,
    Host,
    Referer,
    UserAgent,
}

/// The parts a mapping names, with the keys read when none is given.
const DEFAULTS: &[(&str, JsonField, &[&str])] = &[
    (
        "time",
        JsonField::Time,
        &[
            "time",
            "timestamp",
            "@timestamp",
            "time_iso8601",
            "time_local",
            "msec",
            "ts",
        ],
    ),
    ("method", JsonField::Method, &["method", "request_method"]),
    (
        "path",
        JsonField::Path,
        &["path", "uri", "request_uri", "url"],
    ),
    ("request", JsonField::Request, &["request"]),
    ("status", JsonField::Status, &["status", "status_code"]),
    (
        "bytes",
        JsonField::Bytes,
        &["body_bytes_sent", "bytes_sent", "bytes", "size"],
    ),
    (
        "request_time",
        JsonField::RequestTime(DurationUnit::Seconds),
        &["request_time"],
    ),
    (
        "upstream_time",
        JsonField::UpstreamTime(DurationUnit::Seconds),
        &["upstream_response_time", "upstream_time"],
    ),
    (
        "client",
        JsonField::Client,
        &["remote_addr", "client", "client_ip", "ip"],
    ),
    (
        "host",
        JsonField::Host,
        &["host", "http_host", "server_name"],
    ),
    (
        "referer",
        JsonField::Referer,
        &["http_referer", "referer", "referrer"],
    ),
    (
        "user_agent",
        JsonField::UserAgent,
        &["http_user_agent", "user_agent"],
    ),
];

/// JSON keys and the request part each one fills.
#[derive(Debug, Clone)]
pub struct JsonFormat {
    keys: Vec<(Box<[u8]>, JsonField)>,
    zone: TimeZone,
}

impl JsonFormat {
    /// The default keys, overridden part by part by `mapping`:
    /// `time=ts,request_time=duration:ms,path=req.path`; durations take a
    /// unit (`:s`, the default, `:ms`, `:us`). Errors are located in
    /// `mapping`.
    pub fn new(mapping: &str, zone: TimeZone) -> Result<JsonFormat, FormatError> {
        let mut chosen: Vec<(&str, JsonField, Vec<String>)> = DEFAULTS
            .iter()
            .map(|(name, field, keys)| {
                (*name, *field, keys.iter().map(|k| k.to_string()).collect())
            })
            .collect();
        let mut offset = 0;
        for entry in mapping.split(',') {
            let at = offset;
            offset += entry.len() + 1;
            let trimmed = entry.trim();
            if trimmed.is_empty() {
                continue;
            }
            let Some((part, key)) = trimmed.split_once('=') else {
                return Err(FormatError::at(
                    mapping,
                    at,
                    format!("`{trimmed}` is not PART=KEY"),
                    format!("`{trimmed}` は PART=KEY の形ではありません"),
                ));
            };
            let (part, key) = (part.trim(), key.trim());
            let Some(slot) = chosen.iter_mut().find(|(name, _, _)| *name == part) else {
                let names: Vec<&str> = DEFAULTS.iter().map(|(n, _, _)| *n).collect();
                return Err(FormatError::at(
                    mapping,
                    at,
                    format!("unknown part `{part}`; parts are {}", names.join(", ")),
                    format!("不明な項目 `{part}` です。項目は {} です", names.join(", ")),
                ));
            };
            let (key, unit) = match key.rsplit_once(':') {
                Some((k, "s")) => (k, Some(DurationUnit::Seconds)),
                Some((k, "ms")) => (k, Some(DurationUnit::Millis)),
                Some((k, "us")) => (k, Some(DurationUnit::Micros)),
                _ => (key, None),
            };
            if key.is_empty() {
                return Err(FormatError::at(
                    mapping,
                    at,
                    format!("`{part}=` needs a key"),
                    format!("`{part}=` にキーがありません"),
                ));
            }
            slot.1 = match (slot.1, unit) {
                (JsonField::RequestTime(_), Some(u)) => JsonField::RequestTime(u),
                (JsonField::UpstreamTime(_), Some(u)) => JsonField::UpstreamTime(u),
                (_, Some(_)) => {
                    return Err(FormatError::at(
                        mapping,
                        at,
                        format!("only durations take a unit, not `{part}`"),
                        format!("単位を付けられるのは所要時間だけです（`{part}`）"),
                    ));
                }
                (field, None) => field,
            };
            slot.2 = vec![key.to_string()];
        }
        Ok(JsonFormat {
            keys: chosen
                .into_iter()
                .flat_map(|(_, field, keys)| {
                    keys.into_iter()
                        .map(move |k| (k.into_bytes().into_boxed_slice(), field))
                })
                .collect(),
            zone,
        })
    }

    fn field_of(&self, key: &[u8]) -> Option<JsonField> {
        self.keys.iter().find(|(k, _)| **k == *key).map(|(_, f)| *f)
    }

    pub fn parse<'a>(&self, line: &'a str) -> Result<Request<'a>, LineError> {
        let b = line.as_bytes();
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
        let (mut time, mut status) = (None, false);
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return Err(err(i, Expected::Object));
        }
        i = skip_ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            return Err(err(i, Expected::Field));
        }
        // Bounded: each turn reads one key and value, moving `i` forward.
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(err(i, Expected::Object));
            }
            let key_end = string_end(b, i + 1).ok_or(err(i, Expected::Object))?;
            let key = &b[i + 1..key_end];
            i = skip_ws(b, key_end + 1);
            if b.get(i) != Some(&b':') {
                return Err(err(i, Expected::Object));
            }
            i = skip_ws(b, i + 1);
            let value_start = i;
            let (value, is_string, end) = value_at(b, i).ok_or(err(i, Expected::Object))?;
            if let Some(field) = self.field_of(key) {
                let text = &line[value.0..value.1];
                let null = !is_string && text == "null";
                match field {
                    _ if null => {}
                    JsonField::Time => {
                        let parsed = if !is_string {
                            TimeFormat::Epoch.parse(text, &self.zone)
                        } else if text.as_bytes().get(2) == Some(&b'/') {
                            TimeFormat::Local.parse(text, &self.zone)
                        } else {
                            TimeFormat::Iso8601.parse(text, &self.zone)
                        };
                        time = Some(parsed.ok_or(err(value_start, Expected::Time))?);
                    }
                    JsonField::Method => req.method = text,
                    JsonField::Path => req.path = text.split('?').next().unwrap_or(text),
                    JsonField::Request => {
                        let mut words = text.split(' ');
                        let method = words.next().unwrap_or("");
                        match words.next() {
                            Some(target) => {
                                req.method = method;
                                req.path = target.split('?').next().unwrap_or(target);
                            }
                            None => req.path = text,
                        }
                    }
                    JsonField::Status => {
                        req.status = text
                            .parse::<u16>()
                            .ok()
                            .filter(|s| (100..=999).contains(s))
                            .ok_or(err(value_start, Expected::Status))?;
                        status = true;
                    }
                    JsonField::Bytes => {
                        req.bytes = if text == "-" {
                            0
                        } else {
                            text.parse()
                                .map_err(|_| err(value_start, Expected::Bytes))?
                        };
                    }
                    JsonField::RequestTime(unit) => {
                        if text != "-" && !text.is_empty() {
                            req.request_time = Some(
                                unit.parse(text)
                                    .ok_or(err(value_start, Expected::Duration))?,
                            );
                        }
                    }
                    JsonField::UpstreamTime(unit) => {
                        req.upstream_time = text
                            .split([',', ':'])
                            .filter_map(|p| unit.parse(p.trim()))
                            .reduce(|a, b| a + b);
                    }
                    JsonField::Client => req.client = text,
                    JsonField::Host => req.host = text,
                    JsonField::Referer => req.referer = if text == "-" { "" } else { text },
                    JsonField::UserAgent => req.user_agent = if text == "-" { "" } else { text },
                }
            }
            i = skip_ws(b, end);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => break,
                _ => return Err(err(i, Expected::Object)),
            }
        }
        if skip_ws(b, i + 1) != b.len() {
            return Err(err(i + 1, Expected::Object));
        }
        req.time = time.ok_or(err(0, Expected::Time))?;
        if !status {
            return Err(err(0, Expected::Status));
        }
        Ok(req)
    }
}

fn err(at: usize, expected: Expected) -> LineError {
    LineError {
        column: at + 1,
        expected,
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// The index of the quote closing a string whose text starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    // Bounded: each turn moves past a quote or backslash found.
    loop {
        let at = i + memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[at] == b'"' {
            return Some(at);
        }
        i = at + 2;
        if i > b.len() {
            return None;
        }
    }
}

/// The value at `i`: its text span (inside the quotes for a string),
/// whether it is a string, and where it ends.
fn value_at(b: &[u8], i: usize) -> Option<((usize, usize), bool, usize)> {
    match *b.get(i)? {
        b'"' => {
            let end = string_end(b, i + 1)?;
            Some(((i + 1, end), true, end + 1))
        }
        b'{' | b'[' => {
            // Nested: stepped over, brackets counted outside strings.
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => j = string_end(b, j + 1)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(((i, j + 1), false, j + 1));
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(b.len() - i);
            (len > 0).then_some(((i, i + len), false, i + len))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn nginx_escape_json_lines_read_with_the_default_keys() {
        let f = JsonFormat::new("", TimeZone::UTC).unwrap();
        let line = r#"{"time_iso8601":"2026-12-04T10:00:00+00:00","remote_addr":"10.1.1.1","request":"GET /api/x?y HTTP/1.1","status":"200","body_bytes_sent":"12","request_time":"0.031","upstream_response_time":"0.030","http_user_agent":"a \"quoted\" ua","extra":{"a":[1,2,"}"]}}"#;
        let r = f.parse(line).unwrap();
        assert_eq!(
            (r.method, r.path, r.status, r.bytes),
            ("GET", "/api/x", 200, 12)
        );
        assert_eq!(r.request_time, Some(Duration::from_millis(31)));
        assert_eq!(r.user_agent, r#"a \"quoted\" ua"#);
        assert_eq!(r.client, "10.1.1.1");
    }

    #[test]
    fn a_mapping_picks_keys_and_units() {
        let f = JsonFormat::new(
            "time=ts, path=route, request_time=dur:ms, status=code",
            TimeZone::UTC,
        )
        .unwrap();
        let line =
            r#"{"ts": 1764842400.5, "route": "/a/1", "method": "PUT", "code": 503, "dur": 2500}"#;
        let r = f.parse(line).unwrap();
        assert_eq!(r.time.as_millisecond(), 1_764_842_400_500);
        assert_eq!((r.method, r.path, r.status), ("PUT", "/a/1", 503));
        assert_eq!(r.request_time, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn bad_mappings_and_lines_are_located() {
        let e = JsonFormat::new("time=ts,latency=d", TimeZone::UTC).unwrap_err();
        assert_eq!(e.column, 9);
        let e = JsonFormat::new("path=p:ms", TimeZone::UTC).unwrap_err();
        assert_eq!(e.column, 1);
        let f = JsonFormat::new("", TimeZone::UTC).unwrap();
        assert_eq!(f.parse("not json").unwrap_err().expected, Expected::Object);
        assert_eq!(
            f.parse(r#"{"status":200}"#).unwrap_err().expected,
            Expected::Time
        );
        assert_eq!(
            f.parse(r#"{"time":"2026-12-04T10:00:00Z","status":"x"}"#)
                .unwrap_err()
                .expected,
            Expected::Status
        );
        assert_eq!(
            f.parse(r#"{"time":"2026-12-04T10:00:00Z","status":200"#)
                .unwrap_err()
                .expected,
            Expected::Object
        );
    }
}
