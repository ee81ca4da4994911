//! The rules a source's lines are matched against, as the watcher needs them.
//!
//! Matching belongs to `tejun-detect`; the watcher only needs, per line,
//! which rules hit, the captured host and the line's own time, plus each
//! rule's thresholds and actions. This small trait is that seam, so the
//! watch loop is tested on its own and the detect crate can evolve.

use jiff::{SignedDuration, Timestamp};

use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::config::{Actions, ConfigError};
use crate::runbook::RunbookContext;
use crate::window::Params;

/// What the watcher needs to know about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub findtime: SignedDuration,
    pub maxretry: u32,
    /// `None`: permanent (fail2ban's negative bantime).
    pub bantime: Option<SignedDuration>,
    pub severity: Option<String>,
    pub actions: Actions,
}

impl RuleInfo {
    pub fn params(&self) -> Params {
        Params {
            findtime: self.findtime,
            maxretry: self.maxretry,
            bantime: self.actions.ban.then(|| self.bantime.unwrap_or(PERMANENT)),
        }
    }
}

/// What "permanent" means for a ban: long enough to outlive the host.
pub const PERMANENT: SignedDuration = SignedDuration::from_hours(24 * 365 * 100);

/// One rule matching one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    /// Index into [`LineRules::rules`].
    pub rule: usize,
    pub host: String,
    pub time: Option<Timestamp>,
}

/// A source's compiled rules.
pub trait LineRules: Send {
    fn rules(&self) -> &[RuleInfo];
    /// Every rule that matches `line`. `&mut` because fail2ban's multi-line
    /// filters keep a buffer of recent lines.
    fn match_line(&mut self, line: &str) -> Vec<RuleHit>;
    /// Like [`LineRules::match_line`] for a line whose time is known (a
    /// journal entry): no date is searched in the text.
    fn match_line_at(&mut self, line: &str, time: Timestamp) -> Vec<RuleHit> {
        let _ = time;
        self.match_line(line)
    }
    /// Hits so far whose line had no readable date (counted at arrival time).
    fn undated(&self) -> u64 {
        0
    }
}

/// Rules from `tejun-detect`: a tejun rules file, built-in sets or a
/// fail2ban filter, matched with detect's stateful [`Matcher`] (fail2ban's
/// multi-line filters need memory between lines).
///
/// [`Matcher`]: tejun_detect::Matcher
pub struct DetectRules {
    infos: Vec<RuleInfo>,
    matcher: tejun_detect::Matcher<'static>,
    zone: jiff::tz::TimeZone,
    hits: Vec<tejun_detect::Hit>,
    /// Hits whose date could not be read (counted at arrival time instead).
    pub undated: u64,
}

impl DetectRules {
    /// Wraps a loaded rule set, checking its `runbook:` actions (the
    /// runbook, its environment, the variables) before anything is watched.
    /// The set is leaked on purpose: it lives as long as the watcher (the
    /// whole process), and the matcher borrows it.
    pub fn new(
        set: tejun_detect::RuleSet,
        zone: jiff::tz::TimeZone,
        runbooks: &RunbookContext,
    ) -> Result<DetectRules, ConfigError> {
        let set: &'static tejun_detect::RuleSet = Box::leak(Box::new(set));
        let infos = set
            .rules
            .iter()
            .map(|rule| info_of(rule, runbooks))
            .collect::<Result<_, _>>()?;
        Ok(DetectRules {
            infos,
            matcher: set.matcher(),
            zone,
            hits: Vec::new(),
            undated: 0,
        })
    }
}

fn info_of(rule: &tejun_detect::Rule, runbooks: &RunbookContext) -> Result<RuleInfo, ConfigError> {
    use tejun_detect::Action;
    use tejun_detect::model::Origin;
    let params = &rule.params;
    // A fail2ban filter is watched the way fail2ban would: a jail bans.
    let from_fail2ban = matches!(rule.origin, Origin::Fail2ban { .. });
    let mut actions = Actions {
        webhook: true,
        ban: from_fail2ban,
        ..Actions::default()
    };
    let file = match &rule.origin {
        Origin::Yaml { file } => PathBuf::from(file),
        Origin::Builtin { set } => PathBuf::from(format!("builtin:{set}")),
        Origin::Fail2ban { filter } => PathBuf::from(filter),
    };
    for action in &params.actions {
        match action {
            Action::Ban {
                backend,
                ipv6_prefix,
            } => {
                actions.ban = true;
                actions.ban_backend = backend
                    .as_ref()
                    .map(|b| rule_backend(b, &file, &rule.name))
                    .transpose()?;
                actions.ipv6_prefix = ipv6_prefix
                    .as_ref()
                    .map(|p| rule_prefix(p, &file, &rule.name))
                    .transpose()?;
            }
            Action::Webhook { url, .. } => actions.webhook_urls.push(url.clone()),
            Action::Journal {} => {}
            Action::Incident { mode, severity } => {
                actions.incident = Some(crate::config::IncidentAction {
                    mode: match mode {
                        tejun_detect::IncidentMode::Open => crate::config::IncidentMode::Open,
                        tejun_detect::IncidentMode::Attach => crate::config::IncidentMode::Attach,
                    },
                    severity: severity.unwrap_or(params.severity).to_string(),
                    title: None,
                })
            }
            Action::Runbook {
                path,
                env,
                confirm_env,
                timeout,
                params,
            } => {
                let spec = crate::runbook::Spec {
                    path,
                    env,
                    confirm_env: confirm_env.as_ref(),
                    timeout: timeout.as_ref(),
                    params,
                };
                let checked = crate::runbook::check(&spec, &file, runbooks).map_err(|mut e| {
                    e.en = format!("rule `{}`: {}", rule.name, e.en);
                    e.ja = format!("ルール `{}`: {}", rule.name, e.ja);
                    e
                })?;
                actions.runbooks.push(checked);
            }
        }
    }
    Ok(RuleInfo {
        name: rule.name.to_string(),
        findtime: SignedDuration::from_secs(i64::try_from(params.findtime).unwrap_or(i64::MAX / 2)),
        maxretry: params.maxretry,
        bantime: (params.bantime >= 0).then(|| SignedDuration::from_secs(params.bantime)),
        severity: Some(params.severity.to_string()),
        actions,
    })
}

impl LineRules for DetectRules {
    fn rules(&self) -> &[RuleInfo] {
        &self.infos
    }

    fn undated(&self) -> u64 {
        self.undated
    }

    fn match_line(&mut self, line: &str) -> Vec<RuleHit> {
        // "Now" for the year roll-over of syslog dates is the arrival time.
        let ctx = tejun_detect::DateContext::new(self.zone.clone(), Timestamp::now());
        self.hits.clear();
        let stats = self.matcher.feed(line, &ctx, &mut self.hits);
        self.undated += stats.undated as u64;
        self.hits
            .drain(..)
            .map(|hit| RuleHit {
                rule: hit.rule,
                host: hit.host.to_string(),
                time: hit.time,
            })
            .collect()
    }

    fn match_line_at(&mut self, line: &str, time: Timestamp) -> Vec<RuleHit> {
        let ctx = tejun_detect::DateContext::new(self.zone.clone(), time);
        self.hits.clear();
        self.matcher.feed_at(line, time, &ctx, &mut self.hits);
        self.hits
            .drain(..)
            .map(|hit| RuleHit {
                rule: hit.rule,
                host: hit.host.to_string(),
                time: hit.time,
            })
            .collect()
    }
}

/// Loads the rules a source names.
pub fn load(source: &crate::config::Source) -> Result<tejun_detect::RuleSet, String> {
    use crate::config::RuleRef;
    let loaded = match &source.rules {
        RuleRef::None => Ok(tejun_detect::RuleSet::default()),
        RuleRef::File(path) => tejun_detect::RuleSet::load_yaml_file(path),
        RuleRef::Builtin(names) => {
            let names: Vec<&str> = names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            tejun_detect::RuleSet::builtin(&names)
        }
        RuleRef::Fail2ban { filter, jail, name } => {
            let jail_name = name.clone().unwrap_or_else(|| {
                filter
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            tejun_detect::RuleSet::from_fail2ban(
                filter,
                jail.as_deref().map(|j| (j, jail_name.as_str())),
            )
        }
    };
    loaded.map_err(|e| e.to_string())
}

/// A rule's `ban: {backend}`: the firewalls a rule may pick for itself
/// (`command` needs watch.yaml's templates, so it is chosen there).
fn rule_backend(backend: &Spanned<String>, file: &Path, rule: &str) -> Result<String, ConfigError> {
    match backend.value.trim() {
        "nftables" | "nft" => Ok("nftables".into()),
        "iptables" => Ok("iptables".into()),
        other => Err(located(
            file,
            &backend.referenced,
            format!("rule `{rule}`: unknown ban backend `{other}`: use nftables or iptables"),
            format!(
                "ルール `{rule}`: 不明な ban backend `{other}` です: nftables か iptables を指定してください"
            ),
        )),
    }
}

/// A rule's `ban: {ipv6_prefix}`: 1..128.
fn rule_prefix(prefix: &Spanned<u32>, file: &Path, rule: &str) -> Result<u8, ConfigError> {
    match u8::try_from(prefix.value) {
        Ok(p) if (1..=128).contains(&p) => Ok(p),
        _ => Err(located(
            file,
            &prefix.referenced,
            format!(
                "rule `{rule}`: ipv6_prefix must be 1..128, not {}",
                prefix.value
            ),
            format!(
                "ルール `{rule}`: ipv6_prefix は 1〜128 で指定してください ({} は不可)",
                prefix.value
            ),
        )),
    }
}

fn located(file: &Path, loc: &serde_saphyr::Location, en: String, ja: String) -> ConfigError {
    ConfigError {
        at: Some(crate::config::At {
            file: file.to_path_buf(),
            line: loc.line(),
            col: loc.column(),
        }),
        en,
        ja,
    }
}
