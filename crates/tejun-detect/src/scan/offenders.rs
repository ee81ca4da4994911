//! Counters by rule and offender, for the tens of thousands of offenders a
//! large log holds.
//!
//! Nearly every offender is an IPv4 address, and every hit looks one up:
//! those are keyed by one integer (rule and address), in entries a third
//! smaller than with the general key, so more of the table stays in cache
//! and a key hashes as one word. Other offenders (IPv6, names) take the
//! general key.

use std::net::{IpAddr, Ipv4Addr};

use crate::ip::Offender;
use crate::matcher::FastMap;

/// Values by (rule, offender).
#[derive(Debug)]
pub(super) struct OffenderTable<V> {
    /// IPv4 offenders: rule in the high half, address in the low half.
    v4: FastMap<u64, V>,
    other: FastMap<(usize, Offender), V>,
}

impl<V> Default for OffenderTable<V> {
    fn default() -> Self {
        OffenderTable {
            v4: FastMap::default(),
            other: FastMap::default(),
        }
    }
}

/// The packed key of an IPv4 offender of `rule` (`None` past 2³² rules).
fn packed(rule: usize, ip: Ipv4Addr) -> Option<u64> {
    let rule = u32::try_from(rule).ok()?;
    Some(u64::from(rule) << 32 | u64::from(u32::from(ip)))
}

fn unpacked(key: u64) -> (usize, Offender) {
    let rule = (key >> 32) as usize;
    let ip = Ipv4Addr::from(key as u32);
    (rule, Offender::Ip(IpAddr::V4(ip)))
}

impl<V: Default> OffenderTable<V> {
    /// The value of `host` under `rule`, inserted as default if new.
    pub fn entry(&mut self, rule: usize, host: Offender) -> &mut V {
        if let Offender::Ip(IpAddr::V4(ip)) = host
            && let Some(key) = packed(rule, ip)
        {
            return self.v4.entry(key).or_default();
        }
        self.other.entry((rule, host)).or_default()
    }

    /// Moves every entry of `other` into this table, combining values of
    /// the same offender with `combine`; `other` is left empty, its room
    /// kept.
    pub fn absorb(&mut self, other: &mut OffenderTable<V>, mut combine: impl FnMut(&mut V, V)) {
        // Grown once: doubling while merging rehashed tens of thousands of
        // offenders several times.
        self.v4.reserve(other.v4.len());
        self.other.reserve(other.other.len());
        for (key, value) in other.v4.drain() {
            combine(self.v4.entry(key).or_default(), value);
        }
        for (key, value) in other.other.drain() {
            combine(self.other.entry(key).or_default(), value);
        }
    }
}

impl<V> OffenderTable<V> {
    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room for entries, over both halves.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.v4.capacity() + self.other.capacity()
    }

    /// The rule of each entry.
    pub fn rules(&self) -> impl Iterator<Item = usize> + '_ {
        let v4 = self.v4.keys().map(|key| (key >> 32) as usize);
        v4.chain(self.other.keys().map(|(rule, _)| *rule))
    }

    /// Every entry, as (rule, offender) and value.
    pub fn into_entries(self) -> impl Iterator<Item = ((usize, Offender), V)> {
        let v4 = self
            .v4
            .into_iter()
            .map(|(key, value)| (unpacked(key), value));
        v4.chain(self.other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever table an offender lands in, it comes back as it went
        /// in, once, with its hits added up.
        #[test]
        fn offenders_come_back_as_they_went_in(
            hits in proptest::collection::vec(
                (0..3usize, "203\\.0\\.113\\.[0-9]|2001:db8::[0-9]|host[0-9]"),
                0..50,
            )
        ) {
            let mut table = OffenderTable::<u32>::default();
            let mut want = std::collections::BTreeMap::new();
            for (rule, host) in &hits {
                *table.entry(*rule, Offender::parse(host)) += 1;
                *want.entry((*rule, Offender::parse(host))).or_insert(0) += 1;
            }
            proptest::prop_assert_eq!(table.len(), want.len());
            let mut rules: Vec<usize> = table.rules().collect();
            rules.sort_unstable();
            let mut want_rules: Vec<usize> = want.keys().map(|(rule, _)| *rule).collect();
            want_rules.sort_unstable();
            proptest::prop_assert_eq!(rules, want_rules);
            let got: std::collections::BTreeMap<_, _> = table.into_entries().collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    /// Absorbing adds the counts of offenders both tables hold and leaves
    /// the absorbed table empty but with its room.
    #[test]
    fn absorbing_combines_shared_offenders() {
        let mut a = OffenderTable::<u32>::default();
        let mut b = OffenderTable::<u32>::default();
        for host in ["192.0.2.1", "2001:db8::1"] {
            *a.entry(0, Offender::parse(host)) += 1;
            *b.entry(0, Offender::parse(host)) += 2;
        }
        *b.entry(1, Offender::parse("192.0.2.1")) += 5;
        a.absorb(&mut b, |mine, theirs| *mine += theirs);
        assert!(b.is_empty());
        assert!(b.capacity() >= 1);
        let got: std::collections::BTreeMap<_, _> = a.into_entries().collect();
        let want = std::collections::BTreeMap::from([
            ((0, Offender::parse("192.0.2.1")), 3),
            ((0, Offender::parse("2001:db8::1")), 3),
            ((1, Offender::parse("192.0.2.1")), 5),
        ]);
        assert_eq!(got, want);
    }
}
