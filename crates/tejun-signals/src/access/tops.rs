//! Bounded tables for top-N lists (endpoints, clients): memory stays flat
//! however many distinct keys a log holds (scanners probe thousands of
//! random paths from thousands of addresses).

use std::collections::HashMap;

/// Something counted per key.
pub trait Counted: Default {
    fn count(&self) -> u64;
    fn merge(&mut self, other: Self);
}

/// Keys and their counts, at most `cap` of them. When full, the less
/// frequent half is dropped ("lossy counting"): a key seen often stays,
/// and its count is short by at most [`TopTable::error_bound`].
#[derive(Debug, Clone)]
pub struct TopTable<V> {
    map: HashMap<Box<str>, V, foldhash::fast::RandomState>,
    cap: usize,
    bound: u64,
}

impl<V: Counted> TopTable<V> {
    pub fn new(cap: usize) -> TopTable<V> {
        TopTable {
            map: HashMap::default(),
            cap: cap.max(2),
            bound: 0,
        }
    }

    /// The value for `key`, inserted empty if new (the key is copied only
    /// then).
    pub fn entry(&mut self, key: &str) -> &mut V {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.cap {
                self.shrink();
            }
            self.map.insert(key.into(), V::default());
        }
        self.map.get_mut(key).expect("present")
    }

    /// Drops the keys counted at most the median count.
    fn shrink(&mut self) {
        let mut counts: Vec<u64> = self.map.values().map(Counted::count).collect();
        let middle = counts.len() / 2;
        let (_, median, _) = counts.select_nth_unstable(middle);
        let threshold = *median;
        self.map.retain(|_, v| v.count() > threshold);
        self.bound = self.bound.max(threshold);
    }

    /// How much any key's count may be short by (0: exact).
    pub fn error_bound(&self) -> u64 {
        self.bound
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.map.iter().map(|(k, v)| (&**k, v))
    }

    /// Adds `other`'s keys (parts of one input read apart).
    pub fn merge(&mut self, other: TopTable<V>) {
        self.bound = self.bound.max(other.bound);
        for (k, v) in other.map {
            self.entry(&k).merge(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct N(u64);
    impl Counted for N {
        fn count(&self) -> u64 {
            self.0
        }
        fn merge(&mut self, other: N) {
            self.0 += other.0;
        }
    }

    #[test]
    fn frequent_keys_survive_a_flood_of_rare_ones() {
        let mut t: TopTable<N> = TopTable::new(100);
        for i in 0..100_000 {
            t.entry(&format!("/scan/{i}")).0 += 1;
            if i % 10 == 0 {
                t.entry("/api/hot").0 += 1;
            }
        }
        assert!(t.len() <= 100);
        let hot = t.iter().find(|(k, _)| *k == "/api/hot").unwrap().1.count();
        assert!(hot + t.error_bound() >= 10_000 && hot <= 10_000, "{hot}");
    }
}
