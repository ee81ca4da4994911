//! Writing to incidents: every operation folds the incident, validates the
//! change against it, and only then appends one event. Nothing is written
//! when validation fails.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::Value;
use tejun_journal::{Journal, NewEvent, Query};

use crate::error::{Error, Result};
use crate::events::{self, Action, ActionStatus, Cause, Lesson};
use crate::fold::{Incident, fold};
use crate::ids;
use crate::model::{Layer, Role, Status, Term, Verdict};
use crate::settings::IncidentSettings;
use crate::severity;
use crate::status::StatusMachine;
use crate::timeline;

/// What `tejun incident open` asks for.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub title: String,
    pub severity: String,
    pub impact: Option<String>,
    /// When the impact began; default: the detection time.
    pub started_at: Option<Timestamp>,
    /// When it was detected, if learned afterwards; default: now.
    pub detected_at: Option<Timestamp>,
    /// `cli` or `detection`.
    pub source: String,
    /// The environment it affects (`--env`).
    pub env: Option<String>,
}

/// Incident operations on one journal, as one actor, at one clock.
pub struct Incidents<'j> {
    journal: &'j Journal,
    actor: String,
    now: Timestamp,
    zone: TimeZone,
    settings: IncidentSettings,
    /// The responder a scribe records for (`--by NAME`); the actor stays
    /// the person who typed it.
    on_behalf_of: Option<String>,
}

/// The payload field naming the responder an event was recorded for.
pub const ON_BEHALF_OF: &str = "on_behalf_of";

impl<'j> Incidents<'j> {
    pub fn new(journal: &'j Journal, actor: impl Into<String>) -> Incidents<'j> {
        Incidents {
            journal,
            actor: actor.into(),
            now: Timestamp::now(),
            zone: TimeZone::UTC,
            settings: IncidentSettings::default(),
            on_behalf_of: None,
        }
    }

    /// Records every event for `name` (a scribe writing down what a
    /// responder did); the journal keeps both.
    pub fn on_behalf_of(mut self, name: Option<String>) -> Self {
        self.on_behalf_of = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        self
    }

    /// Fixes "now" (tests, and so one command uses one clock).
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    /// The zone times are shown in, in error messages.
    pub fn zone(mut self, zone: TimeZone) -> Self {
        self.zone = zone;
        self
    }

    pub fn settings(mut self, settings: IncidentSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn journal(&self) -> &Journal {
        self.journal
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Every incident id, oldest first.
    pub fn ids(&self) -> Result<Vec<String>> {
        Ok(self
            .journal
            .streams("incident/")?
            .into_iter()
            .filter_map(|s| s.strip_prefix("incident/").map(str::to_string))
            .collect())
    }

    /// The full id an operator's (possibly abbreviated) id names.
    pub fn resolve(&self, input: &str) -> Result<String> {
        ids::resolve(input, &self.ids()?)
    }

    pub fn load(&self, id: &str) -> Result<Incident> {
        let subject = events::stream(id);
        let entries = self.journal.query(&Query {
            subject: Some(&subject),
            ..Query::default()
        })?;
        fold(id, &entries)
    }

    /// All incidents, oldest first.
    pub fn list(&self) -> Result<Vec<Incident>> {
        // Each incident with the entries that refer to it (evidence lives
        // on its own stream), so the list shows what `show` shows.
        self.ids()?
            .iter()
            .map(|id| fold(id, &crate::timeline::entries(self.journal, id)?))
            .collect()
    }

    /// Opens an incident; returns its id.
    pub fn open(&self, req: &OpenRequest) -> Result<String> {
        let title = req.title.trim();
        if title.is_empty() {
            return Err(Error::input("the title is empty", "タイトルが空です"));
        }
        let severity = severity::parse(&req.severity, &self.settings)?;
        let detected_at = req.detected_at.unwrap_or(self.now);
        let started_at = req.started_at.unwrap_or(detected_at);
        let machine = StatusMachine::new(started_at, detected_at)
            .map_err(|r| Error::Input(r.message(&self.show())))?;
        self.not_future(detected_at)?;
        let seed = format!("{}|{}|{}|{title}", self.now, std::process::id(), self.actor);
        let id = ids::generate(seed.as_bytes(), &self.ids()?);
        let payload = events::Opened {
            id: id.clone(),
            title: title.to_string(),
            severity,
            impact: req.impact.clone().filter(|s| !s.trim().is_empty()),
            started_at: machine.started_at,
            source: req.source.clone(),
            // A detection is dated when it happened; only an operator's
            // `--at` is a fact learned afterwards.
            backfilled: req.detected_at.is_some() && req.source != "detection",
            env: req.env.clone().filter(|e| !e.trim().is_empty()),
        };
        self.write(&id, events::OPENED, &payload, Some(detected_at))?;
        Ok(id)
    }

    /// Takes a run off the incident's timeline and postmortem (it was
    /// attached by mistake); the run's own events stay in the journal.
    pub fn detach_run(&self, id: &str, run_id: &str, reason: &str) -> Result<()> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::input(
                "say why the run is detached (--reason)",
                "切り離す理由を書いてください (--reason)",
            ));
        }
        let run_stream = format!("run/{run_id}");
        let attached = timeline::entries(self.journal, id)?
            .iter()
            .any(|e| e.stream == run_stream);
        if !attached {
            return Err(Error::input(
                format!("run {run_id} is not on incident {id}'s timeline"),
                format!("実行 {run_id} はインシデント {id} のタイムラインにありません"),
            ));
        }
        let payload = events::RunDetached {
            run_id: run_id.to_string(),
            reason: reason.to_string(),
        };
        self.write(id, events::RUN_DETACHED, &payload, None)
    }

    /// Moves the incident to `to` at `at` (default now; given → backfilled).
    pub fn set_status(
        &self,
        id: &str,
        to: Status,
        at: Option<Timestamp>,
    ) -> Result<events::StatusChanged> {
        let inc = self.load(id)?;
        let when = at.unwrap_or(self.now);
        let change = inc
            .machine
            .check(to, when, self.now)
            .map_err(|r| Error::Input(r.message(&self.show())))?;
        let payload = events::StatusChanged {
            from: change.from,
            to: change.to,
            reopen: change.reopen,
            backfilled: at.is_some(),
        };
        self.write(id, events::STATUS, &payload, Some(when))?;
        Ok(payload)
    }

    pub fn assign_role(&self, id: &str, role: Role, name: &str) -> Result<()> {
        self.load(id)?;
        let name = non_empty(name, "name", "名前")?;
        self.write(id, events::ROLE, &events::RoleAssigned { role, name }, None)
    }

    pub fn note(&self, id: &str, text: &str, at: Option<Timestamp>) -> Result<()> {
        let inc = self.load(id)?;
        let text = non_empty(text, "note", "メモ")?;
        if let Some(when) = at {
            self.within_incident(&inc, when)?;
        }
        self.write(
            id,
            events::NOTE,
            &events::NoteAdded {
                text,
                backfilled: at.is_some(),
            },
            at,
        )
    }

    /// Records a hypothesis; returns its id (`<incident>-H<n>`).
    pub fn hypothesis(&self, id: &str, text: &str) -> Result<String> {
        let inc = self.load(id)?;
        let text = non_empty(text, "hypothesis", "仮説")?;
        let hyp = format!("{id}-H{}", inc.hypotheses.len() + 1);
        self.write(
            id,
            events::HYPOTHESIS,
            &events::HypothesisAdded {
                hypothesis: hyp.clone(),
                text,
            },
            None,
        )?;
        Ok(hyp)
    }

    /// Gives a verdict on a hypothesis named `<incident>-H<n>` (the
    /// incident part may be abbreviated).
    pub fn verdict(&self, hyp: &str, verdict: Verdict, evidence: &str) -> Result<String> {
        let (incident_part, number) = hyp
            .trim()
            .to_ascii_uppercase()
            .rsplit_once("-H")
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| {
                Error::input(
                    format!("{hyp:?} is not a hypothesis id (like INC-7K3Q-H1)"),
                    format!("{hyp:?} は仮説 ID (例: INC-7K3Q-H1) ではありません"),
                )
            })?;
        let id = self.resolve(&incident_part)?;
        let inc = self.load(&id)?;
        let full = format!("{id}-H{number}");
        if !inc.hypotheses.iter().any(|h| h.id == full) {
            return Err(Error::input(
                format!("incident {id} has no hypothesis {full}"),
                format!("インシデント {id} に仮説 {full} はありません"),
            ));
        }
        let evidence = non_empty(evidence, "evidence", "根拠")?;
        self.write(
            &id,
            events::VERDICT,
            &events::VerdictGiven {
                hypothesis: full.clone(),
                verdict,
                evidence,
            },
            None,
        )?;
        Ok(full)
    }

    pub fn cause(&self, id: &str, layer: Layer, text: &str, whys: &[String]) -> Result<()> {
        self.load(id)?;
        let text = non_empty(text, "cause", "原因")?;
        let whys = whys
            .iter()
            .map(|w| w.trim().to_string())
            .filter(|w| !w.is_empty())
            .collect();
        self.write(id, events::CAUSE, &Cause { layer, text, whys }, None)
    }

    /// Reassesses the severity (as the impact becomes clearer).
    pub fn set_severity(&self, id: &str, severity: &str) -> Result<String> {
        let inc = self.load(id)?;
        let to = severity::parse(severity, &self.settings)?;
        if to == inc.severity {
            return Err(Error::input(
                format!("the incident is already {to}"),
                format!("インシデントはすでに {to} です"),
            ));
        }
        let payload = events::SeverityChanged {
            from: inc.severity,
            to: to.clone(),
        };
        self.write(id, events::SEVERITY, &payload, None)?;
        Ok(to)
    }

    /// Writes (or rewrites) who and what is affected.
    pub fn impact(&self, id: &str, text: &str) -> Result<()> {
        self.load(id)?;
        let text = non_empty(text, "impact", "影響範囲")?;
        self.write(id, events::IMPACT, &events::ImpactStated { text }, None)
    }

    pub fn lesson(&self, id: &str, text: &str) -> Result<()> {
        self.load(id)?;
        let text = non_empty(text, "lesson", "教訓")?;
        self.write(id, events::LESSON, &Lesson { text }, None)
    }

    pub fn action(&self, id: &str, term: Term, owner: &str, text: &str) -> Result<()> {
        self.action_due(id, term, owner, text, None)
    }

    /// Records an improvement action with an optional due date.
    pub fn action_due(
        &self,
        id: &str,
        term: Term,
        owner: &str,
        text: &str,
        due: Option<jiff::civil::Date>,
    ) -> Result<()> {
        self.load(id)?;
        let owner = non_empty(owner, "owner", "担当者")?;
        // The skeleton writes `owner: text`; a colon would move the split.
        if owner.contains(':') {
            return Err(Error::input(
                format!("the owner {owner:?} may not contain ':'"),
                format!("担当者 {owner:?} に ':' は使えません"),
            ));
        }
        let text = non_empty(text, "action", "対策")?;
        let action = Action {
            term,
            owner,
            text,
            due,
            status: ActionStatus::Open,
        };
        self.write(id, events::ACTION, &action, None)
    }

    /// Marks action `number` (1-based, as `incident actions` lists it).
    pub fn action_status(&self, id: &str, number: usize, status: ActionStatus) -> Result<()> {
        let inc = self.load(id)?;
        if number == 0 || number > inc.actions.len() {
            return Err(Error::input(
                format!(
                    "{id} has no action {number} (it has {}); see `tejun incident actions`",
                    inc.actions.len()
                ),
                format!(
                    "{id} に改善アクション {number} はありません ({} 件)。`tejun incident actions` で確認してください",
                    inc.actions.len()
                ),
            ));
        }
        let change = events::ActionStatusChanged { number, status };
        self.write(id, events::ACTION_STATUS, &change, None)
    }

    /// Replaces causes, lessons and actions with an edited skeleton's.
    /// Returns false (and writes nothing) when they are unchanged.
    pub fn import_postmortem(
        &self,
        id: &str,
        imported: events::PostmortemImported,
    ) -> Result<bool> {
        let inc = self.load(id)?;
        if inc.causes == imported.causes
            && inc.lessons == imported.lessons
            && inc.actions == imported.actions
        {
            return Ok(false);
        }
        self.write(id, events::POSTMORTEM, &imported, None)?;
        Ok(true)
    }

    fn within_incident(&self, inc: &Incident, when: Timestamp) -> Result<()> {
        if when < inc.started_at {
            let show = self.show();
            return Err(Error::input(
                format!(
                    "{} is before the impact started ({})",
                    show(when),
                    show(inc.started_at)
                ),
                format!(
                    "{} は影響の開始 ({}) より前です",
                    show(when),
                    show(inc.started_at)
                ),
            ));
        }
        self.not_future(when)
    }

    fn not_future(&self, when: Timestamp) -> Result<()> {
        if when > self.now + crate::status::FUTURE_SKEW {
            let show = self.show();
            return Err(Error::input(
                format!("{} is in the future", show(when)),
                format!("{} は未来の時刻です", show(when)),
            ));
        }
        Ok(())
    }

    fn show(&self) -> impl Fn(Timestamp) -> String + '_ {
        move |ts| tejun_locale::format_time(ts, &self.zone)
    }

    fn write<T: Serialize>(
        &self,
        id: &str,
        kind: &str,
        payload: &T,
        ts: Option<Timestamp>,
    ) -> Result<()> {
        let mut value: Value = serde_json::to_value(payload).expect("incident payloads serialise");
        if let (Some(name), Value::Object(map)) = (&self.on_behalf_of, &mut value) {
            map.insert(ON_BEHALF_OF.to_string(), Value::String(name.clone()));
        }
        // One command, one clock: "now" is the clock this value was made with.
        append(
            self.journal,
            id,
            kind,
            &self.actor,
            &value,
            Some(ts.unwrap_or(self.now)),
        )
    }
}

/// Appends one incident event (shared with detection and reminders).
pub(crate) fn append<T: Serialize>(
    journal: &Journal,
    id: &str,
    kind: &str,
    actor: &str,
    payload: &T,
    ts: Option<Timestamp>,
) -> Result<()> {
    let value: Value = serde_json::to_value(payload).expect("incident payloads serialise");
    let stream = events::stream(id);
    journal.append(NewEvent {
        stream: &stream,
        refs: &[],
        kind,
        actor,
        payload: &value,
        ts,
    })?;
    Ok(())
}

fn non_empty(text: &str, en: &str, ja: &str) -> Result<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Error::input(
            format!("the {en} is empty"),
            format!("{ja}が空です"),
        ));
    }
    Ok(trimmed.to_string())
}
