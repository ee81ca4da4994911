//! `tejun report`: the postmortem of an incident, in Japanese or English,
//! as Markdown or HTML; or the editable skeleton, and reading it back.

use std::path::PathBuf;

use jiff::Timestamp;
use tejun_incident::Incidents;
use tejun_incident::events::PostmortemImported;
use tejun_incident::report::{Options, Postmortem, html, markdown, skeleton};

use super::incident::{actor, fail, settings};
use crate::context::{Context, Exit};
use crate::output::out;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun report INC-7K3Q --lang ja --slo 99.9 > postmortem.md\n  tejun report 7k --lang en --format html --out postmortem.html\n  tejun report 7k --skeleton > pm.md     # edit causes, lessons, actions\n  tejun report 7k --from pm.md --lang ja  # read them back, then print the report"
)]
pub struct Args {
    /// The incident (a unique prefix is enough).
    id: String,
    /// md or html.
    #[arg(long, default_value = "md", value_parser = ["md", "html"])]
    format: String,
    /// Availability SLO in percent (e.g. 99.9) for the error budget.
    #[arg(long)]
    slo: Option<f64>,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the editable Markdown skeleton (causes, lessons, actions).
    #[arg(long, conflicts_with = "from")]
    skeleton: bool,
    /// Read causes, lessons and actions back from an edited skeleton.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let lang = ctx.lang;
    if let Some(slo) = args.slo
        && !(slo > 0.0 && slo < 100.0)
    {
        ctx.error(
            &format!("--slo {slo} must be a percentage between 0 and 100, e.g. 99.9"),
            &format!("--slo {slo} は 0 より大きく 100 未満の百分率 (例: 99.9) で指定してください"),
        );
        return Exit::BadInput;
    }
    let Some(journal) = ctx.open_journal_or_report() else {
        return Exit::Failed;
    };
    let settings = match settings(ctx) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    let ops = Incidents::new(&journal, actor()).zone(ctx.zone.clone());
    let id = match ops.resolve(&args.id) {
        Ok(id) => id,
        Err(err) => return fail(ctx, &err),
    };
    if let Some(path) = &args.from {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                ctx.error(
                    &format!("cannot read {}: {e}", path.display()),
                    &format!("{} を読めません: {e}", path.display()),
                );
                return Exit::BadInput;
            }
        };
        let name = path.display().to_string();
        let parsed = match skeleton::parse(&text, &name) {
            Ok(parsed) => parsed,
            Err(err) => return fail(ctx, &err),
        };
        if let Some(other) = parsed.incident.as_deref()
            && !other.eq_ignore_ascii_case(&id)
        {
            ctx.error(
                &format!("{name} is the skeleton of {other}, not of {id}; nothing was read"),
                &format!(
                    "{name} は {other} の雛形で、{id} のものではありません (何も取り込んでいません)"
                ),
            );
            return Exit::BadInput;
        }
        let (causes, lessons, actions) = (
            parsed.causes.len(),
            parsed.lessons.len(),
            parsed.actions.len(),
        );
        let imported = PostmortemImported {
            file: name,
            sha256: tejun_incident::collect::bundle::sha256_hex(text.as_bytes()),
            causes: parsed.causes,
            lessons: parsed.lessons,
            actions: parsed.actions,
        };
        match ops.import_postmortem(&id, imported) {
            Ok(true) => anstream::eprintln!(
                "{}",
                lang.pick(
                    &format!("{id}: read {causes} cause(s), {lessons} lesson(s), {actions} action(s)"),
                    &format!("{id}: 原因 {causes} 件、教訓 {lessons} 件、改善アクション {actions} 件を取り込みました"),
                )
            ),
            Ok(false) => anstream::eprintln!(
                "{}",
                lang.pick(&format!("{id}: no changes to read"), &format!("{id}: 変更はありません"))
            ),
            Err(err) => return fail(ctx, &err),
        }
    }
    let pm = match Postmortem::load(&journal, &id) {
        Ok(pm) => pm,
        Err(err) => return fail(ctx, &err),
    };
    for finding in tejun_incident::report::blameless::check(&pm.incident) {
        anstream::eprintln!(
            "{}: {}",
            lang.pick("note", "注意"),
            lang.pick(
                &format!(
                    "{} {:?} contains {:?}: a blameless postmortem describes what the system and the process allowed, not who failed",
                    finding.field, finding.text, finding.word
                ),
                &format!(
                    "{} {:?} に {:?} が含まれています。非難しないポストモーテムでは、誰が失敗したかではなく、仕組みとプロセスが何を許したかを書きます",
                    finding.field, finding.text, finding.word
                ),
            )
        );
    }
    let text = if args.skeleton {
        skeleton::render(&pm, lang)
    } else {
        let opts = Options {
            lang,
            zone: ctx.zone.clone(),
            slo: args.slo,
            now: Timestamp::now(),
            settings,
        };
        let md = markdown::render(&pm, &opts);
        if args.format == "html" {
            html::render(&md, &pm.incident.title, lang.code())
        } else {
            md
        }
    };
    match &args.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                ctx.error(
                    &format!("cannot write {}: {e}", path.display()),
                    &format!("{} に書き込めません: {e}", path.display()),
                );
                return Exit::Failed;
            }
        }
        None => out!("{text}"),
    }
    Exit::Ok
}
