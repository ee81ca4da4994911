//! Firewall backends: how a ban reaches the kernel.
//!
//! Every backend runs programs with an argument vector, never through a
//! shell, so an offender string cannot become a command. The address handed
//! to a backend is always a parsed [`IpNet`], which cannot contain anything
//! but an address and a prefix length.

mod command;
mod exec;
mod iptables;
mod nftables;

use ipnet::IpNet;

pub use command::{CommandBackend, PLACEHOLDERS};
pub use iptables::Iptables;
pub use nftables::Nftables;

/// A backend failed; the text is what the tool printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BanError(pub String);

/// Applies and lifts bans.
pub trait Backend: Send + Sync {
    /// The name recorded in `ban.added`.
    fn name(&self) -> &'static str;
    /// Creates what bans need (table, sets, chains), idempotently.
    fn prepare(&self) -> Result<(), BanError>;
    /// Bans `net` for `timeout_s` seconds. Backends with their own expiry
    /// (nftables) use it as a safety net; tejun lifts the ban itself too.
    fn add(&self, net: IpNet, timeout_s: i64) -> Result<(), BanError>;
    /// Lifts a ban; lifting one that is not there (already expired) is fine.
    fn remove(&self, net: IpNet) -> Result<(), BanError>;
}

/// Records bans without touching any firewall (`backend: none`): for
/// detection-only deployments and tests.
pub struct NoBackend;

impl Backend for NoBackend {
    fn name(&self) -> &'static str {
        "none"
    }
    fn prepare(&self) -> Result<(), BanError> {
        Ok(())
    }
    fn add(&self, _net: IpNet, _timeout_s: i64) -> Result<(), BanError> {
        Ok(())
    }
    fn remove(&self, _net: IpNet) -> Result<(), BanError> {
        Ok(())
    }
}
