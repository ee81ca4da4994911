//! nftables: one table `inet <name>` with an IPv4 and an IPv6 set of banned
//! networks (interval sets, so an aggregated IPv6 /64 is one element), and
//! an input chain that drops traffic from both.
//!
//! Elements carry nftables' own timeout as a safety net: if tejun is
//! stopped for good, bans still end on time. tejun also deletes elements at
//! expiry itself, so `tejun bans` and the kernel agree while it runs.

use ipnet::IpNet;

use super::exec::run;
use super::{Backend, BanError};

pub struct Nftables {
    table: String,
    wrapper: Vec<String>,
}

impl Nftables {
    /// `table` is checked by the config (letters, digits, `_`, `-`);
    /// `wrapper` prefixes every command (e.g. `ip netns exec NAME`).
    pub fn new(table: &str, wrapper: Vec<String>) -> Nftables {
        Nftables {
            table: table.to_string(),
            wrapper,
        }
    }

    fn set_of(net: &IpNet) -> &'static str {
        match net {
            IpNet::V4(_) => "banned4",
            IpNet::V6(_) => "banned6",
        }
    }

    fn nft(&self, script: &str) -> Result<(), BanError> {
        run(
            &self.wrapper,
            &["nft".to_string(), "-f".to_string(), "-".to_string()],
            Some(script),
        )
    }
}

impl Backend for Nftables {
    fn name(&self) -> &'static str {
        "nftables"
    }

    fn prepare(&self) -> Result<(), BanError> {
        // One atomic transaction. Declaring the table and sets is idempotent;
        // the chain is flushed and refilled so its two rules never pile up,
        // while the sets (the bans themselves) are left untouched.
        let t = &self.table;
        let script = format!(
            "table inet {t} {{
  set banned4 {{ type ipv4_addr; flags interval, timeout; }}
  set banned6 {{ type ipv6_addr; flags interval, timeout; }}
  chain input {{ type filter hook input priority filter - 10; policy accept; }}
}}
flush chain inet {t} input
table inet {t} {{
  chain input {{
    ip saddr @banned4 drop
    ip6 saddr @banned6 drop
  }}
}}
"
        );
        self.nft(&script)
    }

    fn add(&self, net: IpNet, timeout_s: i64) -> Result<(), BanError> {
        let script = format!(
            "add element inet {} {} {{ {} timeout {}s }}\n",
            self.table,
            Self::set_of(&net),
            net.trunc(),
            timeout_s.max(1)
        );
        match self.nft(&script) {
            // Already there (banned again before nftables expired it): fine.
            Err(BanError(e)) if e.contains("File exists") => Ok(()),
            other => other,
        }
    }

    fn remove(&self, net: IpNet) -> Result<(), BanError> {
        let script = format!(
            "delete element inet {} {} {{ {} }}\n",
            self.table,
            Self::set_of(&net),
            net.trunc()
        );
        match self.nft(&script) {
            // nftables' own timeout got there first.
            Err(BanError(e))
                if e.contains("No such file or directory")
                    || e.contains("element does not exist") =>
            {
                Ok(())
            }
            other => other,
        }
    }
}
