//! Counting hits per offender within `findtime`, fail2ban style.
//!
//! This is a pure state machine (no clock, no I/O) so it can be tested
//! exhaustively: the caller passes each hit's time (the line's own timestamp,
//! else its arrival time) and the current wall-clock time.
//!
//! * A window holds the hits of one offender for one rule that lie within
//!   `findtime` of that offender's newest hit; older hits fall out. Windows
//!   slide on the lines' own times, so a backlog read fast is judged by when
//!   the attempts happened, not when tejun read them.
//! * When a window reaches `maxretry` hits the rule triggers and the window
//!   empties (the next trigger needs `maxretry` fresh hits).
//! * A rule that bans marks the offender banned until `now + bantime`; hits
//!   from a banned offender are not counted by any rule. This is what makes
//!   "at most one ban per offender while banned" hold even when lines already
//!   in flight keep arriving after the firewall closed.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};

use jiff::{SignedDuration, Timestamp};

use crate::offender::Offender;

/// A rule's counting parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub findtime: SignedDuration,
    pub maxretry: u32,
    /// `Some` when the rule bans: how long.
    pub bantime: Option<SignedDuration>,
}

/// One counted hit and what the caller wants to keep with it (the line).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit<T> {
    pub at: Timestamp,
    pub data: T,
}

/// What recording one hit did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// Counted; `count` hits are now in the window.
    Counted { count: u32 },
    /// Older than `findtime` before this offender's newest hit: not counted.
    Stale,
    /// The offender is banned: not counted.
    Banned,
    /// `maxretry` reached. `hits` are the window's hits, oldest first;
    /// `banned_until` is set when the rule bans.
    Triggered {
        hits: Vec<Hit<T>>,
        banned_until: Option<Timestamp>,
    },
}

/// (rule, offender)
pub type Key = (String, Offender);

/// All windows and the banned set.
#[derive(Debug, Clone)]
pub struct Windows<T> {
    windows: HashMap<Key, VecDeque<Hit<T>>>,
    banned: HashMap<Offender, Timestamp>,
    dirty: HashSet<Key>,
}

impl<T> Default for Windows<T> {
    fn default() -> Self {
        Windows {
            windows: HashMap::new(),
            banned: HashMap::new(),
            dirty: HashSet::new(),
        }
    }
}

impl<T: Clone> Windows<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one hit of `offender` for `rule`.
    pub fn record(
        &mut self,
        rule: &str,
        params: &Params,
        offender: &Offender,
        hit: Hit<T>,
        now: Timestamp,
    ) -> Outcome<T> {
        if self.is_banned(offender, now) {
            return Outcome::Banned;
        }
        let key = (rule.to_string(), offender.clone());
        let window = self.windows.entry(key.clone()).or_default();
        let newest = window.back().map_or(hit.at, |last| last.at.max(hit.at));
        let horizon = newest - params.findtime;
        if hit.at <= horizon {
            return Outcome::Stale;
        }
        // Lines from several files can interleave out of order: keep the
        // window sorted so the oldest hit is always at the front.
        let position = window
            .iter()
            .rposition(|h| h.at <= hit.at)
            .map_or(0, |i| i + 1);
        window.insert(position, hit);
        while window.front().is_some_and(|h| h.at <= horizon) {
            window.pop_front();
        }
        self.dirty.insert(key.clone());
        let count = u32::try_from(window.len()).unwrap_or(u32::MAX);
        if count < params.maxretry.max(1) {
            return Outcome::Counted { count };
        }
        let hits: Vec<Hit<T>> = window.drain(..).collect();
        self.windows.remove(&key);
        let banned_until = params.bantime.map(|bantime| {
            let until = now + bantime;
            self.banned.insert(offender.clone(), until);
            until
        });
        Outcome::Triggered { hits, banned_until }
    }

    /// True while `offender` is banned at `now`.
    pub fn is_banned(&self, offender: &Offender, now: Timestamp) -> bool {
        self.banned.get(offender).is_some_and(|until| *until > now)
    }

    /// Marks a ban made elsewhere (a restart, another rule, another process).
    pub fn mark_banned(&mut self, offender: Offender, until: Timestamp) {
        match self.banned.entry(offender) {
            Entry::Occupied(mut e) => {
                let longer = (*e.get()).max(until);
                e.insert(longer);
            }
            Entry::Vacant(e) => {
                e.insert(until);
            }
        }
    }

    /// Forgets a ban (expired or lifted by hand): the offender counts again.
    pub fn lift(&mut self, offender: &Offender) {
        self.banned.remove(offender);
    }

    /// Drops windows whose newest hit is older than their rule's `findtime`
    /// before `now`, and bans that have run out, so memory stays bounded by
    /// the offenders active within `findtime`.
    pub fn sweep(&mut self, now: Timestamp, findtime_of: impl Fn(&str) -> Option<SignedDuration>) {
        self.windows.retain(|(rule, offender), window| {
            let keep = match (window.back(), findtime_of(rule)) {
                (Some(last), Some(findtime)) => last.at > now - findtime,
                _ => false,
            };
            if !keep {
                self.dirty.insert((rule.clone(), offender.clone()));
            }
            keep
        });
        self.banned.retain(|_, until| *until > now);
    }

    /// The hits currently counted for `key`.
    pub fn window(&self, key: &Key) -> Option<&VecDeque<Hit<T>>> {
        self.windows.get(key)
    }

    /// Restores a window saved by a previous process.
    pub fn restore(&mut self, key: Key, hits: Vec<Hit<T>>) {
        if !hits.is_empty() {
            self.windows.insert(key, hits.into());
        }
    }

    /// Keys changed since the last call, for persisting.
    pub fn take_dirty(&mut self) -> Vec<Key> {
        self.dirty.drain().collect()
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn params(findtime: i64, maxretry: u32, bantime: Option<i64>) -> Params {
        Params {
            findtime: SignedDuration::from_secs(findtime),
            maxretry,
            bantime: bantime.map(SignedDuration::from_secs),
        }
    }

    fn ip(n: u8) -> Offender {
        Offender::from_host(&format!("192.0.2.{n}"), 64)
    }

    #[test]
    fn triggers_at_maxretry_within_findtime() {
        let mut w = Windows::new();
        let p = params(600, 3, Some(3600));
        assert_eq!(
            w.record("sshd", &p, &ip(1), Hit { at: t(0), data: () }, t(0)),
            Outcome::Counted { count: 1 }
        );
        assert_eq!(
            w.record(
                "sshd",
                &p,
                &ip(1),
                Hit {
                    at: t(10),
                    data: ()
                },
                t(10)
            ),
            Outcome::Counted { count: 2 }
        );
        match w.record(
            "sshd",
            &p,
            &ip(1),
            Hit {
                at: t(20),
                data: (),
            },
            t(20),
        ) {
            Outcome::Triggered { hits, banned_until } => {
                assert_eq!(hits.len(), 3);
                assert_eq!(banned_until, Some(t(3620)));
            }
            other => panic!("expected a trigger, got {other:?}"),
        }
        assert_eq!(
            w.record(
                "sshd",
                &p,
                &ip(1),
                Hit {
                    at: t(30),
                    data: ()
                },
                t(30)
            ),
            Outcome::Banned
        );
    }

    #[test]
    fn hits_outside_findtime_fall_out() {
        let mut w = Windows::new();
        let p = params(60, 3, None);
        w.record("r", &p, &ip(1), Hit { at: t(0), data: () }, t(0));
        w.record(
            "r",
            &p,
            &ip(1),
            Hit {
                at: t(30),
                data: (),
            },
            t(30),
        );
        // t(0) is now 61 s before the newest hit: out.
        assert_eq!(
            w.record(
                "r",
                &p,
                &ip(1),
                Hit {
                    at: t(61),
                    data: ()
                },
                t(61)
            ),
            Outcome::Counted { count: 2 }
        );
        assert_eq!(
            w.record("r", &p, &ip(1), Hit { at: t(0), data: () }, t(61)),
            Outcome::Stale
        );
    }

    #[derive(Debug, Clone)]
    struct Step {
        offender: u8,
        advance: i64,
        jitter: i64,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            (0u8..3, 0i64..40, -5i64..=0).prop_map(|(offender, advance, jitter)| Step {
                offender,
                advance,
                jitter,
            }),
            1..200,
        )
    }

    proptest! {
        /// Replays random hit sequences against a naive model: a trigger
        /// happens exactly when `maxretry` hits of that offender (since its
        /// last trigger, not stale, not while banned) lie within findtime,
        /// and a banned offender never triggers again before its ban ends.
        #[test]
        fn window_matches_the_naive_model(
            steps in steps(),
            findtime in 1i64..120,
            maxretry in 1u32..6,
            bantime in prop::option::of(1i64..200),
        ) {
            let p = params(findtime, maxretry, bantime);
            let mut w: Windows<()> = Windows::new();
            let mut now = 0i64;
            let mut model: HashMap<u8, Vec<i64>> = HashMap::new();
            let mut banned: HashMap<u8, i64> = HashMap::new();
            for step in steps {
                now += step.advance;
                let at = now + step.jitter;
                let outcome = w.record("r", &p, &ip(step.offender), Hit { at: t(at), data: () }, t(now));
                if banned.get(&step.offender).is_some_and(|until| *until > now) {
                    prop_assert_eq!(outcome, Outcome::Banned);
                    continue;
                }
                let hits = model.entry(step.offender).or_default();
                let newest = hits.iter().copied().max().unwrap_or(at).max(at);
                if at <= newest - findtime {
                    prop_assert_eq!(outcome, Outcome::Stale);
                    continue;
                }
                hits.push(at);
                hits.retain(|h| *h > newest - findtime);
                prop_assert!(hits.len() as u32 <= maxretry);
                if (hits.len() as u32) < maxretry {
                    prop_assert_eq!(outcome, Outcome::Counted { count: hits.len() as u32 });
                } else {
                    match outcome {
                        Outcome::Triggered { hits: got, banned_until } => {
                            prop_assert_eq!(got.len() as u32, maxretry);
                            prop_assert!(got.iter().all(|h| h.at > t(newest - findtime)));
                            prop_assert!(got.windows(2).all(|p| p[0].at <= p[1].at));
                            prop_assert_eq!(banned_until, bantime.map(|b| t(now + b)));
                            if let Some(b) = bantime {
                                banned.insert(step.offender, now + b);
                            }
                        }
                        other => prop_assert!(false, "expected trigger, got {:?}", other),
                    }
                    hits.clear();
                }
            }
        }
    }
}
