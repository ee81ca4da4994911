//! Writes a run's events: durable in the journal first, then shown to the
//! operator. One place, so nothing is ever shown that is not recorded.

use tejun_journal::{Journal, NewEvent};

use crate::error::EngineError;
use crate::operator::{Operator, RunEvent};

pub struct Recorder<'a> {
    pub journal: &'a Journal,
    pub operator: &'a dyn Operator,
    pub stream: String,
    /// `incident/<ID>` when the run belongs to an incident.
    pub refs: Vec<String>,
    pub actor: String,
}

impl Recorder<'_> {
    /// Appends `event`; returns only once it is durable.
    pub fn record(&self, event: RunEvent) -> Result<(), EngineError> {
        let payload = event.payload();
        self.journal.append(NewEvent {
            stream: &self.stream,
            refs: &self.refs,
            kind: event.kind(),
            actor: &self.actor,
            payload: &payload,
            ts: None,
        })?;
        self.operator.on_event(&event);
        Ok(())
    }
}
