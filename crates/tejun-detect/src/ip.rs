//! Offender addresses: one spelling per host.
//!
//! Logs write the same client in several ways (`::ffff:192.0.2.7` from a
//! dual-stack socket, `[2001:db8::1]` in brackets). Counting per offender only
//! works when every spelling collapses to one key, and IPv6 attackers rotate
//! through a whole /64, so the watch engine can aggregate them to a prefix.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// Who a hit is attributed to: an address when the capture parses as one,
/// else the captured text (a host name or a fail2ban `<F-ID>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Offender {
    Ip(IpAddr),
    Name(String),
}

impl Offender {
    /// Parses a captured host: strips brackets, normalises IPv4-mapped IPv6.
    pub fn parse(text: &str) -> Offender {
        // Most offenders are bare IPv4: read the four octets directly,
        // without trimming or the general parser's IPv6 attempt.
        if let Some(v4) = dotted_quad(text) {
            return Offender::Ip(IpAddr::V4(v4));
        }
        let trimmed = text.trim().trim_start_matches('[').trim_end_matches(']');
        if trimmed.len() < text.len()
            && let Some(v4) = dotted_quad(trimmed)
        {
            return Offender::Ip(IpAddr::V4(v4));
        }
        match trimmed.parse::<IpAddr>() {
            Ok(ip) => Offender::Ip(normalize_ip(ip)),
            Err(_) => Offender::Name(text.to_string()),
        }
    }

    /// Orders offenders as `Ord` does, except that names all tie: two
    /// integer compares where `Ord` matches on two enums, for reports that
    /// sort tens of thousands of offenders.
    pub fn order_key(&self) -> (u8, u128) {
        match self {
            Offender::Ip(IpAddr::V4(v4)) => (0, u128::from(u32::from(*v4))),
            Offender::Ip(IpAddr::V6(v6)) => (1, u128::from(*v6)),
            Offender::Name(_) => (2, 0),
        }
    }

    /// Appends the offender as `Display` writes it; IPv4 without `fmt`,
    /// which cost more than the rest of a report row.
    pub fn push_to(&self, out: &mut String) {
        match self {
            Offender::Ip(IpAddr::V4(v4)) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    if octet >= 100 {
                        out.push(char::from(b'0' + octet / 100));
                    }
                    if octet >= 10 {
                        out.push(char::from(b'0' + octet / 10 % 10));
                    }
                    out.push(char::from(b'0' + octet % 10));
                }
            }
            other => {
                let _ = fmt::Write::write_fmt(out, format_args!("{other}"));
            }
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Offender::Ip(ip) => Some(*ip),
            Offender::Name(_) => None,
        }
    }
}

impl fmt::Display for Offender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offender::Ip(ip) => write!(f, "{ip}"),
            Offender::Name(name) => f.write_str(name),
        }
    }
}

/// `a.b.c.d` as [`Ipv4Addr`]'s own parser reads it (1-3 digits an octet,
/// no leading zero, at most 255), or `None` to leave the text to it.
fn dotted_quad(text: &str) -> Option<Ipv4Addr> {
    let bytes = text.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    // One pass, no splitting: this runs once per hit.
    let mut octets = [0u8; 4];
    let mut index = 0;
    let mut value = 0u16;
    let mut digits = 0;
    for &byte in bytes {
        match byte {
            b'0'..=b'9' => {
                // No leading zeros (`01` is refused, as by the standard
                // parser), at most three digits.
                if digits == 3 || (digits == 1 && value == 0) {
                    return None;
                }
                value = value * 10 + u16::from(byte - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && index < 3 => {
                octets[index] = u8::try_from(value).ok()?;
                index += 1;
                value = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if index != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

/// `::ffff:a.b.c.d` is the IPv4 client `a.b.c.d` seen through a dual-stack
/// socket: ban and count it as IPv4.
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The network of `ip` with `prefix` bits kept (IPv6 only; IPv4 and
/// prefixes ≥ 128 are returned unchanged). `aggregate_ipv6(ip, 64)` gives the
/// /64 an attacker usually controls as a whole.
pub fn aggregate_ipv6(ip: IpAddr, prefix: u8) -> IpAddr {
    match normalize_ip(ip) {
        IpAddr::V6(v6) if prefix < 128 => {
            let bits = u128::from(v6);
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ipv4_becomes_ipv4() {
        let ip: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(normalize_ip(ip).to_string(), "192.0.2.7");
        assert_eq!(
            Offender::parse("[::ffff:192.0.2.7]").to_string(),
            "192.0.2.7"
        );
        assert_eq!(
            Offender::parse("example.org"),
            Offender::Name("example.org".into())
        );
    }

    proptest::proptest! {
        /// The IPv4 shortcut reads exactly what the standard parser reads.
        #[test]
        fn dotted_quads_read_as_the_standard_parser_reads(text in "[0-9.]{0,17}|[0-9]{1,4}(\\.[0-9]{1,4}){3}") {
            let want = text.parse::<Ipv4Addr>().ok();
            let got = dotted_quad(&text);
            proptest::prop_assert_eq!(got, want, "{:?}", text);
            proptest::prop_assert_eq!(Offender::parse(&text), match text.trim().parse::<IpAddr>() {
                Ok(ip) => Offender::Ip(normalize_ip(ip)),
                Err(_) => Offender::Name(text.clone()),
            });
        }
    }

    fn offender() -> impl proptest::strategy::Strategy<Value = Offender> {
        use proptest::prelude::*;
        prop_oneof![
            any::<u32>().prop_map(|v| Offender::Ip(IpAddr::V4(Ipv4Addr::from(v)))),
            // Small values too: `::1` and `0.0.0.1` must not collide.
            (any::<u128>(), 0..3u32)
                .prop_map(|(v, shift)| Offender::Ip(IpAddr::V6(Ipv6Addr::from(v >> (shift * 48))))),
            "[a-z.]{0,8}".prop_map(Offender::Name),
        ]
    }

    proptest::proptest! {
        /// Sorting by the key, then by `Ord` among ties, is sorting by `Ord`.
        #[test]
        fn order_keys_sort_as_offenders_do(a in offender(), b in offender()) {
            let by_key = a.order_key().cmp(&b.order_key());
            proptest::prop_assert!(by_key.is_eq() || by_key == a.cmp(&b), "{a:?} {b:?}");
            proptest::prop_assert_eq!(by_key.then_with(|| a.cmp(&b)), a.cmp(&b));
        }

        /// Rows show offenders exactly as `Display` does.
        #[test]
        fn offenders_are_pushed_as_displayed(o in offender()) {
            let mut pushed = String::from("x");
            o.push_to(&mut pushed);
            proptest::prop_assert_eq!(pushed, format!("x{o}"));
        }
    }

    #[test]
    fn ipv6_aggregates_to_prefix() {
        let ip: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(aggregate_ipv6(ip, 64).to_string(), "2001:db8:1:2::");
        assert_eq!(aggregate_ipv6(ip, 48).to_string(), "2001:db8:1::");
        assert_eq!(aggregate_ipv6(ip, 128), ip);
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(aggregate_ipv6(v4, 64), v4);
    }
}
