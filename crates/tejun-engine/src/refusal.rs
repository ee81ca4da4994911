//! Why a run (or a resume) was refused before any step ran. Each refusal
//! says what was wrong and what to do, in both languages; the CLI exits 2.

use std::fmt;

use tejun_locale::{Lang, Localize};

/// A name close to a mistyped environment (`stagin` → `staging`).
fn did_you_mean(env: &str, names: &[String]) -> Option<String> {
    tejun_runbook::diagnostics::suggest(env, names.iter().map(String::as_str))
        .filter(|near| near != env)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No inventory file was found; the guard cannot know what is production.
    NoInventory,
    /// The runbook declares no environment at all.
    RunbookWithoutEnvironment,
    /// `--env` is not one the runbook was written for.
    WrongEnvironment {
        env: String,
        written_for: Vec<String>,
    },
    /// `--env` is not defined in the inventory.
    UnknownEnvironment { env: String, known: Vec<String> },
    /// A step touches a path the inventory pins to another environment.
    PathPinned {
        step_id: String,
        path: String,
        pinned_to: String,
        env: String,
    },
    /// A step's command names a host the inventory lists under another
    /// environment.
    HostPinned {
        step_id: String,
        host: String,
        pinned_to: String,
        env: String,
    },
    /// An environment with `enforce: kernel` would be protected by the
    /// text check only (not root, not Linux, or mounting failed).
    KernelGuardUnavailable { protected: String, reason: String },
    /// A protected environment's name was not typed (or `--confirm-env` was
    /// missing or different).
    ProtectedNotConfirmed { env: String, given: Option<String> },
    /// A destructive step in a protected environment was not confirmed.
    DestructiveNotConfirmed { env: String, step_id: String },
    /// Resume: the run does not exist in the journal.
    NoSuchRun { run_id: String },
    /// Resume: the run already ended.
    AlreadyEnded { run_id: String, outcome: String },
    /// Resume: another process still holds the run's lock.
    StillRunning { run_id: String, pid: u32 },
    /// Resume: the runbook file changed since the run started.
    RunbookChanged {
        path: String,
        recorded: String,
        now: String,
    },
    /// Resume: the runbook file cannot be read any more.
    RunbookMissing { path: String, error: String },
    /// Resume: secret variables are never journaled, and these could not
    /// be had again (not given with `--var`, not answered at a prompt).
    /// Each with the environment variable it may come from instead.
    SecretsNeeded { vars: Vec<(String, Option<String>)> },
    /// Resume: a step of unknown state and no way to ask about it.
    UnknownNeedsChoice { step_id: String },
    /// Resume: `rollback` was chosen for an unknown step of the exit phase,
    /// which runs after the outcome and has nothing to roll back to.
    UnknownExitNoRollback { run_id: String, step_id: String },
    /// Rollback: the run was already rolled back.
    AlreadyRolledBack { run_id: String },
    /// Rollback: the runbook has no rollback plan.
    NoRollbackPlan { run_id: String },
    /// Rollback: no step of the run ever started (it waits for approval).
    NothingRan { run_id: String },
    /// Approve/reject: the executor cannot approve their own run.
    OwnApproval { run_id: String, who: String },
    /// Approve/reject: this person already decided on the run.
    AlreadyDecided { run_id: String, who: String },
    /// Approve/reject: the run does not wait for approval.
    NoApprovalPending { run_id: String },
    /// Resume: an approver rejected the run.
    Rejected {
        run_id: String,
        who: String,
        reason: Option<String>,
    },
}

impl Localize for Refusal {
    fn localize(&self, lang: Lang) -> String {
        let l = |en: &str, ja: &str| lang.pick(en, ja).to_string();
        match self {
            Refusal::NoInventory => l(
                "no inventory (tejun.yaml) found in this directory or any parent; the environment guard cannot run without one. Create tejun.yaml (see examples/tejun.yaml and docs/inventory.md) or pass --inventory PATH",
                "インベントリ (tejun.yaml) がこのディレクトリにも親ディレクトリにも見つかりません。環境ガードはインベントリなしでは動作できません。tejun.yaml を作成するか (examples/tejun.yaml と docs/inventory.md を参照)、--inventory PATH を指定してください",
            ),
            Refusal::RunbookWithoutEnvironment => l(
                "the runbook declares no environment (`environments:`); refusing to run it anywhere",
                "手順書に環境 (`environments:`) が宣言されていないため、どの環境でも実行しません",
            ),
            Refusal::WrongEnvironment { env, written_for }
            | Refusal::UnknownEnvironment {
                env,
                known: written_for,
            } if did_you_mean(env, written_for).is_some() => {
                let near = did_you_mean(env, written_for).unwrap_or_default();
                lang.pick(
                    &format!("unknown environment `{env}`; did you mean `{near}`?"),
                    &format!("環境 `{env}` はありません。`{near}` のことですか?"),
                )
                .to_string()
            }
            Refusal::WrongEnvironment { env, written_for } => format!(
                "{} `{env}`; {} {}",
                l(
                    "refusing to run in environment",
                    "実行を拒否しました。指定された環境:"
                ),
                l("this runbook was written for", "この手順書の対象環境:"),
                written_for.join(", ")
            ),
            Refusal::UnknownEnvironment { env, known } => format!(
                "{} `{env}` {} {}",
                l("environment", "環境"),
                l(
                    "is not defined in the inventory; defined:",
                    "はインベントリに定義されていません。定義済み:"
                ),
                if known.is_empty() {
                    "-".to_string()
                } else {
                    known.join(", ")
                }
            ),
            // Whole sentences per language: Japanese word order differs,
            // so stitched fragments read badly.
            Refusal::PathPinned {
                step_id,
                path,
                pinned_to,
                env,
            } => match lang {
                Lang::En => format!(
                    "step `{step_id}` touches `{path}`, which the inventory pins to environment `{pinned_to}` — refusing to run in `{env}`"
                ),
                Lang::Ja => format!(
                    "ステップ `{step_id}` が触れるパス `{path}` は、インベントリで環境 `{pinned_to}` に属しています。環境 `{env}` での実行を拒否しました"
                ),
            },
            Refusal::HostPinned {
                step_id,
                host,
                pinned_to,
                env,
            } => match lang {
                Lang::En => format!(
                    "step `{step_id}` names host `{host}`, which the inventory lists under environment `{pinned_to}` — refusing to run in `{env}`"
                ),
                Lang::Ja => format!(
                    "ステップ `{step_id}` が指すホスト `{host}` は、インベントリで環境 `{pinned_to}` に属しています。環境 `{env}` での実行を拒否しました"
                ),
            },
            Refusal::KernelGuardUnavailable { protected, reason } => match lang {
                Lang::En => format!(
                    "the inventory requires the kernel to lock the paths of environment `{protected}` (`enforce: kernel`), but it cannot here ({reason}); run as root on Linux, or refusing to run"
                ),
                Lang::Ja => format!(
                    "インベントリは環境 `{protected}` のパスをカーネルでロックするよう求めています (`enforce: kernel`) が、ここではできません ({reason})。Linux 上で root として実行してください。実行を拒否しました"
                ),
            },
            Refusal::ProtectedNotConfirmed { env, given } => match given {
                Some(given) => format!(
                    "{} `{env}`, {} `{given}`",
                    l(
                        "protected environment: expected the name",
                        "保護された環境です。入力が必要な名前:"
                    ),
                    l("got", "入力:")
                ),
                None => format!(
                    "`{env}` {}",
                    l(
                        "is a protected environment: type its name when asked, or pass --confirm-env NAME in a non-interactive run",
                        "は保護された環境です。確認時に環境名を入力するか、非対話実行では --confirm-env NAME を指定してください"
                    )
                ),
            },
            Refusal::DestructiveNotConfirmed { env, step_id } => format!(
                "{} `{step_id}` {} `{env}`: {}",
                l("destructive step", "破壊的ステップ"),
                l("in protected environment", "(保護環境"),
                l(
                    "type the step id when asked, or pass --confirm-destructive",
                    "確認時にステップ ID を入力するか、--confirm-destructive を指定してください"
                )
            ),
            Refusal::NoSuchRun { run_id } => format!(
                "{} `{run_id}`",
                l("no such run:", "該当する実行がありません:")
            ),
            Refusal::AlreadyEnded { run_id, outcome } => format!(
                "{} `{run_id}` {} ({outcome})",
                l("run", "実行"),
                l(
                    "has already ended; nothing to resume",
                    "は既に終了しています。再開するものはありません"
                )
            ),
            Refusal::StillRunning { run_id, pid } => format!(
                "{} `{run_id}` {} {pid})",
                l("run", "実行"),
                l(
                    "is still running (its lock is held; started by pid",
                    "はまだ実行中です (ロック保持中, pid"
                )
            ),
            Refusal::RunbookChanged {
                path,
                recorded,
                now,
            } => format!(
                "{} {path} {} ({} {}, {} {}); {}",
                l("the runbook", "手順書"),
                l(
                    "changed since the run started",
                    "は実行開始後に変更されています"
                ),
                l("recorded sha256", "記録された sha256"),
                short(recorded),
                l("now", "現在"),
                short(now),
                l(
                    "refusing to resume: start a new run with the changed runbook",
                    "再開を拒否しました。変更後の手順書で新しく実行してください"
                )
            ),
            Refusal::RunbookMissing { path, error } => format!(
                "{} {path}: {error}",
                l(
                    "cannot read the runbook of this run",
                    "この実行の手順書を読めません"
                )
            ),
            Refusal::SecretsNeeded { vars } => {
                let names: Vec<String> = vars.iter().map(|(n, _)| format!("`{n}`")).collect();
                let flags: Vec<String> = vars
                    .iter()
                    .map(|(n, _)| format!("--var {n}=VALUE"))
                    .collect();
                let envs: Vec<String> = vars
                    .iter()
                    .filter_map(|(n, env)| env.as_ref().map(|e| format!("{e} ({n})")))
                    .collect();
                let mut text = match lang {
                    Lang::En => format!(
                        "refusing to resume: secret variable(s) {} are never stored in the journal and were not given again; nothing was run. Add: {}",
                        names.join(", "),
                        flags.join(" ")
                    ),
                    Lang::Ja => format!(
                        "再開を拒否しました: 秘密変数 {} はジャーナルに保存されず、再指定もされていません。何も実行していません。次を追加してください: {}",
                        names.join(", "),
                        flags.join(" ")
                    ),
                };
                if !envs.is_empty() {
                    text.push_str(&match lang {
                        Lang::En => format!(" (or set {})", envs.join(", ")),
                        Lang::Ja => format!(" (または環境変数 {} を設定)", envs.join(", ")),
                    });
                }
                text
            }
            Refusal::UnknownNeedsChoice { step_id } => format!(
                "{} `{step_id}` {}",
                l("step", "ステップ"),
                l(
                    "started but has no recorded end (unknown); choose with --on-unknown retry|skip|rollback",
                    "は開始されましたが終了が記録されていません (不明)。--on-unknown retry|skip|rollback で選んでください"
                )
            ),
            Refusal::UnknownExitNoRollback { run_id, step_id } => format!(
                "{} `{step_id}` {} `tejun rollback {run_id}`",
                l("exit step", "終了ステップ"),
                l(
                    "has no recorded end; rollback is not a choice in the exit phase: choose retry or skip, and roll the run back with",
                    "の終了が記録されていません。終了フェーズでは rollback を選べません: retry か skip を選び、ロールバックは"
                )
            ),
            Refusal::AlreadyRolledBack { run_id } => format!(
                "{} `{run_id}` {}",
                l("run", "実行"),
                l(
                    "was already rolled back; nothing to roll back",
                    "は既にロールバック済みです。ロールバックするものはありません"
                )
            ),
            Refusal::NoRollbackPlan { run_id } => format!(
                "{} `{run_id}` {}",
                l("the runbook of run", "実行"),
                l(
                    "has no rollback plan; undo the change by hand",
                    "の手順書にはロールバック計画がありません。手動で戻してください"
                )
            ),
            Refusal::NothingRan { run_id } => format!(
                "{} `{run_id}` {}",
                l("run", "実行"),
                l(
                    "never started a step; there is nothing to roll back",
                    "はまだどのステップも開始していません。ロールバックするものはありません"
                )
            ),
            Refusal::OwnApproval { run_id, who } => format!(
                "{who}: {} `{run_id}` {}",
                l("you started run", "実行"),
                l(
                    "yourself; approval must come from someone else (two-person rule)",
                    "を開始したのはあなた自身です。承認は別の人が行う必要があります (二人ルール)"
                )
            ),
            Refusal::AlreadyDecided { run_id, who } => format!(
                "{who} {} `{run_id}`; {}",
                l("already decided on run", "は既に実行"),
                l(
                    "each approval must come from a different person",
                    "について判断済みです。承認はそれぞれ別の人が行う必要があります"
                )
            ),
            Refusal::NoApprovalPending { run_id } => format!(
                "{} `{run_id}` {}",
                l("run", "実行"),
                l("is not waiting for approval", "は承認待ちではありません")
            ),
            Refusal::Rejected {
                run_id,
                who,
                reason,
            } => format!(
                "{} `{run_id}` {} {who}{}",
                l("run", "実行"),
                l("was rejected by", "は却下されました:"),
                reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        }
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.localize(Lang::En))
    }
}
