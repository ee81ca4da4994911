//! Apache `LogFormat` strings compiled into a [`LineFormat`].
//!
//! Accepted as pasted from the configuration (`LogFormat "…" combined`)
//! or as the bare string, `\"` escapes included. `%D` (microseconds),
//! `%T` and `%{ms|us|s}T` are read as the request time. Directives tejun
//! does not use are read over; an unknown directive, a custom `%{…}t`
//! time, or a directive that directly follows another (except `%U%q`) is
//! refused at its line and column.

use jiff::tz::TimeZone;

use super::format::{Field, Item, LineFormat};
use super::format_error::FormatError;
use super::time::{DurationUnit, TimeFormat};

/// Apache's `combined` nickname.
pub const COMBINED: &str = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#;

pub fn compile(source: &str, zone: TimeZone) -> Result<LineFormat, FormatError> {
    let chars = format_bytes(source)?;
    let items = items(source, &chars)?;
    super::format::check_required(source, &items)?;
    Ok(LineFormat::from_items(
        items.into_iter().map(|(item, _)| item).collect(),
        zone,
    ))
}

/// The format string's bytes with their offsets in `source`: the
/// directive's quoted string when pasted whole, escapes undone.
fn format_bytes(source: &str) -> Result<Vec<(u8, usize)>, FormatError> {
    let b = source.as_bytes();
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let mut i = start;
    let mut quoted = false;
    if b.len() >= i + 9 && b[i..i + 9].eq_ignore_ascii_case(b"LogFormat") {
        i += 9;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'"') {
            return Err(FormatError::at(
                source,
                i,
                "LogFormat needs its format in double quotes".into(),
                "LogFormat の書式は二重引用符で囲んでください".into(),
            ));
        }
        i += 1;
        quoted = true;
    } else {
        i = 0;
    }
    let open = i.saturating_sub(1);
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                let c = match b[i + 1] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                };
                out.push((c, i));
                i += 2;
            }
            b'"' if quoted => return Ok(out),
            c => {
                out.push((c, i));
                i += 1;
            }
        }
    }
    if quoted {
        return Err(FormatError::at(
            source,
            open,
            "this quote is never closed".into(),
            "この引用符が閉じられていません".into(),
        ));
    }
    Ok(out)
}

fn items(source: &str, chars: &[(u8, usize)]) -> Result<Vec<(Item, usize)>, FormatError> {
    let mut items: Vec<(Item, usize)> = Vec::new();
    let mut i = 0;
    let push_literal = |items: &mut Vec<(Item, usize)>, c: u8, at: usize| match items.last_mut() {
        Some((Item::Literal(text), _)) => text.push(c),
        _ => items.push((Item::Literal(vec![c]), at)),
    };
    while i < chars.len() {
        let (c, at) = chars[i];
        if c != b'%' {
            push_literal(&mut items, c, at);
            i += 1;
            continue;
        }
        i += 1;
        if chars.get(i).is_some_and(|(c, _)| *c == b'%') {
            push_literal(&mut items, b'%', at);
            i += 1;
            continue;
        }
        // Conditions and `<`/`>` (original or final request) change
        // nothing about how the field reads.
        while chars
            .get(i)
            .is_some_and(|(c, _)| matches!(c, b'<' | b'>' | b'!' | b',') || c.is_ascii_digit())
        {
            i += 1;
        }
        let mut argument = None;
        if chars.get(i).is_some_and(|(c, _)| *c == b'{') {
            let close = chars[i..].iter().position(|(c, _)| *c == b'}');
            let Some(close) = close else {
                return Err(FormatError::at(
                    source,
                    at,
                    "`%{` is missing its closing `}`".into(),
                    "`%{` の閉じ `}` がありません".into(),
                ));
            };
            let text: String = chars[i + 1..i + close]
                .iter()
                .map(|(c, _)| *c as char)
                .collect();
            argument = Some(text);
            i += close + 1;
        }
        let Some(&(letter, _)) = chars.get(i) else {
            return Err(FormatError::at(
                source,
                at,
                "`%` at the end of the format needs a directive letter".into(),
                "書式末尾の `%` に指示子の文字がありません".into(),
            ));
        };
        i += 1;
        let field = field_of(source, at, letter, argument.as_deref())?;
        match items.last() {
            Some((Item::Field(Field::Target), _)) if letter == b'q' => continue,
            Some((Item::Field(_), previous)) => {
                let previous = directive_at(source, *previous);
                let this = directive_at(source, at);
                return Err(FormatError::at(
                    source,
                    at,
                    format!(
                        "{this} directly follows {previous}: nothing in the line tells where one ends and the other begins; put text (a space) between them"
                    ),
                    format!(
                        "{this} が {previous} の直後にあり、行のどこで区切れるか読めません。間に文字（空白など）を入れてください"
                    ),
                ));
            }
            _ => {}
        }
        if letter == b't' && argument.is_none() {
            // `%t` is written with its brackets.
            push_literal(&mut items, b'[', at);
            items.push((Item::Field(field), at));
            push_literal(&mut items, b']', at);
        } else {
            items.push((Item::Field(field), at));
        }
    }
    Ok(items)
}

/// The directive's text as written, for messages.
fn directive_at(source: &str, at: usize) -> &str {
    let b = source.as_bytes();
    let mut end = at + 1;
    while end < b.len() && (matches!(b[end], b'<' | b'>' | b'!' | b',') || b[end].is_ascii_digit())
    {
        end += 1;
    }
    if b.get(end) == Some(&b'{') {
        end = source[end..]
            .find('}')
            .map_or(b.len(), |close| end + close + 1);
    }
    while end < b.len() && !source.is_char_boundary(end + 1) {
        end += 1;
    }
    &source[at..(end + 1).min(b.len())]
}

fn field_of(
    source: &str,
    at: usize,
    letter: u8,
    argument: Option<&str>,
) -> Result<Field, FormatError> {
    let field = match (letter, argument) {
        (b'a' | b'h', _) => Field::Client,
        (b't', None) => Field::Time(TimeFormat::Local),
        (b't', Some("%d/%b/%Y:%H:%M:%S %z")) => Field::Time(TimeFormat::Local),
        (b't', Some("sec")) => Field::Time(TimeFormat::Epoch),
        (b't', Some(other)) => {
            return Err(FormatError::at(
                source,
                at,
                format!("the custom time %{{{other}}}t cannot be read: use %t, or %{{sec}}t"),
                format!(
                    "独自の日時書式 %{{{other}}}t は読めません。%t か %{{sec}}t を使ってください"
                ),
            ));
        }
        (b'r', _) => Field::Request,
        (b'm', _) => Field::Method,
        (b'U', _) => Field::Target,
        (b's', _) => Field::Status,
        (b'b' | b'B' | b'O', _) => Field::Bytes,
        (b'D', _) => Field::RequestTime(DurationUnit::Micros),
        (b'T', None | Some("s")) => Field::RequestTime(DurationUnit::Seconds),
        (b'T', Some("ms")) => Field::RequestTime(DurationUnit::Millis),
        (b'T', Some("us")) => Field::RequestTime(DurationUnit::Micros),
        (b'i', Some(header)) if header.eq_ignore_ascii_case("referer") => Field::Referer,
        (b'i', Some(header)) if header.eq_ignore_ascii_case("user-agent") => Field::UserAgent,
        (b'i', Some(header)) if header.eq_ignore_ascii_case("host") => Field::Host,
        (b'v' | b'V', _) => Field::Host,
        (
            b'A' | b'l' | b'u' | b'p' | b'P' | b'k' | b'X' | b'I' | b'S' | b'L' | b'R' | b'f'
            | b'e' | b'H' | b'q' | b'i' | b'o' | b'n' | b'C' | b'M',
            _,
        ) => Field::Skip,
        (other, _) => {
            let letter = other as char;
            return Err(FormatError::at(
                source,
                at,
                format!("unknown directive %{letter}"),
                format!("不明な指示子 %{letter} です"),
            ));
        }
    };
    Ok(field)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn combined_with_microseconds_reads_the_request_time() {
        let f = compile(
            r#"LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D" timed"#,
            TimeZone::UTC,
        )
        .unwrap();
        let line = r#"192.0.2.9 - - [04/Dec/2026:10:00:00 +0000] "GET /a?b HTTP/1.1" 503 10 "-" "ua" 2500000"#;
        let r = f.parse(line).unwrap();
        assert_eq!(r.request_time, Some(Duration::from_millis(2500)));
        assert_eq!((r.status, r.path, r.user_agent), (503, "/a", "ua"));
    }

    #[test]
    fn seconds_and_path_with_query() {
        let f = compile(r#"%h %t "%m %U%q %H" %s %B %T"#, TimeZone::UTC).unwrap();
        let line = r#"192.0.2.9 [04/Dec/2026:10:00:00 +0000] "POST /x?y=1 HTTP/1.1" 200 10 3"#;
        let r = f.parse(line).unwrap();
        assert_eq!((r.method, r.path), ("POST", "/x"));
        assert_eq!(r.request_time, Some(Duration::from_secs(3)));
    }

    #[test]
    fn unreadable_directives_are_located() {
        let e = compile(r#"%h %t "%r" %>s%b"#, TimeZone::UTC).unwrap_err();
        assert_eq!(e.column, 15);
        assert!(e.to_string().contains("%b directly follows %>s"), "{e}");
        let e = compile(r#"%h %{%Y}t "%r" %s"#, TimeZone::UTC).unwrap_err();
        assert_eq!(e.column, 4);
        let e = compile(r#"%h %t "%r" %s %Z"#, TimeZone::UTC).unwrap_err();
        assert_eq!(e.column, 15);
    }
}
