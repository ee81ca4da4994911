//! The fleet part of `tejun run` (docs/fleet.md): a runbook with `hosts:`
//! runs on inventory hosts over ssh. Hosts are chosen and checked against
//! the inventory before any connection is opened; then every host is
//! connected at once (host keys checked strictly), and only then does the
//! run start.

use std::path::PathBuf;

use tejun_engine::fleet::{CONNECT_TIMEOUT, FleetTarget};
use tejun_engine::probe::ProbeFrom;
use tejun_engine::target::{SshError, SshOptions, SshTarget};
use tejun_locale::{Lang, Localize};
use tejun_runbook::Inventory;
use tejun_runbook::fleet::select_hosts;
use tejun_runbook::model::Runbook;

use crate::context::{Context, Exit};

/// An ssh_config used instead of `~/.ssh/config` (tests, demo fleets).
pub const SSH_CONFIG_ENV: &str = "TEJUN_SSH_CONFIG";

/// The connected fleet of a run and the private directory of its master
/// sockets; dropping it closes every connection.
pub struct Fleet {
    pub target: FleetTarget,
    control_dir: PathBuf,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.target.close_all();
        let _ = std::fs::remove_dir_all(&self.control_dir);
    }
}

/// `None` when the runbook has no `hosts:` (or is not for `env`, which the
/// engine refuses without contacting anything).
pub fn connect(
    runbook: &Runbook,
    inventory: Option<&Inventory>,
    env: &str,
    limit: Option<&str>,
    recorded: Option<&tejun_engine::events::FleetStarted>,
    ctx: &Context,
) -> Result<Option<Fleet>, Exit> {
    connect_after(runbook, inventory, env, limit, recorded, &[], ctx)
}

/// [`connect`], first ending the ssh connections the run's crashed
/// processes (`crashed`: their pids) left behind.
fn connect_after(
    runbook: &Runbook,
    inventory: Option<&Inventory>,
    env: &str,
    limit: Option<&str>,
    recorded: Option<&tejun_engine::events::FleetStarted>,
    crashed: &[u32],
    ctx: &Context,
) -> Result<Option<Fleet>, Exit> {
    let recorded_hosts = recorded.map(|r| r.hosts.as_slice());
    let probe_hosts: Vec<&str> = runbook
        .probes
        .values()
        .filter_map(|p| match &p.from {
            ProbeFrom::Host(h) => Some(h.as_str()),
            _ => None,
        })
        .collect();
    let Some((selector, _)) = &runbook.hosts else {
        if let Some(p) = runbook
            .probes
            .values()
            .find(|p| p.from != ProbeFrom::Controller)
        {
            ctx.error(
                &format!(
                    "refused: probe `{}` runs from a host, but the runbook has no `hosts:`",
                    p.name
                ),
                &format!(
                    "拒否: プローブ `{}` はホストから実行されますが、手順書に `hosts:` がありません",
                    p.name
                ),
            );
            return Err(Exit::BadInput);
        }
        if limit.is_some() {
            ctx.error(
                "--limit needs a runbook with `hosts:`",
                "--limit は `hosts:` のある手順書でのみ使えます",
            );
            return Err(Exit::BadInput);
        }
        return Ok(None);
    };
    if !runbook.environments.iter().any(|e| e == env) {
        return Ok(None);
    }
    let Some(inventory) = inventory else {
        ctx.error(
            "refused: a runbook with `hosts:` needs an inventory (tejun.yaml) listing the environment's hosts",
            "拒否: `hosts:` のある手順書には、環境のホストを記したインベントリ (tejun.yaml) が必要です",
        );
        return Err(Exit::BadInput);
    };
    let recorded_limit = recorded_hosts.map(|hosts| hosts.join(","));
    let limit = recorded_limit.as_deref().or(limit);
    let hosts = match select_hosts(inventory, env, selector, limit) {
        Ok(hosts) if recorded_hosts.is_some_and(|r| r != hosts.as_slice()) => {
            ctx.error(
                "refused: the inventory no longer gives this run the hosts it started with, in the same order; nothing was contacted",
                "拒否: インベントリから、この実行の開始時と同じホスト (同じ順序) が得られません。どのホストにも接続していません",
            );
            return Err(Exit::BadInput);
        }
        Ok(hosts) if !hosts.is_empty() => hosts,
        Ok(_) => {
            ctx.error("no host selected", "対象のホストがありません");
            return Err(Exit::BadInput);
        }
        Err((en, ja)) => {
            ctx.error(&en, &ja);
            return Err(Exit::BadInput);
        }
    };
    // `logoff: {then_probe}` asks "from another client": not from a host
    // of the run, which it just logged off (and would log in to again).
    for step in &runbook.phases.exit {
        let tejun_runbook::model::StepKind::Logoff(logoff) = &step.kind else {
            continue;
        };
        let Some((name, _)) = &logoff.then_probe else {
            continue;
        };
        let Some(ProbeFrom::Host(from)) = runbook.probes.get(name).map(|p| &p.from) else {
            continue;
        };
        let own: Vec<String> = select_hosts(inventory, env, from, None)
            .unwrap_or_default()
            .into_iter()
            .filter(|h| hosts.contains(h))
            .collect();
        if !own.is_empty() {
            let own = own.join(", ");
            ctx.error(
                &format!(
                    "refused: `logoff:` asks `then_probe: {name}` from {own}, a host of this run it just logged off: that is not another client; give the probe a `from:` outside `hosts:`. Nothing was contacted"
                ),
                &format!(
                    "拒否: `logoff:` の `then_probe: {name}` は {own} (この実行でログオフしたホスト) から実行されます。別のクライアントではありません。`hosts:` 外の `from:` を指定してください。どのホストにも接続していません"
                ),
            );
            return Err(Exit::BadInput);
        }
    }
    // A probe's `from:` follows the same rule as `hosts:` (a host, group,
    // pattern or var=value of this environment only), checked before any
    // connection. Hosts outside `hosts:` are connected for probes only.
    let mut probe_only: Vec<String> = Vec::new();
    let mut probe_selectors: Vec<(String, Vec<String>)> = Vec::new();
    for selector in probe_hosts {
        match select_hosts(inventory, env, selector, None) {
            Ok(found) => {
                for host in &found {
                    if !hosts.contains(host) && !probe_only.contains(host) {
                        probe_only.push(host.clone());
                    }
                }
                probe_selectors.push((selector.to_string(), found));
            }
            Err((en, ja)) => {
                ctx.error(&en, &ja);
                return Err(Exit::BadInput);
            }
        }
    }
    let control_dir = private_dir().map_err(|e| {
        ctx.error(
            &format!("cannot create the ssh control directory: {e}"),
            &format!("ssh 制御ディレクトリを作れません: {e}"),
        );
        Exit::Failed
    })?;
    let config = ssh_config(inventory, env, ctx)?;
    let options = SshOptions {
        config,
        control_dir: control_dir.clone(),
        connect_timeout: CONNECT_TIMEOUT,
    };
    let environment = inventory.environment(env);
    let vars: Vec<_> = hosts
        .iter()
        .map(|h| {
            environment
                .and_then(|e| e.host_vars.get(h).cloned())
                .unwrap_or_default()
        })
        .collect();
    let targets = hosts.iter().map(|h| SshTarget::new(h, &options)).collect();
    let fleet = Fleet {
        target: FleetTarget::new(targets, &vars, runbook.rollout.as_ref(), None).with_probe_hosts(
            probe_only
                .iter()
                .map(|h| SshTarget::new(h, &options))
                .collect(),
            probe_selectors,
        ),
        control_dir,
    };
    // Resumed: a host that could not be reached when the run started had
    // nothing run on it; it stays out (no rollback, no exit steps), even
    // if it answers now.
    for left in recorded.map_or(&[][..], |r| r.unreachable.as_slice()) {
        fleet.target.mark_unreachable(&left.host, &left.error);
    }
    // A process killed mid-run (SIGKILL, a crash) never closed its
    // masters: they persist, each holding a session open on its host
    // (which a `logoff:` check would rightly find). End them.
    for dir in leftover_control_dirs(crashed) {
        fleet.target.close_leftovers(&dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut failures = fleet.target.connect_all();
    // A host only probes ask from may be down: that is what such a probe
    // finds out (its answers are failures), not a reason to refuse the run.
    failures.retain(|failure| {
        if !probe_only.iter().any(|h| h == failure.host()) {
            return true;
        }
        let lang = ctx.lang;
        anstream::eprintln!(
            "{}: {}",
            lang.pick("warning", "警告"),
            lang.pick(
                &format!(
                    "{}; its probes will answer unhealthy",
                    failure.localize(Lang::En)
                ),
                &format!(
                    "{}。このホストからのプローブは異常と判定されます",
                    failure.localize(Lang::Ja)
                ),
            )
        );
        false
    });
    // A host that is down counts against `max_fail_percentage` in its
    // batch; a host key or login problem is never tolerated.
    let (down, refused): (Vec<&SshError>, Vec<&SshError>) = failures
        .iter()
        .partition(|f| matches!(f, SshError::Unreachable { .. }));
    if !refused.is_empty() {
        for failure in failures.iter() {
            ctx.error(&failure.localize(Lang::En), &failure.localize(Lang::Ja));
        }
        ctx.error(
            "refused: not every host could be reached; nothing ran",
            "拒否: 接続できないホストがあるため、何も実行していません",
        );
        return Err(Exit::BadInput);
    }
    for failure in &down {
        fleet
            .target
            .mark_unreachable(failure.host(), &failure.localize(Lang::En));
    }
    if let Some((batch, count, size)) = fleet.target.intolerable_batch() {
        for failure in &down {
            ctx.error(&failure.localize(Lang::En), &failure.localize(Lang::Ja));
        }
        let percentage = runbook
            .rollout
            .as_ref()
            .map_or(0, |r| r.max_fail_percentage);
        ctx.error(
            &format!(
                "refused: {count} of the {size} hosts of batch {batch} cannot be reached, more than max_fail_percentage ({percentage}%) allows; nothing ran"
            ),
            &format!(
                "拒否: バッチ {batch} の {size} 台のうち {count} 台に接続できず、max_fail_percentage ({percentage}%) を超えます。何も実行していません"
            ),
        );
        return Err(Exit::BadInput);
    }
    for failure in &down {
        anstream::eprintln!(
            "{}: {}",
            ctx.lang.pick("warning", "警告"),
            ctx.lang.pick(
                &format!(
                    "{}; it counts as failed in its batch (within max_fail_percentage)",
                    failure.localize(Lang::En)
                ),
                &format!(
                    "{}。このホストはバッチ内の失敗として数えます (max_fail_percentage の範囲内)",
                    failure.localize(Lang::Ja)
                ),
            )
        );
    }
    Ok(Some(fleet))
}

/// The ssh client configuration: `TEJUN_SSH_CONFIG`, else the
/// environment's `ssh_config:`, else the inventory's top-level one (a
/// relative path is read from the inventory's directory), else none
/// (`~/.ssh/config`). A named file that does not exist refuses the run.
fn ssh_config(inventory: &Inventory, env: &str, ctx: &Context) -> Result<Option<PathBuf>, Exit> {
    if let Some(path) = std::env::var_os(SSH_CONFIG_ENV) {
        return Ok(Some(PathBuf::from(path)));
    }
    let Some(written) = inventory.ssh_config_for(env) else {
        return Ok(None);
    };
    let path = match ctx
        .inventory_path()
        .and_then(|i| i.parent().map(PathBuf::from))
    {
        Some(dir) => dir.join(written),
        None => PathBuf::from(written),
    };
    if !path.is_file() {
        ctx.error(
            &format!(
                "the inventory's ssh_config `{written}` ({}) is not a file; nothing was contacted",
                path.display()
            ),
            &format!(
                "インベントリの ssh_config `{written}` ({}) はファイルではありません。どのホストにも接続していません",
                path.display()
            ),
        );
        return Err(Exit::BadInput);
    }
    Ok(Some(path))
}

/// `tejun resume`/`tejun rollback` of a fleet run: reconnects to exactly
/// the hosts the run started with (journaled in `fleet.started`). A run
/// whose journal does not say which hosts (an older tejun) is refused
/// rather than guessed, and never runs the hosts' steps on this machine.
pub fn reconnect(
    runbook: &Runbook,
    inventory: Option<&Inventory>,
    env: &str,
    recorded: Option<&tejun_engine::events::FleetStarted>,
    crashed: &[u32],
    ctx: &Context,
) -> Result<Option<Fleet>, Exit> {
    if runbook.hosts.is_none() {
        return Ok(None);
    }
    let Some(recorded) = recorded else {
        ctx.error(
            "refused: this fleet run's journal does not record its hosts (it was started by an older tejun); it cannot be resumed or rolled back per host. Roll back with a runbook run (`tejun run ROLLBACK.yaml --env ENV`).",
            "拒否: このフリート実行のジャーナルにはホストが記録されていません (古い tejun で開始)。ホストごとの再開・ロールバックはできません。ロールバック用の手順書を `tejun run` で実行してください。",
        );
        return Err(Exit::BadInput);
    };
    connect_after(runbook, inventory, env, None, Some(recorded), crashed, ctx)
}

/// The control directories (see [`private_dir`]) of the processes `pids`
/// that are gone: only ours (owner, 0700, not a symlink), and never one of
/// a live process (a reused pid's).
fn leftover_control_dirs(pids: &[u32]) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let gone = |pid: u32| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None)
            == Err(nix::errno::Errno::ESRCH)
    };
    let prefixes: Vec<String> = pids
        .iter()
        .filter(|&&pid| gone(pid))
        .map(|pid| format!("tejun-ssh-{pid}-"))
        .collect();
    if prefixes.is_empty() {
        return Vec::new();
    }
    let me = nix::unistd::Uid::effective().as_raw();
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            prefixes.iter().any(|p| name.starts_with(p))
        })
        .map(|e| e.path())
        .filter(|path| {
            std::fs::symlink_metadata(path)
                .is_ok_and(|m| m.is_dir() && m.uid() == me && m.mode() & 0o777 == 0o700)
        })
        .collect()
}

/// A fresh 0700 directory under /tmp: master sockets need a short path.
fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut nonce = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut nonce))?;
    let dir = std::env::temp_dir().join(format!(
        "tejun-ssh-{}-{}",
        std::process::id(),
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}
