//! Where a runbook's steps run (docs/fleet.md): the top-level `hosts:`
//! selector, a step's `on:`, the `rollout:` plan, and the pure parts of
//! acting on them: choosing hosts from the inventory, fail-closed, and
//! cutting them into batches.

use std::ops::Range;
use std::time::Duration;

use globset::Glob;

use crate::diagnostics::{ErrorKind, Sink};
use crate::inventory::Inventory;
use crate::model::Span;
use crate::walk::{Fields, string, string_list};
use crate::yaml::{Node, Value};

/// Where one step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum On {
    /// Every host of the current batch (the default).
    #[default]
    Each,
    /// One host: the first of the run's hosts.
    Once,
    /// The controller, where tejun runs.
    Local,
}

impl On {
    pub fn as_str(self) -> &'static str {
        match self {
            On::Each => "each",
            On::Once => "once",
            On::Local => "local",
        }
    }
}

/// `rollout:` — how execute and post proceed over the hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub serial: Vec<BatchSize>,
    /// Percentage of a batch's hosts that may fail before the rollout
    /// stops (0: any failure stops it).
    pub max_fail_percentage: u32,
    /// Hosts run in parallel within a batch (0: the batch size, up to 50).
    pub forks: u32,
    /// How long each batch must stay healthy (its `gate` probes healthy at
    /// every sample, no trigger firing) before the next batch starts.
    pub bake: Duration,
    /// Probes that must be healthy at every sample of a batch's bake.
    pub gate: Vec<(String, Span)>,
    /// Which hosts a failed rollout rolls back.
    pub rollback: RollbackScope,
}

/// `rollout.rollback:` — which hosts a failed rollout rolls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RollbackScope {
    /// Every host of the batches reached so far (the default).
    #[default]
    All,
    /// Only the hosts of the batch that failed; earlier batches, which
    /// passed their gate, keep the change.
    Batch,
}

impl RollbackScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackScope::All => "all",
            RollbackScope::Batch => "batch",
        }
    }
}

impl Default for Rollout {
    fn default() -> Rollout {
        Rollout {
            serial: vec![BatchSize::Percent(100)],
            max_fail_percentage: 0,
            forks: 0,
            bake: Duration::ZERO,
            gate: Vec::new(),
            rollback: RollbackScope::All,
        }
    }
}

/// One entry of `serial:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Hosts(u32),
    /// Of all the run's hosts, rounded up, at least 1.
    Percent(u32),
}

/// Most hosts that run at once when `forks` is not given.
pub const DEFAULT_FORKS: usize = 50;

/// Cuts `hosts` hosts into consecutive batches: each `serial` entry gives
/// the next batch's size, the last repeats until every host is in one.
/// Batches cover every host exactly once, in order.
pub fn plan_batches(serial: &[BatchSize], hosts: usize) -> Vec<Range<usize>> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut sizes = serial.iter().copied();
    let mut last = BatchSize::Percent(100);
    while start < hosts {
        let size = sizes.next().inspect(|s| last = *s).unwrap_or(last);
        let n = match size {
            BatchSize::Hosts(n) => n as usize,
            BatchSize::Percent(p) => (hosts * p as usize).div_ceil(100),
        }
        .max(1);
        let end = (start + n).min(hosts);
        batches.push(start..end);
        start = end;
    }
    batches
}

/// The hosts `selector` names among `env`'s (a group, a host, a glob
/// over host names, or `var=value` over host variables; several separated
/// by commas), narrowed to `limit` when
/// given, in inventory order. Fail-closed: a host that another environment
/// lists, or a name that matches nothing, refuses the whole selection.
pub fn select_hosts(
    inventory: &Inventory,
    env: &str,
    selector: &str,
    limit: Option<&str>,
) -> Result<Vec<String>, (String, String)> {
    let Some(environment) = inventory.environment(env) else {
        return Err((
            format!("environment `{env}` is not in the inventory"),
            format!("環境 `{env}` がインベントリにありません"),
        ));
    };
    let mut chosen: Vec<bool> = vec![false; environment.hosts.len()];
    for part in selector.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let matched = if let Some((var, value)) = part.split_once('=') {
            // `zone=a`: the hosts whose variable `zone` is `a`.
            let mut any = false;
            for (i, host) in environment.hosts.iter().enumerate() {
                let vars = environment.host_vars.get(host);
                if vars.and_then(|v| v.get(var.trim())).map(String::as_str) == Some(value.trim()) {
                    chosen[i] = true;
                    any = true;
                }
            }
            any
        } else {
            match environment.groups.get(part) {
                Some(members) => {
                    for member in members {
                        if let Some(i) = environment.hosts.iter().position(|h| h == member) {
                            chosen[i] = true;
                        }
                    }
                    !members.is_empty()
                }
                None => {
                    let matcher = Glob::new(part).map(|g| g.compile_matcher()).ok();
                    let mut any = false;
                    for (i, host) in environment.hosts.iter().enumerate() {
                        let hit =
                            host == part || matcher.as_ref().is_some_and(|m| m.is_match(host));
                        if hit {
                            chosen[i] = true;
                            any = true;
                        }
                    }
                    any
                }
            }
        };
        if !matched {
            return Err(not_a_host_of(part, env, inventory));
        }
    }
    let mut hosts: Vec<String> = environment
        .hosts
        .iter()
        .zip(&chosen)
        .filter(|(_, c)| **c)
        .map(|(h, _)| h.clone())
        .collect();
    if let Some(limit) = limit {
        let wanted: Vec<&str> = limit
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        for name in &wanted {
            if !hosts.iter().any(|h| h == name) {
                return Err(not_a_host_of(name, env, inventory));
            }
        }
        hosts.retain(|h| wanted.contains(&h.as_str()));
    }
    for host in &hosts {
        if let Some(other) = inventory
            .environments
            .values()
            .find(|e| e.name != env && e.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
        {
            return Err((
                format!(
                    "refused: host `{host}` is also listed under environment `{}`; a `{env}` run never touches another environment's host",
                    other.name
                ),
                format!(
                    "拒否: ホスト `{host}` は環境 `{}` にも登録されています。`{env}` の実行は他の環境のホストに触れません",
                    other.name
                ),
            ));
        }
    }
    Ok(hosts)
}

fn not_a_host_of(name: &str, env: &str, inventory: &Inventory) -> (String, String) {
    match inventory.host_environment(name) {
        Some(other) if other != env => (
            format!(
                "refused: `{name}` is a host of environment `{other}`, not `{env}`; nothing was contacted"
            ),
            format!(
                "拒否: `{name}` は環境 `{other}` のホストで、`{env}` のものではありません。どのホストにも接続していません"
            ),
        ),
        _ => (
            format!(
                "`{name}` is neither a host nor a group of environment `{env}` in the inventory"
            ),
            format!("`{name}` はインベントリの環境 `{env}` のホストでもグループでもありません"),
        ),
    }
}

/// Whether `text` is a `var=value` host selector (`zone=a`): a variable
/// name, and a value of letters, digits, `_`, `.` and `-` not starting
/// with `-` (so nothing in it reads as an option).
pub fn is_var_selector(text: &str) -> bool {
    let Some((var, value)) = text.split_once('=') else {
        return false;
    };
    let var_ok = var
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let value_ok = !value.is_empty()
        && !value.starts_with('-')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    var_ok && value_ok
}

/// A runbook's top-level `hosts:` (a string or a list of strings, joined
/// with commas).
pub(crate) fn read_hosts(sink: &mut Sink, top: &Fields) -> Option<(String, Span)> {
    let node = top.get("hosts")?;
    let parts = string_list(sink, node, "hosts")?;
    let joined = parts
        .iter()
        .map(|(s, _)| s.as_str())
        .collect::<Vec<_>>()
        .join(",");
    if joined.trim().is_empty() {
        sink.error(
            node.span,
            fleet_error(
                "empty-hosts",
                "`hosts:` names no host",
                "`hosts:` にホストがありません",
            ),
        );
        return None;
    }
    Some((joined, node.span))
}

/// A step's `on:`.
pub(crate) fn read_on(sink: &mut Sink, fields: &Fields) -> On {
    let Some((value, span)) = fields.get("on").and_then(|n| string(sink, n, "on")) else {
        return On::Each;
    };
    match value.as_str() {
        "each" => On::Each,
        "once" => On::Once,
        "local" => On::Local,
        _ => {
            sink.error(
                span,
                ErrorKind::BadChoice {
                    field: "on",
                    value,
                    allowed: &["each", "once", "local"],
                },
            );
            On::Each
        }
    }
}

const ROLLOUT_KEYS: &[&str] = &[
    "serial",
    "max_fail_percentage",
    "forks",
    "bake",
    "gate",
    "rollback",
];

/// The top-level `rollout:`.
pub(crate) fn read_rollout(sink: &mut Sink, top: &Fields) -> Option<Rollout> {
    let node = top.get("rollout")?;
    let fields = Fields::of(sink, node, "rollout", ROLLOUT_KEYS)?;
    let mut rollout = Rollout::default();
    if let Some(serial) = fields.get("serial") {
        let items: Vec<&Node> = match &serial.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![serial],
        };
        rollout.serial = items
            .into_iter()
            .filter_map(|n| batch_size(sink, n))
            .collect();
        if rollout.serial.is_empty() {
            rollout.serial = Rollout::default().serial;
        }
    }
    if let Some(p) = fields.u32(sink, "max_fail_percentage") {
        if p > 100 {
            sink.error(
                fields
                    .get("max_fail_percentage")
                    .map_or(fields.span, |n| n.span),
                fleet_error(
                    "bad-percentage",
                    "`max_fail_percentage` is a percentage: 0 to 100",
                    "`max_fail_percentage` は 0〜100 の百分率です",
                ),
            );
        }
        rollout.max_fail_percentage = p.min(100);
    }
    if let Some(forks) = fields.u32(sink, "forks") {
        rollout.forks = forks;
    }
    if let Some(bake) = fields.duration(sink, "bake") {
        rollout.bake = bake;
    }
    // Probe names are checked against `probes:` once those are read.
    if let Some(gate) = fields.string_list(sink, "gate") {
        rollout.gate = gate;
    }
    if let Some((scope, span)) = fields.string(sink, "rollback") {
        rollout.rollback = match scope.as_str() {
            "all" => RollbackScope::All,
            "batch" => RollbackScope::Batch,
            _ => {
                sink.error(
                    span,
                    ErrorKind::BadChoice {
                        field: "rollback",
                        value: scope,
                        allowed: &["all", "batch"],
                    },
                );
                RollbackScope::All
            }
        };
    }
    Some(rollout)
}

fn batch_size(sink: &mut Sink, node: &Node) -> Option<BatchSize> {
    let bad = |sink: &mut Sink| {
        sink.error(
            node.span,
            fleet_error(
                "bad-batch-size",
                "a `serial` entry is a host count (`2`) or a percentage of the hosts (`25%`), above zero",
                "`serial` の各要素はホスト数 (`2`) かホストの百分率 (`25%`) で、0 より大きい値です",
            ),
        );
        None
    };
    match &node.value {
        Value::Int(n) if *n > 0 && *n <= i64::from(u32::MAX) => Some(BatchSize::Hosts(*n as u32)),
        Value::Str(s) => match s.trim().strip_suffix('%').map(|p| p.trim().parse::<u32>()) {
            Some(Ok(p)) if (1..=100).contains(&p) => Some(BatchSize::Percent(p)),
            _ => match s.trim().parse::<u32>() {
                Ok(n) if n > 0 => Some(BatchSize::Hosts(n)),
                _ => bad(sink),
            },
        },
        _ => bad(sink),
    }
}

fn fleet_error(code: &'static str, en: &str, ja: &str) -> ErrorKind {
    ErrorKind::Fleet {
        code,
        en: en.to_string(),
        ja: ja.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn size() -> impl Strategy<Value = BatchSize> {
        prop_oneof![
            (1u32..20).prop_map(BatchSize::Hosts),
            (1u32..=100).prop_map(BatchSize::Percent),
        ]
    }

    proptest! {
        #[test]
        fn batches_cover_every_host_once_in_order_canary_first(
            serial in proptest::collection::vec(size(), 0..5),
            hosts in 0usize..300,
        ) {
            let batches = plan_batches(&serial, hosts);
            let mut next = 0;
            for b in &batches {
                prop_assert_eq!(b.start, next);
                prop_assert!(b.end > b.start);
                next = b.end;
            }
            prop_assert_eq!(next, hosts);
            // The first batch is exactly what the first entry asks for.
            if let (Some(first), Some(b)) = (serial.first(), batches.first()) {
                let want = match *first {
                    BatchSize::Hosts(n) => n as usize,
                    BatchSize::Percent(p) => (hosts * p as usize).div_ceil(100).max(1),
                };
                prop_assert_eq!(b.len(), want.min(hosts));
            }
        }
    }

    #[test]
    fn one_then_a_quarter_then_the_rest() {
        let serial = [
            BatchSize::Hosts(1),
            BatchSize::Percent(25),
            BatchSize::Percent(100),
        ];
        assert_eq!(plan_batches(&serial, 10), vec![0..1, 1..4, 4..10]);
        assert_eq!(plan_batches(&serial, 0), Vec::<Range<usize>>::new());
    }
}

#[cfg(test)]
mod selection_tests {
    use super::*;
    use crate::inventory::parse_inventory;

    const INVENTORY: &str = "environments:
  staging:
    hosts:
      stg-web-1: {zone: a, port: 8080}
      stg-web-2: {zone: b}
      stg-db-1:
    groups:
      web: [stg-web-1, stg-web-2]
  production:
    hosts: [web-1]
";

    #[test]
    fn hosts_map_gives_vars_and_groups_select_in_inventory_order() {
        let inv = parse_inventory(INVENTORY, "tejun.yaml").unwrap();
        let env = inv.environment("staging").unwrap();
        assert_eq!(env.hosts, ["stg-web-1", "stg-web-2", "stg-db-1"]);
        assert_eq!(env.host_vars["stg-web-1"]["port"], "8080");
        assert_eq!(
            select_hosts(&inv, "staging", "stg-db-1, web", None).unwrap(),
            ["stg-web-1", "stg-web-2", "stg-db-1"]
        );
        assert_eq!(
            select_hosts(&inv, "staging", "stg-*", Some("stg-web-2")).unwrap(),
            ["stg-web-2"]
        );
        let (en, ja) = select_hosts(&inv, "staging", "WEB-1", None).unwrap_err();
        assert!(en.contains("host of environment `production`"), "{en}");
        assert!(ja.contains("production"), "{ja}");
    }

    #[test]
    fn a_group_member_that_is_not_a_host_is_an_error_at_its_place() {
        let bad = "environments:\n  staging:\n    hosts: [a]\n    groups:\n      web: [a, b]\n";
        let diagnostics = parse_inventory(bad, "tejun.yaml").unwrap_err();
        let text = format!("{diagnostics:?}");
        assert!(
            text.contains("unknown-group-member") || text.contains("`b`"),
            "{text}"
        );
    }

    #[test]
    fn serial_accepts_counts_and_percentages_and_refuses_zero() {
        let ok = crate::runbook::parse_runbook(
            "name: r\nenv: dev\nhosts: web\nrollout: {serial: [1, '25%', 100%], max_fail_percentage: 10}\nexecute:\n  - run: 'true'\n    on: once\n",
            "r.yaml",
        )
        .unwrap();
        let rollout = ok.rollout.unwrap();
        assert_eq!(
            rollout.serial,
            [
                BatchSize::Hosts(1),
                BatchSize::Percent(25),
                BatchSize::Percent(100)
            ]
        );
        assert_eq!(ok.phases.execute[0].on, On::Once);
        assert!(
            crate::runbook::parse_runbook(
                "name: r\nenv: dev\nrollout: {serial: [0]}\nexecute:\n  - run: 'true'\n    on: everywhere\n",
                "r.yaml",
            )
            .is_err()
        );
    }
}
