//! `tejun show RUN`: one run's timeline, as the journal recorded it.
//!
//! Three parts: the run's header (who, where, which runbook, how it ended),
//! every event in order (the timeline an incident review reads), and each
//! step's final state, including *unknown* for a step that started and never
//! ended because the process died. `RUN` may be a unique prefix of the id.

use tejun_engine::events::{self, Outcome, RunStarted};
use tejun_engine::history::{self, Happening, HistoryError, RunTimeline, StepState};
use tejun_engine::reason::localize;
use tejun_locale::{Lang, format_clock};

use crate::backup_diff;
use crate::cmd::runs::{format_duration, open_existing_journal, state_style};
use crate::context::{Context, Exit};
use crate::output::{Cell, Table, outln, print_json};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun show 0k3m9q2a\n  tejun show 0k3          # a unique prefix is enough\n  TZ=Asia/Tokyo tejun --lang ja show 0k3m9q2a\n  tejun show 0k3m9q2a --json | jq '.steps[] | select(.state == \"unknown\")'\n  tejun show 0k3m9q2a --diff   # what the run changed in the files it backed up\n\nExit status: 0 shown, 2 no such run (or an ambiguous prefix)."
)]
pub struct Args {
    /// The run id, or a unique prefix of it (see `tejun runs`).
    pub run: String,
    /// Print the timeline as JSON (times in UTC) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show what the run changed in the files it backed up: each backup
    /// against the file as it is now, as a unified diff (with --json, a list
    /// of files with their state and diff).
    #[arg(long)]
    pub diff: bool,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let no_such = || {
        ctx.error(
            &format!("no run matches {:?} (see `tejun runs`)", args.run),
            &format!(
                "{:?} に該当する実行がありません (`tejun runs` で確認してください)",
                args.run
            ),
        );
        Exit::BadInput
    };
    let journal = match open_existing_journal(ctx) {
        Ok(Some(journal)) => journal,
        Ok(None) => return no_such(),
        Err(exit) => return exit,
    };
    let timeline = match history::run_timeline(&journal, &args.run) {
        Ok(timeline) => timeline,
        Err(HistoryError::NoSuchRun(_)) => return no_such(),
        Err(HistoryError::Ambiguous { prefix, candidates }) => {
            let list = candidates.join(", ");
            ctx.error(
                &format!("run id {prefix:?} is ambiguous: it matches {list}"),
                &format!("実行ID {prefix:?} は曖昧です: {list} に該当します"),
            );
            return Exit::BadInput;
        }
        Err(HistoryError::Journal(err)) => {
            ctx.error(
                &format!("cannot read the run: {err}"),
                &format!("実行履歴を読めません: {err}"),
            );
            return Exit::Failed;
        }
    };
    if args.diff {
        return print_diffs(&timeline, args.json, ctx);
    }
    if args.json {
        return print_json(&timeline);
    }
    print_header(&timeline, ctx);
    outln!();
    print_events(&timeline, ctx);
    if !timeline.steps.is_empty() {
        outln!();
        print_steps(&timeline, ctx);
    }
    print_hosts(&timeline, ctx);
    Exit::Ok
}

fn print_header(timeline: &RunTimeline, ctx: &Context) {
    let lang = ctx.lang;
    let summary = &timeline.summary;
    let bold = anstyle::Style::new().bold();
    let style = state_style(summary.state);
    let (en, ja) = summary.state.label();
    outln!(
        "{bold}{} {}{bold:#}  {}  {} {}  {style}{}{style:#}",
        lang.pick("Run", "実行"),
        summary.id,
        summary.runbook,
        lang.pick("env", "環境"),
        summary.env,
        lang.pick(en, ja),
    );
    let mut lines: Vec<(&str, String)> = Vec::new();
    match &timeline.started {
        Some(started) => {
            lines.push((
                lang.pick("operator", "作業者"),
                format!(
                    "{} ({} {}, pid {})",
                    started.operator,
                    lang.pick("on", "ホスト"),
                    started.host,
                    started.pid
                ),
            ));
            lines.push((lang.pick("runbook", "手順書"), runbook_line(started)));
        }
        None => lines.push((lang.pick("operator", "作業者"), summary.operator.clone())),
    }
    lines.push((
        lang.pick("started", "開始"),
        ctx.format_time(summary.started),
    ));
    let refused = summary.state == history::RunState::Refused;
    if let Some(ended) = summary.ended.filter(|_| !refused) {
        let took = summary
            .duration_ms
            .map(|ms| format!(" ({})", format_duration(ms)))
            .unwrap_or_default();
        lines.push((
            lang.pick("ended", "終了"),
            format!("{}{took}", ctx.format_time(ended)),
        ));
    }
    if !refused {
        lines.push((
            lang.pick("steps", "手順"),
            lang.pick(
                &format!("{}/{} done", summary.steps_done, summary.steps_total),
                &format!("{}/{} 完了", summary.steps_done, summary.steps_total),
            )
            .to_string(),
        ));
    }
    if let Some(incident) = &summary.incident {
        lines.push((lang.pick("incident", "インシデント"), incident.clone()));
    }
    if let Some(exit) = timeline.ended.as_ref().and_then(|e| e.exit_phase.as_ref()) {
        let text = if exit.ok {
            lang.pick("ok", "成功").to_string()
        } else {
            format!(
                "{} ({})",
                lang.pick("FAILED: left uncleanly", "失敗: 後始末が未完了"),
                exit.failed_steps.join(", ")
            )
        };
        lines.push((lang.pick("exit phase", "終了フェーズ"), text));
    }
    let approvals: Vec<String> = timeline
        .events
        .iter()
        .filter(|e| e.kind == events::APPROVAL_GRANTED || e.kind == events::APPROVAL_REJECTED)
        .map(|e| {
            let verb = if e.kind == events::APPROVAL_GRANTED {
                lang.pick("approved by", "承認:")
            } else {
                lang.pick("rejected by", "却下:")
            };
            format!("{verb} {}", e.payload["who"].as_str().unwrap_or("?"))
        })
        .collect();
    if !approvals.is_empty() {
        lines.push((lang.pick("approvals", "承認"), approvals.join(", ")));
    }
    if let Some(rollback) = &timeline.rollback {
        let step = rollback
            .failed_step
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        lines.push((
            lang.pick("rollback", "ロールバック"),
            format!("{}{step}", localize(&rollback.reason, lang)),
        ));
    }
    if let Some(note) = &summary.note {
        lines.push((lang.pick("note", "備考"), note.clone()));
    }
    if let Some(started) = &timeline.started
        && !started.vars.is_empty()
    {
        let vars: Vec<String> = started
            .vars
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.push((lang.pick("vars", "変数"), vars.join(" ")));
    }
    let mut table = Table::headless();
    for (label, value) in lines {
        table.row(vec![Cell::plain(format!("  {label}:")), Cell::plain(value)]);
    }
    table.print();
}

fn runbook_line(started: &RunStarted) -> String {
    let short = started
        .runbook_sha256
        .get(..12)
        .unwrap_or(&started.runbook_sha256);
    format!("{} (sha256 {short}…)", started.path)
}

fn print_events(timeline: &RunTimeline, ctx: &Context) {
    let lang = ctx.lang;
    let zone = ctx
        .zone
        .to_offset_info(timeline.summary.started)
        .abbreviation()
        .to_string();
    let mut table = Table::new(vec![
        Cell::plain(format!("{} ({zone})", lang.pick("TIME", "時刻"))),
        Cell::plain(lang.pick("PHASE", "フェーズ")),
        Cell::plain(lang.pick("STEP", "手順")),
        Cell::plain(lang.pick("EVENT", "イベント")),
        Cell::plain(lang.pick("STATUS", "結果")),
        Cell::plain(lang.pick("DURATION", "所要時間")),
        Cell::plain(lang.pick("EXIT", "終了コード")),
        Cell::plain(lang.pick("DETAIL", "詳細")),
    ]);
    for event in &timeline.events {
        let time = Cell::plain(format_clock(event.ts, &ctx.zone));
        let dash = || Cell::plain("-");
        let row = match &event.happening {
            Happening::RunStarted(e) => vec![
                time,
                dash(),
                dash(),
                Cell::plain(lang.pick("run started", "実行開始")),
                dash(),
                dash(),
                dash(),
                Cell::plain(format!("{} @ {}", e.operator, e.host)),
            ],
            Happening::StepStarted(e) => vec![
                time,
                Cell::plain(&e.phase),
                Cell::plain(&e.step_id),
                Cell::plain(if e.attempt > 1 {
                    format!("{} #{}", lang.pick("started", "開始"), e.attempt)
                } else {
                    lang.pick("started", "開始").to_string()
                }),
                dash(),
                dash(),
                dash(),
                Cell::plain(format!(
                    "{} {}",
                    tejun_runbook::model::Safety::parse(&e.safety)
                        .map_or_else(|| format!("[{}]", e.safety), |s| s.label(lang).to_string()),
                    e.command.as_deref().unwrap_or(&e.kind)
                )),
            ],
            Happening::StepFinished(e) => {
                let state = StepState::from_status(e.status);
                let (en, ja) = state.label();
                vec![
                    time,
                    Cell::plain(&e.phase),
                    Cell::plain(&e.step_id),
                    Cell::plain(lang.pick("finished", "終了")),
                    Cell::styled(lang.pick(en, ja), step_style(state)),
                    Cell::plain(format_duration(e.duration_ms)),
                    Cell::plain(
                        e.exit_code
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "-".into()),
                    ),
                    Cell::plain(localize(e.error.as_deref().unwrap_or_default(), lang)),
                ]
            }
            Happening::StepConfirmed(e) => {
                let evidence = e
                    .evidence
                    .as_deref()
                    .map(|ev| format!(": {}", localize(ev, lang)))
                    .unwrap_or_default();
                let auto = if e.auto {
                    lang.pick(" (auto)", " (自動)")
                } else {
                    ""
                };
                vec![
                    time,
                    Cell::plain(&e.phase),
                    Cell::plain(&e.step_id),
                    Cell::plain(lang.pick("confirmed", "確認")),
                    Cell::plain(answer_label(&e.answer, lang)),
                    dash(),
                    dash(),
                    Cell::plain(format!(
                        "{} {}{auto}{evidence}",
                        lang.pick("by", "回答者"),
                        e.who
                    )),
                ]
            }
            Happening::RollbackStarted(e) => vec![
                time,
                Cell::plain("rollback"),
                dash(),
                Cell::styled(
                    lang.pick("rollback", "ロールバック"),
                    anstyle::AnsiColor::Yellow.on_default().bold(),
                ),
                dash(),
                dash(),
                dash(),
                Cell::plain(match &e.failed_step {
                    Some(step) => format!("{} ({step})", localize(&e.reason, lang)),
                    None => localize(&e.reason, lang),
                }),
            ],
            Happening::RunResumed(e) => vec![
                time,
                dash(),
                Cell::plain(e.unknown_step.as_deref().unwrap_or("-")),
                Cell::plain(lang.pick("resumed", "再開")),
                Cell::plain(e.choice.as_deref().unwrap_or("-")),
                dash(),
                dash(),
                Cell::plain(format!(
                    "{} {} (pid {})",
                    lang.pick("by", "作業者"),
                    e.operator,
                    e.pid
                )),
            ],
            Happening::RunPaused(e) => vec![
                time,
                dash(),
                Cell::plain(&e.step_id),
                Cell::plain(lang.pick("paused", "保留")),
                Cell::plain(localize(&e.reason, lang)),
                dash(),
                dash(),
                Cell::plain(lang.pick(
                    "waiting for a person: tejun resume asks again",
                    "回答待ち: tejun resume で再度確認します",
                )),
            ],
            Happening::RunRefused(e) => vec![
                time,
                dash(),
                dash(),
                Cell::styled(
                    lang.pick("refused", "拒否"),
                    anstyle::AnsiColor::Red.on_default().bold(),
                ),
                dash(),
                dash(),
                dash(),
                Cell::plain(&e.reason),
            ],
            Happening::RunEnded(e) => {
                let state = history::RunState::from_outcome(e.outcome);
                let (en, ja) = state.label();
                let mut hint = outcome_hint(e.outcome, lang);
                if let Some(exit) = e.exit_phase.as_ref().filter(|x| !x.ok) {
                    hint = format!(
                        "{} {}. {hint}",
                        lang.pick(
                            "LEFT UNCLEANLY: exit phase failed at",
                            "後始末が未完了: 終了フェーズの失敗"
                        ),
                        exit.failed_steps.join(", ")
                    );
                }
                vec![
                    time,
                    dash(),
                    dash(),
                    Cell::plain(lang.pick("run ended", "実行終了")),
                    Cell::styled(lang.pick(en, ja), state_style(state)),
                    Cell::plain(format_duration(e.duration_ms)),
                    dash(),
                    Cell::plain(hint),
                ]
            }
            Happening::Other(payload) => {
                let (what, status, detail) = other_event(&event.kind, payload, lang)
                    .unwrap_or_else(|| {
                        (
                            event.kind.clone(),
                            "-".to_string(),
                            format!("seq {}", event.seq),
                        )
                    });
                vec![
                    time,
                    dash(),
                    dash(),
                    Cell::plain(what),
                    Cell::plain(status),
                    dash(),
                    dash(),
                    Cell::plain(detail),
                ]
            }
        };
        table.row(row);
    }
    table.print();
}

/// Events the history view passes through untyped: the exit phase, a
/// second Ctrl-C, approvals. (event, status, detail) for the table.
fn other_event(
    kind: &str,
    payload: &serde_json::Value,
    lang: Lang,
) -> Option<(String, String, String)> {
    let text = |key: &str| payload[key].as_str().unwrap_or("").to_string();
    let pick = |en: &str, ja: &str| lang.pick(en, ja).to_string();
    let reason = || {
        payload["reason"]
            .as_str()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    };
    Some(match kind {
        events::TRIGGER_FIRED => (
            pick("trigger fired", "トリガー発火"),
            text("trigger"),
            serde_json::from_value::<events::TriggerFired>(payload.clone())
                .map(|e| crate::progress::fired_values(&e, lang))
                .unwrap_or_default(),
        ),
        events::PROBE_RESULT => (
            format!("{} {}", pick("probe", "プローブ"), text("probe")),
            if payload["ok"] == true {
                pick("healthy", "正常")
            } else {
                pick("unhealthy", "異常")
            },
            format!(
                "{}ms{}",
                payload["latency_ms"],
                payload["error"]
                    .as_str()
                    .map(|e| format!(" · {e}"))
                    .unwrap_or_default()
            ),
        ),
        events::PROBE_SAMPLES => {
            let samples = payload["samples"].as_array().cloned().unwrap_or_default();
            let failed = samples.iter().filter(|s| s["ok"] != true).count();
            (
                format!("{} {}", pick("watched", "監視"), text("probe")),
                format!("{failed}/{}", samples.len()),
                pick("samples failed / taken", "失敗サンプル数 / 取得数"),
            )
        }
        events::LOGOFF_CHECKED => {
            let sessions = payload["sessions"].as_array().cloned().unwrap_or_default();
            let named: Vec<String> = sessions
                .iter()
                .map(|s| {
                    format!(
                        "{} {} {} ({})",
                        s["tty"].as_str().unwrap_or("?"),
                        pick("from", "接続元"),
                        s["from"].as_str().unwrap_or("?"),
                        s["since"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            (
                format!("{} {}", pick("logoff", "ログオフ"), text("host")),
                match (payload["error"].as_str(), sessions.len()) {
                    (Some(_), _) => pick("not checked", "未確認"),
                    (None, 0) => pick("logged off", "ログオフ済み"),
                    (None, n) => lang
                        .pick(&format!("{n} left"), &format!("{n} 件残存"))
                        .to_string(),
                },
                payload["error"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{} · {}", text("user"), named.join("; "))),
            )
        }
        events::ABORT_REQUESTED => (
            pick("abort requested", "中止要求"),
            payload["pid"].to_string(),
            payload["reason"].as_str().unwrap_or("-").to_string(),
        ),
        events::EXIT_STARTED => (
            pick("exit phase", "終了フェーズ"),
            text("outcome"),
            pick(
                "clean-up runs whatever the outcome",
                "結果にかかわらず後始末を実行",
            ),
        ),
        events::RUN_STOPPED => (
            pick("stopped (2nd Ctrl-C)", "停止 (2回目の Ctrl-C)"),
            format!("{} {}", text("phase"), text("step_id")),
            text("next"),
        ),
        events::APPROVAL_REQUESTED => (
            pick("approval requested", "承認依頼"),
            payload["count"].to_string(),
            format!("{} {}", pick("by", "依頼者"), text("executor")),
        ),
        events::APPROVAL_GRANTED => (
            pick("approved", "承認"),
            pick("ok", "承認"),
            format!("{} {}{}", pick("by", "承認者"), text("who"), reason()),
        ),
        events::APPROVAL_REJECTED => (
            pick("rejected", "却下"),
            pick("rejected", "却下"),
            format!("{} {}{}", pick("by", "却下者"), text("who"), reason()),
        ),
        _ => return None,
    })
}

fn print_steps(timeline: &RunTimeline, ctx: &Context) {
    let lang = ctx.lang;
    let mut table = Table::new(vec![
        Cell::plain(lang.pick("PHASE", "フェーズ")),
        Cell::plain(lang.pick("STEP", "手順")),
        Cell::plain(lang.pick("STATE", "状態")),
        Cell::plain(lang.pick("ATTEMPTS", "試行")),
        Cell::plain(lang.pick("DURATION", "所要時間")),
        Cell::plain(lang.pick("EXIT", "終了コード")),
        Cell::plain(lang.pick("OUTPUT SHA-256", "出力 SHA-256")),
    ]);
    for step in &timeline.steps {
        let (en, ja) = step.state.label();
        let finished = step.finished.as_ref();
        table.row(vec![
            Cell::plain(&step.phase),
            Cell::plain(&step.step_id),
            Cell::styled(lang.pick(en, ja), step_style(step.state)),
            Cell::plain(step.attempts.to_string()),
            Cell::plain(
                finished
                    .map(|f| format_duration(f.duration_ms))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::plain(
                finished
                    .and_then(|f| f.exit_code)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::plain(
                finished
                    .and_then(|f| f.output_sha256.as_deref())
                    .map(|h| format!("{}…", h.get(..12).unwrap_or(h)))
                    .unwrap_or_else(|| "-".into()),
            ),
        ]);
    }
    table.print();

    // What went wrong, where the operator will look for it.
    for step in &timeline.steps {
        let Some(finished) = step
            .finished
            .as_ref()
            .filter(|_| matches!(step.state, StepState::Failed | StepState::TimedOut))
        else {
            continue;
        };
        for (label, tail) in [
            ("stdout", &finished.stdout_tail),
            ("stderr", &finished.stderr_tail),
        ] {
            if tail.trim().is_empty() {
                continue;
            }
            outln!(
                "\n{} {label} ({}):",
                step.step_id,
                lang.pick("last lines", "末尾")
            );
            for line in tail.lines() {
                outln!("  | {line}");
            }
        }
    }
    // Only a run that can still be resumed gets the hint.
    if !timeline.summary.state.is_final()
        && timeline.steps.iter().any(|s| s.state == StepState::Unknown)
    {
        let warn = anstyle::AnsiColor::Yellow.on_default().bold();
        outln!(
            "\n{warn}{}{warn:#}",
            lang.pick(
                &format!(
                    "A step started and never ended: whether its command took effect is unknown. `tejun resume {}` asks to retry, skip or roll back.",
                    timeline.summary.id
                ),
                &format!(
                    "開始後に終了記録のない手順があります。コマンドが実行されたかは不明です。`tejun resume {}` で再実行・スキップ・ロールバックを選べます。",
                    timeline.summary.id
                ),
            )
        );
    }
}

/// A fleet run's steps per host (docs/fleet.md): every step each host ran,
/// in journal order, across batches and the rollback.
fn print_hosts(timeline: &RunTimeline, ctx: &Context) {
    let lang = ctx.lang;
    type HostSteps = Vec<(String, bool, Option<String>)>;
    let mut hosts: Vec<(String, HostSteps)> = Vec::new();
    for event in &timeline.events {
        if let Happening::StepFinished(f) = &event.happening {
            for h in &f.hosts {
                let at = match hosts.iter().position(|(name, _)| *name == h.host) {
                    Some(at) => at,
                    None => {
                        hosts.push((h.host.clone(), Vec::new()));
                        hosts.len() - 1
                    }
                };
                hosts[at]
                    .1
                    .push((format!("{}/{}", f.phase, f.step_id), h.ok, h.error.clone()));
            }
        }
    }
    if hosts.is_empty() {
        return;
    }
    outln!();
    let mut table = Table::new(vec![
        Cell::plain(lang.pick("HOST", "ホスト")),
        Cell::plain(lang.pick("OK", "成功")),
        Cell::plain(lang.pick("FAILED", "失敗")),
        Cell::plain(lang.pick("STEPS", "手順")),
        Cell::plain(lang.pick("LAST ERROR", "最後のエラー")),
    ]);
    for (host, steps) in &hosts {
        let ok = steps.iter().filter(|s| s.1).count();
        let list: Vec<String> = steps
            .iter()
            .map(|(id, ok, _)| format!("{id}{}", if *ok { "" } else { "✗" }))
            .collect();
        let error = steps
            .iter()
            .rev()
            .find_map(|s| s.2.clone())
            .unwrap_or_else(|| "-".into());
        table.row(vec![
            Cell::plain(host),
            Cell::plain(ok.to_string()),
            Cell::plain((steps.len() - ok).to_string()),
            Cell::plain(list.join(" ")),
            Cell::plain(error),
        ]);
    }
    table.print();
}

fn step_style(state: StepState) -> anstyle::Style {
    let color = match state {
        StepState::Ok => anstyle::AnsiColor::Green,
        StepState::Skipped | StepState::Running | StepState::Waiting => anstyle::AnsiColor::Cyan,
        StepState::Unknown => anstyle::AnsiColor::Yellow,
        StepState::Failed | StepState::TimedOut => anstyle::AnsiColor::Red,
    };
    color.on_default().bold()
}

/// The verdict as the operator gave it: 正常 / 異常 / 保留.
fn answer_label(answer: &str, lang: Lang) -> String {
    match answer {
        "ok" => lang.pick("ok (正常)", "正常"),
        "abnormal" => lang.pick("abnormal (異常)", "異常"),
        "pending" => lang.pick("pending (保留)", "保留"),
        other => other,
    }
    .to_string()
}

fn outcome_hint(outcome: Outcome, lang: Lang) -> String {
    match outcome {
        Outcome::Succeeded => "",
        Outcome::RolledBack => {
            lang.pick("changes were rolled back", "変更はロールバックされました")
        }
        Outcome::RollbackFailed => lang.pick(
            "ROLLBACK FAILED: the system may be half-changed",
            "ロールバック失敗: システムが中途半端な状態の可能性があります",
        ),
        Outcome::Failed => lang.pick("failed without rollback", "ロールバックなしで失敗"),
        Outcome::Aborted => lang.pick("aborted by the operator", "作業者が中止しました"),
    }
    .to_string()
}

/// `--diff`: every backed-up file against its backup.
fn print_diffs(timeline: &RunTimeline, json: bool, ctx: &Context) -> Exit {
    let files = backup_diff::backed_up_files(timeline);
    if json {
        return print_json(&files);
    }
    if files.is_empty() {
        outln!(
            "{}",
            ctx.lang.pick(
                "this run backed up no files",
                "この実行はファイルをバックアップしていません"
            )
        );
        return Exit::Ok;
    }
    for file in &files {
        outln!(
            "{}  ({}: {})",
            file.path,
            file.step,
            file.state.describe(ctx.lang)
        );
        if let Some(diff) = &file.diff {
            anstream::print!("{}", backup_diff::colored(diff));
        }
    }
    Exit::Ok
}
