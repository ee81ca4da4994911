//! The inventory (`tejun.yaml`): which environments exist, which hosts and
//! file paths belong to each, which are protected, and how incidents are
//! escalated.
//!
//! The environment guard is fail-closed, so the inventory is the one place
//! that says "this path is production". A runbook written for staging that
//! names `/etc/nginx/production-site.conf` is refused because that path is
//! pinned here to another environment, not because the runbook says so.
//! See docs/inventory.md for the format.

use std::time::Duration;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use indexmap::IndexMap;

use crate::diagnostics::{Diagnostics, ErrorKind, Expected, Sink, suggest};
use crate::model::Span;
use crate::walk::{Fields, approval_count, non_empty_string, wrong_type};
use crate::yaml::{self, Node, Value};

/// Colours an environment's banner and prompt may use.
pub const COLORS: [&str; 8] = [
    "red", "yellow", "green", "blue", "magenta", "cyan", "white", "gray",
];

/// Incident statuses an escalation rule may wait for, in lifecycle order.
pub const INCIDENT_STATUSES: [&str; 6] = [
    "detected",
    "investigating",
    "identified",
    "mitigated",
    "resolved",
    "closed",
];

#[derive(Debug, Clone)]
pub struct Inventory {
    pub environments: IndexMap<String, Environment>,
    pub incidents: IncidentSettings,
    /// `notify:`: webhooks told about runs and incidents (docs/inventory.md).
    pub notify: Vec<crate::notify::NotifyTarget>,
    /// `ssh_config:` at the top: the ssh client configuration for every
    /// environment without its own (as written; relative to the inventory).
    pub ssh_config: Option<String>,
    /// `paths` of each environment compiled once, in `environments` order.
    pins: Vec<(String, GlobSet)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: String,
    pub description: Option<String>,
    /// One of [`COLORS`]. Defaults to red for protected environments, green
    /// otherwise.
    pub color: String,
    /// Needs typed confirmation and approval by someone other than the
    /// executor.
    pub protected: bool,
    pub hosts: Vec<String>,
    /// Host variables (`hosts: {web-1: {zone: a}}`), by host, in file
    /// order; a host written in the list form has none.
    pub host_vars: IndexMap<String, IndexMap<String, String>>,
    /// `groups: {web: [web-1, web-2]}`: names for sets of this
    /// environment's hosts.
    pub groups: IndexMap<String, Vec<String>>,
    /// Glob patterns (`**` crosses directories, `*` does not) of files that
    /// belong to this environment.
    pub paths: Vec<String>,
    /// `enforce: kernel`: a run in another environment must lock these
    /// paths read-only in the kernel, or is refused.
    pub enforce_kernel: bool,
    /// `approval: {count: N}`: a run waits for N approvals, each from a
    /// different person other than its executor (0: none needed).
    pub approvals: u32,
    /// `ssh_config:`: the ssh client configuration for this environment's
    /// hosts (as written; relative to the inventory).
    pub ssh_config: Option<String>,
    /// Where the environment's name is written in the inventory.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSettings {
    /// Severity name → meaning, in order (most severe first).
    pub severities: IndexMap<String, String>,
    /// Whether runs started while an incident is open go on its timeline.
    pub attach_active_runs: bool,
    /// Slack-compatible incoming webhook for incident notices.
    pub webhook: Option<String>,
    pub escalation: Vec<EscalationRule>,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        IncidentSettings {
            severities: default_severities(),
            attach_active_runs: true,
            webhook: None,
            escalation: Vec::new(),
        }
    }
}

/// The book's four severities.
pub fn default_severities() -> IndexMap<String, String> {
    [
        ("P0", "full outage / 全面停止"),
        ("P1", "major function broken / 主要機能の障害"),
        ("P2", "minor function broken / 一部機能の障害"),
        ("P3", "latent risk / 潜在的なリスク"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct EscalationRule {
    pub name: String,
    /// Severities the rule applies to; empty means all.
    pub severities: Vec<String>,
    pub kind: EscalationKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EscalationKind {
    /// The incident has not reached `status` (or a later one) `within` of
    /// being opened.
    NotReached { status: String, within: Duration },
    /// Nothing was added to the timeline for this long.
    NoUpdateFor(Duration),
}

impl Inventory {
    /// An inventory with no environments and default incident settings.
    pub fn empty() -> Inventory {
        Inventory {
            environments: IndexMap::new(),
            incidents: IncidentSettings::default(),
            notify: Vec::new(),
            ssh_config: None,
            pins: Vec::new(),
        }
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.get(name)
    }

    /// The `ssh_config:` for `env`'s hosts: its own, else the top-level one.
    pub fn ssh_config_for(&self, env: &str) -> Option<&str> {
        self.environment(env)
            .and_then(|e| e.ssh_config.as_deref())
            .or(self.ssh_config.as_deref())
    }

    /// The environment whose `paths` pins `path`, if any (the first in file
    /// order when several do). `.` and `..` are resolved lexically first, so
    /// `/srv/staging/../prod/x` is judged as `/srv/prod/x`.
    pub fn pinned_environment(&self, path: &str) -> Option<&str> {
        let normalized = normalize_path(path);
        self.pins
            .iter()
            .find(|(_, set)| set.is_match(&normalized))
            .map(|(name, _)| name.as_str())
    }

    /// The environment listing `host` in its `hosts`. Names compare as DNS
    /// does: case-insensitive, and a fully qualified `web1.example.com.`
    /// is `web1.example.com`.
    pub fn host_environment(&self, host: &str) -> Option<&str> {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.environments
            .values()
            .find(|env| {
                env.hosts
                    .iter()
                    .any(|h| h.strip_suffix('.').unwrap_or(h).eq_ignore_ascii_case(host))
            })
            .map(|env| env.name.as_str())
    }
}

/// Lexical normalization: collapse `//`, drop `.`, apply `..`. No file
/// system access (the path may not exist yet, and this crate does no I/O).
fn normalize_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

fn compile_glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

const TOP_KEYS: &[&str] = &["environments", "incidents", "notify", "ssh_config"];
/// Top-level keys only a runbook has (see docs/runbook.md).
const RUNBOOK_KEYS: &[&str] = &[
    "name",
    "env",
    "vars",
    "secret_env",
    "defaults",
    "pre",
    "execute",
    "post",
    "exit",
    "rollback",
    "rollout",
];

/// Whether `source` is shaped like an inventory rather than a runbook: a
/// top-level `environments:` or `incidents:` and none of a runbook's keys
/// (no name, no phases). `tejun check FILE` uses it to pick the parser, so
/// an operator can validate `tejun.yaml` on its own. A file whose YAML does
/// not parse is judged by its unindented `key:` lines, so that a syntax
/// error in an inventory is still reported as the inventory's.
pub fn looks_like_inventory(source: &str) -> bool {
    let keys: Vec<String> = match yaml::parse(source) {
        Ok(root) => match root.as_map() {
            Some(entries) => entries.iter().map(|(k, _)| k.name.clone()).collect(),
            None => return false,
        },
        Err(_) => top_level_keys_by_line(source),
    };
    // A misspelt `environment:` is still an inventory, to be told so.
    let inventory_key = |k: &String| suggest(k, TOP_KEYS.iter().copied()).is_some();
    keys.iter().any(inventory_key) && !keys.iter().any(|k| RUNBOOK_KEYS.contains(&k.as_str()))
}

/// The `key` of each line that starts at column 0 with `key:` (comments,
/// document markers and list items skipped).
fn top_level_keys_by_line(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start_matches('\u{feff}');
            let (key, _) = line.split_once(':')?;
            let simple = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            simple.then(|| key.to_string())
        })
        .collect()
}
const ENV_KEYS: &[&str] = &[
    "description",
    "color",
    "protected",
    "hosts",
    "groups",
    "paths",
    "enforce",
    "approval",
    "ssh_config",
];
/// Values of an environment's `enforce`.
const ENFORCE: &[&str] = &["text", "kernel"];
const INCIDENT_KEYS: &[&str] = &["severities", "attach_active_runs", "webhook", "escalation"];
const RULE_KEYS: &[&str] = &[
    "name",
    "severities",
    "not_reached",
    "within",
    "no_update_for",
];

/// Parses and validates an inventory. Every problem is reported, each at
/// its line:col in `file`.
pub fn parse_inventory(source: &str, file: &str) -> Result<Inventory, Diagnostics> {
    let mut sink = Sink::new(file);
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(e) => {
            sink.error(e.span, e.kind);
            return Err(sink.diagnostics);
        }
    };
    let inventory = read_inventory(&mut sink, &root);
    sink.diagnostics.into_result()?;
    Ok(inventory)
}

fn read_inventory(sink: &mut Sink, root: &Node) -> Inventory {
    let mut inventory = Inventory::empty();
    if matches!(root.value, Value::Null) {
        return inventory;
    }
    let Value::Map(_) = root.value else {
        sink.error(root.span, ErrorKind::NotAMapping);
        return inventory;
    };
    let Some(top) = Fields::of(sink, root, "inventory", TOP_KEYS) else {
        return inventory;
    };
    if let Some((key, envs)) = top.entries().iter().find(|(k, _)| k.name == "environments") {
        read_environments(sink, key.span, envs, &mut inventory);
    }
    if let Some(incidents) = top.get("incidents") {
        inventory.incidents = read_incidents(sink, incidents);
    }
    if let Some(notify) = top.get("notify") {
        let targets = crate::notify::read_notify(sink, notify);
        crate::notify::check_environments(sink, &inventory, &targets);
        inventory.notify = targets.into_iter().map(|(t, _)| t).collect();
    }
    inventory.ssh_config = ssh_config(sink, &top);
    inventory
}

/// `ssh_config:`, a non-empty path.
fn ssh_config(sink: &mut Sink, fields: &Fields<'_>) -> Option<String> {
    fields
        .get("ssh_config")
        .and_then(|node| crate::walk::non_empty_string(sink, node, "ssh_config"))
        .map(|(path, _)| path)
}

fn read_environments(sink: &mut Sink, key: Span, node: &Node, inventory: &mut Inventory) {
    let envs = match &node.value {
        Value::Map(envs) if !envs.is_empty() => envs,
        // Written but empty: most often the environments below it were not
        // indented, and an inventory without environments refuses every
        // run. An empty *file* stays valid; an empty key is a mistake.
        Value::Null => return sink.error(key, ErrorKind::NoEnvironments),
        Value::Map(_) => return sink.error(node.span, ErrorKind::NoEnvironments),
        _ => return wrong_type(sink, node, "environments", Expected::Mapping),
    };
    for (key, value) in envs {
        if !is_env_name(&key.name) {
            sink.error(
                key.span,
                ErrorKind::BadEnvironmentName {
                    name: key.name.clone(),
                },
            );
            continue;
        }
        let env = read_environment(sink, &key.name, key.span, value);
        let mut set = GlobSetBuilder::new();
        for pattern in &env.paths {
            if let Ok(glob) = compile_glob(pattern) {
                set.add(glob);
            }
        }
        if let Ok(set) = set.build() {
            inventory.pins.push((env.name.clone(), set));
        }
        inventory.environments.insert(key.name.clone(), env);
    }
}

/// `hosts:` as a list of names, or a map of name → variables; then
/// `groups:`, whose members must be hosts of this environment.
fn read_hosts(sink: &mut Sink, fields: &Fields<'_>, env: &mut Environment) {
    match fields.get("hosts") {
        Some(Node {
            value: Value::Map(entries),
            ..
        }) => {
            for (host, vars) in entries {
                let mut values = IndexMap::new();
                match &vars.value {
                    Value::Null => {}
                    Value::Map(pairs) => {
                        for (name, value) in pairs {
                            if let Some((text, _)) = crate::walk::string(sink, value, &name.name) {
                                values.insert(name.name.clone(), text);
                            }
                        }
                    }
                    _ => wrong_type(
                        sink,
                        vars,
                        &format!("hosts.{}", host.name),
                        Expected::Mapping,
                    ),
                }
                env.hosts.push(host.name.clone());
                env.host_vars.insert(host.name.clone(), values);
            }
        }
        Some(_) => {
            env.hosts = fields
                .string_list(sink, "hosts")
                .unwrap_or_default()
                .into_iter()
                .map(|(h, _)| h)
                .collect();
        }
        None => {}
    }
    let Some(groups) = fields.get("groups") else {
        return;
    };
    let Value::Map(entries) = &groups.value else {
        return wrong_type(sink, groups, "groups", Expected::Mapping);
    };
    for (group, members) in entries {
        let mut names = Vec::new();
        for (member, span) in
            crate::walk::string_list(sink, members, &group.name).unwrap_or_default()
        {
            if !env.hosts.iter().any(|h| h == &member) {
                sink.error(
                    span,
                    ErrorKind::Fleet {
                        code: "unknown-group-member",
                        en: format!(
                            "group `{}` names `{member}`, which is not a host of `{}` (list it under `hosts:` first)",
                            group.name, env.name
                        ),
                        ja: format!(
                            "グループ `{}` の `{member}` は環境 `{}` のホストではありません (先に `hosts:` に書いてください)",
                            group.name, env.name
                        ),
                    },
                );
            }
            names.push(member);
        }
        env.groups.insert(group.name.clone(), names);
    }
}

/// Environment names appear in `--env`, banners and file names: keep them
/// simple.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn read_environment(sink: &mut Sink, name: &str, span: Span, node: &Node) -> Environment {
    let mut env = Environment {
        name: name.to_string(),
        description: None,
        color: String::new(),
        protected: false,
        hosts: Vec::new(),
        host_vars: IndexMap::new(),
        groups: IndexMap::new(),
        paths: Vec::new(),
        enforce_kernel: false,
        approvals: 0,
        ssh_config: None,
        span,
    };
    if matches!(node.value, Value::Null) {
        env.color = "green".to_string();
        return env;
    }
    let Some(fields) = Fields::of(sink, node, name, ENV_KEYS) else {
        return env;
    };
    env.description = fields.string(sink, "description").map(|(s, _)| s);
    env.ssh_config = ssh_config(sink, &fields);
    env.protected = fields.bool(sink, "protected").unwrap_or(false);
    if let Some((enforce, span)) = fields.string(sink, "enforce") {
        if !ENFORCE.contains(&enforce.as_str()) {
            sink.error(
                span,
                ErrorKind::BadChoice {
                    field: "enforce",
                    value: enforce.clone(),
                    allowed: ENFORCE,
                },
            );
        }
        env.enforce_kernel = enforce == "kernel";
    }
    env.color = match fields.string(sink, "color") {
        Some((color, span)) => {
            let lower = color.to_ascii_lowercase();
            if !COLORS.contains(&lower.as_str()) {
                sink.error(span, ErrorKind::BadColor { value: color });
            }
            lower
        }
        None if env.protected => "red".to_string(),
        None => "green".to_string(),
    };
    read_hosts(sink, &fields, &mut env);
    for (pattern, span) in fields.string_list(sink, "paths").unwrap_or_default() {
        if let Err(e) = compile_glob(&pattern) {
            sink.error(
                span,
                ErrorKind::BadGlob {
                    error: e.kind().to_string(),
                },
            );
        } else if !is_anchored_pin(&pattern) {
            sink.error(
                span,
                ErrorKind::RelativePathPin {
                    pattern: pattern.clone(),
                },
            );
        }
        env.paths.push(pattern);
    }
    if let Some(node) = fields.get("approval") {
        env.approvals = approval_count(sink, node);
    }
    env
}

/// A pin must say where it applies: from the root (`/etc/nginx/**`) or in
/// any directory (`**/production-*.conf`). A relative pattern such as
/// `etc/nginx/*.conf` would match only a path the runbook happens to spell
/// the same relative way, so the guard could silently miss production.
fn is_anchored_pin(pattern: &str) -> bool {
    pattern.starts_with('/') || pattern == "**" || pattern.starts_with("**/")
}

fn read_incidents(sink: &mut Sink, node: &Node) -> IncidentSettings {
    let mut settings = IncidentSettings::default();
    if matches!(node.value, Value::Null) {
        return settings;
    }
    let Some(fields) = Fields::of(sink, node, "incidents", INCIDENT_KEYS) else {
        return settings;
    };
    if let Some(sev) = fields.get("severities") {
        match &sev.value {
            Value::Map(entries) if !entries.is_empty() => {
                settings.severities = entries
                    .iter()
                    .filter_map(|(k, v)| {
                        non_empty_string(sink, v, &k.name).map(|(s, _)| (k.name.clone(), s))
                    })
                    .collect();
            }
            _ => wrong_type(sink, sev, "severities", Expected::Mapping),
        }
    }
    if let Some(attach) = fields.bool(sink, "attach_active_runs") {
        settings.attach_active_runs = attach;
    }
    if let Some((url, span)) = fields.string(sink, "webhook") {
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(char::is_whitespace)
        {
            sink.error(span, ErrorKind::BadWebhook { value: url.clone() });
        }
        settings.webhook = Some(url);
    }
    if let Some(rules) = fields.get("escalation") {
        let Value::Seq(items) = &rules.value else {
            wrong_type(sink, rules, "escalation", Expected::List);
            return settings;
        };
        let mut seen: Vec<String> = Vec::new();
        for item in items {
            if let Some(rule) = read_rule(sink, item, &settings.severities) {
                if seen.contains(&rule.name) {
                    sink.error(
                        item.span,
                        ErrorKind::DuplicateName {
                            name: rule.name.clone(),
                        },
                    );
                }
                seen.push(rule.name.clone());
                settings.escalation.push(rule);
            }
        }
    }
    settings
}

fn read_rule(
    sink: &mut Sink,
    node: &Node,
    severities: &IndexMap<String, String>,
) -> Option<EscalationRule> {
    let fields = Fields::of(sink, node, "escalation", RULE_KEYS)?;
    let name = fields
        .required_string(sink, "name", "escalation rule")
        .map(|(s, _)| s);
    let mut rule_severities = Vec::new();
    for (sev, span) in fields.string_list(sink, "severities").unwrap_or_default() {
        if !severities.contains_key(&sev) {
            sink.error(span, ErrorKind::UnknownSeverity { value: sev.clone() });
        }
        rule_severities.push(sev);
    }
    let kind = match (fields.get("not_reached"), fields.get("no_update_for")) {
        (Some(_), None) => {
            let status = fields
                .string(sink, "not_reached")
                .and_then(|(status, span)| {
                    if INCIDENT_STATUSES.contains(&status.as_str()) {
                        Some(status)
                    } else {
                        sink.error(
                            span,
                            ErrorKind::BadChoice {
                                field: "not_reached",
                                value: status,
                                allowed: &INCIDENT_STATUSES,
                            },
                        );
                        None
                    }
                });
            let within = match fields.get("within") {
                Some(_) => fields.duration(sink, "within"),
                None => {
                    sink.error(
                        fields.span,
                        ErrorKind::MissingField {
                            field: "within",
                            within: "escalation rule",
                        },
                    );
                    None
                }
            };
            Some(EscalationKind::NotReached {
                status: status?,
                within: within?,
            })
        }
        (None, Some(_)) if !fields.has("within") => fields
            .duration(sink, "no_update_for")
            .map(EscalationKind::NoUpdateFor),
        _ => {
            sink.error(fields.span, ErrorKind::BadEscalation);
            None
        }
    };
    Some(EscalationRule {
        name: name?,
        severities: rule_severities,
        kind: kind?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
environments:
  staging:
    description: staging cluster
    color: yellow
    hosts: [localhost, stg-web1]
    paths: ["/srv/staging/**", "**/staging-*.conf"]
  production:
    protected: true
    hosts: [web1, web2]
    paths: ["**/production-*.conf", "/etc/nginx/**"]
incidents:
  webhook: "http://127.0.0.1:8080/hook"
  escalation:
    - {name: p0-unmitigated, severities: [P0], not_reached: mitigated, within: 30m}
    - {name: stale, no_update_for: 15m}
"#;

    #[test]
    fn parses_the_documented_example() {
        let inv = parse_inventory(SAMPLE, "tejun.yaml").unwrap();
        let prod = inv.environment("production").unwrap();
        assert!(prod.protected);
        assert_eq!(prod.color, "red");
        assert_eq!(inv.environment("staging").unwrap().color, "yellow");
        assert_eq!(inv.incidents.severities.len(), 4);
        assert!(inv.incidents.attach_active_runs);
        assert_eq!(
            inv.incidents.escalation[0].kind,
            EscalationKind::NotReached {
                status: "mitigated".into(),
                within: Duration::from_secs(1800)
            }
        );
        assert_eq!(
            inv.incidents.escalation[1].kind,
            EscalationKind::NoUpdateFor(Duration::from_secs(900))
        );
    }

    #[test]
    fn pins_paths_and_hosts() {
        let inv = parse_inventory(SAMPLE, "tejun.yaml").unwrap();
        assert_eq!(
            inv.pinned_environment("/tmp/x/production-site.conf"),
            Some("production")
        );
        assert_eq!(
            inv.pinned_environment("production-site.conf"),
            Some("production")
        );
        assert_eq!(
            inv.pinned_environment("/etc/nginx/sites/a.conf"),
            Some("production")
        );
        assert_eq!(
            inv.pinned_environment("/srv/staging/app/x"),
            Some("staging")
        );
        assert_eq!(
            inv.pinned_environment("/srv/staging/../../etc/nginx/a"),
            Some("production")
        );
        assert_eq!(inv.pinned_environment("/tmp/other.conf"), None);
        assert_eq!(inv.host_environment("WEB1"), Some("production"));
        assert_eq!(inv.host_environment("nowhere"), None);
        assert_eq!(inv.host_environment("web1."), Some("production"));
    }

    #[test]
    fn escalation_rules_are_checked() {
        let src = "incidents:\n  severities: {SEV1: worst, SEV2: bad}\n  webhook: ftp://x\n  escalation:\n    - {name: a, severities: [P0], no_update_for: 5m}\n    - {name: a, no_update_for: 5m}\n    - {name: b, not_reached: mitigated}\n    - {name: c, not_reached: mitigated, within: 1m, no_update_for: 1m}\n";
        let errs = parse_inventory(src, "inv.yaml").unwrap_err();
        let kinds: Vec<_> = errs
            .iter()
            .map(|d| (d.span.line, d.span.col, d.kind.clone()))
            .collect();
        assert!(
            matches!(&kinds[0], (3, 12, ErrorKind::BadWebhook { .. })),
            "{kinds:#?}"
        );
        assert!(
            matches!(&kinds[1], (5, 30, ErrorKind::UnknownSeverity { value }) if value == "P0"),
            "{kinds:#?}"
        );
        assert!(
            matches!(&kinds[2], (6, 7, ErrorKind::DuplicateName { .. })),
            "{kinds:#?}"
        );
        assert!(
            matches!(
                &kinds[3],
                (
                    7,
                    7,
                    ErrorKind::MissingField {
                        field: "within",
                        ..
                    }
                )
            ),
            "{kinds:#?}"
        );
        assert!(
            matches!(&kinds[4], (8, 7, ErrorKind::BadEscalation)),
            "{kinds:#?}"
        );
        assert_eq!(kinds.len(), 5);
    }

    #[test]
    fn custom_severities_replace_the_defaults() {
        let inv = parse_inventory(
            "incidents:\n  severities: {SEV1: worst}\n  attach_active_runs: false\n",
            "i.yaml",
        )
        .unwrap();
        assert_eq!(
            inv.incidents.severities.keys().collect::<Vec<_>>(),
            ["SEV1"]
        );
        assert!(!inv.incidents.attach_active_runs);
        let empty = parse_inventory("", "i.yaml").unwrap();
        assert!(empty.environments.is_empty());
        assert_eq!(empty.incidents, IncidentSettings::default());
    }

    #[test]
    fn reports_every_problem_with_location() {
        let src = "environments:\n  prod:\n    colour: red\n    protected: yes please\n    paths: ['a[']\nincidents:\n  escalation:\n    - {name: x, not_reached: fixed, within: 30}\n";
        let errs = parse_inventory(src, "inv.yaml").unwrap_err();
        let found: Vec<_> = errs.iter().map(|d| (d.span.line, d.span.col)).collect();
        assert_eq!(
            found,
            [(3, 5), (4, 16), (5, 13), (8, 30), (8, 45)],
            "{errs:#?}"
        );
    }

    /// `approval: {count: 0}` asks for a positive integer, as the runbook's
    /// `approval` does (one reader for both).
    #[test]
    fn approval_count_zero_asks_for_a_positive_integer() {
        let src = "environments:\n  dev:\n    approval: {count: 0}\n";
        let errs = parse_inventory(src, "i.yaml").unwrap_err();
        let d = &errs.0[0];
        assert_eq!(
            (d.span.line, &d.kind),
            (
                3,
                &ErrorKind::WrongType {
                    field: "count".to_string(),
                    expected: Expected::PositiveInteger,
                    found: "zero",
                }
            ),
            "{errs:#?}"
        );
        let inv =
            parse_inventory("environments:\n  dev: {approval: {count: 2}}\n", "i.yaml").unwrap();
        assert_eq!(inv.environments["dev"].approvals, 2);
    }

    #[test]
    fn pins_must_be_absolute_or_start_anywhere() {
        let src = "environments:\n  a: {paths: ['/etc/**', '**/x-*.conf', '**', 'etc/nginx/*.conf', './y', '*.conf']}\n";
        let errs = parse_inventory(src, "i.yaml").unwrap_err();
        let found: Vec<_> = errs
            .iter()
            .map(|d| match &d.kind {
                ErrorKind::RelativePathPin { pattern } => (d.span.col, pattern.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            found,
            [(47, "etc/nginx/*.conf"), (67, "./y"), (74, "*.conf")]
        );
    }

    #[test]
    fn written_but_empty_environments_is_an_error() {
        for (src, at) in [
            ("environments:\n", (1, 1)),
            ("incidents: {}\nenvironments: {}\n", (2, 15)),
        ] {
            let errs = parse_inventory(src, "i.yaml").unwrap_err();
            let d = &errs.0[0];
            assert_eq!(
                (d.span.line, d.span.col, &d.kind),
                (at.0, at.1, &ErrorKind::NoEnvironments)
            );
        }
    }

    #[test]
    fn an_inventory_is_told_from_a_runbook_by_its_shape() {
        assert!(looks_like_inventory(SAMPLE));
        assert!(looks_like_inventory("incidents: {}\n"));
        assert!(looks_like_inventory("enviroments:\n  dev: {}\n"), "a typo");
        // Broken YAML is judged by its unindented keys.
        assert!(looks_like_inventory("environments:\n  dev: [\n"));
        assert!(!looks_like_inventory("name: x\nenv: dev\nexecute: []\n"));
        assert!(!looks_like_inventory("name: x\nenvironments: {}\n"));
        assert!(!looks_like_inventory("name: [\nexecute:\n"));
        assert!(!looks_like_inventory(""));
        assert!(!looks_like_inventory("- a\n"));
    }
}
