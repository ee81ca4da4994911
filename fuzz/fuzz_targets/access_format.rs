#![no_main]
//! The access-log format compilers (nginx `log_format`, Apache
//! `LogFormat`, the JSON field mapping) never panic: any text compiles or
//! gives an error located inside it, and a compiled format reads any line
//! or rejects it. Input: format text, a NUL, then lines to read.

use libfuzzer_sys::fuzz_target;
use tejun_signals::access::json::JsonFormat;
use tejun_signals::access::{AccessFormat, FormatError, apache, nginx};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (source, lines) = text.split_once('\0').unwrap_or((&*text, ""));
    let zone = jiff::tz::TimeZone::UTC;
    let compiled = match kind % 3 {
        0 => nginx::compile(source, zone).map(AccessFormat::Line),
        1 => apache::compile(source, zone).map(AccessFormat::Line),
        _ => JsonFormat::new(source, zone).map(AccessFormat::Json),
    };
    match compiled {
        Ok(format) => {
            for line in lines.split('\n') {
                if let Err(e) = format.parse(line) {
                    assert!(e.column >= 1 && e.column <= line.len() + 1, "{e:?} in {line:?}");
                }
            }
        }
        Err(e) => check_location(&e, source),
    }
});

fn check_location(e: &FormatError, source: &str) {
    let lines = source.split('\n').count();
    assert!(e.line >= 1 && e.line <= lines, "{e} in {source:?}");
    let width = source.split('\n').nth(e.line - 1).map_or(0, |l| l.chars().count());
    assert!(e.column >= 1 && e.column <= width + 1, "{e} in {source:?}");
}
