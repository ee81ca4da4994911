//! Who gets counted and banned.
//!
//! A log names a client in many spellings (`::ffff:192.0.2.7`, `[2001:db8::1]`,
//! `192.0.2.7`). Counting only works when every spelling maps to one key, and
//! an IPv6 attacker owns a whole /64 and rotates through it, so IPv6
//! addresses are aggregated to the configured prefix and banned as that
//! prefix. A host that is not an address (a DNS name, a fail2ban `<F-ID>`) is
//! still counted and reported, but cannot be banned.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The key a hit is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Offender {
    /// An address (`/32`, `/128`) or an aggregated IPv6 prefix.
    Net(IpNet),
    /// A captured host that is not an address.
    Name(String),
}

impl Offender {
    /// Parses a captured host, normalising IPv4-mapped IPv6 and aggregating
    /// IPv6 to `/ipv6_prefix` (128 keeps single addresses).
    pub fn from_host(host: &str, ipv6_prefix: u8) -> Offender {
        let trimmed = host.trim().trim_start_matches('[').trim_end_matches(']');
        match trimmed.parse::<IpAddr>() {
            Ok(ip) => Offender::Net(aggregate(ip, ipv6_prefix)),
            Err(_) => Offender::Name(host.trim().to_string()),
        }
    }

    /// The network to ban, if this offender is an address.
    pub fn net(&self) -> Option<IpNet> {
        match self {
            Offender::Net(net) => Some(*net),
            Offender::Name(_) => None,
        }
    }
}

/// `::ffff:a.b.c.d` is the IPv4 client `a.b.c.d` seen through a dual-stack
/// socket (detect's normalisation, so scan and watch agree).
pub fn normalize(ip: IpAddr) -> IpAddr {
    tejun_detect::normalize_ip(ip)
}

/// The network an address is counted and banned as. Unlike detect's
/// `aggregate_ipv6` this keeps the prefix length: the ban needs it.
pub fn aggregate(ip: IpAddr, ipv6_prefix: u8) -> IpNet {
    match normalize(ip) {
        IpAddr::V4(v4) => IpNet::V4(Ipv4Net::from(v4)),
        IpAddr::V6(v6) => {
            let prefix = ipv6_prefix.min(128);
            // `new` only fails for prefix > 128, excluded just above.
            let net = Ipv6Net::new(v6, prefix).unwrap_or_else(|_| Ipv6Net::from(v6));
            IpNet::V6(net.trunc())
        }
    }
}

impl fmt::Display for Offender {
    /// Single addresses print bare (`192.0.2.7`), prefixes with their length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offender::Net(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}", net.addr())
            }
            Offender::Net(net) => write!(f, "{net}"),
            Offender::Name(name) => f.write_str(name),
        }
    }
}

impl FromStr for Offender {
    type Err = std::convert::Infallible;

    /// Reads what [`Display`](fmt::Display) wrote: an address, a prefix, or a name.
    fn from_str(text: &str) -> Result<Offender, Self::Err> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            let addr = normalize(net.addr());
            let prefix = match (net.addr(), addr) {
                // a mapped ::ffff:a.b.c.d/120 keeps its IPv4 part of the prefix
                (IpAddr::V6(_), IpAddr::V4(_)) => net.prefix_len().saturating_sub(96),
                _ => net.prefix_len(),
            };
            let net = IpNet::new(addr, prefix).map(|n| n.trunc()).unwrap_or(net);
            return Ok(Offender::Net(net));
        }
        Ok(Offender::from_host(text, 128))
    }
}

/// Addresses never counted or banned: `ignoreip`, and with `ignoreself`
/// (the default, as fail2ban's) loopback and the host's own addresses.
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    nets: Vec<IpNet>,
}

impl IgnoreList {
    pub fn new(nets: Vec<IpNet>) -> IgnoreList {
        IgnoreList { nets }
    }

    /// `ignoreip` plus, when `ignore_self`, 127.0.0.0/8, ::1 and every
    /// address in `own` (the host's interfaces, [`own_addresses`]).
    pub fn with_self(mut nets: Vec<IpNet>, ignore_self: bool, own: &[IpAddr]) -> IgnoreList {
        if ignore_self {
            nets.push(IpNet::V4(
                Ipv4Net::new(std::net::Ipv4Addr::LOCALHOST, 8).expect("/8"),
            ));
            nets.push(IpNet::from(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)));
            nets.extend(own.iter().map(|ip| IpNet::from(normalize(*ip))));
        }
        IgnoreList { nets }
    }

    /// True when the captured host is an address inside an ignored network.
    pub fn ignores(&self, host: &str) -> bool {
        let trimmed = host.trim().trim_start_matches('[').trim_end_matches(']');
        match trimmed.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = normalize(ip);
                self.nets.iter().any(|net| net.contains(&ip))
            }
            Err(_) => false,
        }
    }

    /// The IPv6 prefix to count and ban `host` under: `prefix`, unless that
    /// network would also cover an ignored address (`::2` aggregated to
    /// `::/64` covers `::1`), then the single address: the attacker is
    /// still banned, the host and `ignoreip` are not.
    pub fn safe_prefix(&self, host: &str, prefix: u8) -> u8 {
        let Offender::Net(net @ IpNet::V6(_)) = Offender::from_host(host, prefix) else {
            return prefix;
        };
        let overlaps = self
            .nets
            .iter()
            .any(|ignored| net.contains(ignored) || ignored.contains(&net));
        if overlaps { 128 } else { prefix }
    }
}

/// The addresses of this host's interfaces (empty if they cannot be read).
pub fn own_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|ifa| ifa.address)
        .filter_map(|addr| {
            if let Some(v4) = addr.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ipv4_is_counted_as_ipv4() {
        let o = Offender::from_host("::ffff:192.0.2.7", 64);
        assert_eq!(o.to_string(), "192.0.2.7");
        assert_eq!(o, Offender::from_host("192.0.2.7", 64));
    }

    #[test]
    fn ipv6_is_aggregated_to_the_prefix() {
        let a = Offender::from_host("2001:db8:1:2:3:4:5:6", 64);
        let b = Offender::from_host("[2001:db8:1:2:ffff::1]", 64);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            Offender::from_host("2001:db8::1", 128).to_string(),
            "2001:db8::1"
        );
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "192.0.2.7",
            "2001:db8:1:2::/64",
            "2001:db8::1",
            "host.example",
        ] {
            let o: Offender = text.parse().unwrap();
            assert_eq!(o.to_string(), text);
        }
        let mapped: Offender = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(mapped.to_string(), "10.0.0.1");
    }

    #[test]
    fn ignore_list_matches_cidrs_and_mapped_addresses() {
        let list = IgnoreList::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        assert!(list.ignores("10.1.2.3"));
        assert!(list.ignores("::ffff:10.1.2.3"));
        assert!(list.ignores("::1"));
        assert!(!list.ignores("192.0.2.1"));
        assert!(!list.ignores("example.org"));
    }

    #[test]
    fn ignoreself_covers_loopback_and_own_addresses_and_narrows_prefixes() {
        let own: Vec<IpAddr> = vec!["2001:db8:5:6::10".parse().unwrap()];
        let list = IgnoreList::with_self(Vec::new(), true, &own);
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
            "2001:db8:5:6::10",
        ] {
            assert!(list.ignores(host), "{host}");
        }
        assert!(!list.ignores("::2"));
        assert_eq!(list.safe_prefix("::2", 64), 128, "::/64 holds ::1");
        assert_eq!(list.safe_prefix("2001:db8:5:6::99", 64), 128);
        assert_eq!(list.safe_prefix("2001:db8:7::1", 64), 64);
        assert_eq!(list.safe_prefix("192.0.2.1", 64), 64);
        let off = IgnoreList::with_self(Vec::new(), false, &own);
        assert!(!off.ignores("127.0.0.1"));
        assert_eq!(off.safe_prefix("::2", 64), 64);
    }
}
