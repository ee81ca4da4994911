//! Incidents, as views of the journal.
//!
//! There is no incident table. Opening an incident, changing its status,
//! naming a commander, writing a note or a hypothesis: each is one event in
//! the journal, on the stream `incident/<id>`. Runs started with
//! `--incident`, detections and bans from `tejun watch` and evidence bundles
//! are events on their own streams that *refer* to `incident/<id>`. Every
//! view here (the incident, its timeline, its postmortem, reminders) is a
//! fold over those events, so the record an auditor verifies is the record
//! the postmortem was written from.
//!
//! Writes are validated against the folded state before anything is
//! appended: an invalid transition or an unknown id writes nothing.

pub mod collect;
pub mod detection;
pub mod error;
pub mod events;
pub mod fold;
pub mod ids;
pub mod model;
pub mod ops;
pub mod reminders;
pub mod report;
pub mod settings;
pub mod severity;
pub mod status;
pub mod time;
pub mod timeline;

pub use detection::{
    DetectionIncident, DetectionMode, active_incident, active_incident_for_env, open_or_attach,
};
pub use error::{Error, Message, Result};
pub use fold::Incident;
pub use model::{ActionStatus, Layer, Role, Status, Term, Verdict};
pub use ops::{Incidents, OpenRequest};
pub use settings::IncidentSettings;
