//! `runbook:` actions: a detection starts a runbook, unattended.
//!
//! The runbook runs as a child process of the same binary (`tejun run PATH
//! --env ENV --yes --json --var ...`), never inside the watcher: a runbook
//! that fails, hangs or crashes cannot take the watcher (and with it every
//! ban) down, and it gets exactly the guards, journal events and resume an
//! operator's `tejun run` gets. Each run has its own thread that waits for
//! it with a timeout; past it, the run's process group gets SIGTERM (tejun
//! run aborts and rolls back) and, after a grace period, SIGKILL.
//!
//! Everything that can be checked before a run is checked when the watcher
//! starts, with the place in the rule file: the runbook parses, it was
//! written for the environment, the inventory defines it, a protected one
//! is confirmed by name (`confirm_env:`, since nobody is there to type it),
//! and the variables it needs are given.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};
use tejun_journal::{Journal, NewEvent};
use tejun_runbook::model::VarValue;
use wait_timeout::ChildExt;

use crate::config::{At, ConfigError};
use crate::events::{ACTOR, RUNBOOK_FINISHED, RunbookFinished, detect_stream};

/// Default limit of one unattended run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Upper limit of `timeout:`: a run that takes longer is not unattended work.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Between SIGTERM (the run aborts and rolls back) and SIGKILL.
const GRACE: Duration = Duration::from_secs(10);
/// Variables the watcher sets, when the runbook declares them.
pub const DETECTION_VARS: [&str; 4] = ["offender", "rule", "count", "detection"];
/// Bytes of the run's stderr kept for the record when it does not succeed.
const STDERR_TAIL: usize = 2048;

/// A checked `runbook:` action, as the watcher runs it (and as a pending
/// action is stored, so a restart runs the same thing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookAction {
    /// Absolute path of the runbook file.
    pub path: PathBuf,
    pub env: String,
    /// Set when `env` is protected (it then equals `env`).
    pub confirm_env: Option<String>,
    pub timeout_s: u64,
    /// The action's `params`, passed as `--var`.
    pub params: BTreeMap<String, String>,
    /// Which of [`DETECTION_VARS`] the runbook declares (only those are
    /// passed: `tejun run` refuses variables a runbook does not declare).
    pub declared: Vec<String>,
    /// The inventory the environment was checked against, passed to the run.
    pub inventory: PathBuf,
}

/// Where relative paths and the inventory come from.
#[derive(Debug, Clone, Default)]
pub struct RunbookContext {
    /// The watch config's directory: relative runbook paths start here.
    pub base: PathBuf,
    /// `--inventory` (or `tejun.yaml` found from the working directory);
    /// without one, the nearest `tejun.yaml` above the runbook, as `tejun
    /// run` would find it.
    pub inventory: Option<PathBuf>,
}

/// The fields of `tejun_detect::Action::Runbook`.
pub struct Spec<'a> {
    pub path: &'a Spanned<String>,
    pub env: &'a Spanned<String>,
    pub confirm_env: Option<&'a Spanned<String>>,
    pub timeout: Option<&'a Spanned<tejun_detect::model::RunbookTimeout>>,
    pub params: &'a BTreeMap<String, Spanned<String>>,
}

/// Checks one `runbook:` action of a rule read from `file`.
pub fn check(
    spec: &Spec<'_>,
    file: &Path,
    cx: &RunbookContext,
) -> Result<RunbookAction, ConfigError> {
    let err = |loc: &Location, en: String, ja: String| ConfigError {
        at: Some(At {
            file: file.to_path_buf(),
            line: loc.line(),
            col: loc.column(),
        }),
        en,
        ja,
    };
    let path_loc = &spec.path.referenced;
    if spec.path.value.trim().is_empty() {
        return Err(err(
            path_loc,
            "the runbook path is empty".into(),
            "手順書のパスが空です".into(),
        ));
    }
    let path = cx.base.join(&spec.path.value);
    let path = std::path::absolute(&path).unwrap_or(path);
    let source = std::fs::read_to_string(&path).map_err(|e| {
        err(
            path_loc,
            format!("cannot read runbook {}: {e}", path.display()),
            format!("手順書 {} を読めません: {e}", path.display()),
        )
    })?;
    let runbook = tejun_runbook::parse_runbook_with(
        &source,
        &path.display().to_string(),
        &tejun_runbook::include::FileIncludes,
    )
    .map_err(|diags| {
        let first = |lang| {
            diags
                .iter()
                .next()
                .map(|d| format!("{}: {}", d.location(), d.kind.message(lang)))
                .unwrap_or_default()
        };
        err(
            path_loc,
            format!(
                "runbook {} is not valid: {}",
                path.display(),
                first(tejun_locale::Lang::En)
            ),
            format!(
                "手順書 {} が不正です: {}",
                path.display(),
                first(tejun_locale::Lang::Ja)
            ),
        )
    })?;
    let env = spec.env.value.trim().to_string();
    let env_loc = &spec.env.referenced;
    if !runbook.environments.contains(&env) {
        let known = runbook.environments.join(", ");
        return Err(err(
            env_loc,
            format!(
                "runbook {} is written for {known}, not `{env}`",
                path.display()
            ),
            format!(
                "手順書 {} の対象環境は {known} で、`{env}` ではありません",
                path.display()
            ),
        ));
    }
    let inventory = cx.inventory.clone().or_else(|| beside(&path)).ok_or_else(|| {
        err(
            env_loc,
            format!("no inventory (tejun.yaml) defines `{env}`: pass --inventory or put tejun.yaml beside the runbook"),
            format!("`{env}` を定義するインベントリ (tejun.yaml) がありません: --inventory を指定するか手順書の近くに tejun.yaml を置いてください"),
        )
    })?;
    let inventory = std::path::absolute(&inventory).unwrap_or(inventory);
    let inv_source = std::fs::read_to_string(&inventory).map_err(|e| {
        err(
            env_loc,
            format!("cannot read inventory {}: {e}", inventory.display()),
            format!("インベントリ {} を読めません: {e}", inventory.display()),
        )
    })?;
    let inv = tejun_runbook::parse_inventory(&inv_source, &inventory.display().to_string())
        .map_err(|_| {
            err(
                env_loc,
                format!(
                    "inventory {} is not valid (see `tejun check`)",
                    inventory.display()
                ),
                format!(
                    "インベントリ {} が不正です (`tejun check` で確認してください)",
                    inventory.display()
                ),
            )
        })?;
    let Some(environment) = inv.environment(&env) else {
        return Err(err(
            env_loc,
            format!("inventory {} does not define `{env}`", inventory.display()),
            format!(
                "インベントリ {} に `{env}` がありません",
                inventory.display()
            ),
        ));
    };
    let confirm_env = match (environment.protected, spec.confirm_env) {
        (_, Some(c)) if c.value.trim() != env => {
            return Err(err(
                &c.referenced,
                format!(
                    "confirm_env must repeat the environment's name `{env}`, not `{}`",
                    c.value
                ),
                format!(
                    "confirm_env には環境名 `{env}` をそのまま書いてください (`{}` ではなく)",
                    c.value
                ),
            ));
        }
        (true, None) => {
            return Err(err(
                env_loc,
                format!(
                    "`{env}` is protected: add `confirm_env: {env}` to the action, since no one is there to type it"
                ),
                format!(
                    "`{env}` は保護された環境です: 入力する人がいないため、アクションに `confirm_env: {env}` を書いてください"
                ),
            ));
        }
        (true, Some(_)) => Some(env.clone()),
        (false, _) => None,
    };
    // In a protected environment each destructive step needs its id typed
    // by a person; an unattended run would be refused every time.
    if environment.protected {
        let phases = &runbook.phases;
        let destructive = [&phases.pre, &phases.execute, &phases.post, &phases.exit]
            .into_iter()
            .chain([&runbook.rollback.steps, &runbook.rollback.checks])
            .flatten()
            .find(|step| step.safety == tejun_runbook::model::Safety::Destructive);
        if let Some(step) = destructive {
            return Err(err(
                env_loc,
                format!(
                    "runbook {} has the destructive step `{}`, which needs a person in the protected `{env}`: it cannot run unattended",
                    path.display(),
                    step.id
                ),
                format!(
                    "手順書 {} には破壊的ステップ `{}` があり、保護された `{env}` では人の確認が必要なため無人では実行できません",
                    path.display(),
                    step.id
                ),
            ));
        }
    }
    let timeout = match spec.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) => {
            use tejun_detect::model::RunbookTimeout;
            let parsed = match &t.value {
                RunbookTimeout::Seconds(s) => Some(Duration::from_secs(*s)),
                RunbookTimeout::Text(text) => tejun_runbook::duration::parse_duration(text),
            };
            match parsed {
                Some(d) if d >= Duration::from_secs(1) && d <= MAX_TIMEOUT => d,
                _ => {
                    return Err(err(
                        &t.referenced,
                        "timeout must be 1s..24h (e.g. 600, 10m, 1h)".into(),
                        "timeout は 1 秒〜24 時間で指定してください (例: 600, 10m, 1h)".into(),
                    ));
                }
            }
        }
    };
    let mut params = BTreeMap::new();
    for (name, value) in spec.params {
        let loc = &value.referenced;
        if DETECTION_VARS.contains(&name.as_str())
            || tejun_runbook::plan::BUILTINS.contains(&name.as_str())
        {
            return Err(err(
                loc,
                format!("`{name}` is set by tejun itself and cannot be a param"),
                format!("`{name}` は tejun が設定するため params には書けません"),
            ));
        }
        if !runbook.vars.contains_key(name) {
            return Err(err(
                loc,
                format!("runbook {} declares no variable `{name}`", path.display()),
                format!(
                    "手順書 {} に変数 `{name}` は宣言されていません",
                    path.display()
                ),
            ));
        }
        params.insert(name.clone(), value.value.clone());
    }
    let declared: Vec<String> = DETECTION_VARS
        .iter()
        .filter(|v| runbook.vars.contains_key(**v))
        .map(|v| v.to_string())
        .collect();
    for (name, def) in &runbook.vars {
        if def.value == VarValue::Required && !params.contains_key(name) && !declared.contains(name)
        {
            return Err(err(
                path_loc,
                format!(
                    "runbook {} requires variable `{name}`: give it under params",
                    path.display()
                ),
                format!(
                    "手順書 {} は変数 `{name}` を必要とします: params に書いてください",
                    path.display()
                ),
            ));
        }
    }
    Ok(RunbookAction {
        path,
        env,
        confirm_env,
        timeout_s: timeout.as_secs(),
        params,
        declared,
        inventory,
    })
}

/// The nearest `tejun.yaml` in the runbook's directory or above, as `tejun
/// run` looks for it.
fn beside(runbook: &Path) -> Option<PathBuf> {
    runbook
        .parent()?
        .ancestors()
        .map(|d| d.join("tejun.yaml"))
        .find(|c| c.is_file())
}

/// How to start `tejun run`: this binary, and the journal the run writes to
/// (the watcher's own, so the run is on the same record).
#[derive(Debug, Clone)]
pub struct Launcher {
    pub exe: PathBuf,
    pub db: PathBuf,
}

/// One run to start for one detection.
#[derive(Debug, Clone)]
pub struct Launch {
    pub detection: String,
    pub rule: String,
    pub offender: String,
    pub count: u32,
    pub incident: Option<String>,
    pub refs: Vec<String>,
    pub action: RunbookAction,
}

/// A run's end, journaled (`runbook.finished`) before it is sent back.
#[derive(Debug, Clone)]
pub struct Finished {
    pub detection: String,
    pub event: RunbookFinished,
    /// False when the watcher stopped it on its way out: the action stays
    /// pending and the next start runs it again.
    pub completed: bool,
}

impl Launcher {
    /// `tejun --db DB --inventory INV run PATH --env ENV --yes --json ...`.
    pub fn command(&self, launch: &Launch) -> Command {
        let action = &launch.action;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--db")
            .arg(&self.db)
            .arg("--inventory")
            .arg(&action.inventory)
            .arg("run")
            .arg(&action.path)
            .args(["--env", &action.env, "--yes", "--json"]);
        if let Some(confirm) = &action.confirm_env {
            cmd.args(["--confirm-env", confirm]);
        }
        if let Some(incident) = &launch.incident {
            cmd.args(["--incident", incident]);
        }
        let count = launch.count.to_string();
        for name in &action.declared {
            let value = match name.as_str() {
                "offender" => launch.offender.as_str(),
                "rule" => launch.rule.as_str(),
                "count" => count.as_str(),
                _ => launch.detection.as_str(),
            };
            cmd.arg("--var").arg(format!("{name}={value}"));
        }
        for (name, value) in &action.params {
            cmd.arg("--var").arg(format!("{name}={value}"));
        }
        cmd.env_remove("TEJUN_CRASH_AT")
            .env_remove("TEJUN_DB")
            .env_remove("TEJUN_INVENTORY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a timeout stops the run and every
            // command it started, and a Ctrl-C at the watcher's terminal
            // reaches the watcher only.
            .process_group(0);
        cmd
    }

    /// Starts the run on its own thread; the result is journaled, then sent
    /// to `done`. `stop` (the watcher stopping) interrupts it.
    pub fn spawn(
        &self,
        launch: Launch,
        journal: Arc<Journal>,
        stop: Arc<AtomicBool>,
        done: Sender<Finished>,
    ) -> std::io::Result<JoinHandle<()>> {
        let launcher = self.clone();
        std::thread::Builder::new()
            .name("tejun-runbook".into())
            .spawn(move || {
                let (event, completed) = launcher.run(&launch, &stop);
                let mut refs = launch.refs.clone();
                if let Some(run_id) = &event.run_id {
                    refs.push(format!("run/{run_id}"));
                }
                if let Ok(payload) = serde_json::to_value(&event) {
                    let _ = journal.append(NewEvent {
                        stream: &detect_stream(&launch.rule),
                        refs: &refs,
                        kind: RUNBOOK_FINISHED,
                        actor: ACTOR,
                        payload: &payload,
                        ts: None,
                    });
                }
                let _ = done.send(Finished {
                    detection: launch.detection.clone(),
                    event,
                    completed,
                });
            })
    }

    fn run(&self, launch: &Launch, stop: &AtomicBool) -> (RunbookFinished, bool) {
        let started = Instant::now();
        let mut event = RunbookFinished {
            detection: launch.detection.clone(),
            rule: launch.rule.clone(),
            offender: launch.offender.clone(),
            runbook: launch.action.path.display().to_string(),
            env: launch.action.env.clone(),
            run_id: None,
            state: "not_started".into(),
            exit_code: None,
            duration_ms: 0,
            error: None,
        };
        let mut child = match self.command(launch).spawn() {
            Ok(child) => child,
            Err(e) => {
                event.error = Some(format!("cannot start {}: {e}", self.exe.display()));
                return (event, true);
            }
        };
        let (stdout_tx, stdout_rx) = channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                let _ = stdout_tx.send(read_events(out));
            });
        }
        let (stderr_tx, stderr_rx) = channel();
        if let Some(mut err) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = err.read_to_end(&mut text);
                let _ = stderr_tx.send(tail(&text));
            });
        }
        let deadline = started + Duration::from_secs(launch.action.timeout_s);
        let mut ended_by: Option<&str> = None;
        let status = loop {
            match child.wait_timeout(Duration::from_millis(100)) {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(_) => break None,
            }
            if ended_by.is_none() {
                if stop.load(Ordering::Relaxed) {
                    ended_by = Some("interrupted");
                } else if Instant::now() >= deadline {
                    ended_by = Some("timed_out");
                }
                if ended_by.is_some() {
                    break terminate(&mut child);
                }
            }
        };
        // A step that left a daemon holding the pipes must not hold us.
        let parsed = stdout_rx
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default();
        let stderr = stderr_rx
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default();
        event.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        event.run_id = parsed.run_id;
        event.exit_code = status.and_then(|s| s.code());
        event.state = match (ended_by, parsed.state) {
            (Some(how), _) => how.to_string(),
            (None, Some(state)) => state,
            (None, None) if event.exit_code == Some(2) => "refused".into(),
            (None, None) => "failed".into(),
        };
        if event.state != "succeeded" && !stderr.trim().is_empty() {
            event.error = Some(stderr);
        }
        let completed = ended_by != Some("interrupted");
        (event, completed)
    }
}

/// SIGTERM to the run's process group (tejun run aborts between steps and
/// rolls back), SIGKILL after [`GRACE`].
fn terminate(child: &mut Child) -> Option<std::process::ExitStatus> {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = killpg(group, Signal::SIGTERM);
    if let Ok(Some(status)) = child.wait_timeout(GRACE) {
        return Some(status);
    }
    let _ = killpg(group, Signal::SIGKILL);
    child.wait().ok()
}

/// What the run's `--json` lines say about it.
#[derive(Debug, Default)]
struct Parsed {
    run_id: Option<String>,
    state: Option<String>,
}

/// Reads `tejun run --json` (one `{kind, payload}` per line) to its end.
fn read_events(out: impl Read) -> Parsed {
    let mut parsed = Parsed::default();
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let payload = &value["payload"];
        if let Some(id) = payload["run_id"].as_str()
            && parsed.run_id.is_none()
        {
            parsed.run_id = Some(id.to_string());
        }
        match value["kind"].as_str() {
            Some("run.ended") => {
                parsed.state = payload["outcome"].as_str().map(|o| o.replace('-', "_"))
            }
            Some("run.paused") => parsed.state = Some("paused".into()),
            Some("run.refused") => parsed.state = Some("refused".into()),
            _ => {}
        }
    }
    parsed
}

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_json_gives_the_id_and_the_end() {
        let out = concat!(
            "{\"kind\":\"run.started\",\"payload\":{\"run_id\":\"r-1\"}}\n",
            "not json\n",
            "{\"kind\":\"step.finished\",\"payload\":{\"run_id\":\"r-1\"}}\n",
            "{\"kind\":\"run.ended\",\"payload\":{\"run_id\":\"r-1\",\"outcome\":\"rolled-back\"}}\n",
        );
        let parsed = read_events(out.as_bytes());
        assert_eq!(parsed.run_id.as_deref(), Some("r-1"));
        assert_eq!(parsed.state.as_deref(), Some("rolled_back"));
    }

    #[test]
    fn stderr_keeps_its_tail() {
        let long = "x".repeat(5000) + "END";
        let t = tail(long.as_bytes());
        assert!(t.len() <= STDERR_TAIL && t.ends_with("END"));
    }
}
