//! Access logs: formats, requests, per-window statistics (`tejun stats`).
//!
//! - [`Request`]: one line read into its parts, borrowing from the line.
//! - [`LineFormat`]: a compiled line format: nginx/Apache combined, the
//!   user's nginx `log_format` ([`nginx::compile`]) or Apache `LogFormat`
//!   ([`apache::compile`]); [`json::JsonFormat`] for JSON lines.
//! - [`Stats`]: windows ([`window`]), endpoint templates ([`template`]),
//!   bounded top lists ([`tops`]) and latency percentiles ([`latency`]).
//! - [`read_log`]: lines from any reader into [`Stats`], malformed lines
//!   counted and located.

pub mod apache;
pub mod format;
pub mod format_error;
pub mod input;
pub mod json;
pub mod latency;
pub mod nginx;
pub mod request;
pub mod stats;
pub mod template;
pub mod time;
pub mod tops;
pub mod window;

pub use format::LineFormat;
pub use format_error::FormatError;
pub use input::{AccessFormat, FileStats, Malformed, read_log};
pub use request::{Expected, LineError, Request};
pub use stats::{Stats, StatsOptions, Summary};
