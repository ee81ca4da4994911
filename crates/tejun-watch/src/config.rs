//! `watch.yaml`: what to follow, which rules apply, and what to do.
//!
//! Parsed with serde-saphyr; values that need checking beyond their type
//! (CIDRs, zones, URLs, paths) are read as [`Spanned`] so that every error
//! points at `file:line:col`. Relative paths are relative to the config
//! file, not to wherever `tejun watch` was started.

use std::fmt;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use tejun_locale::{Lang, Localize};

use crate::follow::{Pattern, PatternError, StartAt};

/// The config as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    state_dir: Option<Spanned<String>>,
    #[serde(default)]
    date_zone: Option<Spanned<String>>,
    #[serde(default)]
    ignoreip: Vec<Spanned<String>>,
    /// fail2ban's `ignoreself`: never ban loopback or this host's own
    /// addresses.
    #[serde(default = "yes")]
    ignoreself: bool,
    #[serde(default)]
    ipv6_prefix: Option<Spanned<u8>>,
    #[serde(default)]
    start_at: StartAt,
    #[serde(default)]
    poll_interval_ms: Option<Spanned<u64>>,
    #[serde(default)]
    reminder_check_s: Option<Spanned<u64>>,
    #[serde(default = "yes")]
    inotify: bool,
    #[serde(default)]
    ban: RawBan,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
    sources: Vec<RawSource>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBan {
    #[serde(default)]
    backend: Option<Spanned<String>>,
    #[serde(default)]
    table: Option<Spanned<String>>,
    #[serde(default)]
    netns: Option<Spanned<String>>,
    #[serde(default)]
    add: Option<Spanned<Template>>,
    #[serde(default)]
    remove: Option<Spanned<Template>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Template {
    Line(String),
    Argv(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Spanned<String>,
    #[serde(default)]
    timeout_s: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    #[serde(default)]
    journal: Option<Spanned<RawJournal>>,
    #[serde(default)]
    rules: Option<Spanned<String>>,
    #[serde(default)]
    builtin: Option<Spanned<String>>,
    #[serde(default)]
    fail2ban: Option<RawFail2ban>,
    #[serde(default)]
    actions: Option<Vec<Spanned<RawAction>>>,
    /// Access-log format for `metrics:`: `combined` (default) or `common`.
    #[serde(default)]
    format: Option<Spanned<String>>,
    /// Or the nginx `log_format` the log is written with.
    #[serde(default)]
    log_format: Option<Spanned<String>>,
    /// Or a slow log: `mysql` (MariaDB too) or `postgres`.
    #[serde(default)]
    slow_log: Option<Spanned<String>>,
    #[serde(default)]
    metrics: Vec<crate::metrics::RawMetric>,
}

/// `journal: {match: …, units: […], directory: …}`: the systemd journal.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawJournal {
    /// fail2ban's journalmatch syntax; one string or a list (ORed).
    #[serde(default, rename = "match")]
    matches: Option<OneOrMany>,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    directory: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFail2ban {
    filter: Spanned<String>,
    #[serde(default)]
    jail: Option<Spanned<String>>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawAction {
    Name(String),
    Incident { incident: IncidentAction },
}

/// `incident: {mode: open|attach, severity: P1}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentAction {
    #[serde(default)]
    pub mode: IncidentMode,
    #[serde(default = "default_severity")]
    pub severity: String,
    #[serde(default)]
    pub title: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_severity() -> String {
    "P2".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentMode {
    /// Open a new incident unless one is open for this rule, then attach.
    #[default]
    Open,
    /// Attach to the open incident, if any; never open one.
    Attach,
}

/// What a rule does when it triggers. The journal event is always written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actions {
    pub ban: bool,
    /// The rule's own `ban: {backend}` (`nftables`, `iptables`); `None`
    /// uses watch.yaml's `ban.backend`.
    pub ban_backend: Option<String>,
    /// The rule's own `ban: {ipv6_prefix}`; `None` uses watch.yaml's.
    pub ipv6_prefix: Option<u8>,
    /// Post to the config's `webhooks`.
    pub webhook: bool,
    /// And to these (a rule's own webhook URL).
    pub webhook_urls: Vec<String>,
    pub incident: Option<IncidentAction>,
    /// Runbooks started for the offender (validated at start).
    pub runbooks: Vec<crate::runbook::RunbookAction>,
}

/// The validated config.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub state_dir: Option<PathBuf>,
    pub date_zone: TimeZone,
    pub ignoreip: Vec<IpNet>,
    /// Never ban loopback or this host's own addresses (default true).
    pub ignoreself: bool,
    pub ipv6_prefix: u8,
    pub start_at: StartAt,
    pub poll_interval_ms: u64,
    /// How often incident escalation reminders are checked.
    pub reminder_check_s: u64,
    /// `false` follows by polling alone (file systems without inotify).
    pub inotify: bool,
    pub ban: BanConfig,
    pub webhooks: Vec<Webhook>,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanConfig {
    None,
    Nftables {
        table: String,
        netns: Option<String>,
    },
    Iptables {
        netns: Option<String>,
    },
    Command {
        add: Vec<String>,
        remove: Vec<String>,
        netns: Option<String>,
    },
}

impl BanConfig {
    /// The backend a rule's `ban: {backend: NAME}` asks for, sharing this
    /// config's network namespace (and table, for nftables). `None` for a
    /// name no backend has (rule files only accept nftables and iptables).
    pub fn named(&self, name: &str) -> Option<BanConfig> {
        let netns = match self {
            BanConfig::None => None,
            BanConfig::Nftables { netns, .. }
            | BanConfig::Iptables { netns }
            | BanConfig::Command { netns, .. } => netns.clone(),
        };
        match name {
            "nftables" | "nft" => Some(match self {
                BanConfig::Nftables { .. } => self.clone(),
                _ => BanConfig::Nftables {
                    table: "tejun".into(),
                    netns,
                },
            }),
            "iptables" => Some(BanConfig::Iptables { netns }),
            "none" => Some(BanConfig::None),
            "command" => matches!(self, BanConfig::Command { .. }).then(|| self.clone()),
            _ => None,
        }
    }

    /// The backend that applies bans.
    pub fn backend(&self) -> Box<dyn crate::ban::Backend> {
        let wrapper = |netns: &Option<String>| match netns {
            Some(ns) => vec!["ip".to_string(), "netns".into(), "exec".into(), ns.clone()],
            None => Vec::new(),
        };
        match self {
            BanConfig::None => Box::new(crate::ban::NoBackend),
            BanConfig::Nftables { table, netns } => {
                Box::new(crate::ban::Nftables::new(table, wrapper(netns)))
            }
            BanConfig::Iptables { netns } => Box::new(crate::ban::Iptables::new(wrapper(netns))),
            BanConfig::Command { add, remove, netns } => Box::new(crate::ban::CommandBackend::new(
                add.clone(),
                remove.clone(),
                wrapper(netns),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub timeout_s: u64,
}

/// Which rules a source's lines are matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleRef {
    /// A tejun rules file.
    File(PathBuf),
    /// A built-in rule set by name.
    Builtin(String),
    /// A fail2ban filter file, with findtime/maxretry/bantime from a jail file.
    Fail2ban {
        filter: PathBuf,
        jail: Option<PathBuf>,
        name: Option<String>,
    },
    /// No line rules: the source has metric rules only.
    None,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub patterns: Vec<Pattern>,
    /// Entries of the systemd journal instead of files. With no match and
    /// no unit, a fail2ban filter's (or jail's) `journalmatch` is used. A
    /// fail2ban source with neither `paths:` nor `journal:` has neither
    /// here; its jail must say `backend = systemd` (checked when the rules
    /// are loaded), and it then reads the journal.
    pub journal: Option<tejun_detect::input::journald::Query>,
    pub rules: RuleRef,
    /// Where `rules` was written, for errors loading it.
    pub rules_at: At,
    /// Overrides the rules' own actions when given.
    pub actions: Option<Actions>,
    /// Metric rules on this source read as an access log.
    pub metrics: Option<crate::metrics::MetricSpec>,
}

/// A position in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub file: PathBuf,
    pub line: u64,
    pub col: u64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A config error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub at: Option<At>,
    pub en: String,
    pub ja: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.localize(Lang::En))
    }
}

impl std::error::Error for ConfigError {}

impl Localize for ConfigError {
    fn localize(&self, lang: Lang) -> String {
        let text = lang.pick(&self.en, &self.ja);
        match &self.at {
            Some(at) => format!("{at}: {text}"),
            None => text.to_string(),
        }
    }
}

struct Ctx<'a> {
    file: &'a Path,
    base: PathBuf,
    /// The config's text, to locate a place inside a quoted value.
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, loc: &Location) -> At {
        At {
            file: self.file.to_path_buf(),
            line: loc.line(),
            col: loc.column(),
        }
    }

    fn err(&self, loc: &Location, en: String, ja: String) -> ConfigError {
        ConfigError {
            at: Some(self.at(loc)),
            en,
            ja,
        }
    }

    fn path(&self, text: &str) -> PathBuf {
        self.base.join(text)
    }

    /// The place `offset` bytes into the (one-line) scalar at `loc`, past
    /// its opening quote if it has one.
    fn inside(&self, loc: &Location, offset: usize) -> At {
        let mut at = self.at(loc);
        let line = self.text.lines().nth(loc.line().saturating_sub(1) as usize);
        let rest: &str = line
            .map(|l| {
                let skip: usize = l
                    .chars()
                    .take(loc.column().saturating_sub(1) as usize)
                    .map(char::len_utf8)
                    .sum();
                &l[skip.min(l.len())..]
            })
            .unwrap_or("");
        let quoted = rest.starts_with(['\'', '"']);
        let body = &rest[usize::from(quoted)..];
        let chars = body[..offset.min(body.len())].chars().count();
        at.col += u64::from(quoted) + chars as u64;
        at
    }
}

/// Whether `text` is meant as a watch config (a top-level `sources:`), for
/// `tejun check`, which tells the kinds of file apart by their shape.
pub fn looks_like_watch_config(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("sources:"))
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        // Relative paths inside are relative to the file, wherever tejun runs.
        let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            at: None,
            en: format!("cannot read {}: {e}", path.display()),
            ja: format!("{} を読めません: {e}", path.display()),
        })?;
        Config::parse(&text, path)
    }

    /// Validates `text`, read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: Raw = serde_saphyr::from_str(text).map_err(|e| {
            let at = e.location().map(|l| At {
                file: path.to_path_buf(),
                line: l.line(),
                col: l.column(),
            });
            let message = e.without_snippet().to_string();
            ConfigError {
                at,
                en: format!("invalid watch config: {message}"),
                ja: format!("watch 設定が不正です: {message}"),
            }
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let cx = Ctx {
            file: path,
            base,
            text,
        };
        build(raw, &cx, path)
    }
}

fn build(raw: Raw, cx: &Ctx<'_>, path: &Path) -> Result<Config, ConfigError> {
    let date_zone = match &raw.date_zone {
        None => TimeZone::try_system().unwrap_or(TimeZone::UTC),
        Some(zone) => TimeZone::get(&zone.value).map_err(|_| {
            cx.err(
                &zone.referenced,
                format!(
                    "unknown time zone `{}` (use an IANA name such as Asia/Tokyo)",
                    zone.value
                ),
                format!(
                    "不明なタイムゾーン `{}` です (Asia/Tokyo のような IANA 名を指定してください)",
                    zone.value
                ),
            )
        })?,
    };
    let mut ignoreip = Vec::new();
    for entry in &raw.ignoreip {
        let text = entry.value.trim();
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                cx.err(
                    &entry.referenced,
                    format!("`{text}` in ignoreip is not an address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)"),
                    format!("ignoreip の `{text}` はアドレスでも CIDR でもありません (例: 10.0.0.0/8, 2001:db8::/32)"),
                )
            })?;
        ignoreip.push(net.trunc());
    }
    let ipv6_prefix = match &raw.ipv6_prefix {
        None => 64,
        Some(p) if (1..=128).contains(&p.value) => p.value,
        Some(p) => {
            return Err(cx.err(
                &p.referenced,
                format!("ipv6_prefix must be 1..128, not {}", p.value),
                format!(
                    "ipv6_prefix は 1〜128 で指定してください ({} は不可)",
                    p.value
                ),
            ));
        }
    };
    let poll_interval_ms = match &raw.poll_interval_ms {
        None => 250,
        Some(p) if (10..=60_000).contains(&p.value) => p.value,
        Some(p) => {
            return Err(cx.err(
                &p.referenced,
                format!("poll_interval_ms must be 10..60000, not {}", p.value),
                format!(
                    "poll_interval_ms は 10〜60000 で指定してください ({} は不可)",
                    p.value
                ),
            ));
        }
    };
    let reminder_check_s = match &raw.reminder_check_s {
        None => 30,
        Some(p) if (1..=3600).contains(&p.value) => p.value,
        Some(p) => {
            return Err(cx.err(
                &p.referenced,
                format!("reminder_check_s must be 1..3600, not {}", p.value),
                format!(
                    "reminder_check_s は 1〜3600 で指定してください ({} は不可)",
                    p.value
                ),
            ));
        }
    };
    let ban = build_ban(raw.ban, cx)?;
    let mut webhooks = Vec::new();
    for hook in raw.webhooks {
        let RawWebhook { url, timeout_s } = hook;
        if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
            return Err(cx.err(
                &url.referenced,
                format!(
                    "webhook URL `{}` must start with http:// or https://",
                    url.value
                ),
                format!(
                    "webhook URL `{}` は http:// または https:// で始めてください",
                    url.value
                ),
            ));
        }
        webhooks.push(Webhook {
            url: url.value,
            timeout_s: timeout_s.unwrap_or(5).clamp(1, 60),
        });
    }
    if raw.sources.is_empty() {
        return Err(ConfigError {
            at: Some(At {
                file: path.to_path_buf(),
                line: 1,
                col: 1,
            }),
            en: "no sources: list at least one under `sources:`".into(),
            ja: "sources がありません: `sources:` に少なくとも 1 つ書いてください".into(),
        });
    }
    let mut sources: Vec<Source> = Vec::new();
    for source in raw.sources {
        let built = build_source(source, cx)?;
        sources.push(built);
    }
    let mut names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(dup) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(ConfigError {
            at: Some(At {
                file: path.to_path_buf(),
                line: 1,
                col: 1,
            }),
            en: format!(
                "two sources are named `{}`: names key the checkpoints and must differ",
                dup[0]
            ),
            ja: format!(
                "source 名 `{}` が重複しています: 名前はチェックポイントの鍵なので別々にしてください",
                dup[0]
            ),
        });
    }
    Ok(Config {
        path: path.to_path_buf(),
        state_dir: raw.state_dir.map(|s| cx.path(&s.value)),
        date_zone,
        ignoreip,
        ignoreself: raw.ignoreself,
        ipv6_prefix,
        start_at: raw.start_at,
        poll_interval_ms,
        reminder_check_s,
        inotify: raw.inotify,
        ban,
        webhooks,
        sources,
    })
}

fn build_ban(raw: RawBan, cx: &Ctx<'_>) -> Result<BanConfig, ConfigError> {
    let netns = raw.netns.map(|n| n.value);
    let backend_loc = raw
        .backend
        .as_ref()
        .map(|b| b.referenced)
        .unwrap_or(Location::UNKNOWN);
    let backend = raw
        .backend
        .as_ref()
        .map(|b| b.value.clone())
        .unwrap_or_else(|| "nftables".into());
    let template = |t: Option<Spanned<Template>>, key: &str| -> Result<Vec<String>, ConfigError> {
        let Some(t) = t else {
            return Err(cx.err(
                &backend_loc,
                format!("backend `command` needs `{key}:` (a command template such as [\"/usr/local/sbin/block\", \"{{ip}}\"])"),
                format!("backend `command` には `{key}:` (例: [\"/usr/local/sbin/block\", \"{{ip}}\"]) が必要です"),
            ));
        };
        let argv = match t.value {
            Template::Argv(argv) => argv,
            Template::Line(line) => shlex::split(&line).ok_or_else(|| {
                cx.err(
                    &t.referenced,
                    format!("cannot split `{line}` into words (unbalanced quotes?)"),
                    format!("`{line}` を単語に分割できません (引用符の対応を確認してください)"),
                )
            })?,
        };
        if argv.is_empty() {
            return Err(cx.err(
                &t.referenced,
                format!("`{key}` is empty"),
                format!("`{key}` が空です"),
            ));
        }
        for word in &argv {
            let mut rest = word.as_str();
            while let Some(open) = rest.find('{') {
                let close = rest[open..]
                    .find('}')
                    .map(|c| open + c + 1)
                    .unwrap_or(rest.len());
                let name = &rest[open..close];
                if !crate::ban::PLACEHOLDERS.contains(&name) {
                    let known = crate::ban::PLACEHOLDERS.join(", ");
                    return Err(cx.err(
                        &t.referenced,
                        format!("unknown placeholder `{name}` in `{key}` (known: {known})"),
                        format!(
                            "`{key}` の `{name}` は不明なプレースホルダです (使えるもの: {known})"
                        ),
                    ));
                }
                rest = &rest[close..];
            }
        }
        Ok(argv)
    };
    match backend.as_str() {
        "none" => Ok(BanConfig::None),
        "nftables" | "nft" => {
            let table = raw.table.map(|t| (t.value.clone(), t.referenced));
            let name = table.as_ref().map(|t| t.0.clone()).unwrap_or_else(|| "tejun".into());
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && name.starts_with(|c: char| c.is_ascii_alphabetic());
            if !valid {
                let loc = table.map(|t| t.1).unwrap_or(Location::UNKNOWN);
                return Err(cx.err(
                    &loc,
                    format!("nftables table name `{name}` must be a letter then letters, digits, _ or -"),
                    format!("nftables のテーブル名 `{name}` は英字で始まり、英数字・_・- のみ使えます"),
                ));
            }
            Ok(BanConfig::Nftables { table: name, netns })
        }
        "iptables" => Ok(BanConfig::Iptables { netns }),
        "command" => {
            let add = template(raw.add, "add")?;
            let remove = template(raw.remove, "remove")?;
            Ok(BanConfig::Command { add, remove, netns })
        }
        other => {
            Err(cx.err(
                &backend_loc,
                format!("unknown ban backend `{other}`: use nftables, iptables, command or none"),
                format!("不明な ban backend `{other}` です: nftables, iptables, command, none のいずれかです"),
            ))
        }
    }
}

fn build_source(raw: RawSource, cx: &Ctx<'_>) -> Result<Source, ConfigError> {
    let name = raw.name.value.trim().to_string();
    if name.is_empty() || name.contains('/') {
        return Err(cx.err(
            &raw.name.referenced,
            "a source name must be non-empty and contain no `/`".into(),
            "source 名は空にできず、`/` も使えません".into(),
        ));
    }
    // A fail2ban jail may say `backend = systemd`: such a source reads the
    // journal with no `paths:` or `journal:` (the CLI checks the jail once
    // the rules are loaded, see [`Source::journal`]).
    let jail_may_say = raw.fail2ban.as_ref().is_some_and(|f| f.jail.is_some());
    let neither = raw.paths.is_empty() && raw.journal.is_none();
    if (neither && !jail_may_say) || (!raw.paths.is_empty() && raw.journal.is_some()) {
        let at = raw
            .journal
            .as_ref()
            .map_or(&raw.name.referenced, |j| &j.referenced);
        return Err(cx.err(
            at,
            format!("source `{name}` needs either `paths:` or `journal:` (not both)"),
            format!("source `{name}` には `paths:` か `journal:` のどちらか一方が必要です"),
        ));
    }
    let journal = raw.journal.map(|j| {
        let j = j.value;
        tejun_detect::input::journald::Query {
            matches: match j.matches {
                None => Vec::new(),
                Some(OneOrMany::One(m)) => vec![m],
                Some(OneOrMany::Many(ms)) => ms,
            },
            units: j.units,
            directory: j.directory.map(|d| cx.path(&d)),
            ..Default::default()
        }
    });
    let mut patterns = Vec::new();
    for path in &raw.paths {
        let pattern = Pattern::parse(&path.value, &cx.base).map_err(|e| {
            let (en, ja) = match e {
                PatternError::WildcardInDirectory => (
                    format!("`{}`: wildcards are allowed in the file name only (e.g. /var/log/nginx/*.log)", path.value),
                    format!("`{}`: ワイルドカードはファイル名部分にだけ使えます (例: /var/log/nginx/*.log)", path.value),
                ),
                PatternError::NoFileName => (
                    format!("`{}` names no file", path.value),
                    format!("`{}` はファイルを指していません", path.value),
                ),
                PatternError::Glob(why) => {
                    (format!("bad glob `{}`: {why}", path.value), format!("glob `{}` が不正です: {why}", path.value))
                }
            };
            cx.err(&path.referenced, en, ja)
        })?;
        patterns.push(pattern);
    }
    let mut chosen: Vec<(RuleRef, Location)> = Vec::new();
    if let Some(rules) = raw.rules {
        chosen.push((RuleRef::File(cx.path(&rules.value)), rules.referenced));
    }
    if let Some(builtin) = raw.builtin {
        chosen.push((RuleRef::Builtin(builtin.value), builtin.referenced));
    }
    if let Some(f2b) = raw.fail2ban {
        chosen.push((
            RuleRef::Fail2ban {
                filter: cx.path(&f2b.filter.value),
                jail: f2b.jail.map(|j| cx.path(&j.value)),
                name: f2b.name,
            },
            f2b.filter.referenced,
        ));
    }
    let metrics = build_metrics(
        &raw.metrics,
        raw.format.as_ref(),
        raw.log_format.as_ref(),
        raw.slow_log.as_ref(),
        &name,
        cx,
    )?;
    let metric_rules = raw.metrics;
    if chosen.len() > 1 || (chosen.is_empty() && metric_rules.is_empty()) {
        return Err(cx.err(
            &raw.name.referenced,
            format!("source `{name}` needs exactly one of `rules:`, `builtin:` or `fail2ban:` (or `metrics:` alone)"),
            format!(
                "source `{name}` には `rules:`・`builtin:`・`fail2ban:` のどれか 1 つ (または `metrics:` だけ) が必要です"
            ),
        ));
    }
    let metrics = match metrics {
        Some(input) => {
            let slow_log = matches!(input, crate::metrics::MetricInput::SlowLog(_));
            let mut rules = Vec::new();
            for rule in metric_rules {
                rules.push(crate::metrics::build_rule(
                    rule,
                    &name,
                    slow_log,
                    |loc, offset| cx.inside(loc, offset),
                )?);
            }
            let mut names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
            names.sort_unstable();
            if let Some(dup) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(cx.err(
                    &raw.name.referenced,
                    format!("source `{name}` has two metric rules named `{}`", dup[0]),
                    format!(
                        "source `{name}` にメトリクスルール `{}` が 2 つあります",
                        dup[0]
                    ),
                ));
            }
            Some(crate::metrics::MetricSpec { input, rules })
        }
        None => None,
    };
    let (rules, rules_loc) = if chosen.is_empty() {
        (RuleRef::None, raw.name.referenced)
    } else {
        chosen.remove(0)
    };
    let actions = match raw.actions {
        None => None,
        Some(list) => {
            let mut actions = Actions::default();
            for action in list {
                match action.value {
                    RawAction::Name(n) if n == "ban" => actions.ban = true,
                    RawAction::Name(n) if n == "webhook" => actions.webhook = true,
                    RawAction::Name(n) if n == "journal" => {}
                    RawAction::Incident { incident } => actions.incident = Some(incident),
                    RawAction::Name(other) => {
                        return Err(cx.err(
                            &action.referenced,
                            format!("unknown action `{other}`: use ban, webhook, journal or incident: {{mode, severity}}"),
                            format!("不明なアクション `{other}` です: ban, webhook, journal, incident: {{mode, severity}} のいずれかです"),
                        ));
                    }
                }
            }
            Some(actions)
        }
    };
    Ok(Source {
        name,
        patterns,
        journal,
        rules,
        rules_at: cx.at(&rules_loc),
        actions,
        metrics,
    })
}

/// What a source with metric rules is read as (`None` without any):
/// an access log (`format:`/`log_format:`) or a slow log (`slow_log:`);
/// any of them on a source without metric rules is a mistake.
fn build_metrics(
    rules: &[crate::metrics::RawMetric],
    format: Option<&Spanned<String>>,
    log_format: Option<&Spanned<String>>,
    slow_log: Option<&Spanned<String>>,
    name: &str,
    cx: &Ctx<'_>,
) -> Result<Option<crate::metrics::MetricInput>, ConfigError> {
    use crate::metrics::MetricInput;
    if rules.is_empty() {
        if let Some(f) = format.or(log_format).or(slow_log) {
            return Err(cx.err(
                &f.referenced,
                format!("source `{name}`: `format`/`log_format`/`slow_log` are for `metrics:`, and it has none"),
                format!("source `{name}`: `format`/`log_format`/`slow_log` は `metrics:` 用ですが、metrics がありません"),
            ));
        }
        return Ok(None);
    }
    if let Some(slow) = slow_log {
        if let Some(f) = format.or(log_format) {
            return Err(cx.err(
                &f.referenced,
                format!("source `{name}`: `format`/`log_format` describe an access log, and this source is a slow log (`slow_log:`)"),
                format!("source `{name}`: `format`/`log_format` はアクセスログ用ですが、このソースはスローログ (`slow_log:`) です"),
            ));
        }
        use tejun_signals::digest::Format;
        return match Format::parse(slow.value.trim()) {
            Some(f @ (Format::Mysql | Format::Postgres)) => Ok(Some(MetricInput::SlowLog(f))),
            _ => Err(cx.err(
                &slow.referenced,
                format!(
                    "unknown slow log `{}`: use mysql (MariaDB too) or postgres",
                    slow.value.trim()
                ),
                format!(
                    "不明なスローログ `{}` です: mysql (MariaDB も) か postgres を指定してください",
                    slow.value.trim()
                ),
            )),
        };
    }
    access_format(format, log_format, cx).map(|f| f.map(MetricInput::Access))
}

/// The access-log format: `format:` (combined, common) or the nginx
/// `log_format:` (combined when neither is given).
fn access_format(
    format: Option<&Spanned<String>>,
    log_format: Option<&Spanned<String>>,
    cx: &Ctx<'_>,
) -> Result<Option<tejun_signals::access::LineFormat>, ConfigError> {
    // Times without an offset are read in the operator's zone, as `tejun
    // stats` reads them.
    let zone = tejun_locale::operator_zone();
    match (format, log_format) {
        (Some(f), Some(_)) => Err(cx.err(
            &f.referenced,
            "give `format` or `log_format`, not both".into(),
            "`format` と `log_format` はどちらか一方だけにしてください".into(),
        )),
        (None, None) => Ok(Some(tejun_signals::access::LineFormat::combined(zone))),
        (Some(f), None) => match f.value.trim() {
            "combined" => Ok(Some(tejun_signals::access::LineFormat::combined(zone))),
            "common" => Ok(Some(tejun_signals::access::LineFormat::common(zone))),
            other => Err(cx.err(
                &f.referenced,
                format!("unknown access-log format `{other}`: use combined, common, or `log_format:` with your nginx log_format"),
                format!("不明なアクセスログ形式 `{other}` です: combined, common、または nginx の log_format を `log_format:` に書いてください"),
            )),
        },
        (None, Some(lf)) => tejun_signals::access::nginx::compile(&lf.value, zone).map(Some).map_err(|e| {
            let mut at = cx.at(&lf.referenced);
            // A one-line value: the column inside it.
            if e.line == 1 {
                at = cx.inside(&lf.referenced, 0);
                at.col += e.column as u64 - 1;
            } else {
                at.line += e.line as u64 - 1;
                at.col = e.column as u64;
            }
            ConfigError {
                at: Some(at),
                en: format!("log_format: {}", e.message(Lang::En)),
                ja: format!("log_format: {}", e.message(Lang::Ja)),
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/tejun/watch.yaml"))
    }

    #[test]
    fn a_full_config_parses() {
        let config = parse(
            "date_zone: Asia/Tokyo
ignoreip: [127.0.0.1/8, '::1', 10.0.0.0/8]
ipv6_prefix: 64
ban: {backend: nftables, table: tejun}
webhooks: [{url: https://hooks.slack.com/services/T/B/x}, {url: 'http://127.0.0.1:9/x', timeout_s: 2}]
sources:
  - name: ssh
    paths: [/var/log/auth.log]
    fail2ban: {filter: /etc/fail2ban/filter.d/sshd.conf, jail: /etc/fail2ban/jail.local}
  - name: web
    paths: [logs/*.log]
    rules: rules.yaml
    actions: [ban, webhook, {incident: {mode: attach, severity: P1}}]
",
        )
        .unwrap();
        assert_eq!(config.ignoreip.len(), 3);
        assert_eq!(config.webhooks[1].timeout_s, 2);
        assert_eq!(
            config.sources[1].rules,
            RuleRef::File(PathBuf::from("/etc/tejun/rules.yaml"))
        );
        assert_eq!(
            config.sources[1].patterns[0].dir(),
            Path::new("/etc/tejun/logs")
        );
        let actions = config.sources[1].actions.clone().unwrap();
        assert!(actions.ban && actions.webhook);
        assert_eq!(actions.incident.unwrap().mode, IncidentMode::Attach);
    }

    #[test]
    fn a_rules_backend_shares_the_namespace_and_table() {
        let nft = BanConfig::Nftables {
            table: "fw".into(),
            netns: Some("ns1".into()),
        };
        assert_eq!(nft.named("nftables"), Some(nft.clone()));
        assert_eq!(
            nft.named("iptables"),
            Some(BanConfig::Iptables {
                netns: Some("ns1".into())
            })
        );
        assert_eq!(
            BanConfig::None.named("nft"),
            Some(BanConfig::Nftables {
                table: "tejun".into(),
                netns: None
            })
        );
        // `command` needs watch.yaml's own templates.
        assert_eq!(nft.named("command"), None);
        assert_eq!(nft.named("pf"), None);
    }

    #[test]
    fn errors_point_at_the_value() {
        let err = parse("ignoreip: [10.0.0.0/8, nonsense]\nsources: []\n").unwrap_err();
        assert_eq!(
            err.at.as_ref().map(|a| (a.line, a.col)),
            Some((1, 24)),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("/etc/tejun/watch.yaml:1:24: `nonsense`"),
            "{err}"
        );
        let err = parse("sources:\n  - name: a\n    paths: [/x/*/y.log]\n    builtin: sshd\n")
            .unwrap_err();
        assert_eq!(err.at.map(|a| (a.line, a.col)), Some((3, 13)));
        let err = parse("sources:\n  - name: a\n    pathz: [/x]\n").unwrap_err();
        assert!(err.at.is_some(), "{err}");
        assert!(err.en.contains("pathz"), "{err}");
        let err = parse("ban: {backend: command, add: 'block {ip} {nope}', remove: [unblock, '{ip}']}\nsources: []\n").unwrap_err();
        assert!(err.en.contains("{nope}"), "{err}");
        assert_eq!(err.at.map(|a| a.line), Some(1));
        let ok = parse("ban: {backend: command, add: 'block {ip}', remove: [unblock, '{ip}']}\nsources: [{name: a, paths: [x.log], builtin: sshd}]\n").unwrap();
        assert_eq!(
            ok.ban,
            BanConfig::Command {
                add: vec!["block".into(), "{ip}".into()],
                remove: vec!["unblock".into(), "{ip}".into()],
                netns: None
            }
        );
        let err = parse("date_zone: Mars/Olympus\nsources: []\n").unwrap_err();
        assert_eq!(err.at.map(|a| (a.line, a.col)), Some((1, 12)));
    }
}
