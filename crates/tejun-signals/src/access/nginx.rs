//! nginx `log_format` lines compiled into a [`LineFormat`].
//!
//! Accepted as pasted from nginx.conf (`log_format main '...' '...';`,
//! over several lines, with `escape=`), or as the bare format string.
//! Variables tejun reads become fields; any other variable is read over.
//! A format is refused, at the line and column of the text given, when a
//! variable cannot be read: one that directly follows another (no text
//! tells where the first ends), a malformed `$`/`${…}`, or a format without
//! a time, a status or a request.

use jiff::tz::TimeZone;

use super::format::{Field, Item, LineFormat};
use super::format_error::FormatError;
use super::time::{DurationUnit, TimeFormat};

/// Compiles `source` (a `log_format` directive or a bare format string).
pub fn compile(source: &str, zone: TimeZone) -> Result<LineFormat, FormatError> {
    let chars = format_bytes(source)?;
    let items = items(source, &chars)?;
    super::format::check_required(source, &items)?;
    Ok(LineFormat::from_items(
        items.into_iter().map(|(item, _)| item).collect(),
        zone,
    ))
}

/// What a variable holds, for the variables tejun reads.
pub fn field_of(name: &str) -> Field {
    match name {
        "remote_addr" | "realip_remote_addr" => Field::Client,
        "time_local" => Field::Time(TimeFormat::Local),
        "time_iso8601" => Field::Time(TimeFormat::Iso8601),
        "msec" => Field::Time(TimeFormat::Epoch),
        "request" => Field::Request,
        "request_method" => Field::Method,
        "request_uri" | "uri" | "document_uri" => Field::Target,
        "status" => Field::Status,
        "body_bytes_sent" | "bytes_sent" => Field::Bytes,
        "request_time" => Field::RequestTime(DurationUnit::Seconds),
        "upstream_response_time" => Field::UpstreamTime,
        "http_referer" => Field::Referer,
        "http_user_agent" => Field::UserAgent,
        "host" | "http_host" | "server_name" => Field::Host,
        _ => Field::Skip,
    }
}

/// The format string's bytes, each with its offset in `source`: the
/// directive's quoted parts joined as nginx joins them, escapes undone.
fn format_bytes(source: &str) -> Result<Vec<(u8, usize)>, FormatError> {
    let b = source.as_bytes();
    let mut i = skip_space(b, 0);
    if !b[i..].starts_with(b"log_format") || b.get(i + 10).is_some_and(|c| !c.is_ascii_whitespace())
    {
        return Ok(b.iter().copied().zip(0..).collect());
    }
    i = skip_space(b, i + 10);
    // The format's name, then options like `escape=json`.
    let name_start = i;
    i = skip_word(b, i);
    if i == name_start {
        return Err(FormatError::at(
            source,
            i,
            "log_format needs a name before the format".into(),
            "log_format の後に書式名が必要です".into(),
        ));
    }
    let mut out = Vec::new();
    // Bounded: every turn consumes at least one byte or returns.
    loop {
        i = skip_space(b, i);
        match b.get(i) {
            None | Some(b';') => break,
            Some(&q @ (b'\'' | b'"')) => {
                let open = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(FormatError::at(
                                source,
                                open,
                                "this quote is never closed".into(),
                                "この引用符が閉じられていません".into(),
                            ));
                        }
                        Some(&c) if c == q => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') if i + 1 < b.len() => {
                            let unescaped = match b[i + 1] {
                                b'n' => b'\n',
                                b't' => b'\t',
                                b'r' => b'\r',
                                other => other,
                            };
                            out.push((unescaped, i));
                            i += 2;
                        }
                        Some(&c) => {
                            out.push((c, i));
                            i += 1;
                        }
                    }
                }
            }
            Some(_) => {
                let start = i;
                i = skip_word(b, i);
                let word = &source[start..i];
                // Options come before the format strings.
                if out.is_empty() && (word.starts_with("escape=") || word.starts_with("if=")) {
                    continue;
                }
                out.extend(b[start..i].iter().copied().zip(start..));
            }
        }
    }
    Ok(out)
}

/// Skips white space and `#` comments (to the end of their line).
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if b[i] == b'#' {
            i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1);
        } else {
            break;
        }
    }
    i
}

fn skip_word(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b';' | b'\'' | b'"') {
        i += 1;
    }
    i
}

fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Literals and variables, each with its offset in `source`.
fn items(source: &str, chars: &[(u8, usize)]) -> Result<Vec<(Item, usize)>, FormatError> {
    let mut items: Vec<(Item, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (c, at) = chars[i];
        if c != b'$' {
            match items.last_mut() {
                Some((Item::Literal(text), _)) => text.push(c),
                _ => items.push((Item::Literal(vec![c]), at)),
            }
            i += 1;
            continue;
        }
        let braced = chars.get(i + 1).is_some_and(|(c, _)| *c == b'{');
        let name_start = i + 1 + usize::from(braced);
        let mut end = name_start;
        while end < chars.len() && is_name(chars[end].0) {
            end += 1;
        }
        let name: String = chars[name_start..end]
            .iter()
            .map(|(c, _)| *c as char)
            .collect();
        if name.is_empty() {
            return Err(FormatError::at(
                source,
                at,
                "`$` must be followed by a variable name (write `$name` or `${name}`)".into(),
                "`$` の後には変数名が必要です（`$name` または `${name}`）".into(),
            ));
        }
        if braced {
            if chars.get(end).is_none_or(|(c, _)| *c != b'}') {
                return Err(FormatError::at(
                    source,
                    at,
                    format!("`${{{name}` is missing its closing `}}`"),
                    format!("`${{{name}` の閉じ `}}` がありません"),
                ));
            }
            end += 1;
        }
        if let Some((Item::Field(_), previous)) = items.last() {
            let previous_name = variable_name_at(source, *previous);
            return Err(FormatError::at(
                source,
                at,
                format!(
                    "${name} directly follows ${previous_name}: nothing in the line tells where one ends and the other begins; put text (a space) between them"
                ),
                format!(
                    "${name} が ${previous_name} の直後にあり、行のどこで区切れるか読めません。間に文字（空白など）を入れてください"
                ),
            ));
        }
        items.push((Item::Field(field_of(&name)), at));
        i = end;
    }
    Ok(items)
}

fn variable_name_at(source: &str, at: usize) -> &str {
    let rest = source[at..].trim_start_matches(['$', '{']);
    let end = rest.bytes().position(|c| !is_name(c)).unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(source: &str) -> Result<LineFormat, FormatError> {
        compile(source, TimeZone::UTC)
    }

    #[test]
    fn a_pasted_directive_over_several_lines_compiles() {
        let source = "log_format timed escape=default '$remote_addr - $remote_user [$time_local] '\n    '\"$request\" $status $body_bytes_sent \"$http_referer\" '\n    '\"$http_user_agent\" rt=$request_time urt=$upstream_response_time';";
        let f = utc(source).unwrap();
        let line = r#"10.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "POST /login HTTP/2.0" 302 0 "-" "Mozilla/5.0" rt=0.250 urt=0.100, 0.120"#;
        let r = f.parse(line).unwrap();
        assert_eq!(r.request_time, Some(std::time::Duration::from_millis(250)));
        assert_eq!(r.upstream_time, Some(std::time::Duration::from_millis(220)));
        assert_eq!(r.path, "/login");
        assert_eq!(r.user_agent, "Mozilla/5.0");
    }

    #[test]
    fn a_directive_after_comments_compiles() {
        let f = utc("# written by nginx\n\nlog_format t '[$time_local] \"$request\" $status';\n")
            .unwrap();
        let r = f
            .parse(r#"[04/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200"#)
            .unwrap();
        assert_eq!(r.status, 200);
    }

    #[test]
    fn adjacent_variables_are_refused_where_the_second_starts() {
        let e = utc(
            "log_format x '$remote_addr [$time_local] \"$request\"'\n  ' $status$body_bytes_sent';",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 12));
        assert!(
            e.to_string()
                .contains("$body_bytes_sent directly follows $status"),
            "{e}"
        );
    }

    #[test]
    fn formats_without_a_time_status_or_request_are_refused() {
        let e = utc("$remote_addr $status \"$request\"").unwrap_err();
        assert!(e.to_string().contains("time"), "{e}");
        let e = utc("[$time_local] \"$request\"").unwrap_err();
        assert!(e.to_string().contains("status"), "{e}");
    }

    #[test]
    fn broken_variables_and_quotes_are_located() {
        let e = utc("[$time_local] $ $status").unwrap_err();
        assert_eq!((e.line, e.column), (1, 15));
        let e = utc("[$time_local] ${status").unwrap_err();
        assert_eq!((e.line, e.column), (1, 15));
        let e = utc("log_format x '[$time_local] $status").unwrap_err();
        assert_eq!((e.line, e.column), (1, 14));
    }
}
