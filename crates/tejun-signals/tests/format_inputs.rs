//! Any format text compiles or gives an error located inside it, and a
//! compiled format reads any line or rejects it with a column inside it
//! (what the `access_format` fuzz target checks, run here on every test).

use proptest::prelude::*;
use tejun_signals::access::json::JsonFormat;
use tejun_signals::access::{AccessFormat, FormatError, apache, nginx};

fn check_location(e: &FormatError, source: &str) {
    let lines: Vec<&str> = source.split('\n').collect();
    assert!(e.line >= 1 && e.line <= lines.len(), "{e} in {source:?}");
    let width = lines[e.line - 1].chars().count();
    assert!(e.column >= 1 && e.column <= width + 1, "{e} in {source:?}");
}

fn exercise(kind: u8, source: &str, lines: &[String]) {
    let zone = jiff::tz::TimeZone::UTC;
    let compiled = match kind % 3 {
        0 => nginx::compile(source, zone).map(AccessFormat::Line),
        1 => apache::compile(source, zone).map(AccessFormat::Line),
        _ => JsonFormat::new(source, zone).map(AccessFormat::Json),
    };
    match compiled {
        Ok(format) => {
            for line in lines {
                if let Err(e) = format.parse(line) {
                    assert!(
                        e.column >= 1 && e.column <= line.len() + 1,
                        "{e:?} in {line:?}"
                    );
                }
            }
        }
        Err(e) => check_location(&e, source),
    }
}

/// Format-ish text: variables, directives, quotes and separators.
fn format_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("$remote_addr".to_string()),
            Just("$time_local".to_string()),
            Just("$time_iso8601".to_string()),
            Just("$msec".to_string()),
            Just("$request".to_string()),
            Just("$status".to_string()),
            Just("$request_time".to_string()),
            Just("$upstream_response_time".to_string()),
            Just("${status}".to_string()),
            Just("%h".to_string()),
            Just("%t".to_string()),
            Just("%>s".to_string()),
            Just("%D".to_string()),
            Just("%{Referer}i".to_string()),
            Just("%U%q".to_string()),
            Just("log_format x '".to_string()),
            Just("LogFormat \"".to_string()),
            Just("time=ts".to_string()),
            Just("request_time=d:ms".to_string()),
            "[ \\[\\]\"',;=:%${}\\\\\n#é-]{1,3}",
            "[a-z_]{1,6}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn line_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(
            r#"1.2.3.4 - - [04/Dec/2026:10:00:01 +0000] "GET /a/1 HTTP/1.1" 200 5 "-" "ua""#
                .to_string()
        ),
        Just(
            r#"{"time":"2026-12-04T10:00:00Z","status":200,"request_time":"999999999999.9"}"#
                .to_string()
        ),
        "[ -~é]{0,80}",
        "[0-9\\[\\]\"{}:, /.-]{0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn formats_and_lines_never_panic(kind in 0u8..3, source in format_text(), lines in prop::collection::vec(line_text(), 0..4)) {
        exercise(kind, &source, &lines);
    }
}
