//! Durations as operators write them (`500ms`, `30s`, `5m`, `1h`, `1d`,
//! `1h30m`): the one parser and formatter live in `tejun_probe::duration`,
//! shared with trigger expressions (`... over 1m`), so a duration a
//! runbook accepts in `timeout:` is the same one a trigger accepts.

pub use tejun_probe::duration::{format_duration, parse_duration};
