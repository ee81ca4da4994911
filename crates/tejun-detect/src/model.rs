//! The compiled rule model shared by tejun YAML rules and fail2ban filters.
//!
//! A fail2ban filter and a tejun rule are the same thing once loaded: some
//! patterns that name an offender, patterns that veto a match, how to find
//! the date, and the thresholds (findtime / maxretry / bantime) the watch
//! engine counts against. Actions are data here; `tejun-watch` runs them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::date::DateDetector;
use crate::pattern::{EngineKind, Pattern};

/// How serious a detection is (the brief's incident scale).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum Severity {
    P0,
    P1,
    P2,
    #[default]
    P3,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        })
    }
}

/// Open a new incident, or attach the detection to the open one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentMode {
    Open,
    Attach,
}

/// What to do when an offender reaches maxretry within findtime. Executed by
/// `tejun-watch`; parsed and validated here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
// Rules hold a handful of actions, read once: boxing the larger variant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Ban the offender for the rule's bantime (nftables unless `backend`
    /// says `iptables`).
    Ban {
        /// `nftables` or `iptables` (checked by `tejun watch`, which knows
        /// the backends, at this value's file:line:col).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backend: Option<Spanned<String>>,
        /// Aggregate IPv6 offenders to this prefix before banning (e.g. 64).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ipv6_prefix: Option<Spanned<u32>>,
    },
    /// POST a Slack-compatible JSON message.
    Webhook {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Write a detection event to the journal (always allowed; explicit for
    /// rules that do nothing else).
    Journal {},
    /// Open or attach to an incident.
    Incident {
        #[serde(default = "default_incident_mode")]
        mode: IncidentMode,
        #[serde(default)]
        severity: Option<Severity>,
    },
    /// Start a runbook (path), with parameters, in environment `env`
    /// (`confirm_env` repeats a protected environment's name, since no one
    /// is there to type it). Values keep their place in the rule file so
    /// `tejun watch` can point at the one that is wrong (a runbook that does
    /// not exist, an environment the inventory does not define).
    Runbook {
        path: Spanned<String>,
        env: Spanned<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirm_env: Option<Spanned<String>>,
        /// How long the run may take (`600`, `10m`, `1h`; default 10m).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<Spanned<RunbookTimeout>>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        params: BTreeMap<String, Spanned<String>>,
    },
}

/// A runbook action's `timeout:` as written: seconds or `10m`/`1h`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunbookTimeout {
    Seconds(u64),
    Text(String),
}

fn default_incident_mode() -> IncidentMode {
    IncidentMode::Attach
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Ban { .. } => "ban",
            Action::Webhook { .. } => "webhook",
            Action::Journal {} => "journal",
            Action::Incident { .. } => "incident",
            Action::Runbook { .. } => "runbook",
        }
    }
}

/// Thresholds and reactions of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleParams {
    /// Window in seconds in which failures are counted.
    pub findtime: u64,
    /// Failures within findtime that trigger the actions.
    pub maxretry: u32,
    /// Ban duration in seconds; negative means permanent (fail2ban's -1).
    pub bantime: i64,
    pub severity: Severity,
    pub actions: Vec<Action>,
    /// fail2ban's `journalmatch` (filter `[Init]`, or the jail's): which
    /// systemd journal entries the rule is for, when read from the journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journalmatch: Option<String>,
    /// The jail's `backend` (`systemd` reads the journal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

impl Default for RuleParams {
    /// fail2ban's defaults: 10 minutes, 5 tries, 10 minutes.
    fn default() -> RuleParams {
        RuleParams {
            findtime: 600,
            maxretry: 5,
            bantime: 600,
            severity: Severity::P3,
            actions: Vec::new(),
            journalmatch: None,
            backend: None,
        }
    }
}

/// Where a rule came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    Yaml { file: String },
    Builtin { set: String },
    Fail2ban { filter: String },
}

/// How a line is prepared before the patterns see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decode {
    /// The line as written.
    #[default]
    None,
    /// Percent-decoding (twice, for double encoding) and `+` as space, so
    /// `%27%20OR%20` is seen as `' OR `.
    Url,
}

/// A pattern that could not be used, with the reason. Reported per rule;
/// the rule runs with its other patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsupported {
    pub pattern: String,
    pub reason: String,
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub name: Arc<str>,
    pub description: String,
    pub origin: Origin,
    pub prefregex: Option<Pattern>,
    pub failregex: Vec<Pattern>,
    pub ignoreregex: Vec<Pattern>,
    pub dates: DateDetector,
    /// fail2ban semantics: the date is cut out of the line before the
    /// patterns run. tejun rules match the whole line and read the date
    /// only when a pattern matched (cheaper).
    pub cut_date: bool,
    /// Lines buffered for multi-line patterns (fail2ban `maxlines`).
    pub maxlines: usize,
    pub decode: Decode,
    pub params: RuleParams,
    pub unsupported: Vec<Unsupported>,
    /// Built on first use from `failregex`, by the thread that claims it.
    prefilter: std::sync::OnceLock<Option<crate::pattern::Prefilter>>,
    pub(crate) prefilter_claimed: AtomicBool,
}

/// Which engine each pattern of a rule runs on, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct EngineReport {
    pub rule: String,
    pub linear: usize,
    pub backtracking: Vec<BacktrackingPattern>,
    pub unsupported: Vec<Unsupported>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BacktrackingPattern {
    pub pattern: String,
    pub needs: Vec<&'static str>,
}

impl Rule {
    /// A rule with no patterns, default thresholds and fail2ban's dates.
    pub fn empty(name: &str, origin: Origin) -> Rule {
        Rule {
            name: Arc::from(name),
            description: String::new(),
            origin,
            prefregex: None,
            failregex: Vec::new(),
            ignoreregex: Vec::new(),
            dates: DateDetector::defaults(),
            cut_date: false,
            maxlines: 1,
            decode: Decode::None,
            params: RuleParams::default(),
            unsupported: Vec::new(),
            prefilter: std::sync::OnceLock::new(),
            prefilter_claimed: AtomicBool::new(false),
        }
    }

    /// One-pass prefilter over the failregex list (when it has at least two
    /// linear patterns), or `None` while another thread builds it. It only
    /// skips failregexes that cannot match, so a line matched without it
    /// gets the same result, and the other scan threads need not wait
    /// (building it for sshd takes as long as reading 20,000 lines).
    pub fn prefilter(&self) -> Option<&crate::pattern::Prefilter> {
        if let Some(built) = self.prefilter.get() {
            return built.as_ref();
        }
        if self.prefilter_claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.prefilter
            .get_or_init(|| crate::pattern::Prefilter::new(&self.failregex))
            .as_ref()
    }

    pub fn engine_report(&self) -> EngineReport {
        let all = self
            .prefregex
            .iter()
            .chain(&self.failregex)
            .chain(&self.ignoreregex);
        let mut linear = 0;
        let mut backtracking = Vec::new();
        for p in all {
            match p.engine() {
                EngineKind::Linear => linear += 1,
                EngineKind::Backtracking => backtracking.push(BacktrackingPattern {
                    pattern: p.source.clone(),
                    needs: p.needs.clone(),
                }),
            }
        }
        EngineReport {
            rule: self.name.to_string(),
            linear,
            backtracking,
            unsupported: self.unsupported.clone(),
        }
    }
}
