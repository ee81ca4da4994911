//! The status state machine, kept pure (no journal, no clock) so it can be
//! property-tested: [`StatusMachine::check`] decides, [`StatusMachine::apply`]
//! records, and a refused transition leaves the machine exactly as it was.
//!
//! The rules, in the book's terms:
//! - an incident is *detected* when it is opened; nothing goes back to
//!   detected (a reopened incident is being investigated again);
//! - no status change may be dated before the incident was detected, nor
//!   before the impact started (so nothing is mitigated before it started);
//! - a status change may not be dated before the status it replaces: times
//!   given with `--at` for things learned afterwards must still tell a story
//!   in order;
//! - an incident is closed only once resolved; moving a resolved or closed
//!   incident back to an active status is a *reopen*, allowed and recorded;
//! - moving back between active statuses (identified → investigating when the
//!   suspected cause turns out wrong) is allowed.

use jiff::{SignedDuration, Timestamp};

use crate::error::Message;
use crate::model::Status;

/// How far in the future a given time may be (clock skew between machines).
pub const FUTURE_SKEW: SignedDuration = SignedDuration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMachine {
    /// When the impact began (≤ detected).
    pub started_at: Timestamp,
    /// When the incident was detected (opened).
    pub detected_at: Timestamp,
    pub current: Status,
    /// When the current status was reached.
    pub since: Timestamp,
    /// Every accepted change, in order.
    pub history: Vec<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub from: Status,
    pub to: Status,
    pub at: Timestamp,
    pub reopen: bool,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Unchanged(Status),
    BackToDetected,
    CloseBeforeResolved(Status),
    ClosedToResolved,
    BeforeStart {
        at: Timestamp,
        started_at: Timestamp,
    },
    BeforeDetected {
        at: Timestamp,
        detected_at: Timestamp,
    },
    BeforeCurrent {
        at: Timestamp,
        current: Status,
        since: Timestamp,
    },
    InFuture {
        at: Timestamp,
    },
}

impl StatusMachine {
    /// A new incident, detected at `detected_at`; the impact started at
    /// `started_at`, which may not be later.
    pub fn new(started_at: Timestamp, detected_at: Timestamp) -> Result<StatusMachine, Rejection> {
        if started_at > detected_at {
            return Err(Rejection::BeforeStart {
                at: detected_at,
                started_at,
            });
        }
        Ok(StatusMachine {
            started_at,
            detected_at,
            current: Status::Detected,
            since: detected_at,
            history: Vec::new(),
        })
    }

    /// Decides whether moving to `to` at `at` is allowed; changes nothing.
    pub fn check(&self, to: Status, at: Timestamp, now: Timestamp) -> Result<Change, Rejection> {
        let from = self.current;
        if to == from {
            return Err(Rejection::Unchanged(to));
        }
        if to == Status::Detected {
            return Err(Rejection::BackToDetected);
        }
        if to == Status::Closed && from != Status::Resolved {
            return Err(Rejection::CloseBeforeResolved(from));
        }
        if from == Status::Closed && to == Status::Resolved {
            return Err(Rejection::ClosedToResolved);
        }
        if at < self.started_at {
            return Err(Rejection::BeforeStart {
                at,
                started_at: self.started_at,
            });
        }
        if at < self.detected_at {
            return Err(Rejection::BeforeDetected {
                at,
                detected_at: self.detected_at,
            });
        }
        if at < self.since {
            return Err(Rejection::BeforeCurrent {
                at,
                current: from,
                since: self.since,
            });
        }
        if at > now + FUTURE_SKEW {
            return Err(Rejection::InFuture { at });
        }
        let reopen = !from.is_active() && to.is_active();
        Ok(Change {
            from,
            to,
            at,
            reopen,
        })
    }

    /// Records a change that [`check`](Self::check) accepted.
    pub fn apply(&mut self, change: Change) {
        self.current = change.to;
        self.since = change.at;
        self.history.push(change);
    }

    pub fn transition(
        &mut self,
        to: Status,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<Change, Rejection> {
        let change = self.check(to, at, now)?;
        self.apply(change);
        Ok(change)
    }

    /// First time the incident was mitigated (or, failing that, resolved):
    /// when users stopped being hurt.
    pub fn first_reached(&self, status: Status) -> Option<Timestamp> {
        self.history.iter().find(|c| c.to == status).map(|c| c.at)
    }

    /// The last time the incident was resolved, if it is resolved or closed now.
    pub fn resolved_at(&self) -> Option<Timestamp> {
        if self.current.is_active() {
            return None;
        }
        self.history
            .iter()
            .rev()
            .find(|c| c.to == Status::Resolved)
            .map(|c| c.at)
    }
}

impl Rejection {
    /// Explains the refusal; times are shown with `show`.
    pub fn message(&self, show: &dyn Fn(Timestamp) -> String) -> Message {
        match self {
            Rejection::Unchanged(status) => Message::new(
                format!("the incident is already {status}"),
                format!("インシデントはすでに {status} です"),
            ),
            Rejection::BackToDetected => Message::new(
                "an incident cannot go back to detected; to reopen it, set it to investigating",
                "detected には戻せません。再オープンするには investigating を指定してください",
            ),
            Rejection::CloseBeforeResolved(current) => Message::new(
                format!("cannot close an incident that is {current}: resolve it first"),
                format!(
                    "{current} のインシデントはクローズできません。先に resolved にしてください"
                ),
            ),
            Rejection::ClosedToResolved => Message::new(
                "a closed incident can only be reopened (investigating, identified or mitigated)",
                "クローズ済みのインシデントは再オープン (investigating / identified / mitigated) のみ可能です",
            ),
            Rejection::BeforeStart { at, started_at } => Message::new(
                format!(
                    "{} is before the impact started ({})",
                    show(*at),
                    show(*started_at)
                ),
                format!(
                    "{} は影響の開始 ({}) より前です",
                    show(*at),
                    show(*started_at)
                ),
            ),
            Rejection::BeforeDetected { at, detected_at } => Message::new(
                format!(
                    "{} is before the incident was detected ({})",
                    show(*at),
                    show(*detected_at)
                ),
                format!(
                    "{} はインシデントの検知 ({}) より前です",
                    show(*at),
                    show(*detected_at)
                ),
            ),
            Rejection::BeforeCurrent { at, current, since } => Message::new(
                format!(
                    "{} is before the current status {current} was reached ({})",
                    show(*at),
                    show(*since)
                ),
                format!(
                    "{} は現在の状態 {current} になった時刻 ({}) より前です",
                    show(*at),
                    show(*since)
                ),
            ),
            Rejection::InFuture { at } => Message::new(
                format!("{} is in the future", show(*at)),
                format!("{} は未来の時刻です", show(*at)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn the_book_path_is_accepted_and_reopen_is_recorded() {
        let mut m = StatusMachine::new(t(-300), t(0)).unwrap();
        let now = t(10_000);
        for (i, s) in [
            Status::Investigating,
            Status::Identified,
            Status::Mitigated,
            Status::Resolved,
        ]
        .into_iter()
        .enumerate()
        {
            assert!(!m.transition(s, t(60 * (i as i64 + 1)), now).unwrap().reopen);
        }
        let change = m.transition(Status::Investigating, t(600), now).unwrap();
        assert!(change.reopen);
        assert_eq!(m.resolved_at(), None);
        assert_eq!(m.first_reached(Status::Mitigated), Some(t(180)));
    }

    #[test]
    fn refuses_out_of_order_times() {
        let mut m = StatusMachine::new(t(0), t(100)).unwrap();
        let now = t(1000);
        assert!(matches!(
            m.check(Status::Mitigated, t(50), now),
            Err(Rejection::BeforeDetected { .. })
        ));
        assert!(matches!(
            m.check(Status::Mitigated, t(-5), now),
            Err(Rejection::BeforeStart { .. })
        ));
        assert!(matches!(
            m.check(Status::Resolved, t(5000), now),
            Err(Rejection::InFuture { .. })
        ));
        assert!(matches!(
            m.check(Status::Closed, t(200), now),
            Err(Rejection::CloseBeforeResolved(_))
        ));
        m.transition(Status::Identified, t(300), now).unwrap();
        assert!(matches!(
            m.check(Status::Mitigated, t(200), now),
            Err(Rejection::BeforeCurrent { .. })
        ));
    }

    fn status() -> impl Strategy<Value = Status> {
        proptest::sample::select(Status::ALL.to_vec())
    }

    proptest! {
        /// Random sequences of (status, time offset): every accepted change
        /// keeps the invariants, every refused one changes nothing.
        #[test]
        fn transitions_keep_invariants(
            lead in 0i64..600,
            steps in proptest::collection::vec((status(), -400i64..900), 0..40),
        ) {
            let detected = t(0);
            let now = t(20_000);
            let mut m = StatusMachine::new(t(-lead), detected).unwrap();
            let mut clock = 0i64;
            for (to, delta) in steps {
                clock += delta;
                let before = m.clone();
                match m.check(to, t(clock), now) {
                    Ok(change) => {
                        m.apply(change);
                        prop_assert_eq!(m.current, to);
                        prop_assert_eq!(m.history.len(), before.history.len() + 1);
                        prop_assert!(m.since >= before.since);
                        prop_assert!(m.since >= m.detected_at && m.detected_at >= m.started_at);
                        prop_assert!(to != Status::Detected);
                        if to == Status::Closed {
                            prop_assert_eq!(before.current, Status::Resolved);
                        }
                        prop_assert_eq!(change.reopen, !before.current.is_active() && to.is_active());
                    }
                    Err(_) => prop_assert_eq!(&m, &before),
                }
            }
            // The recorded history is itself in time order.
            for pair in m.history.windows(2) {
                prop_assert!(pair[0].at <= pair[1].at);
                prop_assert_eq!(pair[0].to, pair[1].from);
            }
        }
    }
}
