//! The postmortem, in Japanese or English, as Markdown or HTML.
//!
//! The structure is the book's: summary (事例概要), timeline, impact
//! figures, detection and evidence, hypotheses, root cause in three layers
//! with 5 whys, what was done (the commands from the journal), lessons and
//! improvement actions. Everything comes from the journal; what nobody has
//! written yet is shown as TODO, never guessed.
//!
//! Causes, lessons and actions can also be edited in a Markdown skeleton
//! ([`skeleton`]) that is read back into the journal.

pub mod blameless;
pub mod figures;
pub mod html;
pub mod markdown;
pub mod skeleton;
mod sources;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tejun_journal::Journal;
use tejun_locale::Lang;

use crate::error::Result;
use crate::fold::{Incident, fold};
use crate::settings::IncidentSettings;
use crate::timeline;

pub use sources::{Ban, Detection, LogLine, Run, Step};

/// Everything a postmortem is written from.
#[derive(Debug, Clone)]
pub struct Postmortem {
    pub incident: Incident,
    pub entries: Vec<tejun_journal::Entry>,
    pub runs: Vec<Run>,
    pub detections: Vec<Detection>,
    pub bans: Vec<Ban>,
}

/// How to render.
#[derive(Debug, Clone)]
pub struct Options {
    pub lang: Lang,
    pub zone: TimeZone,
    /// Availability objective in percent (e.g. 99.9) for the error budget.
    pub slo: Option<f64>,
    /// "Now", for figures of an incident still open.
    pub now: Timestamp,
    pub settings: IncidentSettings,
}

impl Postmortem {
    pub fn load(journal: &Journal, id: &str) -> Result<Postmortem> {
        let entries = timeline::entries(journal, id)?;
        let incident = fold(id, &entries)?;
        Ok(Postmortem {
            runs: sources::runs(&entries),
            detections: sources::detections(&entries),
            bans: sources::bans(&entries),
            incident,
            entries,
        })
    }
}
