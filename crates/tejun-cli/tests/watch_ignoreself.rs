//! `tejun watch` never bans the host it protects (observation 11): like
//! fail2ban's `ignoreself`, loopback and the host's own addresses are
//! ignored unless `ignoreself: false`, and an IPv6 ban aggregated to a
//! prefix never covers one of them.

mod watch_common;

use std::net::Ipv6Addr;
use std::time::Duration;

use watch_common::*;

/// A global IPv6 address of this host, from the kernel's list.
fn own_ipv6() -> Option<Ipv6Addr> {
    let text = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let hex = fields.next()?;
        let scope = fields.nth(2)?;
        let bits = u128::from_str_radix(hex, 16).ok()?;
        let ip = Ipv6Addr::from(bits);
        (scope == "00" && !ip.is_loopback()).then_some(ip)
    })
}

/// A global IPv4 address of this host (`ip -o -4 addr show scope global`).
fn own_ipv4() -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .skip_while(|word| *word != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .map(str::to_string)
}

/// Failures from `ip` from their own sshd process: fail2ban's sshd filter
/// ties the lines of one process to the first host it named.
fn fails(ip: &str, pid: u32, n: usize) -> String {
    fail(ip)
        .replace("sshd[4242]", &format!("sshd[{pid}]"))
        .repeat(n)
}

fn offenders(setup: &Setup, kind: &str) -> Vec<String> {
    setup
        .events(kind)
        .iter()
        .filter_map(|e| e["offender"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn watch_never_bans_loopback_or_the_hosts_own_addresses() {
    let setup = Setup::sshd(3, 600, "ipv6_prefix: 64");
    let mut watch = setup.watch();
    let log = setup.path("auth.log");
    append(&log, &fails("127.0.0.1", 1, 4));
    append(&log, &fails("127.0.0.53", 2, 4));
    append(&log, &fails("::1", 3, 4));
    // In ::/64 with ::1: banned, but only as itself.
    append(&log, &fails("::2", 4, 3));
    let own = own_ipv6();
    let neighbour = own.map(|ip| Ipv6Addr::from(u128::from(ip) ^ 0x7));
    if let (Some(own), Some(neighbour)) = (own, neighbour) {
        append(&log, &fails(&own.to_string(), 5, 4));
        append(&log, &fails(&neighbour.to_string(), 6, 3));
    }
    let own_v4 = own_ipv4();
    if let Some(own_v4) = &own_v4 {
        append(&log, &fails(own_v4, 8, 4));
    }
    append(&log, &fails("198.51.100.9", 7, 3));
    watch.wait_for("banned", is("banned", "198.51.100.9"));
    watch.wait_for("banned", is("banned", "::2"));
    watch.drain_for(Duration::from_millis(300), |_| false);
    watch.stop();

    let bans = offenders(&setup, "ban.added");
    let triggered = offenders(&setup, "detect.triggered");
    for never in ["127.0.0.1", "127.0.0.53", "::1", "::/64"] {
        assert!(!bans.iter().any(|b| b == never), "{never} banned: {bans:?}");
        assert!(
            !triggered.iter().any(|b| b == never),
            "{never} counted: {triggered:?}"
        );
    }
    assert!(bans.contains(&"::2".to_string()), "{bans:?}");
    if let Some(own_v4) = &own_v4 {
        assert!(!bans.contains(own_v4), "own {own_v4}: {bans:?}");
        assert!(
            !triggered.contains(own_v4),
            "own {own_v4} counted: {triggered:?}"
        );
    }
    if let (Some(own), Some(neighbour)) = (own, neighbour) {
        assert!(!bans.contains(&own.to_string()), "own {own}: {bans:?}");
        assert!(
            bans.contains(&neighbour.to_string()),
            "the neighbour is banned as a single address: {bans:?}"
        );
        assert!(
            bans.iter().all(|b| !b.ends_with("/64")),
            "no /64 covers the host: {bans:?}"
        );
    }
}

#[test]
fn ignoreself_false_bans_loopback_as_fail2ban_does() {
    let setup = Setup::sshd(3, 600, "ignoreself: false");
    let mut watch = setup.watch();
    append(&setup.path("auth.log"), &fail("127.0.0.1").repeat(3));
    watch.wait_for("banned", is("banned", "127.0.0.1"));
    watch.stop();
}
