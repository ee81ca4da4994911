#![no_main]
//! The slow-log readers (MySQL/MariaDB and PostgreSQL), the fingerprint
//! rules and sample redaction never panic on any input, and every class in
//! a report has at least one call and a total no larger than the whole.

use libfuzzer_sys::fuzz_target;
use tejun_signals::digest::{Aggregate, EmbeddedNumbers, Format, Options, fingerprint};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Mysql, Format::Postgres, Format::Auto] {
        let mut digest = Aggregate::new(Options {
            redact: true,
            ..Options::default()
        });
        let _ = digest.read_log("fuzz.log", data, format);
        let report = digest.report(None);
        for class in &report.classes {
            assert!(class.count > 0);
            assert!(class.query_time.total <= report.query_time * (1.0 + 1e-9) + 1e-6);
            assert!(class.query_time.p95 <= class.query_time.max);
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = fingerprint(&text, EmbeddedNumbers::Keep);
    let _ = fingerprint(&text, EmbeddedNumbers::Replace);
    let _ = tejun_signals::digest::redact::redact(&text);
});
