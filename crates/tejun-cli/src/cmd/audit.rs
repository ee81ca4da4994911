//! `tejun audit verify`: walk the journal's hash chain.
//!
//! Exit 0 when every event verifies, 1 naming the first one that does not
//! (its seq, kind and stream, and whether it was edited, deleted, inserted or
//! reordered), 2 when there is no journal to verify. Everything from the
//! first bad event on cannot be trusted; everything before it can.

use serde::Serialize;
use tejun_journal::{Journal, Tamper, TamperKind};
use tejun_locale::Lang;

use crate::cmd::runs::{open_existing_journal, print_json};
use crate::context::{Context, Exit};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify every event's hash and link; name the first bad one.
    #[command(
        after_help = "Examples:\n  tejun audit verify\n  tejun --db /srv/tejun/.tejun/journal.db audit verify --json\n\nExit status: 0 intact, 1 tampered (the first bad event is named), 2 no journal or unreadable.\n\nRecord the printed head (count and hash) somewhere else, e.g. in the change ticket:\na later audit that shows a different hash for the same count proves the end of the\njournal was rewritten."
    )]
    Verify(VerifyArgs),
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: Command, ctx: &Context) -> Exit {
    match command {
        Command::Verify(args) => verify(args, ctx),
    }
}

#[derive(Serialize)]
struct JsonReport {
    db: String,
    intact: bool,
    checked: i64,
    head: JsonHead,
    first_bad: Option<JsonBad>,
}

#[derive(Serialize)]
struct JsonHead {
    count: i64,
    hash: String,
}

#[derive(Serialize)]
struct JsonBad {
    seq: i64,
    problem: TamperKind,
    /// `None` when the event is gone (deleted).
    kind: Option<String>,
    stream: Option<String>,
    message: String,
    message_en: String,
    message_ja: String,
}

fn verify(args: VerifyArgs, ctx: &Context) -> Exit {
    let path = ctx.journal_path();
    let journal = match open_existing_journal(ctx) {
        Ok(Some(journal)) => journal,
        Ok(None) => {
            ctx.error(
                &format!("no journal at {} (use --db PATH)", path.display()),
                &format!(
                    "{} にジャーナルがありません (--db PATH で指定してください)",
                    path.display()
                ),
            );
            return Exit::BadInput;
        }
        Err(exit) => return exit,
    };
    let report = match journal.verify() {
        Ok(report) => report,
        Err(err) => {
            ctx.error(
                &format!("cannot verify {}: {err}", path.display()),
                &format!("{} を検証できません: {err}", path.display()),
            );
            return Exit::Failed;
        }
    };
    let (count, hash) = journal.head().unwrap_or((report.checked, String::new()));
    let bad = report
        .first_bad
        .as_ref()
        .map(|tamper| describe(&journal, tamper, ctx.lang));

    if args.json {
        let exit = print_json(&JsonReport {
            db: path.display().to_string(),
            intact: bad.is_none(),
            checked: report.checked,
            head: JsonHead { count, hash },
            first_bad: bad,
        });
        return if report.first_bad.is_some() {
            Exit::Failed
        } else {
            exit
        };
    }

    let lang = ctx.lang;
    match bad {
        None => {
            let ok = anstyle::AnsiColor::Green.on_default().bold();
            anstream::println!(
                "{ok}{}{ok:#}",
                lang.pick(
                    &format!("journal intact: {} events verified", report.checked),
                    &format!(
                        "ジャーナルは改ざんされていません: {} 件のイベントを検証しました",
                        report.checked
                    ),
                )
            );
            anstream::println!("  {}: {}", lang.pick("db", "DB"), path.display());
            anstream::println!("  {}: {count} {hash}", lang.pick("head", "先頭"));
            Exit::Ok
        }
        Some(bad) => {
            let alarm = anstyle::AnsiColor::Red.on_default().bold();
            anstream::println!(
                "{alarm}{}{alarm:#}",
                lang.pick(
                    &format!("journal TAMPERED: first bad event is seq {}", bad.seq),
                    &format!(
                        "ジャーナルが改ざんされています: 最初の不正なイベントは seq {}",
                        bad.seq
                    ),
                )
            );
            let gone = lang.pick("(gone)", "(なし)");
            anstream::println!("  seq: {}", bad.seq);
            anstream::println!(
                "  {}: {}",
                lang.pick("kind", "種別"),
                bad.kind.as_deref().unwrap_or(gone)
            );
            anstream::println!(
                "  {}: {}",
                lang.pick("stream", "ストリーム"),
                bad.stream.as_deref().unwrap_or(gone)
            );
            anstream::println!("  {}: {}", lang.pick("problem", "問題"), bad.message);
            anstream::println!(
                "  {}",
                lang.pick(
                    &format!(
                        "events 1..{} verify; nothing from seq {} on can be trusted.",
                        bad.seq - 1,
                        bad.seq
                    ),
                    &format!(
                        "seq 1..{} は正常です。seq {} 以降は信頼できません。",
                        bad.seq - 1,
                        bad.seq
                    ),
                )
            );
            anstream::println!("  {}: {}", lang.pick("db", "DB"), path.display());
            Exit::Failed
        }
    }
}

fn describe(journal: &Journal, tamper: &Tamper, lang: Lang) -> JsonBad {
    let (en, ja) = tamper.problem.describe();
    // A deleted event has no row; any row with its seq would be a stranger.
    let found = match tamper.problem {
        TamperKind::Deleted => None,
        _ => journal.describe(tamper.seq).ok().flatten(),
    };
    let (kind, stream) = found.unzip();
    JsonBad {
        seq: tamper.seq,
        problem: tamper.problem,
        kind,
        stream,
        message: lang.pick(en, ja).to_string(),
        message_en: en.to_string(),
        message_ja: ja.to_string(),
    }
}
