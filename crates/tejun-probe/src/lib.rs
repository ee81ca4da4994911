//! Probes and triggers.
//!
//! A *probe* asks one question of a running service (an HTTP request, a TCP
//! connect, a read-only command, a Prometheus query) and yields a
//! [`Sample`]: healthy or not, how long it took, and a number when the
//! probe has one. A *trigger* is an expression over a probe's recent
//! samples (`error_rate(web) > 5% over 1m`) that the engine evaluates while
//! a change is live, rolling back when it fires.
//!
//! The expression language and the sliding-window evaluator are here,
//! apart from runbooks, because issue #21's watch metric rules use the same
//! ones. Parsing ([`expr`]) and evaluation ([`window`]) do no I/O, so the
//! runbook crate uses them with the `net` feature off; [`net`] runs the
//! network probes. `cmd` probes run through the engine's `Target` (so they
//! reach remote hosts the way steps do) and are not run here.

pub mod duration;
pub mod expr;
pub mod model;
#[cfg(feature = "net")]
pub mod net;
pub mod remote;
pub mod window;

pub use expr::{Comparison, Expr, ExprError, Field, Metric, Slo, parse_expr, parse_expr_in};
pub use model::{HealthyIf, ProbeFrom, ProbeKind, ProbeSpec, Sample};
pub use window::{Counts, Fired, Sustained, Window};
