//! Per-minute counts for metric windows longer than a watcher keeps
//! samples for (`burn_rate(99.9%) > 1 over 3d and 6h`): a few numbers a
//! minute instead of one sample per request, so a 3-day window costs the
//! same at 10 requests a second as at 10,000.
//!
//! Windows read from buckets are whole minutes: the window of `over 6h`
//! at 10:42:30 holds the minutes starting from 04:43 to 10:42 (the current
//! one, partly elapsed, included), i.e. up to a minute less than 6h.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use tejun_probe::{Counts, Slo};

const MINUTE_S: i64 = 60;

#[derive(Debug, Clone, Default)]
struct Bucket {
    requests: u64,
    failures: u64,
    /// Per latency objective (see [`Buckets::objectives`]): requests
    /// slower than it.
    slow: Vec<u64>,
}

/// One source's (or fingerprint's) per-minute counts, for `keep`.
#[derive(Debug, Clone)]
pub(crate) struct Buckets {
    keep_minutes: i64,
    /// The latency objectives (ms) of the rules reading these buckets.
    objectives: Vec<f64>,
    buckets: BTreeMap<i64, Bucket>,
    /// Counts of the finished minutes of a window (by its length in
    /// minutes and objective), valid while the newest minute is `.0`: a
    /// rule evaluated on every request sums its days of minutes once a
    /// minute, not once a request.
    finished: RefCell<(i64, Finished)>,
    /// Minutes changed since they were last saved.
    dirty: BTreeSet<i64>,
}

/// One minute as saved in `watch-state.db`: requests, failures, and
/// requests slower than each objective (ms), by objective.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedMinute {
    pub minute: i64,
    pub requests: u64,
    pub failures: u64,
    pub slow: Vec<(f64, u64)>,
}

/// Counts by (window length in minutes, which bad: none, failures
/// (`usize::MAX`) or slower than objective i).
type Finished = HashMap<(i64, Option<usize>), Counts>;

impl Buckets {
    pub fn new(keep: Duration) -> Buckets {
        Buckets {
            keep_minutes: (keep.as_secs() as i64).div_euclid(MINUTE_S) + 1,
            objectives: Vec::new(),
            buckets: BTreeMap::new(),
            finished: RefCell::new((i64::MIN, HashMap::new())),
            dirty: BTreeSet::new(),
        }
    }

    /// How far back counts are kept.
    pub fn keep(&self) -> Duration {
        Duration::from_secs(((self.keep_minutes - 1) * MINUTE_S) as u64)
    }

    /// Also counts requests slower than `ms` (a latency objective).
    pub fn counting_slower_than(&mut self, ms: f64) {
        if !self.objectives.contains(&ms) {
            self.objectives.push(ms);
        }
    }

    /// One request (or query) at `at_s` (Unix seconds).
    pub fn push(&mut self, at_s: i64, ok: bool, latency_ms: u64) {
        let minute = at_s.div_euclid(MINUTE_S);
        let newest = self.buckets.last_key_value().map_or(minute, |(m, _)| *m);
        if minute <= newest - self.keep_minutes {
            // Older than any window reads.
            return;
        }
        let objectives = self.objectives.len();
        let bucket = self.buckets.entry(minute).or_insert_with(|| Bucket {
            slow: vec![0; objectives],
            ..Bucket::default()
        });
        bucket.requests += 1;
        bucket.failures += u64::from(!ok);
        self.dirty.insert(minute);
        // A late line changes a finished minute: sum them again.
        let finished = self.finished.get_mut();
        if minute < finished.0 {
            finished.1.clear();
        }
        for (slow, ms) in bucket.slow.iter_mut().zip(&self.objectives) {
            *slow += u64::from(latency_ms as f64 > *ms);
        }
        if minute > newest {
            self.buckets = self.buckets.split_off(&(minute - self.keep_minutes + 1));
        }
    }

    /// The minutes changed since the last call, and the first minute still
    /// kept (older saved ones can go).
    pub fn take_dirty(&mut self) -> (Vec<SavedMinute>, Option<i64>) {
        let dirty = std::mem::take(&mut self.dirty);
        let minutes = dirty
            .into_iter()
            .filter_map(|minute| {
                let b = self.buckets.get(&minute)?;
                Some(SavedMinute {
                    minute,
                    requests: b.requests,
                    failures: b.failures,
                    slow: self
                        .objectives
                        .iter()
                        .copied()
                        .zip(b.slow.iter().copied())
                        .collect(),
                })
            })
            .collect();
        (minutes, self.buckets.first_key_value().map(|(m, _)| *m))
    }

    /// Puts back minutes a previous watcher saved. Counts for an objective
    /// it did not count are 0 (an objective added since undercounts until
    /// its window has passed).
    pub fn restore(&mut self, saved: impl IntoIterator<Item = SavedMinute>) {
        for m in saved {
            let slow = self
                .objectives
                .iter()
                .map(|o| m.slow.iter().find(|(ms, _)| ms == o).map_or(0, |(_, n)| *n))
                .collect();
            self.buckets.insert(
                m.minute,
                Bucket {
                    requests: m.requests,
                    failures: m.failures,
                    slow,
                },
            );
        }
        if let Some((&newest, _)) = self.buckets.last_key_value() {
            self.buckets = self.buckets.split_off(&(newest - self.keep_minutes + 1));
        }
        self.finished.get_mut().1.clear();
    }

    /// What the last `over` before `now_s` holds, bad meaning bad for
    /// `slo` (failed, or slower than its latency objective).
    pub fn counts(&self, now_s: i64, over: Duration, slo: Option<&Slo>) -> Counts {
        let now = now_s.div_euclid(MINUTE_S);
        let minutes = (over.as_secs() as i64).div_euclid(MINUTE_S).max(1);
        let objective = slo
            .and_then(|s| s.latency_ms)
            .and_then(|ms| self.objectives.iter().position(|o| *o == ms));
        let add = |counts: &mut Counts, bucket: &Bucket| {
            counts.total += bucket.requests as usize;
            counts.failures += bucket.failures as usize;
            counts.bad += match (slo, objective) {
                (Some(_), Some(i)) => bucket.slow[i] as usize,
                (Some(_), None) => bucket.failures as usize,
                (None, _) => 0,
            };
        };
        // Which "bad" is counted: none, failures, or slower than objective i.
        let bad_kind = slo.map(|_| objective.unwrap_or(usize::MAX));
        let mut cache = self.finished.borrow_mut();
        if cache.0 != now {
            *cache = (now, HashMap::new());
        }
        let mut counts = *cache.1.entry((minutes, bad_kind)).or_insert_with(|| {
            let mut counts = Counts::default();
            for (_, bucket) in self.buckets.range(now - minutes + 1..now) {
                add(&mut counts, bucket);
            }
            counts
        });
        // The current minute is still filling: always counted afresh.
        if let Some(bucket) = self.buckets.get(&now) {
            add(&mut counts, bucket);
        }
        counts
    }

    /// Minutes held (for the memory bound's test).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cover_whole_minutes_and_memory_is_one_bucket_a_minute() {
        let mut b = Buckets::new(Duration::from_secs(3 * 86_400));
        b.counting_slower_than(300.0);
        let t0 = 1_800_000_000 / 60 * 60;
        // Four days, one request every 10 s, every 100th failed and slow.
        for i in 0..(4 * 8640) {
            let bad = i % 100 == 0;
            b.push(t0 + i * 10, !bad, if bad { 900 } else { 50 });
        }
        assert!(b.len() <= 3 * 1440 + 1, "{}", b.len());
        let now = t0 + 4 * 86_400 - 10;
        let day = b.counts(now, Duration::from_secs(86_400), None);
        assert_eq!(day.total, 8640);
        assert!((86..=87).contains(&day.failures), "{day:?}");
        let slo = Slo {
            objective: 0.99,
            latency_ms: Some(300.0),
        };
        let six = b.counts(now, Duration::from_secs(6 * 3600), Some(&slo));
        assert_eq!(six.total, 2160);
        assert_eq!(six.bad, six.failures);
        // A window longer than kept holds what is kept.
        let all = b.counts(now, Duration::from_secs(30 * 86_400), None);
        assert_eq!(all.total, b.len() * 6);
        // Within one minute the finished minutes are summed once; a
        // request of this minute, or a late one, still counts at once.
        b.push(now, false, 50);
        assert_eq!(b.counts(now, Duration::from_secs(86_400), None).total, 8641);
        b.push(now - 3600, true, 50);
        let day = b.counts(now, Duration::from_secs(86_400), None);
        assert_eq!((day.total, day.failures), (8642, 86 + 1));
    }
}
