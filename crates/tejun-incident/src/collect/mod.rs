//! `tejun collect`: read-only evidence, layer by layer, into a tar.gz bundle
//! whose manifest holds the SHA-256 of every file.
//!
//! The commands are data ([`catalog`]), checked before anything runs
//! ([`safety`]). Each runs with a timeout and without a shell ([`runner`]);
//! a missing or failing command is recorded with its reason and collection
//! carries on. Secrets are redacted from command lines and output before
//! they are written anywhere ([`redact`]). The bundle ([`bundle`]) is then
//! attached to the incident with an `evidence.collected` event.

pub mod bundle;
pub mod catalog;
pub mod redact;
pub mod runner;
pub mod safety;

pub use bundle::{Collected, write_bundle};
pub use catalog::{Catalog, Entry as CatalogEntry};
pub use redact::Redactor;
pub use runner::{Outcome, Status as RunStatus, run_entry};

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use tejun_journal::{Journal, NewEvent};

use crate::error::Result;
use crate::events::{self, EvidenceCollected};

/// What `tejun collect` was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// Layers to collect; empty: all.
    pub layers: Vec<String>,
    /// Incident (full id) to attach the bundle to.
    pub incident: Option<String>,
    pub out_dir: PathBuf,
    pub redact_ips: bool,
    pub redact_users: bool,
    pub timeout: Duration,
    pub host: String,
    pub actor: String,
    /// Evidence computed by the caller (access-log statistics, a slow-log
    /// digest), written into the bundle after the commands' output.
    pub computed: Vec<Outcome>,
    pub signals: Option<events::Signals>,
}

/// The bundle, the outcome of every command, and the journal seq.
#[derive(Debug)]
pub struct Report {
    pub bundle: Collected,
    pub outcomes: Vec<Outcome>,
}

/// Runs the selected catalogue entries, writes the bundle and journals
/// `evidence.collected` (with a ref to the incident, if any). `progress` is
/// told about each command before it runs.
pub fn collect(
    journal: &Journal,
    catalog: &Catalog,
    req: &Request,
    progress: &mut dyn FnMut(&CatalogEntry),
) -> Result<Report> {
    let entries = catalog.select(&req.layers)?;
    let mut redactor = Redactor::new(req.redact_ips, req.redact_users);
    let at = Timestamp::now();
    let mut outcomes = Vec::new();
    for entry in entries {
        progress(entry);
        outcomes.push(run_entry(entry, req.timeout, &mut redactor));
    }
    outcomes.extend(req.computed.iter().cloned());
    let info = bundle::BundleInfo {
        out_dir: &req.out_dir,
        host: &req.host,
        incident: req.incident.as_deref(),
        at,
        redact_ips: req.redact_ips,
        redact_users: req.redact_users,
    };
    let bundle = write_bundle(&outcomes, &info)?;
    let mut layers: Vec<String> = Vec::new();
    for o in &outcomes {
        if !layers.contains(&o.layer) {
            layers.push(o.layer.clone());
        }
    }
    let payload = EvidenceCollected {
        bundle: bundle.path.display().to_string(),
        bundle_sha256: bundle.sha256.clone(),
        host: req.host.clone(),
        layers,
        files: bundle.files.clone(),
        signals: req.signals.clone(),
    };
    let value = serde_json::to_value(&payload).expect("evidence payload serialises");
    let refs: Vec<String> = req.incident.iter().map(|id| events::stream(id)).collect();
    let stream = format!("evidence/{}", &bundle.sha256[..16]);
    journal.append(NewEvent {
        stream: &stream,
        refs: &refs,
        kind: events::EVIDENCE,
        actor: &req.actor,
        payload: &value,
        ts: Some(at),
    })?;
    Ok(Report { bundle, outcomes })
}
