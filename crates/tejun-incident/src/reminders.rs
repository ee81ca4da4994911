//! Escalation reminders, evaluated by `tejun watch` on every tick.
//!
//! Two kinds of rule (inventory `incidents.escalation`):
//! - `not_reached`: the incident has not reached a status (e.g. mitigated)
//!   within a time of detection; fires once per rule per incident;
//! - `no_update_for`: nobody wrote to the incident for a while; fires once
//!   per interval (again only after another full interval of silence).
//!
//! A fired reminder is journalled (`incident.reminder`) before it is
//! returned, so a restarted watcher does not repeat it, and the postmortem
//! shows who was reminded when.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tejun_journal::Journal;

use crate::detection::active_incidents;
use crate::error::Result;
use crate::events::{self, ReminderFired};
use crate::fold::Incident;
use crate::model::Status;
use crate::ops::append;
use crate::settings::{EscalationKind, EscalationRule, IncidentSettings};

/// One reminder to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reminder {
    pub incident: String,
    pub title: String,
    pub severity: String,
    pub status: Status,
    pub rule: String,
    pub text_en: String,
    pub text_ja: String,
    pub ts: Timestamp,
}

/// Evaluates every rule against every active incident at `now`, journals
/// the reminders that are due and returns them.
pub fn due(
    journal: &Journal,
    settings: &IncidentSettings,
    now: Timestamp,
) -> Result<Vec<Reminder>> {
    let mut fired = Vec::new();
    for incident in active_incidents(journal)? {
        for rule in &settings.escalation {
            if let Some(reminder) = evaluate(&incident, rule, now) {
                let payload = ReminderFired {
                    rule: reminder.rule.clone(),
                    severity: reminder.severity.clone(),
                    status: reminder.status,
                    text_en: reminder.text_en.clone(),
                    text_ja: reminder.text_ja.clone(),
                };
                append(
                    journal,
                    &incident.id,
                    events::REMINDER,
                    "tejun-watch",
                    &payload,
                    Some(now),
                )?;
                fired.push(reminder);
            }
        }
    }
    Ok(fired)
}

/// Whether `rule` is due for `incident` at `now`; pure.
pub fn evaluate(incident: &Incident, rule: &EscalationRule, now: Timestamp) -> Option<Reminder> {
    if !rule.severities.is_empty()
        && !rule
            .severities
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&incident.severity))
    {
        return None;
    }
    let last_fired = incident
        .reminders
        .iter()
        .filter(|r| r.rule == rule.name)
        .map(|r| r.at)
        .max();
    let (en, ja) = match &rule.kind {
        EscalationKind::NotReached { status, within } => {
            let target = Status::parse(status).ok()?;
            let reached = incident
                .history
                .iter()
                .any(|c| c.to.rank() >= target.rank());
            let deadline = incident.detected_at + signed(*within);
            if reached || now < deadline || last_fired.is_some() {
                return None;
            }
            let minutes = within.as_secs() / 60;
            (
                format!(
                    "{} {} ({}) is not {} {minutes} min after detection (rule {})",
                    incident.severity, incident.id, incident.title, target, rule.name
                ),
                format!(
                    "{} {} ({}) は検知から {minutes} 分経っても {} になっていません (ルール {})",
                    incident.severity, incident.id, incident.title, target, rule.name
                ),
            )
        }
        EscalationKind::NoUpdateFor(quiet) => {
            let since = last_fired.map_or(incident.last_update, |f| f.max(incident.last_update));
            if now < since + signed(*quiet) {
                return None;
            }
            let minutes = now.duration_since(incident.last_update).as_secs() / 60;
            (
                format!(
                    "{} {} ({}) has had no update for {minutes} min (rule {})",
                    incident.severity, incident.id, incident.title, rule.name
                ),
                format!(
                    "{} {} ({}) は {minutes} 分間更新がありません (ルール {})",
                    incident.severity, incident.id, incident.title, rule.name
                ),
            )
        }
    };
    Some(Reminder {
        incident: incident.id.clone(),
        title: incident.title.clone(),
        severity: incident.severity.clone(),
        status: incident.status,
        rule: rule.name.clone(),
        text_en: en,
        text_ja: ja,
        ts: now,
    })
}

fn signed(duration: std::time::Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}
