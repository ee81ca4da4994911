//! Detection: log rules with fail2ban semantics, at ripgrep-like speed.
//!
//! One compiled model ([`Rule`]) serves tejun's own YAML rules, the built-in
//! rule sets and fail2ban's filter files read unmodified. Patterns run on
//! the linear-time `regex` engine; only patterns that need look-around,
//! back-references or conditionals fall back to a bounded backtracking
//! engine, and each such pattern is reported ([`Rule::engine_report`]).
//!
//! This crate does no network I/O and never touches tejun's journal: it
//! matches lines ([`Matcher`]), tells log inputs apart and opens them
//! ([`input`]: files, gzip, pipes, standard input, the systemd journal
//! through `journalctl`), scans them ([`scan`]) and hands [`Hit`]s to
//! callers.
//! `tejun-watch` follows files and runs the rules' [`Action`]s.

pub mod builtin;
pub mod date;
pub mod decode;
pub mod fail2ban;
pub mod group;
pub mod input;
pub mod ip;
pub mod matcher;
pub mod memo;
pub mod model;
pub mod parallel;
pub mod pattern;
pub mod pyregex;
pub mod scan;
pub mod yaml;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

pub use date::{DateContext, DateDetector};
pub use ip::{Offender, aggregate_ipv6, normalize_ip};
pub use matcher::{Hit, HitRef, HitSink, LineStats, Matcher};
pub use model::{Action, Decode, EngineReport, IncidentMode, Rule, RuleParams, Severity};
pub use pattern::{EngineKind, Pattern};

/// Why a rule set could not be loaded. Each variant names where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    Yaml(yaml::YamlError),
    Filter(fail2ban::filter::FilterError),
    Jail(fail2ban::config::ConfigError),
    UnknownBuiltin {
        name: String,
        known: Vec<&'static str>,
    },
    Io {
        file: String,
        message: String,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Yaml(e) => e.fmt(f),
            RuleError::Filter(e) => e.fmt(f),
            RuleError::Jail(e) => e.fmt(f),
            RuleError::UnknownBuiltin { name, known } => {
                write!(
                    f,
                    "unknown built-in rule set {name:?} (known: {})",
                    known.join(", ")
                )
            }
            RuleError::Io { file, message } => write!(f, "{file}: {message}"),
        }
    }
}

impl std::error::Error for RuleError {}

/// Rules applied together to the same lines.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// Parses tejun rule YAML; `file` names the source in errors.
    pub fn load_yaml(src: &str, file: &str) -> Result<RuleSet, RuleError> {
        Ok(RuleSet {
            rules: yaml::parse_rules(src, file).map_err(RuleError::Yaml)?,
        })
    }

    pub fn load_yaml_file(path: &Path) -> Result<RuleSet, RuleError> {
        let bytes = std::fs::read(path).map_err(|e| RuleError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        RuleSet::load_yaml(
            &String::from_utf8_lossy(&bytes),
            &path.display().to_string(),
        )
    }

    /// Built-in sets by name (`sshd`, `web-auth`, `web-attacks`, `mysql`).
    pub fn builtin(names: &[&str]) -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::default();
        for name in names {
            let Some((_, file, src)) = builtin::SETS.iter().find(|(n, _, _)| n == name) else {
                return Err(RuleError::UnknownBuiltin {
                    name: name.to_string(),
                    known: builtin::names(),
                });
            };
            let mut loaded = RuleSet::load_yaml(src, file)?;
            for rule in &mut loaded.rules {
                rule.origin = model::Origin::Builtin {
                    set: name.to_string(),
                };
            }
            set.rules.extend(loaded.rules);
        }
        Ok(set)
    }

    /// A fail2ban filter file, with thresholds and filter options from a
    /// jail (`jail.conf`/`jail.local` and the jail's name) when given.
    pub fn from_fail2ban(filter: &Path, jail: Option<(&Path, &str)>) -> Result<RuleSet, RuleError> {
        let (name, mut options) =
            fail2ban::filter::parse_filter_spec(&filter.display().to_string());
        let path = Path::new(&name);
        let settings = match jail {
            Some((jail_path, jail_name)) => {
                Some(fail2ban::jail::load_jail(jail_path, jail_name).map_err(RuleError::Jail)?)
            }
            None => None,
        };
        if let Some(s) = &settings {
            for (k, v) in &s.filter_options {
                options.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let mut rule = fail2ban::filter::load_filter(path, &options).map_err(RuleError::Filter)?;
        if let Some(s) = settings {
            rule.params.findtime = s.findtime;
            rule.params.maxretry = s.maxretry;
            rule.params.bantime = s.bantime;
            rule.params.actions = vec![Action::Ban {
                backend: None,
                ipv6_prefix: None,
            }];
            if s.journalmatch.is_some() {
                rule.params.journalmatch = s.journalmatch;
            }
            rule.params.backend = s.backend;
        }
        Ok(RuleSet { rules: vec![rule] })
    }

    /// A fail2ban filter with explicit filter options (`mode`, ...).
    pub fn from_fail2ban_with_options(
        filter: &Path,
        options: &HashMap<String, String>,
    ) -> Result<RuleSet, RuleError> {
        let rule = fail2ban::filter::load_filter(filter, options).map_err(RuleError::Filter)?;
        Ok(RuleSet { rules: vec![rule] })
    }

    /// Matches one line with no memory of earlier lines (multi-line
    /// fail2ban features need a [`Matcher`]).
    pub fn match_line(&self, line: &str, ctx: &DateContext) -> Vec<Hit> {
        let mut hits = Vec::new();
        Matcher::new(self).feed(line, ctx, &mut hits);
        hits
    }

    pub fn matcher(&self) -> Matcher<'_> {
        Matcher::new(self)
    }

    pub fn engine_reports(&self) -> Vec<EngineReport> {
        self.rules.iter().map(Rule::engine_report).collect()
    }
}
