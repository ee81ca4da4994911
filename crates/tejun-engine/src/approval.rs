//! The two-person rule: an environment whose inventory entry says
//! `approval: {count: N}` runs nothing until N people other than the
//! executor approved. Requests and decisions are journal events on the
//! run's stream, so `show`, postmortems and the audit see them; `resume`
//! continues once there are enough. Identities come from
//! [`identity`](crate::identity) (login uid, `SUDO_USER`), which is as far
//! as a shared host can tell people apart.

use tejun_journal::{Entry, Journal, NewEvent, Query};

use crate::error::EngineError;
use crate::events::{self, ApprovalDecision, ApprovalRequested};
use crate::refusal::Refusal;
use crate::runid::is_run_id;

/// A run's approvals, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approvals {
    /// Approvals needed; 0 when the run never asked.
    pub needed: u32,
    pub executor: Option<String>,
    /// Who approved, in order, with their reasons.
    pub granted: Vec<(String, Option<String>)>,
    /// The first rejection, if any: it ends the request.
    pub rejected: Option<(String, Option<String>)>,
}

impl Approvals {
    pub fn from_entries(entries: &[Entry]) -> Result<Approvals, tejun_journal::Error> {
        let mut approvals = Approvals::default();
        for entry in entries {
            match entry.kind.as_str() {
                events::APPROVAL_REQUESTED => {
                    let request: ApprovalRequested = entry.decode()?;
                    approvals.needed = request.count;
                    approvals.executor = Some(request.executor);
                }
                events::APPROVAL_GRANTED => {
                    let decision: ApprovalDecision = entry.decode()?;
                    approvals.granted.push((decision.who, decision.reason));
                }
                events::APPROVAL_REJECTED if approvals.rejected.is_none() => {
                    let decision: ApprovalDecision = entry.decode()?;
                    approvals.rejected = Some((decision.who, decision.reason));
                }
                _ => {}
            }
        }
        Ok(approvals)
    }

    /// Whether the run may go on.
    pub fn enough(&self) -> bool {
        self.rejected.is_none() && self.granted.len() as u32 >= self.needed
    }

    fn decided(&self, who: &str) -> bool {
        self.granted.iter().any(|(w, _)| w == who)
            || self.rejected.as_ref().is_some_and(|(w, _)| w == who)
    }
}

/// Records `who`'s approval (or rejection) of `run_id`. Refused for the
/// executor, for anyone who already decided, and for a run that does not
/// wait for approval (none asked, or it already ended).
pub fn decide(
    journal: &Journal,
    run_id: &str,
    who: &str,
    approve: bool,
    reason: Option<String>,
) -> Result<Approvals, EngineError> {
    let stream = events::stream(run_id);
    let entries: Vec<Entry> = if is_run_id(run_id) {
        journal
            .query(&Query {
                subject: Some(&stream),
                ..Query::default()
            })?
            .into_iter()
            .filter(|e| e.stream == stream)
            .collect()
    } else {
        Vec::new()
    };
    if !entries.iter().any(|e| e.kind == events::RUN_STARTED) {
        return Err(EngineError::Refused(Refusal::NoSuchRun {
            run_id: run_id.to_string(),
        }));
    }
    let mut approvals = Approvals::from_entries(&entries)?;
    let ended = entries.iter().any(|e| e.kind == events::RUN_ENDED);
    let refuse = |refusal| Err(EngineError::Refused(refusal));
    if approvals.needed == 0 || ended || approvals.rejected.is_some() {
        return refuse(Refusal::NoApprovalPending {
            run_id: run_id.to_string(),
        });
    }
    if approvals.executor.as_deref() == Some(who) {
        return refuse(Refusal::OwnApproval {
            run_id: run_id.to_string(),
            who: who.to_string(),
        });
    }
    if approvals.decided(who) {
        return refuse(Refusal::AlreadyDecided {
            run_id: run_id.to_string(),
            who: who.to_string(),
        });
    }
    let decision = ApprovalDecision {
        run_id: run_id.to_string(),
        who: who.to_string(),
        reason: reason.clone(),
    };
    let payload = serde_json::to_value(&decision).unwrap_or_default();
    // Keep the run's incident refs so its timeline shows the decision.
    let refs = entries
        .iter()
        .find(|e| e.kind == events::RUN_STARTED)
        .map(|e| e.refs.clone())
        .unwrap_or_default();
    journal.append_all(&[NewEvent {
        stream: &stream,
        refs: &refs,
        kind: if approve {
            events::APPROVAL_GRANTED
        } else {
            events::APPROVAL_REJECTED
        },
        actor: who,
        payload: &payload,
        ts: None,
    }])?;
    if approve {
        approvals.granted.push((who.to_string(), reason));
    } else {
        approvals.rejected = Some((who.to_string(), reason));
    }
    Ok(approvals)
}
