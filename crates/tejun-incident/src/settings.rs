//! The inventory's `incidents:` section. The types are `tejun-runbook`'s
//! (which parses the inventory), re-exported so that `tejun watch` hands
//! the very value it loaded to [`crate::reminders::due`].

pub use tejun_runbook::inventory::default_severities;
pub use tejun_runbook::{EscalationKind, EscalationRule, IncidentSettings};
