//! Executes runbook plans: phases, rollback, guards, backup/restore, and a
//! durable journal entry before and after every step so a run can resume
//! after `kill -9`. No terminal code: progress goes out through a trait the
//! CLI implements.

pub mod events;
