//! The entry points `tejun watch` calls when a rule says `incident: open`
//! or `incident: attach`, and the one `tejun run` uses to attach runs to
//! the active incident.
//!
//! Watch then writes its own `detect.triggered` and `ban.added` events with
//! refs `["incident/<id>"]`; they appear on the incident's timeline because
//! the timeline is the query `subject = incident/<id>`.

use jiff::Timestamp;
use tejun_journal::{Journal, Query};

use crate::error::{Error, Result};
use crate::fold::{Incident, fold};
use crate::ops::{Incidents, OpenRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionMode {
    /// Always open a new incident.
    Open,
    /// Attach to the most recent active incident, else open one.
    Attach,
}

#[derive(Debug, Clone)]
pub struct DetectionIncident {
    pub mode: DetectionMode,
    pub severity: String,
    pub title: String,
    /// Usually `tejun-watch`.
    pub actor: String,
    /// When the detection happened.
    pub ts: Timestamp,
}

/// Opens an incident for a detection, or attaches to the active one;
/// returns the incident id.
pub fn open_or_attach(journal: &Journal, req: &DetectionIncident) -> Result<String> {
    if req.mode == DetectionMode::Attach
        && let Some(id) = active_incident(journal)?
    {
        return Ok(id);
    }
    if req.severity.trim().is_empty() {
        return Err(Error::input(
            "a detection incident needs a severity",
            "検知インシデントには重大度が必要です",
        ));
    }
    // The severity was validated when watch loaded its rules; the book's
    // names are checked there, so any configured name is accepted here.
    let mut settings = crate::settings::IncidentSettings::default();
    settings
        .severities
        .insert(req.severity.trim().to_string(), String::new());
    let now = Timestamp::now().max(req.ts);
    Incidents::new(journal, req.actor.clone())
        .at(now)
        .settings(settings)
        .open(&OpenRequest {
            title: req.title.clone(),
            severity: req.severity.clone(),
            impact: None,
            started_at: None,
            detected_at: Some(req.ts),
            source: "detection".to_string(),
            env: None,
        })
}

/// The most recently opened incident that is not resolved or closed.
pub fn active_incident(journal: &Journal) -> Result<Option<String>> {
    Ok(active_incidents(journal)?.pop().map(|inc| inc.id))
}

/// The most recently opened active incident of environment `env`: the one
/// a run in `env` attaches itself to. Incidents without an environment,
/// or of another one, never collect runs they did not ask for.
pub fn active_incident_for_env(journal: &Journal, env: &str) -> Result<Option<String>> {
    Ok(active_incidents(journal)?
        .into_iter()
        .rev()
        .find(|inc| inc.env.as_deref() == Some(env))
        .map(|inc| inc.id))
}

/// Every active incident, oldest first.
pub fn active_incidents(journal: &Journal) -> Result<Vec<Incident>> {
    let entries = journal.query(&Query {
        stream_prefix: Some("incident/"),
        ..Query::default()
    })?;
    let mut active = Vec::new();
    for stream in journal.streams("incident/")? {
        let id = stream.trim_start_matches("incident/");
        let inc = fold(id, &entries)?;
        if inc.status.is_active() {
            active.push(inc);
        }
    }
    active.sort_by_key(|inc| inc.detected_at);
    Ok(active)
}
