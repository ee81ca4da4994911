//! The fleet part of `tejun run` (docs/fleet.md): a runbook with `hosts:`
//! runs on inventory hosts over ssh. Hosts are chosen and checked against
//! the inventory before any connection is opened; then every host is
//! connected at once (host keys checked strictly), and only then does the
//! run start.

use std::path::PathBuf;

use tejun_engine::fleet::{CONNECT_TIMEOUT, FleetTarget};
use tejun_engine::probe::ProbeFrom;
use tejun_engine::target::{SshOptions, SshTarget};
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
    ctx: &Context,
) -> Result<Option<Fleet>, Exit> {
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
    let hosts = match select_hosts(inventory, env, selector, limit) {
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
    if !failures.is_empty() {
        for failure in &failures {
            ctx.error(&failure.localize(Lang::En), &failure.localize(Lang::Ja));
        }
        ctx.error(
            "refused: not every host could be reached; nothing ran",
            "拒否: 接続できないホストがあるため、何も実行していません",
        );
        return Err(Exit::BadInput);
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

/// `tejun resume`/`tejun rollback` of a fleet run: refused, since they
/// would run the hosts' steps on this machine (per-host resume is not
/// built yet; docs/fleet.md).
pub fn refuse_to_continue(runbook: &Runbook, ctx: &Context) -> Result<(), Exit> {
    if runbook.hosts.is_none() {
        return Ok(());
    }
    ctx.error(
        "refused: this run's runbook has `hosts:`; resuming or rolling back a fleet run is not supported yet (it would run the hosts' steps here). Roll back with a runbook run (`tejun run ROLLBACK.yaml --env ENV`).",
        "拒否: この実行の手順書には `hosts:` があります。フリート実行の再開・ロールバックはまだ対応していません (ホスト向けの手順がこのマシンで実行されるため)。ロールバック用の手順書を `tejun run` で実行してください。",
    );
    Err(Exit::BadInput)
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
