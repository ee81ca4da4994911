#![no_main]
//! What an operator feeds the incident commands never panics: an edited
//! postmortem skeleton (`report --from`), a user catalogue (`collect
//! --catalog`) and a time argument (`--at`, `--started-at`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = tejun_incident::report::skeleton::parse(text, "fuzz.md");
    let mut catalog = tejun_incident::collect::Catalog::default();
    let _ = catalog.add(text, "fuzz.yaml");
    let zone = jiff::tz::TimeZone::UTC;
    let _ = tejun_incident::time::parse(text, &zone, jiff::Timestamp::UNIX_EPOCH);
});
