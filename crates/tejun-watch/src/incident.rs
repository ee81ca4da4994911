//! The incident side of a detection: `tejun_incident::open_or_attach`, and
//! escalation reminders posted to the webhooks.

use jiff::Timestamp;
use tejun_incident::{DetectionIncident, DetectionMode, IncidentSettings};
use tejun_journal::Journal;
use tejun_locale::Lang;

use crate::config::IncidentMode;
use crate::events::ACTOR;
use crate::watcher::{IncidentHook, IncidentRequest};
use crate::webhook::{Message, Webhooks};

/// Opens or attaches an incident through `tejun-incident`.
pub fn hook() -> IncidentHook {
    Box::new(|journal: &Journal, req: &IncidentRequest| {
        let request = DetectionIncident {
            mode: match req.action.mode {
                IncidentMode::Open => DetectionMode::Open,
                IncidentMode::Attach => DetectionMode::Attach,
            },
            severity: req
                .severity
                .clone()
                .unwrap_or_else(|| req.action.severity.clone()),
            title: req.title.clone(),
            actor: ACTOR.to_string(),
            ts: req.at,
        };
        tejun_incident::open_or_attach(journal, &request).map_err(|e| e.to_string())
    })
}

/// Posts the escalation reminders that are due (they are journaled by
/// `tejun-incident` before they are returned, so none is sent twice).
pub fn post_reminders(
    journal: &Journal,
    settings: &IncidentSettings,
    lang: Lang,
    webhooks: &Webhooks,
) -> Result<usize, String> {
    let due = tejun_incident::reminders::due(journal, settings, Timestamp::now())
        .map_err(|e| e.to_string())?;
    for reminder in &due {
        // The inventory's `incidents.webhook` is where reminders belong;
        // without one they go to watch.yaml's webhooks.
        webhooks.send(Message {
            text: lang.pick(&reminder.text_en, &reminder.text_ja).to_string(),
            global: settings.webhook.is_none(),
            urls: settings.webhook.iter().cloned().collect(),
            stream: format!("incident/{}", reminder.incident),
            refs: Vec::new(),
            detection: None,
            done: None,
        });
    }
    Ok(due.len())
}
