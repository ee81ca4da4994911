//! Service signals: what an access log or a slow-query log says about a
//! service's health, fast enough to run on every host.
//!
//! Three parts, each usable alone:
//!
//! - [`access`]: access-log formats (combined, the user's own nginx
//!   `log_format`, Apache `%D`/`%T`, JSON lines) read into requests, and
//!   per-window statistics over them (`tejun stats`).
//! - [`digest`]: MySQL/MariaDB and PostgreSQL slow-query logs, fingerprinted
//!   the way pt-query-digest does it (`tejun digest`).
//! - [`trend`]: baselines against previous days and SLO burn rates over the
//!   windows the other two produce (`tejun stats --baseline`, watch metric
//!   rules).
//!
//! The crate reads bytes and returns values: files, terminals and the
//! journal belong to the CLI and to `tejun-watch`.

pub mod access;
pub mod align;
pub mod digest;
pub mod trend;
