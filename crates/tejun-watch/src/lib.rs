//! `tejun watch`: follow logs like `tail -F`, count offenders per rule
//! within findtime, and act (ban, webhook, journal, incident) when one
//! reaches maxretry.
//!
//! The pieces, each in its own module:
//!
//! * [`follow`]: tails that survive rotation, truncation and files coming
//!   and going, with checkpoints that say exactly which line is next, and
//!   the systemd journal followed from a saved cursor ([`follow::journal`]);
//! * [`window`]: the per-offender counting state machine (pure, property-tested);
//! * [`offender`]: address normalisation, IPv6 aggregation, `ignoreip`;
//! * [`ban`]: firewall backends (nftables, iptables, a command template, none);
//! * [`ledger`]: which bans are in force, folded from the journal;
//! * [`webhook`]: Slack-compatible posts on their own thread;
//! * [`runbook`]: `runbook:` actions, run as a child `tejun run` with a timeout;
//! * [`detection`]: a detection's actions as one pending record, so a crash
//!   loses none;
//! * [`incident`]: open/attach incidents and post escalation reminders
//!   through `tejun-incident`;
//! * [`metrics`]: metric rules (`error_rate > 5% over 1m`) on access logs,
//!   evaluated by `tejun-probe`'s trigger evaluator;
//! * [`config`]: `watch.yaml`, every error at `file:line:col`;
//! * [`state`]: offsets and open windows, saved together after every batch;
//! * [`watcher`]: the loop that ties them together.
//!
//! Matching lines against rules is `tejun-detect`'s job; [`rules`] is the
//! small interface the loop needs from it.

pub mod ban;
pub mod buckets;
pub mod config;
pub mod detection;
pub mod events;
pub mod follow;
pub mod incident;
pub mod ledger;
pub mod metrics;
pub mod offender;
pub mod rules;
pub mod runbook;
pub mod state;
pub mod watcher;
pub mod webhook;
pub mod window;

pub use config::{Config, ConfigError};
pub use ledger::{Ban, Ledger};
pub use offender::Offender;
pub use watcher::{Options, Report, WatchError, Watcher};
