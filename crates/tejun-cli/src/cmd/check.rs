//! `tejun check FILE`: validate a runbook, an inventory or a watch config
//! without running anything.
//!
//! Every problem is printed as `file:line:col: error: message` with the
//! source line underlined, in the operator's language, and the exit code is
//! 2. Which parser applies is decided by the file's shape, so an operator
//! who edits `tejun.yaml` validates it with the same command as a runbook;
//! the output says which kind was checked. When an inventory is found the
//! runbook's environments and literal paths are checked against it too, and
//! an invalid inventory is reported against its own file. The loading
//! helpers here are shared with `tejun plan`.

use std::path::{Path, PathBuf};
use tejun_runbook::include::{FileIncludes, IncludedFile};

use serde::Serialize;
use tejun_locale::{Lang, Localize};
use tejun_runbook::inventory::looks_like_inventory;
use tejun_runbook::model::{Runbook, Span};
use tejun_runbook::plan::{ResolvedVars, RunContext, plan, redact, resolve_vars_known};
use tejun_runbook::{
    Diagnostic, Diagnostics, ErrorKind, Inventory, check_against_inventory, parse_inventory,
    parse_runbook_with,
};

use tejun_engine::Refusal;

use crate::context::{Context, Exit};
use crate::output::{outln, print_json};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun check examples/quickstart.yaml
  tejun check tejun.yaml                 # an inventory, recognised by its shape
  tejun check watch.yaml                 # a watch config, recognised by `sources:`
  tejun check --inventory envs/prod.yaml # an inventory, said explicitly
  tejun check runbook.yaml --json
  tejun check runbook.yaml --env staging --var conf_dir=/etc/nginx
  tejun --lang ja check runbook.yaml

A file with a top-level `environments:` (or `incidents:`) and no runbook keys
(name, env, phases) is checked as an inventory; one with a top-level
`sources:` as a watch config (loaded as `tejun watch` would, rules and
runbook actions included); anything else as a runbook,
against the inventory found (--inventory, else tejun.yaml here or in a parent).
A runbook goes through the same environment guard as `plan` and `run`: for
--env ENV, or for every environment it declares when --env is not given.
Without FILE the inventory itself is checked.

Exit status: 0 valid, 2 invalid or unreadable.")]
pub struct Args {
    /// The runbook, inventory or watch config to validate (default: the
    /// inventory).
    pub file: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Check for this environment only (default: every environment the
    /// runbook declares).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Set a variable (repeatable): checked against its `type`, and used
    /// for the guard's reading of commands; unset required variables read
    /// as empty.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::plan::parse_var)]
    pub vars: Vec<(String, String)>,
}

/// A source file read for parsing, with the name used in messages.
pub struct Source {
    pub name: String,
    pub text: String,
    /// Where the file stops being UTF-8; `text` is then a lossy decoding.
    pub not_utf8: Option<Diagnostics>,
}

impl Source {
    pub fn runbook(&self) -> Result<tejun_runbook::model::Runbook, Diagnostics> {
        match &self.not_utf8 {
            Some(diags) => Err(diags.clone()),
            None => parse_runbook_with(&self.text, &self.name, &FileIncludes),
        }
    }

    /// The runbook as far as it could be read, and every problem found:
    /// `check` judges even a runbook with errors against the inventory, so
    /// independent mistakes show up in one round.
    pub fn runbook_with_problems(&self) -> (Option<Runbook>, Diagnostics) {
        match &self.not_utf8 {
            Some(diags) => (None, diags.clone()),
            None => {
                let read = tejun_runbook::read_runbook(&self.text, &self.name, &FileIncludes);
                (read.runbook, read.diagnostics)
            }
        }
    }

    /// The files this runbook's `include:` items bring in, for showing
    /// diagnostics that point into them.
    fn included(&self) -> Vec<IncludedFile> {
        tejun_runbook::read_runbook(&self.text, &self.name, &FileIncludes).included
    }

    pub fn inventory(&self) -> Result<Inventory, Diagnostics> {
        match &self.not_utf8 {
            Some(diags) => Err(diags.clone()),
            None => parse_inventory(&self.text, &self.name),
        }
    }
}

/// Why a runbook could not be used, already explained to the operator.
pub struct Reported;

/// One diagnostic in `--json` output, in both languages.
#[derive(Serialize)]
pub struct JsonDiagnostic {
    /// Stable error code, e.g. `undefined-variable`.
    pub code: &'static str,
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub message_en: String,
    pub message_ja: String,
    pub help: Option<String>,
}

impl JsonDiagnostic {
    pub fn list(diags: &Diagnostics, lang: Lang) -> Vec<JsonDiagnostic> {
        diags
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.kind.code(),
                file: d.file.clone(),
                line: d.span.line,
                col: d.span.col,
                message: d.kind.message(lang),
                message_en: d.kind.message(Lang::En),
                message_ja: d.kind.message(Lang::Ja),
                help: d.kind.help(lang),
            })
            .collect()
    }
}

/// What `tejun check` validated, said in its output and `--json`.
#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    Runbook,
    Inventory,
    Watch,
}

#[derive(Serialize)]
struct Report {
    file: String,
    kind: Kind,
    valid: bool,
    /// For a runbook: the inventory it was checked against, if any.
    inventory: Option<String>,
    /// For an inventory: the environments it defines, in file order.
    #[serde(skip_serializing_if = "Option::is_none")]
    environments: Option<Vec<String>>,
    /// Every problem, each naming the file it is in (the runbook's or the
    /// inventory's).
    errors: Vec<JsonDiagnostic>,
}

pub fn read_source(path: &Path, ctx: &Context) -> Result<Source, Reported> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok(match tejun_runbook::decode_source(bytes, &name) {
            Ok(text) => Source {
                name,
                text,
                not_utf8: None,
            },
            Err((text, diags)) => Source {
                name,
                text,
                not_utf8: Some(diags),
            },
        }),
        Err(e) => {
            ctx.error(
                &format!("cannot read {name}: {e}"),
                &format!("{name} を読み込めません: {e}"),
            );
            Err(Reported)
        }
    }
}

/// Prints diagnostics to stderr, coloured when stderr supports it.
pub fn print_diagnostics(diags: &Diagnostics, source: &Source, ctx: &Context) {
    let included = if diags.iter().any(|d| d.file != source.name) {
        source.included()
    } else {
        Vec::new()
    };
    let text = diags.render_with_included(&source.text, &included, ctx.lang, true);
    anstream::eprint!("{text}");
}

/// What was found where the inventory should be.
pub enum InventoryLoad {
    /// No `--inventory` and no `tejun.yaml` in this directory or a parent.
    Missing,
    Found(Box<Inventory>, Source),
    /// It does not parse; the diagnostics point into its source.
    Invalid(Diagnostics, Source),
    /// It could not be read (already reported).
    Unreadable,
}

pub fn load_inventory(ctx: &Context, runbook: &Path) -> InventoryLoad {
    let Some(path) = ctx.inventory_path_for(runbook) else {
        return InventoryLoad::Missing;
    };
    let Ok(source) = read_source(&path, ctx) else {
        return InventoryLoad::Unreadable;
    };
    match source.inventory() {
        Ok(inv) => InventoryLoad::Found(Box::new(inv), source),
        Err(diags) => InventoryLoad::Invalid(diags, source),
    }
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let Some(file) = args.file else {
        // `tejun check --inventory PATH`, or `tejun check` beside a tejun.yaml.
        let Some(path) = ctx.inventory_path() else {
            ctx.error(
                "nothing to check: give a runbook or inventory FILE, or --inventory PATH (no tejun.yaml in this directory or a parent)",
                "検査する対象がありません: 手順書かインベントリのファイル、または --inventory PATH を指定してください (このディレクトリにも親にも tejun.yaml がありません)",
            );
            return Exit::BadInput;
        };
        let Ok(source) = read_source(&path, ctx) else {
            return Exit::BadInput;
        };
        return check_inventory(&source, args.json, ctx);
    };
    let Ok(source) = read_source(&file, ctx) else {
        return Exit::BadInput;
    };
    if looks_like_inventory(&source.text) {
        check_inventory(&source, args.json, ctx)
    } else if tejun_watch::config::looks_like_watch_config(&source.text) {
        check_watch_config(&file, args.json, ctx)
    } else {
        let guard = GuardArgs {
            file: &file,
            env: args.env.as_deref(),
            vars: &args.vars,
        };
        check_runbook(&source, &guard, args.json, ctx)
    }
}

/// Validates an inventory file on its own, the way `tejun run` will read it.
fn check_inventory(source: &Source, json: bool, ctx: &Context) -> Exit {
    let parsed = source.inventory();
    let diags = parsed.as_ref().err().cloned().unwrap_or_default();
    let valid = diags.is_empty();
    if json {
        print_json(&Report {
            file: source.name.clone(),
            kind: Kind::Inventory,
            valid,
            inventory: None,
            environments: parsed
                .as_ref()
                .ok()
                .map(|inv| inv.environments.keys().cloned().collect()),
            errors: JsonDiagnostic::list(&diags, ctx.lang),
        });
    } else {
        match &parsed {
            Ok(inventory) => print_valid_inventory(source, inventory, ctx),
            Err(diags) => print_failed(diags, source, Kind::Inventory, ctx),
        }
    }
    if valid { Exit::Ok } else { Exit::BadInput }
}

/// `--json` for a watch config: its sources, or why `tejun watch` would
/// refuse it.
#[derive(Serialize)]
struct WatchReport {
    file: String,
    kind: Kind,
    valid: bool,
    sources: Vec<String>,
    errors: Vec<WatchError>,
}

#[derive(Serialize)]
struct WatchError {
    message: String,
    message_en: String,
    message_ja: String,
}

/// Loads a watch config exactly as `tejun watch` does before it follows a
/// line: the config, every filter, jail and metric rule, and the runbooks
/// its actions name.
fn check_watch_config(file: &Path, json: bool, ctx: &Context) -> Exit {
    let loaded = super::watch::load(file, ctx);
    let sources: Vec<String> = loaded.as_ref().map_or_else(
        |_| Vec::new(),
        |l| l.config.sources.iter().map(|s| s.name.clone()).collect(),
    );
    if json {
        print_json(&WatchReport {
            file: file.display().to_string(),
            kind: Kind::Watch,
            valid: loaded.is_ok(),
            sources,
            errors: loaded
                .as_ref()
                .err()
                .map(|e| WatchError {
                    message: ctx.lang.pick(&e.en, &e.ja).to_string(),
                    message_en: e.en.clone(),
                    message_ja: e.ja.clone(),
                })
                .into_iter()
                .collect(),
        });
    } else {
        match &loaded {
            Ok(_) => {
                let count = sources.len();
                let names = sources.join(", ");
                let green = anstyle::AnsiColor::Green.on_default().bold();
                outln!(
                    "{green}{}{green:#} {}: {}",
                    ctx.lang.pick("ok", "OK"),
                    file.display(),
                    ctx.lang.pick(
                        &format!("valid watch config ({count} sources: {names})"),
                        &format!("watch 設定として問題なし (ソース {count} 件: {names})"),
                    )
                );
            }
            Err(e) => {
                ctx.error(&e.en, &e.ja);
                let name = file.display().to_string();
                anstream::eprintln!("{}", failure_summary(Kind::Watch, &name, 1, ctx.lang));
            }
        }
    }
    if loaded.is_ok() {
        Exit::Ok
    } else {
        Exit::BadInput
    }
}

/// Validates a runbook, and against the inventory when one is found. An
/// invalid inventory is reported against its own file, beside (not
/// instead of) the runbook's own problems.
fn check_runbook(source: &Source, guard: &GuardArgs<'_>, json: bool, ctx: &Context) -> Exit {
    let inventory = load_inventory(ctx, Path::new(&source.name));
    if matches!(inventory, InventoryLoad::Unreadable) {
        return Exit::BadInput;
    }
    let (parsed, mut own) = source.runbook_with_problems();
    if let (Some(runbook), InventoryLoad::Found(inv, _)) = (&parsed, &inventory) {
        if let Err(bad) = check_against_inventory(runbook, inv, &source.text, &source.name) {
            own.0.extend(bad.0);
        }
        own.0
            .extend(guard_diagnostics(runbook, inv, guard, &source.name).0);
    }
    if let Some(runbook) = &parsed
        && !guard.vars.is_empty()
        && let Err(bad) = tejun_runbook::check_overrides(runbook, guard.vars, &source.name)
    {
        own.0.extend(bad.0);
    }
    own.0.sort_by_key(|d| (d.span.line, d.span.col));
    own.0.dedup_by(|a, b| a.span == b.span && a.kind == b.kind);
    let (inv_name, inv_diags) = match &inventory {
        InventoryLoad::Found(_, s) => (Some(s), None),
        InventoryLoad::Invalid(diags, s) => (Some(s), Some(diags)),
        InventoryLoad::Missing | InventoryLoad::Unreadable => (None, None),
    };
    let valid = own.is_empty() && inv_diags.is_none();
    if json {
        let mut errors = JsonDiagnostic::list(&own, ctx.lang);
        if let Some(diags) = inv_diags {
            errors.extend(JsonDiagnostic::list(diags, ctx.lang));
        }
        print_json(&Report {
            file: source.name.clone(),
            kind: Kind::Runbook,
            valid,
            inventory: inv_name.map(|s| s.name.clone()),
            environments: None,
            errors,
        });
    } else if valid {
        print_valid(
            source,
            parsed.as_ref(),
            inv_name.map(|s| s.name.as_str()),
            ctx,
        );
    } else {
        if !own.is_empty() {
            print_failed(&own, source, Kind::Runbook, ctx);
        }
        if let (Some(diags), Some(inv_source)) = (inv_diags, inv_name) {
            print_failed(diags, inv_source, Kind::Inventory, ctx);
        }
    }
    if valid { Exit::Ok } else { Exit::BadInput }
}

/// The last line of a failed check: how many errors, in which kind of file.
fn failure_summary(kind: Kind, name: &str, count: usize, lang: Lang) -> String {
    match (kind, lang) {
        (Kind::Runbook, Lang::En) => {
            format!("{name}: {count} error(s) in the runbook; nothing was run")
        }
        (Kind::Runbook, Lang::Ja) => {
            format!("{name}: 手順書にエラー {count} 件 (何も実行していません)")
        }
        (Kind::Inventory, Lang::En) => {
            format!("{name}: {count} error(s) in the inventory; nothing was run")
        }
        (Kind::Inventory, Lang::Ja) => {
            format!("{name}: インベントリにエラー {count} 件 (何も実行していません)")
        }
        (Kind::Watch, Lang::En) => {
            format!("{name}: {count} error(s) in the watch config; nothing was run")
        }
        (Kind::Watch, Lang::Ja) => {
            format!("{name}: watch 設定にエラー {count} 件 (何も実行していません)")
        }
    }
}

/// Every diagnostic against the file it belongs to, then one summary line
/// saying which kind of file it is.
fn print_failed(diags: &Diagnostics, source: &Source, kind: Kind, ctx: &Context) {
    print_diagnostics(diags, source, ctx);
    anstream::eprintln!(
        "{}",
        failure_summary(kind, &source.name, diags.len(), ctx.lang)
    );
}

fn print_valid_inventory(source: &Source, inventory: &Inventory, ctx: &Context) {
    let lang = ctx.lang;
    let names: Vec<&str> = inventory.environments.keys().map(String::as_str).collect();
    let protected: Vec<&str> = inventory
        .environments
        .values()
        .filter(|env| env.protected)
        .map(|env| env.name.as_str())
        .collect();
    let protected = if protected.is_empty() {
        "-".to_string()
    } else {
        protected.join(", ")
    };
    let count = names.len();
    let names = names.join(", ");
    let detail = match (count, lang) {
        (0, _) => lang
            .pick(
                "valid inventory, with no environments: every run is refused",
                "インベントリとして問題なし。環境が無いため、すべての実行が拒否されます",
            )
            .to_string(),
        (_, Lang::En) => {
            format!("valid inventory ({count} environments: {names}; protected: {protected})")
        }
        (_, Lang::Ja) => {
            format!("インベントリとして問題なし (環境 {count} 件: {names}、保護: {protected})")
        }
    };
    let green = anstyle::AnsiColor::Green.on_default().bold();
    outln!(
        "{green}{}{green:#} {}: {detail}",
        lang.pick("ok", "OK"),
        source.name
    );
}

fn print_valid(source: &Source, runbook: Option<&Runbook>, inventory: Option<&str>, ctx: &Context) {
    let lang = ctx.lang;
    let steps = runbook.map_or(0, |rb| {
        let p = &rb.phases;
        p.pre.len()
            + p.execute.len()
            + p.post.len()
            + p.exit.len()
            + rb.rollback.steps.len()
            + rb.rollback.checks.len()
    });
    let envs = runbook
        .map(|rb| rb.environments.join(", "))
        .unwrap_or_default();
    let green = anstyle::AnsiColor::Green.on_default().bold();
    outln!(
        "{green}{}{green:#} {}: {}",
        lang.pick("ok", "OK"),
        source.name,
        lang.pick(
            &format!(
                "valid runbook ({steps} {}, env {envs})",
                if steps == 1 { "step" } else { "steps" }
            ),
            &format!("手順書として問題なし (ステップ {steps} 件、環境 {envs})"),
        )
    );
    match inventory {
        Some(inv) => outln!(
            "{}",
            lang.pick(
                &format!("environments and paths checked against {inv}"),
                &format!("環境とパスを {inv} と照合しました"),
            )
        ),
        None => outln!(
            "{}",
            lang.pick(
                "note: no inventory (tejun.yaml) found; environments were not checked",
                "注意: インベントリ (tejun.yaml) が見つからないため、環境は照合していません",
            )
        ),
    }
}

/// What `check` needs to run the environment guard as `run` would.
struct GuardArgs<'a> {
    file: &'a Path,
    env: Option<&'a str>,
    vars: &'a [(String, String)],
}

/// The engine's guard (the one `plan` and `run` apply) for `--env`, or for
/// every declared environment the inventory defines, each refusal at the
/// step it is about. Variables take their `--var`, literal or environment
/// value; one that has none reads as empty.
fn guard_diagnostics(
    runbook: &Runbook,
    inventory: &Inventory,
    guard: &GuardArgs<'_>,
    file: &str,
) -> Diagnostics {
    let envs: Vec<String> = match guard.env {
        Some(env) => vec![env.to_string()],
        None => runbook
            .environments
            .iter()
            .filter(|e| inventory.environment(e).is_some())
            .cloned()
            .collect(),
    };
    let env_span = runbook
        .environment_spans
        .first()
        .copied()
        .unwrap_or_default();
    // A misspelt environment is reported where it is written; the steps are
    // still judged against the environments that do exist.
    let mut judged = runbook.clone();
    judged
        .environments
        .retain(|e| inventory.environment(e).is_some());
    let mut out = Diagnostics::default();
    for env in envs {
        let vars = check_vars(&judged, &env, guard);
        let planned = plan(&judged, &vars);
        let found =
            tejun_engine::guard::violations(&judged, Some(inventory), &env, &planned, &vars.values);
        // Unknown environments are reported where they are written, above.
        let found = found
            .into_iter()
            .filter(|v| !matches!(v.refusal, Refusal::UnknownEnvironment { .. }));
        for violation in found {
            let span = if violation.span == Span::default() {
                env_span
            } else {
                violation.span
            };
            let kind = ErrorKind::EnvironmentGuard {
                en: redact(&violation.refusal.localize(Lang::En), &vars.secrets),
                ja: redact(&violation.refusal.localize(Lang::Ja), &vars.secrets),
            };
            if !out.0.iter().any(|d| d.span == span && d.kind == kind) {
                out.0.push(Diagnostic {
                    file: violation.file.clone().unwrap_or_else(|| file.to_string()),
                    span,
                    kind,
                });
            }
        }
    }
    out.0.sort_by_key(|d| (d.span.line, d.span.col));
    out
}

/// Variables as a run in `env` would have them, as far as they are known
/// without running: `--var`, the runbook's literal, the environment.
fn check_vars(runbook: &Runbook, env: &str, guard: &GuardArgs<'_>) -> ResolvedVars {
    let context = RunContext {
        env: env.to_string(),
        run_id: "check".to_string(),
        now: jiff::Timestamp::now().to_string(),
        runbook_dir: super::plan::runbook_dir(guard.file),
        overrides: guard.vars.to_vec(),
    };
    resolve_vars_known(runbook, &context, &|name| std::env::var(name).ok())
}
