//! `tejun audit verify`: walk the journal's hash chain.
//!
//! Exit 0 when every event verifies, 1 naming the first one that does not
//! (its seq, kind and stream, and whether it was edited, deleted, inserted or
//! reordered), 2 when there is no journal to verify. Everything from the
//! first bad event on cannot be trusted; everything before it can.

use serde::Serialize;
use tejun_journal::{Journal, Tamper, TamperKind};
use tejun_locale::Lang;

use crate::cmd::runs::open_existing_journal;
use crate::context::{Context, Exit};
use crate::output::{outln, print_json};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify every event's hash and link; name the first bad one.
    #[command(
        after_help = "Examples:\n  tejun audit verify\n  tejun --db /srv/tejun/.tejun/journal.db audit verify --json\n  tejun audit verify --anchor 1842:3c6d267e7ee2ef1580bd43464232535b569229b436946024c6cf9dcfeb2ec486\n\nExit status: 0 intact, 1 tampered (the first bad event is named), 2 no journal or unreadable.\n\nRecord the printed head (count and hash) somewhere else, e.g. in the change ticket:\n`--anchor COUNT:HASH` later proves events 1..COUNT are still exactly those, even\nagainst someone who cut the end of the journal and rewrote its head."
    )]
    Verify(VerifyArgs),
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// A head recorded earlier (`COUNT:HASH`, as printed by a previous
    /// verify): event COUNT must still exist with that hash.
    #[arg(long, value_name = "COUNT:HASH", value_parser = parse_anchor)]
    pub anchor: Option<Anchor>,
}

/// A chain head recorded outside the journal.
#[derive(Debug, Clone)]
pub struct Anchor {
    seq: i64,
    hash: String,
}

fn parse_anchor(text: &str) -> Result<Anchor, String> {
    let (seq, hash) = text
        .split_once(':')
        .ok_or_else(|| "expected COUNT:HASH, e.g. 42:3c6d…".to_string())?;
    let seq: i64 = seq
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{seq:?} is not an event count (1 or more)"))?;
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{hash:?} is not a SHA-256 (64 hex digits)"));
    }
    Ok(Anchor { seq, hash })
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
    /// edited, deleted, broken-link, head-mismatch, or for `--anchor`:
    /// anchor-missing, anchor-mismatch.
    problem: String,
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
    let bad = match &report.first_bad {
        Some(tamper) => Some(describe(&journal, tamper, ctx.lang)),
        None => args
            .anchor
            .as_ref()
            .and_then(|anchor| check_anchor(&journal, anchor, ctx.lang)),
    };
    let failed = bad.is_some();

    if args.json {
        let exit = print_json(&JsonReport {
            db: path.display().to_string(),
            intact: bad.is_none(),
            checked: report.checked,
            head: JsonHead { count, hash },
            first_bad: bad,
        });
        return if failed { Exit::Failed } else { exit };
    }

    let lang = ctx.lang;
    match bad {
        None => {
            let ok = anstyle::AnsiColor::Green.on_default().bold();
            outln!(
                "{ok}{}{ok:#}",
                lang.pick(
                    &format!("journal intact: {} events verified", report.checked),
                    &format!(
                        "ジャーナルは改ざんされていません: {} 件のイベントを検証しました",
                        report.checked
                    ),
                )
            );
            outln!("  {}: {}", lang.pick("db", "DB"), path.display());
            outln!("  {}: {count} {hash}", lang.pick("head", "先頭"));
            Exit::Ok
        }
        Some(bad) => {
            let alarm = anstyle::AnsiColor::Red.on_default().bold();
            outln!(
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
            outln!("  seq: {}", bad.seq);
            outln!(
                "  {}: {}",
                lang.pick("kind", "種別"),
                bad.kind.as_deref().unwrap_or(gone)
            );
            outln!(
                "  {}: {}",
                lang.pick("stream", "ストリーム"),
                bad.stream.as_deref().unwrap_or(gone)
            );
            outln!("  {}: {}", lang.pick("problem", "問題"), bad.message);
            outln!("  {}", trust_line(&bad, lang));
            outln!("  {}: {}", lang.pick("db", "DB"), path.display());
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
        problem: problem_name(tamper.problem).to_string(),
        kind,
        stream,
        message: lang.pick(en, ja).to_string(),
        message_en: en.to_string(),
        message_ja: ja.to_string(),
    }
}

fn problem_name(problem: TamperKind) -> &'static str {
    match problem {
        TamperKind::Edited => "edited",
        TamperKind::Deleted => "deleted",
        TamperKind::BrokenLink => "broken-link",
        TamperKind::HeadMismatch => "head-mismatch",
    }
}

/// With an intact chain: is event `anchor.seq` still the one recorded?
fn check_anchor(journal: &Journal, anchor: &Anchor, lang: Lang) -> Option<JsonBad> {
    let (problem, en, ja) = match journal.hash_of(anchor.seq) {
        Ok(Some(hash)) if hash == anchor.hash => return None,
        Ok(Some(_)) => (
            "anchor-mismatch",
            "its hash differs from the recorded anchor: the events up to it were rewritten",
            "記録済みのアンカーとハッシュが異なります: ここまでのイベントが書き換えられています",
        ),
        Ok(None) => (
            "anchor-missing",
            "the anchored event is gone: the end of the journal was cut and its head rewritten",
            "アンカーのイベントがありません: ジャーナルの末尾が削除され、先頭記録が書き換えられています",
        ),
        Err(_) => (
            "anchor-missing",
            "the anchored event cannot be read",
            "アンカーのイベントを読めません",
        ),
    };
    let (kind, stream) = journal.describe(anchor.seq).ok().flatten().unzip();
    Some(JsonBad {
        seq: anchor.seq,
        problem: problem.to_string(),
        kind,
        stream,
        message: lang.pick(en, ja).to_string(),
        message_en: en.to_string(),
        message_ja: ja.to_string(),
    })
}

/// What can still be trusted, given the first bad event.
fn trust_line(bad: &JsonBad, lang: Lang) -> String {
    let seq = bad.seq;
    if bad.problem.starts_with("anchor-") {
        return lang
            .pick(
                &format!("The chain links, but not to the anchored journal: nothing up to seq {seq} can be trusted."),
                &format!("チェーンは繋がっていますが、アンカーを記録したジャーナルではありません: seq {seq} までのイベントは信頼できません。"),
            )
            .to_string();
    }
    if seq <= 1 {
        return lang
            .pick("No event can be trusted.", "どのイベントも信頼できません。")
            .to_string();
    }
    let last_good = seq - 1;
    lang.pick(
        &format!("Events 1..{last_good} verify; nothing from seq {seq} on can be trusted."),
        &format!("seq 1..{last_good} は正常です。seq {seq} 以降は信頼できません。"),
    )
    .to_string()
}
