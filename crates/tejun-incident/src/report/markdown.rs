//! The postmortem as Markdown. Headings and table headers are fixed per
//! language so reports can be compared and parsed; values that nobody has
//! written are `TODO` (English) or `（未記入）` (Japanese).

use std::fmt::Write;

use jiff::Timestamp;
use tejun_locale::Lang;

use super::figures::{self, human};
use super::{Options, Postmortem};
use crate::model::{Layer, Role, Term, Verdict};
use crate::severity;
use crate::timeline;

pub const TODO: &str = "TODO";

/// What a field nobody has written reads as.
pub fn unwritten(lang: Lang) -> &'static str {
    lang.pick(TODO, "（未記入）")
}

pub fn render(pm: &Postmortem, opts: &Options) -> String {
    let lang = opts.lang;
    let inc = &pm.incident;
    let l = |en: &'static str, ja: &'static str| lang.pick(en, ja);
    let time = |ts: Timestamp| tejun_locale::format_time(ts, &opts.zone);
    let todo = unwritten(lang);
    let mut out = String::new();
    let w = &mut out;

    let _ = writeln!(
        w,
        "# {}: {}\n",
        l("Postmortem", "ポストモーテム"),
        cell(&inc.title)
    );
    let sev_def = severity::definition(&inc.severity, &opts.settings, lang);
    let status = inc.status.label(lang);
    let _ = writeln!(
        w,
        "{} {} · {} {} ({}) · {} {status}\n",
        l("Incident", "インシデント"),
        inc.id,
        l("severity", "重大度"),
        inc.severity,
        sev_def,
        l("status", "状態"),
    );
    let _ = writeln!(
        w,
        "> {}\n",
        l(
            "This postmortem is blameless: it describes what happened and how the system and the process allowed it, not who is to blame. People acted reasonably on the information they had.",
            "このポストモーテムは非難しない (blameless) 形式で書かれています。誰の責任かではなく、何が起き、仕組みとプロセスのどこがそれを許したかを記述します。関係者はその時点の情報で合理的に行動しました。"
        )
    );

    // 1. Summary
    let _ = writeln!(w, "## 1. {}\n", l("Summary", "事例概要"));
    let _ = writeln!(
        w,
        "| {} | {} |\n| --- | --- |",
        l("Item", "項目"),
        l("Details", "内容")
    );
    row(w, l("Started", "発生日時"), time(inc.started_at));
    row(w, l("Detected", "検知日時"), time(inc.detected_at));
    let resolved = inc.resolved_at().map_or_else(|| todo.to_string(), time);
    row(w, l("Resolved", "復旧日時"), resolved);
    let impact = inc.impact.as_deref().map_or_else(|| todo.to_string(), cell);
    row(w, l("Impact", "影響範囲"), impact);
    row(w, l("Cause", "原因"), summary_cause(pm, lang));
    let roles: Vec<String> = Role::ALL
        .iter()
        .filter_map(|r| {
            inc.role(*r)
                .map(|name| format!("{}: {}", r.label(lang), cell(name)))
        })
        .collect();
    let roles = if roles.is_empty() {
        todo.to_string()
    } else {
        roles.join(", ")
    };
    let _ = writeln!(w, "| {} | {} |\n", l("Response team", "対応体制"), roles);

    // 2. Timeline
    let _ = writeln!(w, "## 2. {}\n", l("Timeline", "タイムライン"));
    let _ = writeln!(
        w,
        "| {} | {} | {} | {} |\n| --- | --- | --- | --- |",
        l("Time", "時刻"),
        l("Event", "イベント"),
        l("Responder", "対応者"),
        l("Action / observation", "アクション/観察")
    );
    for row in timeline::summary_rows(&pm.entries, inc, lang) {
        let mark = if row.backfilled {
            l(" (backfilled)", " (事後記入)")
        } else {
            ""
        };
        let _ = writeln!(
            w,
            "| {}{mark} | {} | {} | {} |",
            time(row.at),
            row.event,
            cell(&row.who),
            cell(&row.detail)
        );
    }
    w.push('\n');

    // 3. Impact
    let fig = figures::compute(inc, opts.slo);
    let dur =
        |d: Option<jiff::SignedDuration>| d.map_or_else(|| todo.to_string(), |d| human(d, lang));
    let _ = writeln!(w, "## 3. {}\n", l("Impact", "影響"));
    let _ = writeln!(
        w,
        "### {}\n",
        l("What happened and who was affected", "発生した問題 / 影響")
    );
    match inc.impact.as_deref() {
        Some(text) => {
            let _ = writeln!(w, "{text}\n");
        }
        None => {
            let _ = writeln!(
                w,
                "{}\n",
                lang.pick(
                    &format!("TODO (`tejun incident impact {} '…'`)", inc.id),
                    &format!("（未記入: `tejun incident impact {} '…'`）", inc.id)
                )
            );
        }
    }
    let _ = writeln!(w, "### {}\n", l("Figures", "数値"));
    let _ = writeln!(
        w,
        "| {} | {} |\n| --- | --- |",
        l("Measure", "指標"),
        l("Value", "値")
    );
    row(
        w,
        l("Duration (started → resolved)", "継続時間 (発生→復旧)"),
        dur(fig.to_recover),
    );
    row(
        w,
        l("Time to detect", "検知までの時間"),
        human(fig.to_detect, lang),
    );
    row(
        w,
        l("Time to mitigate", "緩和までの時間"),
        dur(fig.to_mitigate),
    );
    row(
        w,
        l("Time to recover", "復旧までの時間"),
        dur(fig.to_recover),
    );
    // What the service's own logs said, from the latest bundle that
    // carries signals (`tejun collect --access-log/--slow-log`).
    if let Some(sig) = inc.evidence.iter().rev().find_map(|e| e.signals.as_ref()) {
        let window = format!("{} → {}", time(sig.from), time(sig.until));
        if let Some(a) = &sig.access {
            row(
                w,
                l(
                    "Error rate in the incident window (access log)",
                    "インシデント時間帯のエラー率 (アクセスログ)",
                ),
                cell(&match lang {
                    Lang::En => format!(
                        "{:.1}% of {} requests ({window}, {})",
                        a.error_rate * 100.0,
                        a.requests,
                        a.log
                    ),
                    Lang::Ja => format!(
                        "{} リクエスト中 {:.1}% ({window}、{})",
                        a.requests,
                        a.error_rate * 100.0,
                        a.log
                    ),
                }),
            );
            row(
                w,
                l(
                    "p95 latency in the incident window",
                    "インシデント時間帯の p95 レイテンシ",
                ),
                a.p95_ms
                    .map_or_else(|| todo.to_string(), |p| format!("{p:.0} ms")),
            );
        }
        if let Some(q) = sig.queries.first() {
            let index = if q.missing_index {
                l(", likely missing index", "、インデックス不足の疑い")
            } else {
                ""
            };
            let rows = q
                .rows_examined_avg
                .map(|r| match lang {
                    Lang::En => format!(", {r:.0} rows examined per call"),
                    Lang::Ja => format!("、1 回あたり {r:.0} 行を走査"),
                })
                .unwrap_or_default();
            row(
                w,
                l(
                    "Heaviest query in the incident window (slow log)",
                    "インシデント時間帯で最も重いクエリ (スロークエリログ)",
                ),
                cell(&match lang {
                    Lang::En => format!(
                        "`{}`: {} calls, {:.1} s in total{rows}{index}",
                        q.fingerprint, q.count, q.query_time
                    ),
                    Lang::Ja => format!(
                        "`{}`: {} 回、合計 {:.1} 秒{rows}{index}",
                        q.fingerprint, q.count, q.query_time
                    ),
                }),
            );
        }
    }
    let budget = match (opts.slo, fig.budget) {
        (None, _) => l(
            "TODO (give --slo, e.g. --slo 99.9)",
            "（未記入: --slo 99.9 のように SLO を指定）",
        )
        .to_string(),
        (Some(_), None) => todo.to_string(),
        (Some(_), Some(b)) => format!(
            "{:.1}% ({} / {}, SLO {}%, {} {})",
            b.percent,
            human(b.used, lang),
            human(b.allowed, lang),
            b.slo,
            figures::WINDOW_DAYS,
            l("days", "日間")
        ),
    };
    let _ = writeln!(
        w,
        "| {} | {} |\n",
        l("Error budget used", "エラーバジェット消費"),
        budget
    );
    let _ = writeln!(
        w,
        "{}\n",
        l(
            "Times are measured from the start of the impact. The error budget counts the impact window (started → mitigated) as full unavailability.",
            "時間はすべて影響の開始から測っています。エラーバジェットは影響時間 (発生→緩和) を全面的な利用不可として計算しています。"
        )
    );

    // 4. Detection and evidence
    let _ = writeln!(w, "## 4. {}\n", l("Detection and evidence", "検知と証拠"));
    let _ = writeln!(w, "### {}\n", l("Detections", "検知"));
    if pm.detections.is_empty() {
        let _ = writeln!(
            w,
            "{}\n",
            l(
                "No automatic detection recorded.",
                "自動検知の記録はありません。"
            )
        );
    }
    for d in &pm.detections {
        let _ = writeln!(
            w,
            "- {} {} `{}`: {} `{}`, {} {}",
            time(d.at),
            l("rule", "ルール"),
            cell(&d.rule),
            l("offender", "対象"),
            cell(&d.offender),
            d.count,
            l("matches", "回一致")
        );
        for line in &d.lines {
            let _ = writeln!(
                w,
                "  - `{}` ({} sha256 `{}`)",
                cell(&line.text),
                cell(&line.file),
                line.sha256
            );
        }
    }
    if !pm.detections.is_empty() {
        w.push('\n');
    }
    let _ = writeln!(w, "### {}\n", l("Bans", "遮断 (BAN)"));
    if pm.bans.is_empty() {
        let _ = writeln!(
            w,
            "{}\n",
            l("No bans recorded.", "遮断の記録はありません。")
        );
    } else {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |\n| --- | --- | --- | --- | --- |",
            l("Time", "時刻"),
            l("Offender", "対象"),
            l("Rule", "ルール"),
            l("Ban time (s)", "遮断時間 (秒)"),
            l("Backend", "方式")
        );
        for b in &pm.bans {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                time(b.at),
                cell(&b.offender),
                cell(&b.rule),
                b.bantime_s,
                cell(&b.backend)
            );
        }
        w.push('\n');
    }
    let _ = writeln!(w, "### {}\n", l("Evidence bundles", "証拠バンドル"));
    if inc.evidence.is_empty() {
        let _ = writeln!(
            w,
            "{}\n",
            lang.pick(
                &format!(
                    "TODO: no evidence attached (`tejun collect --incident {}`).",
                    inc.id
                ),
                &format!(
                    "（未記入）証拠が添付されていません (`tejun collect --incident {}`)。",
                    inc.id
                )
            )
        );
    }
    for ev in &inc.evidence {
        let _ = writeln!(
            w,
            "- {} `{}` (sha256 `{}`)\n",
            time(ev.at),
            cell(&ev.bundle),
            ev.bundle_sha256
        );
        let _ = writeln!(
            w,
            "| {} | SHA-256 | {} |\n| --- | --- | --- |",
            l("File", "ファイル"),
            l("Status", "状態")
        );
        for f in &ev.files {
            let _ = writeln!(w, "| {} | `{}` | {} |", cell(&f.name), f.sha256, f.status);
        }
        w.push('\n');
    }

    // 5. Hypotheses
    let _ = writeln!(w, "## 5. {}\n", l("Hypotheses", "仮説と検証"));
    if inc.hypotheses.is_empty() {
        let _ = writeln!(w, "{todo}\n");
    } else {
        let _ = writeln!(
            w,
            "| ID | {} | {} | {} |\n| --- | --- | --- | --- |",
            l("Hypothesis", "仮説"),
            l("Verdict", "判定"),
            l("Evidence", "根拠")
        );
        for h in &inc.hypotheses {
            let (verdict, evidence) = match &h.verdict {
                Some(v) => (v.verdict.label(lang).to_string(), cell(&v.evidence)),
                None => (l("open", "未判定").to_string(), todo.to_string()),
            };
            let _ = writeln!(
                w,
                "| {} | {} | {verdict} | {evidence} |",
                h.id,
                cell(&h.text)
            );
        }
        w.push('\n');
    }

    // 6. Root cause
    let _ = writeln!(w, "## 6. {}\n", l("Root cause", "根本原因"));
    for layer in Layer::ALL {
        let _ = writeln!(w, "### {}\n", layer.label(lang));
        let causes: Vec<_> = inc.causes.iter().filter(|c| c.layer == *layer).collect();
        if causes.is_empty() {
            let _ = writeln!(w, "- {todo}");
        }
        for cause in causes {
            let _ = writeln!(w, "- {}", cause.text);
            for (i, why) in cause.whys.iter().enumerate() {
                let _ = writeln!(w, "  {}. {} {why}", i + 1, l("Why?", "なぜ?"));
            }
        }
        w.push('\n');
    }

    // 7. What was done
    let _ = writeln!(w, "## 7. {}\n", l("What was done", "実施した対応"));
    if pm.runs.is_empty() {
        let _ = writeln!(
            w,
            "{}\n",
            l(
                "TODO: no run is recorded on this incident; describe the manual steps.",
                "（未記入）このインシデントに手順の実行記録がありません。手作業の対応を記入してください。"
            )
        );
    }
    for run in &pm.runs {
        let outcome = run
            .outcome
            .as_deref()
            .map(|o| timeline::outcome_label(o, lang))
            .unwrap_or_else(|| l("not finished", "未完了").to_string());
        let _ = writeln!(
            w,
            "### {} `{}` ({})\n\n{}: {} · {}: {} · {}: {}\n",
            l("Run", "実行"),
            cell(&run.runbook),
            run.run_id,
            l("environment", "環境"),
            cell(&run.env),
            l("operator", "実行者"),
            cell(&run.operator),
            l("outcome", "結果"),
            outcome
        );
        for (n, step) in run.steps.iter().enumerate() {
            let mut result = step.status.as_deref().map_or_else(
                || l("no result", "結果なし").to_string(),
                |status| step_status(status, lang),
            );
            if let Some(code) = step.exit_code {
                let _ = write!(result, " (exit {code})");
            }
            if let Some(confirmed) = &step.confirmed {
                let _ = write!(result, " · {}", cell(confirmed));
            }
            let _ = writeln!(
                w,
                "{}. {} `{}/{}` {} — {result}",
                n + 1,
                time(step.at),
                step.phase,
                step.step_id,
                safety_label(&step.safety, lang),
            );
            if let Some(command) = &step.command {
                code_block(w, command);
            }
        }
        w.push('\n');
    }

    // 8. Lessons
    let _ = writeln!(w, "## 8. {}\n", l("Lessons learned", "学んだ教訓"));
    if inc.lessons.is_empty() {
        let _ = writeln!(w, "- {todo}");
    }
    for lesson in &inc.lessons {
        let _ = writeln!(w, "- {}", lesson.text);
    }
    w.push('\n');

    // 9. Actions
    let _ = writeln!(w, "## 9. {}\n", l("Improvement actions", "改善アクション"));
    let _ = writeln!(
        w,
        "| # | {} | {} | {} | {} | {} |\n| --- | --- | --- | --- | --- | --- |",
        l("Term", "期間"),
        l("Action", "アクション"),
        l("Owner", "担当"),
        l("Due", "期限"),
        l("Status", "状態")
    );
    for term in Term::ALL {
        let actions: Vec<_> = inc
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.term == *term)
            .collect();
        if actions.is_empty() {
            let _ = writeln!(w, "| | {} | {todo} | {todo} | | |", term.label(lang));
        }
        for (i, action) in actions {
            let due = action
                .due
                .map_or_else(|| todo.to_string(), |d| d.to_string());
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {due} | {} |",
                i + 1,
                term.label(lang),
                cell(&action.text),
                cell(&action.owner),
                action.status.label(lang)
            );
        }
    }
    out
}

/// The summary's cause: technical causes if written, else the confirmed
/// hypotheses, else TODO.
fn summary_cause(pm: &Postmortem, lang: Lang) -> String {
    let technical: Vec<String> = pm
        .incident
        .causes
        .iter()
        .filter(|c| c.layer == Layer::Technical)
        .map(|c| cell(&c.text))
        .collect();
    if !technical.is_empty() {
        return technical.join("; ");
    }
    let confirmed: Vec<String> = pm
        .incident
        .hypotheses
        .iter()
        .filter(|h| {
            h.verdict
                .as_ref()
                .is_some_and(|v| v.verdict == Verdict::Confirmed)
        })
        .map(|h| cell(&h.text))
        .collect();
    if !confirmed.is_empty() {
        return format!(
            "{} {}",
            confirmed.join("; "),
            lang.pick("(confirmed hypothesis)", "(確認済みの仮説)")
        );
    }
    unwritten(lang).to_string()
}

/// A command as the shell reads it, indented under its list item; the
/// fence is longer than any backtick run inside.
fn code_block(w: &mut String, command: &str) {
    let longest = command.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(w, "\n   {fence}sh");
    for line in command.trim_end().lines() {
        let _ = writeln!(w, "   {line}");
    }
    let _ = writeln!(w, "   {fence}\n");
}

/// The book's safety label (`[changes]` / `[状態変更]`); unknown words as given.
pub fn safety_label(safety: &str, lang: Lang) -> String {
    match tejun_runbook::model::Safety::parse(safety) {
        Some(known) => known.label(lang).to_string(),
        None => format!("[{safety}]"),
    }
}

/// A step's journaled status word in the operator's language.
pub fn step_status(word: &str, lang: Lang) -> String {
    let ja = match word {
        "ok" => "成功",
        "failed" => "失敗",
        "timed-out" => "タイムアウト",
        "skipped" => "スキップ",
        "aborted" => "中断",
        _ => return word.to_string(),
    };
    lang.pick(word, ja).to_string()
}

/// Makes text safe inside a table cell: no pipes, no line breaks.
/// Backslashes stay as they are: commands are shown in code spans, where
/// Markdown does not unescape them.
/// One `| label | value |` line of a two-column table.
fn row(w: &mut String, label: &str, value: impl std::fmt::Display) {
    let _ = writeln!(w, "| {label} | {value} |");
}

pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}
