//! `tejun watch --config watch.yaml`: follow logs and act on offenders.
//!
//! Thin: the config, the rules and the journal are loaded here, then
//! `tejun_watch::Watcher` runs until SIGINT/SIGTERM. What happens is
//! printed as it happens, in the operator's language, or as one JSON object
//! per line with `--json` (for scripts and `bench/watch.sh`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tejun_locale::{Lang, Localize};
use tejun_watch::follow::Notice;
use tejun_watch::rules::{DetectRules, LineRules};
use tejun_watch::runbook::{Launcher, RunbookContext};
use tejun_watch::watcher::Report;
use tejun_watch::webhook::Outcome;
use tejun_watch::{Config, Options, Watcher};

use crate::context::{Context, Exit};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun watch --config /etc/tejun/watch.yaml\n  tejun watch --config watch.yaml --json | jq -c 'select(.event == \"banned\")'\n  TZ=Asia/Tokyo tejun --lang ja watch --config watch.yaml\n\nThe config format is described in docs/watch.md. Stop with Ctrl-C or SIGTERM:\noffsets are saved, and a restart continues exactly where this one stopped."
)]
pub struct Args {
    /// The watch config (YAML).
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: PathBuf,
    /// Print one JSON object per event on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A watch config with its rules loaded: everything `tejun watch` checks
/// before it follows a single line (`tejun check` runs the same).
pub struct Loaded {
    pub config: Config,
    pub rules: Vec<Box<dyn LineRules>>,
}

/// Why a watch config cannot be used: the message names the file, line
/// and column where there is one.
pub struct LoadError {
    pub en: String,
    pub ja: String,
}

impl LoadError {
    fn localized(e: &impl Localize) -> LoadError {
        LoadError {
            en: e.localize(Lang::En),
            ja: e.localize(Lang::Ja),
        }
    }
}

/// Reads `path` and loads its rules (filters, jails, metric rules and their
/// runbook actions), as `tejun watch` would before it starts.
pub fn load(path: &std::path::Path, ctx: &Context) -> Result<Loaded, LoadError> {
    let mut config = Config::load(path).map_err(|e| LoadError::localized(&e))?;
    // `runbook:` actions: relative paths start at the config's directory,
    // and the inventory is the one `tejun run` from here would use.
    let runbook_cx = RunbookContext {
        base: config.path.parent().map(PathBuf::from).unwrap_or_default(),
        inventory: ctx.inventory_path(),
    };
    tejun_watch::metrics::prepare(&mut config, &runbook_cx)
        .map_err(|e| LoadError::localized(&e))?;
    let mut rules: Vec<Box<dyn LineRules>> = Vec::new();
    for source in &mut config.sources {
        let set = tejun_watch::rules::load(source).map_err(|e| LoadError {
            en: format!(
                "{}: rules of source `{}`: {e}",
                source.rules_at, source.name
            ),
            ja: format!(
                "{}: source `{}` のルール: {e}",
                source.rules_at, source.name
            ),
        })?;
        // fail2ban's `backend = systemd`: a source with only a jail reads
        // the journal, as fail2ban would.
        if source.patterns.is_empty() && source.journal.is_none() {
            let backend = set.rules.iter().find_map(|r| r.params.backend.clone());
            if backend.as_deref().map(str::trim) != Some("systemd") {
                let backend = backend.unwrap_or_else(|| "auto".into());
                return Err(LoadError {
                    en: format!(
                        "{}: source `{}` has no `paths:` or `journal:`, and its jail's backend is `{backend}`, not `systemd`",
                        source.rules_at, source.name
                    ),
                    ja: format!(
                        "{}: source `{}` には `paths:` も `journal:` もなく、jail の backend も `systemd` ではありません (`{backend}`)",
                        source.rules_at, source.name
                    ),
                });
            }
            source.journal = Some(Default::default());
        }
        // With no match of its own, a journal source reads what the
        // filter's (or jail's) journalmatch selects.
        if let Some(query) = &mut source.journal
            && query.matches.is_empty()
            && query.units.is_empty()
        {
            query.matches = set
                .rules
                .iter()
                .filter_map(|r| r.params.journalmatch.clone())
                .collect();
        }
        let detect = DetectRules::new(set, config.date_zone.clone(), &runbook_cx)
            .map_err(|e| LoadError::localized(&e))?;
        rules.push(Box::new(detect));
    }
    Ok(Loaded { config, rules })
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let Loaded { config, rules } = match load(&args.config, ctx) {
        Ok(loaded) => loaded,
        Err(e) => {
            ctx.error(&e.en, &e.ja);
            return Exit::BadInput;
        }
    };
    let journal = match super::audit::open_journal_to_append(ctx, "watch") {
        Ok(journal) => Arc::new(journal),
        Err(exit) => return exit,
    };
    let state_dir = config.state_dir.clone().unwrap_or_else(|| {
        let db = ctx.journal_path();
        db.parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from(".tejun"))
    });
    // Runbooks run as `tejun run` children of this very binary, on the
    // same journal.
    let runbooks = match std::env::current_exe() {
        Ok(exe) => Some(Launcher {
            exe,
            db: std::path::absolute(ctx.journal_path()).unwrap_or_else(|_| ctx.journal_path()),
        }),
        Err(e) => {
            ctx.error(
                &format!("cannot find the tejun binary for runbook actions: {e}"),
                &format!(
                    "手順書アクション (`runbook`) 用の tejun 実行ファイルが見つかりません: {e}"
                ),
            );
            return Exit::Failed;
        }
    };
    let settings = match super::incident::settings(ctx) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal stops after the current batch (offsets saved);
        // a second one, while that is under way, exits at once.
        let registered =
            signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())
                .and_then(|_| signal_hook::flag::register(signal, stop.clone()));
        if let Err(e) = registered {
            ctx.error(
                &format!("cannot handle signals: {e}"),
                &format!("シグナルを扱えません: {e}"),
            );
            return Exit::Failed;
        }
    }
    let lang = ctx.lang;
    let reminder_check_s = config.reminder_check_s;
    let opts = Options {
        journal,
        state_dir,
        stop,
        lang,
        zone: ctx.zone.clone(),
        incident: Some(tejun_watch::incident::hook()),
        periodic: Some(Box::new(move |journal, webhooks| {
            if let Err(e) =
                tejun_watch::incident::post_reminders(journal, &settings, lang, webhooks)
            {
                anstream::eprintln!(
                    "{}: {e}",
                    lang.pick("reminders failed", "リマインダーの処理に失敗しました")
                );
            }
        })),
        periodic_every: Duration::from_secs(reminder_check_s),
        runbooks,
    };
    let json = args.json;
    let mut report = |r: Report| render(&r, ctx, json);
    let watcher = match Watcher::start(config, rules, opts, &mut report) {
        Ok(watcher) => watcher,
        Err(e) => {
            ctx.error(
                &format!("cannot start watching: {e}"),
                &format!("監視を開始できません: {e}"),
            );
            return Exit::Failed;
        }
    };
    match watcher.run() {
        Ok(()) => Exit::Ok,
        Err(e) => {
            ctx.error(
                &format!("watching stopped: {e}"),
                &format!("監視が停止しました: {e}"),
            );
            Exit::Failed
        }
    }
}

fn render(report: &Report, ctx: &Context, json: bool) {
    if json {
        if let Ok(line) = serde_json::to_string(report) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        return;
    }
    let lang = ctx.lang;
    let t = |en: String, ja: String| -> String {
        match lang {
            Lang::En => en,
            Lang::Ja => ja,
        }
    };
    let (to_stdout, text) = match report {
        Report::Started {
            sources,
            files,
            present,
            journals,
            inotify,
        } => {
            let how = if *inotify {
                "inotify"
            } else {
                lang.pick("polling", "ポーリング")
            };
            let journal = if *journals > 0 {
                t(
                    format!(" and the systemd journal for {journals} source(s)"),
                    format!("、systemd ジャーナル ({journals} ソース)"),
                )
            } else {
                String::new()
            };
            (
                false,
                t(
                    format!(
                        "watching {files} file(s) ({present} present){journal} from {sources} source(s), {how}"
                    ),
                    format!(
                        "{sources} 個のソースから {files} ファイル (存在 {present}){journal} を監視中 ({how})"
                    ),
                ),
            )
        }
        Report::JournalEnded { source, error } => (
            false,
            t(
                format!("{source}: the systemd journal is no longer read: {error}"),
                format!("{source}: systemd ジャーナルの読み込みが止まりました: {error}"),
            ),
        ),
        Report::File {
            source,
            path,
            notice,
        } => (false, notice_text(lang, source, path, notice)),
        Report::Triggered {
            rule,
            offender,
            severity,
            incident,
            metric: Some(metric),
            ..
        } => {
            let sev = severity
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default();
            let inc = incident
                .as_deref()
                .map(|i| format!(" → incident {i}"))
                .unwrap_or_default();
            let what = metric.describe(lang);
            (
                true,
                t(
                    format!("detected{sev} {rule} ({offender}): {what}{inc}"),
                    format!("検知{sev} {rule} ({offender}): {what}{inc}"),
                ),
            )
        }
        Report::Resolved {
            rule,
            source,
            since,
            at,
            key,
        } => {
            let since = ctx.format_time(*since);
            let at = ctx.format_time(*at);
            let source = match key {
                Some(key) => format!("{source}: {key}"),
                None => source.clone(),
            };
            (
                true,
                t(
                    format!("resolved {rule} ({source}): held from {since} to {at}"),
                    format!("回復 {rule} ({source}): {since} から {at} まで継続"),
                ),
            )
        }
        Report::Triggered {
            rule,
            offender,
            count,
            severity,
            incident,
            metric: None,
        } => {
            let sev = severity
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default();
            let inc = incident
                .as_deref()
                .map(|i| format!(" → incident {i}"))
                .unwrap_or_default();
            (
                true,
                t(
                    format!("detected{sev} {rule}: {offender} ({count} hits){inc}"),
                    format!("検知{sev} {rule}: {offender} ({count} 回){inc}"),
                ),
            )
        }
        Report::Banned {
            rule,
            offender,
            until,
            backend,
        } => {
            let until = ctx.format_time(*until);
            (
                true,
                t(
                    format!("banned {offender} until {until} ({rule}, {backend})"),
                    format!("{offender} を {until} まで遮断 ({rule}, {backend})"),
                ),
            )
        }
        Report::BanFailed { offender, error } => (
            false,
            t(
                format!("ban of {offender} failed: {error}"),
                format!("{offender} の遮断に失敗: {error}"),
            ),
        ),
        Report::NotBannable { rule, offender } => (
            false,
            t(
                format!("{rule}: `{offender}` is not an address and cannot be banned"),
                format!("{rule}: `{offender}` はアドレスではないため遮断できません"),
            ),
        ),
        Report::Unbanned { offender, reason } => {
            let (en, ja) = match reason {
                tejun_watch::events::RemoveReason::Expired => ("ban expired", "遮断期限切れ"),
                tejun_watch::events::RemoveReason::Manual => ("unbanned", "遮断解除"),
            };
            (
                true,
                t(format!("{en}: {offender}"), format!("{ja}: {offender}")),
            )
        }
        Report::UnbanFailed { offender, error } => (
            false,
            t(
                format!("lifting the ban of {offender} failed: {error}"),
                format!("{offender} の遮断解除に失敗: {error}"),
            ),
        ),
        Report::Webhook {
            outcome: Outcome::Sent { url, status },
        } => (
            false,
            t(
                format!("webhook {url}: {status}"),
                format!("webhook {url}: {status}"),
            ),
        ),
        Report::Webhook {
            outcome: Outcome::Failed { url, error },
        } => (
            false,
            t(
                format!("webhook {url} failed: {error}"),
                format!("webhook {url} の送信に失敗: {error}"),
            ),
        ),
        Report::RunbookStarted {
            rule,
            offender,
            runbook,
            env,
        } => (
            true,
            t(
                format!("{rule}: {offender}: starting runbook {runbook} in {env}"),
                format!("{rule}: {offender}: 手順書 {runbook} を {env} で開始"),
            ),
        ),
        Report::RunbookFinished {
            rule,
            offender,
            runbook,
            run_id,
            state,
            exit_code,
        } => {
            let run = run_id.as_deref().unwrap_or("-");
            let code = exit_code.map_or("-".to_string(), |c| c.to_string());
            (
                true,
                t(
                    format!(
                        "{rule}: {offender}: runbook {runbook}: {} (run {run}, exit {code})",
                        runbook_state(Lang::En, state)
                    ),
                    format!(
                        "{rule}: {offender}: 手順書 {runbook}: {} (実行 {run}, 終了コード {code})",
                        runbook_state(Lang::Ja, state)
                    ),
                ),
            )
        }
        Report::Resumed { detections } => (
            false,
            t(
                format!(
                    "{detections} detection(s) left with actions not done by the previous watcher: doing them now"
                ),
                format!(
                    "前回の監視が完了できなかった検知が {detections} 件あります: 残りのアクションを実行します"
                ),
            ),
        ),
        Report::IncidentFailed { rule, error } => (
            false,
            t(
                format!("{rule}: opening the incident failed: {error}"),
                format!("{rule}: インシデントを開けませんでした: {error}"),
            ),
        ),
        Report::Undated { source, total } => (
            false,
            t(
                format!(
                    "{source}: {total} matching line(s) so far had no readable date; counted at arrival time"
                ),
                format!(
                    "{source}: 日時を読めない一致行がこれまでに {total} 行あり、到着時刻で数えました"
                ),
            ),
        ),
        Report::Unreadable { source, total } => (
            false,
            t(
                format!(
                    "{source}: {total} line(s) so far did not match the access-log format; they count in no metric rule (check `format`/`log_format`)"
                ),
                format!(
                    "{source}: アクセスログ形式に合わない行がこれまでに {total} 行あり、メトリクスルールには数えていません (`format`/`log_format` を確認してください)"
                ),
            ),
        ),
        Report::JournalFailed { error } => (
            false,
            t(
                format!("journal write failed: {error}"),
                format!("ジャーナルへの書き込みに失敗: {error}"),
            ),
        ),
    };
    if to_stdout {
        let mut out = anstream::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    } else {
        anstream::eprintln!("{text}");
    }
}

fn notice_text(lang: Lang, source: &str, path: &str, notice: &Notice) -> String {
    let (en, ja) = match notice {
        Notice::Appeared => (
            "appeared, reading it".to_string(),
            "出現しました。読み込みます".to_string(),
        ),
        Notice::Disappeared => (
            "disappeared; still watching the others, and this one if it comes back".to_string(),
            "消えました。他のファイルの監視は継続し、再出現すれば読み込みます".to_string(),
        ),
        Notice::Rotated => (
            "rotated; read the old file to its end, now reading the new one".to_string(),
            "ローテートされました。旧ファイルを最後まで読み、新ファイルに切り替えました"
                .to_string(),
        ),
        Notice::Truncated => (
            "truncated; reading again from the start".to_string(),
            "切り詰められました。先頭から読み直します".to_string(),
        ),
        Notice::LongLine { len } => (
            format!(
                "a line of {len} bytes was cut to {} bytes",
                tejun_watch::follow::tail::MAX_LINE
            ),
            format!(
                "{len} バイトの行を {} バイトに切り詰めました",
                tejun_watch::follow::tail::MAX_LINE
            ),
        ),
        Notice::Unreadable { error } => (
            format!("cannot be read: {error}"),
            format!("読めません: {error}"),
        ),
        Notice::ResumedRotated { from } => (
            format!(
                "was rotated while not watched; read the rest of {}",
                from.display()
            ),
            format!(
                "監視停止中にローテートされていたため、{} の残りを読みました",
                from.display()
            ),
        ),
    };
    format!("{source}: {path}: {}", lang.pick(&en, &ja))
}

/// A runbook's end in words (`state` of `runbook.finished`).
fn runbook_state(lang: Lang, state: &str) -> String {
    let (en, ja) = match state {
        "succeeded" => ("succeeded", "成功"),
        "rolled_back" => ("failed and rolled back", "失敗しロールバック済み"),
        "rollback_failed" => (
            "failed, and its rollback failed",
            "失敗し、ロールバックも失敗",
        ),
        "failed" => ("failed", "失敗"),
        "aborted" => ("aborted", "中断"),
        "paused" => ("paused, waiting for a person", "一時停止 (人の確認待ち)"),
        "refused" => (
            "refused (see tejun runs / the journal)",
            "拒否されました (tejun runs / ジャーナルを確認)",
        ),
        "timed_out" => ("stopped at its timeout", "タイムアウトで停止"),
        "interrupted" => (
            "interrupted by the watcher stopping; runs again at the next start",
            "監視の停止で中断。次回起動時に再実行します",
        ),
        "not_started" => ("could not start", "開始できませんでした"),
        other => (other, other),
    };
    lang.pick(en, ja).to_string()
}
