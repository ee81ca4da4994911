//! fail2ban compatibility: its config files, tags and jails.

pub mod config;
pub mod filter;
pub mod jail;
pub mod tags;
