//! An incident's current state, folded from its events.
//!
//! The fold replays the state machine exactly as the writers validated it,
//! so a journal written by tejun always folds; an event that does not fit
//! (only possible if the journal was written by something else) is reported
//! as corrupt rather than skipped.

use jiff::Timestamp;
use serde::Serialize;
use tejun_journal::Entry;

use crate::error::{Error, Result};
use crate::events::{self, Action, Cause, Lesson};
use crate::model::{Role, Status, Verdict};
use crate::status::{Change, StatusMachine};

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub impact: Option<String>,
    pub source: String,
    /// The environment it affects, if the opener said.
    pub env: Option<String>,
    pub opened_by: String,
    pub started_at: Timestamp,
    pub detected_at: Timestamp,
    pub status: Status,
    pub status_since: Timestamp,
    /// Last time anyone wrote to the incident (reminders excluded).
    pub last_update: Timestamp,
    pub history: Vec<StatusEntry>,
    pub roles: Vec<RoleEntry>,
    pub notes: Vec<NoteEntry>,
    pub hypotheses: Vec<Hypothesis>,
    pub causes: Vec<Cause>,
    pub lessons: Vec<Lesson>,
    pub actions: Vec<Action>,
    pub evidence: Vec<EvidenceEntry>,
    pub reminders: Vec<ReminderEntry>,
    #[serde(skip)]
    pub machine: StatusMachine,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusEntry {
    pub from: Status,
    pub to: Status,
    pub at: Timestamp,
    pub reopen: bool,
    pub backfilled: bool,
    pub actor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleEntry {
    pub role: Role,
    pub name: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoteEntry {
    pub at: Timestamp,
    pub actor: String,
    pub text: String,
    pub backfilled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hypothesis {
    pub id: String,
    pub text: String,
    pub at: Timestamp,
    pub actor: String,
    pub verdict: Option<VerdictEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictEntry {
    pub verdict: Verdict,
    pub evidence: String,
    pub at: Timestamp,
    pub actor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceEntry {
    pub at: Timestamp,
    pub bundle: String,
    pub bundle_sha256: String,
    pub files: Vec<events::EvidenceFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signals: Option<events::Signals>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReminderEntry {
    pub at: Timestamp,
    pub rule: String,
}

impl Incident {
    /// The person currently holding `role` (the last one named).
    pub fn role(&self, role: Role) -> Option<&str> {
        self.roles
            .iter()
            .rev()
            .find(|r| r.role == role)
            .map(|r| r.name.as_str())
    }

    /// When users stopped being hurt: first mitigation, else resolution.
    pub fn mitigated_at(&self) -> Option<Timestamp> {
        self.machine
            .first_reached(Status::Mitigated)
            .or_else(|| self.machine.resolved_at())
    }

    pub fn resolved_at(&self) -> Option<Timestamp> {
        self.machine.resolved_at()
    }
}

/// Folds the entries of `Query { subject: "incident/<id>" }` (in seq order).
/// Entries from other streams are ignored except evidence bundles.
pub fn fold(id: &str, entries: &[Entry]) -> Result<Incident> {
    let stream = events::stream(id);
    let mut incident: Option<Incident> = None;
    for entry in entries {
        if entry.kind == events::EVIDENCE {
            if let Some(inc) = incident.as_mut() {
                let ev: events::EvidenceCollected = entry.decode()?;
                inc.evidence.push(EvidenceEntry {
                    at: entry.ts,
                    bundle: ev.bundle,
                    bundle_sha256: ev.bundle_sha256,
                    files: ev.files,
                    signals: ev.signals,
                });
            }
            continue;
        }
        if entry.stream != stream {
            continue;
        }
        if entry.kind == events::OPENED {
            let opened: events::Opened = entry.decode()?;
            let machine = StatusMachine::new(opened.started_at, entry.ts)
                .map_err(|_| corrupt(entry, "impact starts after detection"))?;
            incident = Some(Incident {
                id: opened.id,
                title: opened.title,
                severity: opened.severity,
                impact: opened.impact,
                source: opened.source,
                env: opened.env,
                opened_by: entry.actor.clone(),
                started_at: opened.started_at,
                detected_at: entry.ts,
                status: Status::Detected,
                status_since: entry.ts,
                last_update: entry.recorded_at,
                history: Vec::new(),
                roles: Vec::new(),
                notes: Vec::new(),
                hypotheses: Vec::new(),
                causes: Vec::new(),
                lessons: Vec::new(),
                actions: Vec::new(),
                evidence: Vec::new(),
                reminders: Vec::new(),
                machine,
            });
            continue;
        }
        let Some(inc) = incident.as_mut() else {
            return Err(corrupt(entry, "event before incident.opened"));
        };
        if entry.kind == events::REMINDER {
            let fired: events::ReminderFired = entry.decode()?;
            inc.reminders.push(ReminderEntry {
                at: entry.ts,
                rule: fired.rule,
            });
            continue;
        }
        inc.last_update = inc.last_update.max(entry.recorded_at);
        apply(inc, entry)?;
    }
    incident.ok_or_else(|| {
        Error::input(
            format!("no incident {id:?}"),
            format!("インシデント {id:?} はありません"),
        )
    })
}

fn apply(inc: &mut Incident, entry: &Entry) -> Result<()> {
    match entry.kind.as_str() {
        events::STATUS => {
            let ev: events::StatusChanged = entry.decode()?;
            // Two operators may validate against the same state and both
            // append (validation and append are separate steps). The later
            // change then wins, starting from where the first one left the
            // incident: an incident must stay readable whatever the race.
            let from = inc.machine.current;
            let reopen = ev.reopen || (!from.is_active() && ev.to.is_active());
            // Replayed without the "not in the future" rule: that was
            // checked against the writer's clock.
            inc.machine.apply(Change {
                from,
                to: ev.to,
                at: entry.ts,
                reopen,
            });
            inc.status = ev.to;
            inc.status_since = entry.ts;
            inc.history.push(StatusEntry {
                from,
                to: ev.to,
                at: entry.ts,
                reopen,
                backfilled: ev.backfilled,
                actor: entry.actor.clone(),
            });
        }
        events::ROLE => {
            let ev: events::RoleAssigned = entry.decode()?;
            inc.roles.push(RoleEntry {
                role: ev.role,
                name: ev.name,
                at: entry.ts,
            });
        }
        events::NOTE => {
            let ev: events::NoteAdded = entry.decode()?;
            inc.notes.push(NoteEntry {
                at: entry.ts,
                actor: entry.actor.clone(),
                text: ev.text,
                backfilled: ev.backfilled,
            });
        }
        events::HYPOTHESIS => {
            let ev: events::HypothesisAdded = entry.decode()?;
            inc.hypotheses.push(Hypothesis {
                id: ev.hypothesis,
                text: ev.text,
                at: entry.ts,
                actor: entry.actor.clone(),
                verdict: None,
            });
        }
        events::VERDICT => {
            let ev: events::VerdictGiven = entry.decode()?;
            let Some(hyp) = inc.hypotheses.iter_mut().find(|h| h.id == ev.hypothesis) else {
                return Err(corrupt(entry, "verdict on an unknown hypothesis"));
            };
            hyp.verdict = Some(VerdictEntry {
                verdict: ev.verdict,
                evidence: ev.evidence,
                at: entry.ts,
                actor: entry.actor.clone(),
            });
        }
        events::SEVERITY => {
            let ev: events::SeverityChanged = entry.decode()?;
            inc.severity = ev.to;
        }
        events::IMPACT => {
            let ev: events::ImpactStated = entry.decode()?;
            inc.impact = Some(ev.text);
        }
        events::CAUSE => inc.causes.push(entry.decode()?),
        events::LESSON => inc.lessons.push(entry.decode()?),
        events::ACTION => inc.actions.push(entry.decode()?),
        events::POSTMORTEM => {
            let ev: events::PostmortemImported = entry.decode()?;
            inc.causes = ev.causes;
            inc.lessons = ev.lessons;
            // The skeleton has no due dates or statuses: keep those of the
            // actions it still lists.
            let before = std::mem::take(&mut inc.actions);
            inc.actions = ev
                .actions
                .into_iter()
                .map(|mut action| {
                    if let Some(old) = before
                        .iter()
                        .find(|o| o.text == action.text && o.owner == action.owner)
                    {
                        action.due = old.due;
                        action.status = old.status;
                    }
                    action
                })
                .collect();
        }
        events::ACTION_STATUS => {
            let ev: events::ActionStatusChanged = entry.decode()?;
            if let Some(action) = inc.actions.get_mut(ev.number.wrapping_sub(1)) {
                action.status = ev.status;
            }
        }
        // Kinds added later by newer versions are shown on the timeline
        // but do not change the state.
        _ => {}
    }
    Ok(())
}

fn corrupt(entry: &Entry, what: &str) -> Error {
    Error::Journal(tejun_journal::Error::Corrupt {
        seq: entry.seq,
        what: what.to_string(),
    })
}
