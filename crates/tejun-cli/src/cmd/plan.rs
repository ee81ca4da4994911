//! `tejun plan FILE --env ENV`: every step as it would run, without running
//! anything.
//!
//! For each step, phase by phase: its number, id, kind, safety label,
//! timeout, the command with variables substituted (secrets shown as
//! `***`), and what happens when it fails. Refuses, with exit 2, an
//! environment the runbook was not written for or one the inventory does
//! not define: a plan for the wrong environment is the first step towards
//! running it there.

use std::path::{Path, PathBuf};

use anstyle::Style;
use serde::Serialize;
use tejun_locale::{Lang, Localize};
use tejun_runbook::duration::format_duration;
use tejun_runbook::model::{PhaseName, Runbook, StepKind};
use tejun_runbook::plan::{FailureOutcome, PlannedStep, RunContext, plan, redact, resolve_vars};
use tejun_runbook::{Environment, Inventory, check_against_inventory};

use super::check::{InventoryLoad, JsonDiagnostic, load_inventory, print_diagnostics, read_source};
use crate::context::{Context, Exit};
use crate::help_ja::ValueError;
use crate::output::{self, outln};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun plan examples/quickstart.yaml --env dev\n  tejun plan change.yaml --env staging --var weight=5 --var ticket=CHG-42\n  tejun plan change.yaml --env staging --json\n\nExit status: 0 planned, 2 invalid runbook, wrong environment or missing variable."
)]
pub struct Args {
    /// The runbook to plan.
    pub file: PathBuf,
    /// The environment to plan for; must be one the runbook is written for
    /// and the inventory defines.
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_var(text: &str) -> Result<(String, String), ValueError> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(ValueError::new(
            format!("expected NAME=VALUE, got `{text}`"),
            format!("NAME=VALUE の形式で指定してください (`{text}` が指定されました)"),
        )),
    }
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let Ok(source) = read_source(&args.file, ctx) else {
        return Exit::BadInput;
    };
    let runbook = match source.runbook() {
        Ok(runbook) => runbook,
        Err(diags) => {
            if args.json {
                print_json_errors(&JsonDiagnostic::list(&diags, ctx.lang));
            } else {
                print_diagnostics(&diags, &source, ctx);
            }
            return Exit::BadInput;
        }
    };
    let Some(inventory) = guard_environment(&runbook, &args.env, &source, ctx) else {
        return Exit::BadInput;
    };
    let Some(environment) = inventory.environment(&args.env).cloned() else {
        return Exit::BadInput;
    };
    let context = RunContext {
        env: args.env.clone(),
        run_id: "plan".to_string(),
        now: jiff::Timestamp::now().to_string(),
        runbook_dir: runbook_dir(&args.file),
        overrides: args.vars.clone(),
    };
    let vars = match resolve_vars(&runbook, &context, &|name| std::env::var(name).ok()) {
        Ok(vars) => vars,
        Err(e) => {
            ctx.error(&e.localize(Lang::En), &e.localize(Lang::Ja));
            return Exit::BadInput;
        }
    };
    let plan = plan(&runbook, &vars);
    let hide = |text: &str| redact(text, &vars.secrets);
    if !rendered_paths_belong(&runbook, &plan, &inventory, &args.env, &vars, ctx, &hide) {
        return Exit::BadInput;
    }
    let journal_dir = ctx.journal_path().parent().map(Path::to_path_buf);
    let kernel = KernelPlan::of(&inventory, &args.env, &plan, &vars, journal_dir);
    if args.json {
        print_json(&plan, &environment, &kernel, &hide);
    } else {
        print_text(&plan, &runbook, &environment, ctx.lang, &hide);
        kernel.print(ctx.lang);
    }
    Exit::Ok
}

/// The runbook must be written for `env`, and the inventory must exist and
/// define it. Fail-closed: without an inventory nothing says what `env` is.
fn guard_environment(
    runbook: &Runbook,
    env: &str,
    source: &super::check::Source,
    ctx: &Context,
) -> Option<Inventory> {
    if !runbook.environments.iter().any(|e| e == env) {
        let written = runbook.environments.join(", ");
        ctx.error(
            &format!("{} is written for {written}, not `{env}`; refusing to plan it for `{env}`", source.name),
            &format!("{} の対象環境は {written} で、`{env}` ではありません。`{env}` 向けの計画は作成しません", source.name),
        );
        return None;
    }
    let (inventory, _) = match load_inventory(ctx, Path::new(&source.name)) {
        InventoryLoad::Found(inv, inv_source) => (*inv, inv_source),
        InventoryLoad::Invalid(diags, inv_source) => {
            print_diagnostics(&diags, &inv_source, ctx);
            return None;
        }
        InventoryLoad::Unreadable => return None,
        InventoryLoad::Missing => {
            ctx.error(
                "no inventory found (tejun.yaml here or in a parent directory, or --inventory); environments are defined there",
                "インベントリが見つかりません (このディレクトリか親の tejun.yaml、または --inventory)。環境はインベントリで定義します",
            );
            return None;
        }
    };
    if let Err(diags) = check_against_inventory(runbook, &inventory, &source.text, &source.name) {
        print_diagnostics(&diags, source, ctx);
        return None;
    }
    Some(inventory)
}

/// The checks `tejun run` makes before its first step, on the rendered
/// plan: paths known only after substitution (`{{conf}}`) and path-like
/// words of commands (`sed -i ... production-site.conf`) pinned to another
/// environment are refused here too, so a plan is never shown for a run
/// that would be refused.
fn rendered_paths_belong(
    runbook: &Runbook,
    plan: &tejun_runbook::plan::Plan,
    inventory: &Inventory,
    env: &str,
    vars: &tejun_runbook::plan::ResolvedVars,
    ctx: &Context,
    hide: &dyn Fn(&str) -> String,
) -> bool {
    match tejun_engine::guard::check(runbook, Some(inventory), env, plan, &vars.values) {
        Ok(()) => true,
        Err(refusal) => {
            ctx.error(
                &hide(&refusal.localize(Lang::En)),
                &hide(&refusal.localize(Lang::Ja)),
            );
            false
        }
    }
}

pub(super) fn runbook_dir(file: &Path) -> String {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

fn env_style(color: &str) -> Style {
    crate::style::env_color(color).on_default().bold()
}

fn phase_title(phase: PhaseName, lang: Lang) -> &'static str {
    match phase {
        PhaseName::Pre => lang.pick("pre: before the change", "pre: 事前作業"),
        PhaseName::Execute => lang.pick("execute: the change", "execute: 作業実施"),
        PhaseName::Post => lang.pick("post: verify", "post: 事後確認"),
        PhaseName::Exit => lang.pick("exit: leave cleanly", "exit: 終了作業"),
        PhaseName::Rollback => lang.pick(
            "rollback: only when execute or post fails, or on abort",
            "rollback: execute/post の失敗時または中断時のみ",
        ),
    }
}

fn print_text(
    plan: &tejun_runbook::plan::Plan,
    runbook: &Runbook,
    env: &Environment,
    lang: Lang,
    hide: &dyn Fn(&str) -> String,
) {
    let bold = Style::new().bold();
    let env_color = env_style(&env.color);
    let protected = if env.protected {
        lang.pick(" [protected]", " [保護対象]")
    } else {
        ""
    };
    let total = plan.main.len() + plan.rollback.len();
    outln!(
        "{bold}{}{bold:#} {}  {}: {env_color}{}{protected}{env_color:#}  ({})",
        lang.pick("Plan:", "計画:"),
        plan.runbook_name,
        lang.pick("env", "環境"),
        plan.env,
        lang.pick(
            &format!(
                "{total} {}, nothing run",
                if total == 1 { "step" } else { "steps" }
            ),
            &format!("{total} ステップ、未実行")
        ),
    );
    if let Some(description) = &runbook.description {
        outln!("{}", description.trim());
    }
    let mut current = None;
    for step in plan.main.iter().chain(&plan.rollback) {
        if current != Some(step.phase) {
            current = Some(step.phase);
            outln!("\n{bold}== {} =={bold:#}", phase_title(step.phase, lang));
        }
        print_step(step, lang, hide, !plan.rollback.is_empty());
    }
    if plan.main.is_empty() && plan.rollback.is_empty() {
        outln!("{}", lang.pick("(no steps)", "(ステップなし)"));
    }
}

fn print_step(step: &PlannedStep, lang: Lang, hide: &dyn Fn(&str) -> String, has_rollback: bool) {
    let s = &step.step;
    let style = crate::style::safety(s.safety);
    let dim = Style::new().dimmed();
    let name = s
        .name
        .as_deref()
        .map(|n| format!("  {n}"))
        .unwrap_or_default();
    // A person answering a confirm is not timed out.
    let timeout = match s.kind {
        StepKind::Confirm(_) => String::new(),
        _ => format!(
            "  {dim}{} {}{dim:#}",
            lang.pick("timeout", "タイムアウト"),
            format_duration(s.timeout)
        ),
    };
    outln!(
        "{:>3}. {}  {}  {style}{}{style:#}{timeout}{name}",
        step.ordinal,
        s.id,
        s.kind.name(),
        s.safety.label(lang),
    );
    if let Some(command) = &step.display_command {
        // Continuation lines of a multi-line command stay under the `$`.
        outln!("     $ {}", command.trim_end().replace('\n', "\n       "));
    }
    if let Some(prompt) = &step.prompt {
        outln!(
            "     ? {}",
            hide(prompt).trim_end().replace('\n', "\n       ")
        );
    }
    if let StepKind::Restore(r) = &s.kind {
        outln!("     {} {}", lang.pick("from backup", "復元元"), r.from);
    }
    if !step.paths.is_empty() {
        let paths: Vec<String> = step.paths.iter().map(|p| hide(p)).collect();
        outln!("     {} {}", lang.pick("paths:", "パス:"), paths.join(", "));
    }
    let outcome = FailureOutcome::of(step.phase, s);
    // No rollback plan: the engine ends the run failed instead.
    let on_failure = if outcome == FailureOutcome::Rollback && !has_rollback {
        lang.pick(
            "run fails (exit 1); no rollback plan in this runbook; exit phase runs",
            "実行は失敗 (終了コード 1)。この手順書にロールバック計画はありません。終了フェーズは実行します",
        )
        .to_string()
    } else {
        outcome.localize(lang)
    };
    outln!(
        "     {dim}{} {on_failure}{dim:#}",
        lang.pick("on failure:", "失敗時:"),
    );
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    runbook: &'a str,
    env: &'a str,
    protected: bool,
    steps: Vec<JsonStep>,
    /// Paths of other environments a run would mount read-only.
    kernel_enforced: Vec<String>,
    /// Why the kernel layer would not apply here (`not-root`), if so.
    kernel_unavailable: Option<&'static str>,
    /// Pins only the text check covers, each with why.
    text_check_only: Vec<tejun_engine::guard::kernel::TextOnly>,
}

#[derive(Serialize)]
struct JsonStep {
    ordinal: usize,
    phase: &'static str,
    id: String,
    name: Option<String>,
    kind: &'static str,
    safety: &'static str,
    timeout_ms: u128,
    /// The command with secrets masked; the raw command is never printed.
    command: Option<String>,
    prompt: Option<String>,
    paths: Vec<String>,
    on_failure: &'static str,
    on_failure_en: &'static str,
    on_failure_ja: &'static str,
}

fn print_json(
    plan: &tejun_runbook::plan::Plan,
    env: &Environment,
    kernel: &KernelPlan,
    hide: &dyn Fn(&str) -> String,
) {
    let steps = plan
        .main
        .iter()
        .chain(&plan.rollback)
        .map(|step| {
            let outcome = FailureOutcome::of(step.phase, &step.step);
            let (en, ja) = outcome.describe();
            JsonStep {
                ordinal: step.ordinal,
                phase: step.phase.as_str(),
                id: step.step.id.clone(),
                name: step.step.name.clone(),
                kind: step.step.kind.name(),
                safety: step.step.safety.as_str(),
                timeout_ms: step.step.timeout.as_millis(),
                command: step.display_command.clone(),
                prompt: step.prompt.as_deref().map(hide),
                paths: step.paths.iter().map(|p| hide(p)).collect(),
                on_failure: outcome_code(outcome),
                on_failure_en: en,
                on_failure_ja: ja,
            }
        })
        .collect();
    let json = JsonPlan {
        runbook: &plan.runbook_name,
        env: &plan.env,
        protected: env.protected,
        steps,
        kernel_enforced: kernel
            .locked
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        kernel_unavailable: kernel.unavailable,
        text_check_only: kernel.text_only.clone(),
    };
    output::print_json(&json);
}

fn outcome_code(outcome: FailureOutcome) -> &'static str {
    match outcome {
        FailureOutcome::StopBeforeChange => "stop",
        FailureOutcome::Rollback => "rollback",
        FailureOutcome::MarkFailed => "mark-failed",
        FailureOutcome::RollbackFailed => "rollback-failed",
        FailureOutcome::Continue => "continue",
    }
}

fn print_json_errors(errors: &[JsonDiagnostic]) {
    let json = serde_json::json!({ "valid": false, "errors": errors });
    output::print_json(&json);
}

/// What the kernel layer would lock for a run of this plan started here
/// and now (`tejun_engine::guard::kernel`).
struct KernelPlan {
    locked: Vec<PathBuf>,
    text_only: Vec<tejun_engine::guard::kernel::TextOnly>,
    unavailable: Option<&'static str>,
}

impl KernelPlan {
    fn of(
        inventory: &Inventory,
        env: &str,
        plan: &tejun_runbook::plan::Plan,
        vars: &tejun_runbook::plan::ResolvedVars,
        journal_dir: Option<PathBuf>,
    ) -> KernelPlan {
        // The run keeps its journal's directory writable; so does the plan.
        let keep: Vec<PathBuf> = journal_dir.into_iter().collect();
        let (locked, text_only) =
            tejun_engine::guard::kernel::targets(inventory, env, plan, &vars.values, &keep);
        KernelPlan {
            locked,
            text_only,
            unavailable: tejun_engine::guard::kernel::unavailable(),
        }
    }

    fn print(&self, lang: Lang) {
        if self.locked.is_empty() && self.text_only.is_empty() {
            return;
        }
        let dim = Style::new().dimmed();
        outln!();
        if !self.locked.is_empty() {
            let paths: Vec<String> = self
                .locked
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            let paths = paths.join(", ");
            match self.unavailable {
                None => outln!(
                    "{}",
                    lang.pick(
                        &format!("kernel-enforced (read-only during the run): {paths}"),
                        &format!("カーネルで保護 (実行中は読み取り専用): {paths}"),
                    )
                ),
                Some(reason) => outln!(
                    "{}",
                    lang.pick(
                        &format!("not kernel-enforced here ({reason}), text check only: {paths}"),
                        &format!(
                            "ここではカーネルで保護できません ({reason})。テキスト検査のみ: {paths}"
                        ),
                    )
                ),
            }
        }
        for pin in &self.text_only {
            outln!(
                "{dim}{} {}{dim:#}",
                lang.pick("text check only:", "テキスト検査のみ:"),
                pin.describe(lang)
            );
        }
    }
}
