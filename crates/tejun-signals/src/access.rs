//! Access logs: formats, requests, per-window statistics.
//!
//! - [`Request`]: one line read into its parts, borrowing from the line.
//! - [`LineFormat`]: a compiled line format (nginx/Apache combined, the
//!   user's nginx `log_format` ([`nginx::compile`])).

pub mod format;
pub mod format_error;
pub mod nginx;
pub mod request;
pub mod time;

pub use format::LineFormat;
pub use format_error::FormatError;
pub use request::{Expected, LineError, Request};
