//! `tejun audit`: verify the journal's hash chain and its signed
//! checkpoints; create the audit key; sign a checkpoint.
//!
//! `verify` exits 0 when every event verifies and no signed checkpoint is
//! contradicted, 1 naming the first problem (its seq, kind and stream, and
//! whether events were edited, deleted, inserted, reordered, cut from the
//! end or re-hashed), 2 when there is no journal to verify.
//!
//! Also here: the check every writing command makes before it appends
//! ([`guard_journal`]) and the checkpoint signed after every run
//! ([`checkpoint_after_run`]).

use std::path::{Path, PathBuf};

use serde::Serialize;
use tejun_journal::checkpoint::{self, CheckpointAudit, CheckpointProblem};
use tejun_journal::{Journal, NewEvent, Tamper, TamperKind, VerifyingKey};
use tejun_locale::Lang;

use crate::cmd::runs::open_existing_journal;
use crate::context::{Context, Exit};
use crate::help_ja::ValueError;
use crate::output::{outln, print_json};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Verify every event's hash and link; name the first bad one.
    #[command(
        after_help = "Examples:\n  tejun audit verify\n  tejun --db /srv/tejun/.tejun/journal.db audit verify --json\n  tejun audit verify --anchor 1842:3c6d267e7ee2ef1580bd43464232535b569229b436946024c6cf9dcfeb2ec486\n\nExit status: 0 intact, 1 tampered (the first bad event is named) or unreadable, 2 no journal, an unusable key or a missing --witness file.\n\nRecord the printed head (count and hash) somewhere else, e.g. in the change ticket:\n`--anchor COUNT:HASH` later proves events 1..COUNT are still exactly those, even\nagainst someone who cut the end of the journal and rewrote its head."
    )]
    Verify(VerifyArgs),
    /// Sign the journal's head with the audit key (also done after every run).
    #[command(
        after_help = "Examples:\n  tejun audit checkpoint\n  tejun audit checkpoint --witness /mnt/audit/web-01.checkpoints\n\nThe checkpoint is stored in the journal, appended to the file beside the key\n(audit.checkpoints) and to every --witness file, so deleting database rows\ncannot delete them all."
    )]
    Checkpoint(CheckpointArgs),
    /// Manage the audit key that signs checkpoints.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum KeyCommand {
    /// Create the audit key (kept outside the database, mode 0600).
    #[command(
        after_help = "Examples:\n  tejun audit key init\n  tejun audit key init --key /etc/tejun/audit.key\n\nDefault: $TEJUN_AUDIT_KEY, else $XDG_CONFIG_HOME/tejun/audit.key (~/.config/tejun/audit.key).\nBeside it: audit.pub (the public key, all a verifier needs) and\naudit.checkpoints (every checkpoint signed with it)."
    )]
    Init(KeyArgs),
}

#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// The private key file (default: $TEJUN_AUDIT_KEY, else
    /// $XDG_CONFIG_HOME/tejun/audit.key).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// Also append the signed head to FILE (a witness: another disk, a
    /// mount only the auditor can write). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub witness: Vec<PathBuf>,
    /// Print the checkpoint as JSON on stdout.
    #[arg(long)]
    pub json: bool,
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
    #[command(flatten)]
    pub key: KeyArgs,
    /// The public key to trust (default: the key's .pub file beside it).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Also read checkpoints from FILE (a witness). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub witness: Vec<PathBuf>,
}

/// A chain head recorded outside the journal.
#[derive(Debug, Clone)]
pub struct Anchor {
    seq: i64,
    hash: String,
}

fn parse_anchor(text: &str) -> Result<Anchor, ValueError> {
    let (seq, hash) = text.split_once(':').ok_or_else(|| {
        ValueError::new(
            "expected COUNT:HASH, e.g. 42:3c6d…",
            "COUNT:HASH の形式で指定してください (例: 42:3c6d…)",
        )
    })?;
    let seq: i64 = seq.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ValueError::new(
            format!("{seq:?} is not an event count (1 or more)"),
            format!("{seq:?} はイベントの件数 (1 以上) ではありません"),
        )
    })?;
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ValueError::new(
            format!("{hash:?} is not a SHA-256 (64 hex digits)"),
            format!("{hash:?} は SHA-256 (16 進 64 桁) ではありません"),
        ));
    }
    Ok(Anchor { seq, hash })
}

pub fn run(command: Command, ctx: &Context) -> Exit {
    match command {
        Command::Verify(args) => verify(args, ctx),
        Command::Checkpoint(args) => checkpoint_cmd(args, ctx),
        Command::Key(KeyCommand::Init(args)) => key_init(args, ctx),
    }
}

/// The audit key: `--key`, else `$TEJUN_AUDIT_KEY`, else
/// `$XDG_CONFIG_HOME/tejun/audit.key` (`~/.config/tejun/audit.key`).
pub(crate) fn key_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(given) = given {
        return Some(given.to_path_buf());
    }
    if let Some(env) = std::env::var_os("TEJUN_AUDIT_KEY").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(env));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("tejun").join("audit.key"))
}

fn key_init(args: KeyArgs, ctx: &Context) -> Exit {
    let Some(path) = key_path(args.key.as_deref()) else {
        ctx.error(
            "no place for the audit key: set --key FILE, TEJUN_AUDIT_KEY or HOME",
            "監査鍵の置き場所がありません: --key FILE、TEJUN_AUDIT_KEY または HOME を指定してください",
        );
        return Exit::BadInput;
    };
    if path.exists() {
        ctx.error(
            &format!(
                "{} already exists; an audit key is never overwritten",
                path.display()
            ),
            &format!(
                "{} は既に存在します。監査鍵は上書きしません",
                path.display()
            ),
        );
        return Exit::BadInput;
    }
    match checkpoint::create_key(&path) {
        Ok(public) => {
            let lang = ctx.lang;
            outln!("{}", lang.pick("audit key created", "監査鍵を作成しました"));
            outln!("  {}: {}", lang.pick("key", "秘密鍵"), path.display());
            outln!(
                "  {}: {}",
                lang.pick("public key", "公開鍵"),
                checkpoint::public_key_path(&path).display()
            );
            outln!("  {}", checkpoint::public_key_hex(&public));
            outln!(
                "  {}: {}",
                lang.pick("checkpoints", "チェックポイント"),
                checkpoint::checkpoint_log_path(&path).display()
            );
            outln!(
                "{}",
                lang.pick(
                    "Keep a copy of the public key elsewhere: it is what proves a checkpoint genuine.",
                    "公開鍵の写しを別の場所にも保管してください。チェックポイントが本物であることの証明に使います。",
                )
            );
            Exit::Ok
        }
        Err(err) => {
            ctx.error(
                &format!("cannot create the audit key: {err}"),
                &format!("監査鍵を作成できません: {err}"),
            );
            Exit::Failed
        }
    }
}

fn checkpoint_cmd(args: CheckpointArgs, ctx: &Context) -> Exit {
    let Some(key) = key_path(args.key.key.as_deref()) else {
        return no_key(ctx, None);
    };
    if !key.exists() {
        return no_key(ctx, Some(&key));
    }
    let journal = match required_journal(ctx) {
        Ok(journal) => journal,
        Err(exit) => return exit,
    };
    // Signing a cut or re-hashed head would make it look intact to the
    // next check before an append.
    if let Err(exit) = guard_journal(ctx, &journal, "audit checkpoint") {
        return exit;
    }
    match sign_and_copy(&journal, &key, &args.witness) {
        Ok(cp) => {
            if args.json {
                return print_json(&cp);
            }
            outln!(
                "{}",
                ctx.lang.pick(
                    &format!("checkpoint signed: {} events, head {}", cp.count, cp.head),
                    &format!(
                        "チェックポイントに署名しました: {} 件、最新 {}",
                        cp.count, cp.head
                    ),
                )
            );
            outln!("{}", cp.to_line());
            Exit::Ok
        }
        Err(err) => {
            ctx.error(
                &format!("cannot sign a checkpoint: {err}"),
                &format!("チェックポイントに署名できません: {err}"),
            );
            Exit::Failed
        }
    }
}

fn no_key(ctx: &Context, path: Option<&Path>) -> Exit {
    let path = path.map(|p| p.display().to_string()).unwrap_or_default();
    ctx.error(
        &format!("no audit key {path} (create one with `tejun audit key init`)"),
        &format!("監査鍵 {path} がありません (`tejun audit key init` で作成してください)"),
    );
    Exit::BadInput
}

/// Signs the head, stores it in the journal, and appends it to the file
/// beside the key and to every witness.
fn sign_and_copy(
    journal: &Journal,
    key_path: &Path,
    witnesses: &[PathBuf],
) -> tejun_journal::Result<checkpoint::Checkpoint> {
    let key = checkpoint::load_key(key_path)?;
    let cp = journal.sign_checkpoint(&key)?;
    checkpoint::append_line(&checkpoint::checkpoint_log_path(key_path), &cp)?;
    for witness in witnesses {
        checkpoint::append_line(witness, &cp)?;
    }
    Ok(cp)
}

/// After a run: sign a checkpoint when an audit key exists. A failure is a
/// warning: the run itself is done and journaled.
pub(crate) fn checkpoint_after_run(ctx: &Context, journal: &Journal) {
    let Some(key) = key_path(None).filter(|key| key.exists()) else {
        return;
    };
    if let Err(err) = sign_and_copy(journal, &key, &[]) {
        anstream::eprintln!(
            "{}",
            ctx.lang.pick(
                &format!("warning: no checkpoint was signed after this run: {err}"),
                &format!("警告: この実行の後のチェックポイントに署名できませんでした: {err}"),
            )
        );
    }
}

/// The public key to trust and the checkpoint files to read, for the key
/// at `key` (if any): `None` when there is no key at all.
fn trusted_key(
    key: Option<&Path>,
    public: Option<&Path>,
) -> tejun_journal::Result<Option<(VerifyingKey, Vec<PathBuf>)>> {
    let mut files = Vec::new();
    if let Some(key) = key {
        files.push(checkpoint::checkpoint_log_path(key));
    }
    if let Some(public) = public {
        return Ok(Some((checkpoint::load_public_key(public)?, files)));
    }
    let Some(key) = key else {
        return Ok(None);
    };
    let pub_path = checkpoint::public_key_path(key);
    if pub_path.exists() {
        return Ok(Some((checkpoint::load_public_key(&pub_path)?, files)));
    }
    if key.exists() {
        return Ok(Some((checkpoint::load_key(key)?.verifying_key(), files)));
    }
    Ok(None)
}

/// How many of the newest events the check before an append walks.
const TAIL_CHECKED: i64 = 256;

/// Before a command appends (see [`open_journal_to_append`]): the newest events must link
/// up, the head must match, and no signed checkpoint may be contradicted.
/// Refuses (exit 2) otherwise, unless `--allow-unverified-journal`, which
/// is journaled.
/// Opens the journal for a command that appends to it, refusing one whose
/// head does not verify (see [`guard_journal`]).
pub(crate) fn open_journal_to_append(ctx: &Context, command: &str) -> Result<Journal, Exit> {
    let journal = ctx.open_journal_or_report().ok_or(Exit::Failed)?;
    guard_journal(ctx, &journal, command)?;
    Ok(journal)
}

pub(crate) fn guard_journal(ctx: &Context, journal: &Journal, command: &str) -> Result<(), Exit> {
    let problem = match journal_problem(journal) {
        Ok(None) => return Ok(()),
        Ok(Some(problem)) => problem,
        Err(err) => (
            format!("cannot check the journal: {err}"),
            format!("ジャーナルを確認できません: {err}"),
        ),
    };
    let (en, ja) = &problem;
    if !ctx.allow_unverified_journal {
        ctx.error(
            &format!(
                "the journal {} does not verify: {en}. Refusing to append to it. See `tejun audit verify`; `--allow-unverified-journal` appends anyway and journals that you did.",
                journal.name()
            ),
            &format!(
                "ジャーナル {} の検証に失敗しました: {ja}。追記を拒否します。`tejun audit verify` で確認してください。`--allow-unverified-journal` を付けると記録を残した上で追記します。",
                journal.name()
            ),
        );
        return Err(Exit::BadInput);
    }
    let payload = serde_json::json!({
        "command": command,
        "problem_en": en,
        "problem_ja": ja,
    });
    let actor = tejun_engine::identity::operator();
    let written = journal.append(NewEvent {
        stream: "audit/override",
        refs: &[],
        kind: "audit.unverified_append",
        actor: &actor,
        payload: &payload,
        ts: None,
    });
    if let Err(err) = written {
        ctx.error(
            &format!("cannot journal the override: {err}"),
            &format!("上書き許可を記録できません: {err}"),
        );
        return Err(Exit::BadInput);
    }
    anstream::eprintln!(
        "{}",
        ctx.lang.pick(
            &format!("warning: appending to a journal that does not verify ({en}); this override is journaled"),
            &format!("警告: 検証に失敗したジャーナルに追記します ({ja})。この上書き許可は記録されました"),
        )
    );
    Ok(())
}

/// The first problem the cheap check finds, as (English, 日本語).
fn journal_problem(journal: &Journal) -> tejun_journal::Result<Option<(String, String)>> {
    let report = journal.verify_tail(TAIL_CHECKED)?;
    if let Some(tamper) = report.first_bad {
        let (en, ja) = tamper.problem.describe();
        return Ok(Some((
            format!("seq {}: {en}", tamper.seq),
            format!("seq {}: {ja}", tamper.seq),
        )));
    }
    let key = key_path(None);
    let Some((public, files)) = trusted_key(key.as_deref(), None)? else {
        return Ok(None);
    };
    let audit = journal.audit_checkpoints(&public, &files, true)?;
    Ok(audit.problem.map(|problem| problem.describe()))
}

#[derive(Serialize)]
struct JsonReport {
    db: String,
    intact: bool,
    checked: i64,
    head: JsonHead,
    first_bad: Option<JsonBad>,
    /// The latest signed checkpoint the journal matches.
    checkpoint: Option<JsonCheckpoint>,
    checkpoints_valid: usize,
    /// Events 1..signed_through are covered by a signed checkpoint.
    signed_through: i64,
    /// [first, last] of the events after the latest checkpoint: hash-linked
    /// only, nothing signed covers them.
    unsigned_tail: Option<[i64; 2]>,
    /// The audit key used, if one exists.
    key: Option<String>,
}

#[derive(Serialize, Clone)]
struct JsonCheckpoint {
    count: i64,
    head: String,
    time: String,
    source: String,
}

/// What the signed checkpoints cover.
struct Coverage {
    latest: Option<JsonCheckpoint>,
    signed_through: i64,
    events: i64,
}

impl Coverage {
    fn of(audit: Option<&CheckpointAudit>, events: i64) -> Coverage {
        let latest = audit
            .and_then(|a| a.latest.as_ref())
            .map(|found| JsonCheckpoint {
                count: found.checkpoint.count,
                head: found.checkpoint.head.clone(),
                time: found.checkpoint.time.clone(),
                source: found.source.clone(),
            });
        Coverage {
            signed_through: latest.as_ref().map_or(0, |l| l.count),
            latest,
            events,
        }
    }

    fn unsigned_tail(&self) -> Option<[i64; 2]> {
        (self.events > self.signed_through).then(|| [self.signed_through + 1, self.events])
    }

    /// What the checkpoints prove, and what the tail after them cannot.
    fn explain(&self, have_key: bool, events: i64, lang: Lang) -> Vec<String> {
        let mut lines = Vec::new();
        if !have_key {
            lines.push(lang.pick(
                "no audit key: without a signed checkpoint, events cut from the end or a re-hashed rewrite cannot be detected (`tejun audit key init`)",
                "監査鍵がありません: 署名付きチェックポイントがなければ、末尾の削除や再ハッシュによる書き換えは検出できません (`tejun audit key init`)",
            ).to_string());
            return lines;
        }
        if let Some(latest) = &self.latest {
            lines.push(lang.pick(
                &format!("signed checkpoint: events 1..{} match the head signed at {} ({})", latest.count, latest.time, latest.source),
                &format!("署名付きチェックポイント: イベント 1..{} は {} に署名された最新の状態と一致します ({})", latest.count, latest.time, latest.source),
            ).to_string());
        } else {
            lines.push(lang.pick(
                "no signed checkpoint for this journal yet (`tejun audit checkpoint`)",
                "このジャーナルの署名付きチェックポイントはまだありません (`tejun audit checkpoint`)",
            ).to_string());
        }
        match self.unsigned_tail() {
            Some([first, last]) => lines.push(lang.pick(
                &format!("events {first}..{last} come after the last checkpoint: they are hash-linked, so an edit that breaks the chain shows, but someone able to write the database could rewrite or cut them without trace"),
                &format!("イベント {first}..{last} は最後のチェックポイントより後です: ハッシュで繋がっているためチェーンを壊す改ざんは検出できますが、データベースに書き込める者なら痕跡を残さず書き換え・削除できます"),
            ).to_string()),
            None if events > 0 => lines.push(lang.pick(
                "every event is covered by a signed checkpoint",
                "すべてのイベントが署名付きチェックポイントで保護されています",
            ).to_string()),
            None => {}
        }
        lines
    }
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
    let journal = match required_journal(ctx) {
        Ok(journal) => journal,
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
    let key = key_path(args.key.key.as_deref());
    let audit = match trusted_key(key.as_deref(), args.public_key.as_deref()) {
        Ok(Some((public, mut files))) => {
            // Only the file beside the key may be missing (no checkpoint
            // yet); a witness named on the command line that is not there
            // is a typo, not proof of an intact journal.
            if let Some(missing) = args.witness.iter().find(|w| !w.exists()) {
                ctx.error(
                    &format!("no witness file at {}", missing.display()),
                    &format!("証人ファイル {} がありません", missing.display()),
                );
                return Exit::BadInput;
            }
            files.extend(args.witness.iter().cloned());
            match journal.audit_checkpoints(&public, &files, false) {
                Ok(audit) => Some(audit),
                Err(err) => {
                    ctx.error(
                        &format!("cannot read the checkpoints: {err}"),
                        &format!("チェックポイントを読めません: {err}"),
                    );
                    return Exit::Failed;
                }
            }
        }
        Ok(None) if !args.witness.is_empty() => {
            ctx.error(
                "a witness file needs the public key to check it (--public-key FILE or --key FILE)",
                "証人ファイルの確認には公開鍵が必要です (--public-key FILE または --key FILE)",
            );
            return Exit::BadInput;
        }
        Ok(None) => None,
        Err(err) => {
            ctx.error(
                &format!("cannot read the audit key: {err}"),
                &format!("監査鍵を読めません: {err}"),
            );
            return Exit::BadInput;
        }
    };
    let bad = match &report.first_bad {
        Some(tamper) => Some(describe(&journal, tamper, ctx.lang)),
        None => audit
            .as_ref()
            .and_then(|audit| audit.problem.as_ref())
            .map(|problem| describe_checkpoint(&journal, problem, report.checked, ctx.lang))
            .or_else(|| {
                args.anchor
                    .as_ref()
                    .and_then(|anchor| check_anchor(&journal, anchor, ctx.lang))
            }),
    };
    let failed = bad.is_some();
    let coverage = Coverage::of(audit.as_ref(), report.checked);

    if args.json {
        let exit = print_json(&JsonReport {
            db: path.display().to_string(),
            intact: bad.is_none(),
            checked: report.checked,
            head: JsonHead { count, hash },
            first_bad: bad,
            checkpoint: coverage.latest.clone(),
            checkpoints_valid: audit.as_ref().map_or(0, |a| a.valid),
            signed_through: coverage.signed_through,
            unsigned_tail: coverage.unsigned_tail(),
            key: key.filter(|k| k.exists()).map(|k| k.display().to_string()),
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
            outln!("  {}: {count} {hash}", lang.pick("head", "最新"));
            for line in coverage.explain(audit.is_some(), report.checked, lang) {
                outln!("  {line}");
            }
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

/// A signed checkpoint the journal contradicts.
fn describe_checkpoint(
    journal: &Journal,
    problem: &CheckpointProblem,
    events: i64,
    lang: Lang,
) -> JsonBad {
    let (en, ja) = problem.describe();
    let seq = match problem {
        CheckpointProblem::Truncated { .. } => events + 1,
        other => other.found().checkpoint.count,
    };
    let found = match problem {
        CheckpointProblem::Truncated { .. } => None,
        _ => journal.describe(seq).ok().flatten(),
    };
    let (kind, stream) = found.unzip();
    JsonBad {
        seq,
        problem: problem.name().to_string(),
        kind,
        stream,
        message: lang.pick(&en, &ja).to_string(),
        message_en: en,
        message_ja: ja,
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
            "アンカーのイベントがありません: ジャーナルの末尾が削除され、最新の記録が書き換えられています",
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
    match bad.problem.as_str() {
        "truncated" => {
            return lang
                .pick(
                    &format!("Events from seq {seq} on existed when the checkpoint was signed and are gone."),
                    &format!("seq {seq} 以降のイベントはチェックポイント署名時に存在していましたが、失われています。"),
                )
                .to_string();
        }
        "rewritten" => {
            return lang
                .pick(
                    &format!("This is not the journal that was signed: nothing up to seq {seq} can be trusted."),
                    &format!("署名されたジャーナルではありません: seq {seq} までのイベントは信頼できません。"),
                )
                .to_string();
        }
        "bad-checkpoint-signature" => {
            return lang
                .pick(
                    "Someone wrote a checkpoint without the audit key: treat the whole journal as suspect.",
                    "監査鍵なしでチェックポイントが書かれています: ジャーナル全体を疑ってください。",
                )
                .to_string();
        }
        _ => {}
    }
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

/// The journal, which must already exist: auditing an empty place proves
/// nothing, so a missing journal is an error naming where it was looked for.
fn required_journal(ctx: &Context) -> Result<tejun_journal::Journal, Exit> {
    match open_existing_journal(ctx)? {
        Some(journal) => Ok(journal),
        None => {
            let path = ctx.journal_path();
            ctx.error(
                &format!("no journal at {} (use --db PATH)", path.display()),
                &format!(
                    "{} にジャーナルがありません (--db PATH で指定してください)",
                    path.display()
                ),
            );
            Err(Exit::BadInput)
        }
    }
}
