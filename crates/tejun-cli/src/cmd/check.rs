//! `tejun check FILE`: validate a runbook without running anything.
//!
//! Every problem is printed as `file:line:col: error: message` with the
//! source line underlined, in the operator's language, and the exit code is
//! 2. When an inventory is found the runbook's environments and literal
//! paths are checked against it too. The loading helpers here are shared
//! with `tejun plan`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tejun_locale::Lang;
use tejun_runbook::model::Runbook;
use tejun_runbook::{
    Diagnostics, Inventory, check_against_inventory, parse_inventory, parse_runbook,
};

use crate::context::{Context, Exit};
use crate::output::{outln, print_json};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun check examples/quickstart.yaml\n  tejun check runbook.yaml --json\n  tejun --lang ja check runbook.yaml\n\nExit status: 0 valid, 2 invalid or unreadable."
)]
pub struct Args {
    /// The runbook to validate.
    pub file: PathBuf,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A source file read for parsing, with the name used in messages.
pub struct Source {
    pub name: String,
    pub text: String,
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

#[derive(Serialize)]
struct Report {
    file: String,
    valid: bool,
    inventory: Option<String>,
    errors: Vec<JsonDiagnostic>,
}

pub fn read_source(path: &Path, ctx: &Context) -> Result<Source, Reported> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Source { name, text }),
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
    anstream::eprint!("{}", diags.render(&source.text, ctx.lang, true));
}

/// What was found where the inventory should be.
pub enum InventoryLoad {
    /// No `--inventory` and no `tejun.yaml` in this directory or a parent.
    Missing,
    Found(Inventory, Source),
    /// It does not parse; the diagnostics point into its source.
    Invalid(Diagnostics, Source),
    /// It could not be read (already reported).
    Unreadable,
}

pub fn load_inventory(ctx: &Context) -> InventoryLoad {
    let Some(path) = ctx.inventory_path() else {
        return InventoryLoad::Missing;
    };
    let Ok(source) = read_source(&path, ctx) else {
        return InventoryLoad::Unreadable;
    };
    match parse_inventory(&source.text, &source.name) {
        Ok(inv) => InventoryLoad::Found(inv, source),
        Err(diags) => InventoryLoad::Invalid(diags, source),
    }
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let Ok(source) = read_source(&args.file, ctx) else {
        return Exit::BadInput;
    };
    let inventory = load_inventory(ctx);
    if matches!(inventory, InventoryLoad::Unreadable) {
        return Exit::BadInput;
    }
    let (runbook, diags, shown_against) = validate(&source, &inventory);
    let inv_name = match &inventory {
        InventoryLoad::Found(_, s) | InventoryLoad::Invalid(_, s) => Some(s.name.clone()),
        InventoryLoad::Missing | InventoryLoad::Unreadable => None,
    };
    let valid = diags.is_empty();
    if args.json {
        let report = Report {
            file: source.name.clone(),
            valid,
            inventory: inv_name,
            errors: JsonDiagnostic::list(&diags, ctx.lang),
        };
        print_json(&report);
    } else if valid {
        print_valid(&source, runbook.as_ref(), inv_name.as_deref(), ctx);
    } else {
        let shown = shown_against.unwrap_or(&source);
        print_diagnostics(&diags, shown, ctx);
        let count = diags.len();
        anstream::eprintln!(
            "{}",
            ctx.lang.pick(
                &format!("{}: {count} error(s); nothing was run", shown.name),
                &format!("{}: エラー {count} 件 (何も実行していません)", shown.name),
            )
        );
    }
    if valid { Exit::Ok } else { Exit::BadInput }
}

/// The runbook if it parses, and all problems: its own; if it parses, the
/// inventory's or the runbook-against-inventory ones. The third value is
/// set when the diagnostics belong to the inventory file.
fn validate<'a>(
    source: &Source,
    inventory: &'a InventoryLoad,
) -> (Option<Runbook>, Diagnostics, Option<&'a Source>) {
    let runbook = match parse_runbook(&source.text, &source.name) {
        Ok(runbook) => runbook,
        Err(diags) => return (None, diags, None),
    };
    let (diags, shown_against) = match inventory {
        InventoryLoad::Found(inv, _) => {
            let diags = check_against_inventory(&runbook, inv, &source.text, &source.name)
                .err()
                .unwrap_or_default();
            (diags, None)
        }
        InventoryLoad::Invalid(diags, inv_source) => (diags.clone(), Some(inv_source)),
        InventoryLoad::Missing | InventoryLoad::Unreadable => (Diagnostics::default(), None),
    };
    (Some(runbook), diags, shown_against)
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
            &format!("valid ({steps} steps, env {envs})"),
            &format!("問題なし (ステップ {steps} 件、環境 {envs})"),
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
