//! The incident's timeline: every event whose stream is `incident/<id>` or
//! that refers to it (run steps, detections, bans, evidence), in the order
//! they happened, each as one row of *when / what / who / detail*.
//!
//! Runs, detections and bans belong to other crates; their payloads are read
//! here by field name (the JSON is the contract, see tejun-engine's
//! `events.rs` and tejun-watch's docs) so that a view never depends on the
//! producer crate's internals.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tejun_journal::{Entry, Journal, Query};
use tejun_locale::Lang;

use crate::error::Result;
use crate::events;
use crate::model::{Layer, Role, Status, Term, Verdict};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub seq: i64,
    pub at: Timestamp,
    /// The journal kind (`step.finished`, `incident.note`, ...).
    pub kind: String,
    /// What happened, for people.
    pub event: String,
    /// Who did it (the event's actor, or the operator a run names).
    pub who: String,
    /// Action taken or observation made.
    pub detail: String,
    /// Dated afterwards with `--at`.
    pub backfilled: bool,
}

/// All entries on the incident's timeline, in seq order, without the
/// events of runs detached from it (the detach itself stays).
pub fn entries(journal: &Journal, id: &str) -> Result<Vec<Entry>> {
    let subject = events::stream(id);
    let mut entries = journal.query(&Query {
        subject: Some(&subject),
        ..Query::default()
    })?;
    let detached: Vec<String> = entries
        .iter()
        .filter(|e| e.stream == subject && e.kind == events::RUN_DETACHED)
        .filter_map(|e| e.decode::<events::RunDetached>().ok())
        .map(|d| format!("run/{}", d.run_id))
        .collect();
    if !detached.is_empty() {
        entries.retain(|e| !detached.contains(&e.stream));
    }
    Ok(entries)
}

/// The rows, in time order (ties in journal order).
pub fn rows(entries: &[Entry], lang: Lang) -> Vec<Row> {
    let mut rows: Vec<Row> = entries.iter().map(|e| row(e, lang)).collect();
    rows.sort_by_key(|r| (r.at, r.seq));
    rows
}

/// Kinds that are a run's step detail: the postmortem shows them in its
/// "what was done" section, so its timeline keeps a run to two rows.
const STEP_DETAIL: &[&str] = &[
    "step.started",
    "step.finished",
    "step.confirmed",
    "step.output",
    "rollback.started",
];

/// The postmortem's timeline: [`rows`] without step detail, with a first
/// row for when the impact started (the incident's `started_at`).
pub fn summary_rows(entries: &[Entry], incident: &crate::fold::Incident, lang: Lang) -> Vec<Row> {
    let mut rows: Vec<Row> = entries
        .iter()
        .filter(|e| !STEP_DETAIL.contains(&e.kind.as_str()))
        .map(|e| row(e, lang))
        .collect();
    rows.push(Row {
        seq: 0,
        at: incident.started_at,
        kind: "impact.started".to_string(),
        event: lang.pick("impact started", "影響の開始").to_string(),
        who: String::new(),
        detail: incident.impact.clone().unwrap_or_default(),
        backfilled: false,
    });
    for row in &mut rows {
        let held: Vec<&str> = crate::model::Role::ALL
            .iter()
            .filter(|role| {
                incident
                    .role(**role)
                    .is_some_and(|name| acted_as(&row.who, name))
            })
            .map(|role| role.label(lang))
            .collect();
        if !held.is_empty() {
            row.who = format!("{} [{}]", row.who, held.join(", "));
        }
    }
    rows.sort_by_key(|r| (r.at, r.seq));
    rows
}

/// Whether the row's responder is the person a role names: the whole name,
/// the user of `user@host`, or the name recorded for (`--by`), ignoring case.
fn acted_as(who: &str, name: &str) -> bool {
    let name = name.trim();
    let person = who.split(" (").next().unwrap_or(who);
    let user = person.split('@').next().unwrap_or(person);
    !name.is_empty() && (person.eq_ignore_ascii_case(name) || user.eq_ignore_ascii_case(name))
}

/// A run outcome's journaled word in the operator's language.
pub fn outcome_label(word: &str, lang: Lang) -> String {
    let ja = match word {
        "succeeded" => "成功",
        "failed" => "失敗",
        "rolled-back" => "ロールバック完了",
        "rollback-failed" => "ロールバック失敗",
        "aborted" => "中断",
        _ => return word.to_string(),
    };
    lang.pick(word, ja).to_string()
}

/// The engine's rollback reason (`step-failed: ID`, `aborted`, …) in the
/// operator's language.
pub fn rollback_reason(reason: &str, lang: Lang) -> String {
    let (word, rest) = reason
        .split_once(": ")
        .map_or((reason, None), |(w, r)| (w, Some(r)));
    let ja = match word {
        "step-failed" => "ステップの失敗",
        "aborted" => "中断",
        "requested" | "operator" => "運用者の指示",
        "unknown-step" => "状態不明のステップ",
        _ => return reason.to_string(),
    };
    let label = lang.pick(word, ja);
    match rest {
        Some(rest) => format!("{label}: {rest}"),
        None => label.to_string(),
    }
}

fn status_word(p: &Value, key: &str, lang: Lang) -> String {
    match parse_word(p, key, Status::parse) {
        Some(status) => status.label(lang).to_string(),
        None => text(p, key),
    }
}

fn secs(p: &Value, key: &str, lang: Lang) -> String {
    match p.get(key).and_then(Value::as_i64) {
        Some(n) => crate::report::figures::human_secs(n, lang),
        None => "?".to_string(),
    }
}

fn row(entry: &Entry, lang: Lang) -> Row {
    let p = &entry.payload;
    let s = |key: &str| text(p, key);
    let (event, detail): (&str, String) = match entry.kind.as_str() {
        events::OPENED => (
            lang.pick("incident opened", "インシデント起票"),
            format!(
                "{} {}{}",
                s("severity"),
                s("title"),
                opt(lang, p, "impact", "impact", "影響")
            ),
        ),
        events::STATUS => {
            let reopen = p.get("reopen").and_then(Value::as_bool).unwrap_or(false);
            (
                if reopen {
                    lang.pick("reopened", "再オープン")
                } else {
                    lang.pick("status changed", "状態変更")
                },
                format!(
                    "{} → {}",
                    status_word(p, "from", lang),
                    status_word(p, "to", lang)
                ),
            )
        }
        events::ROLE => {
            let role = parse_word(p, "role", Role::parse)
                .map(|r| r.label(lang))
                .unwrap_or_default();
            (
                lang.pick("role assigned", "役割の割り当て"),
                format!("{role}: {}", s("name")),
            )
        }
        events::NOTE => (lang.pick("note", "メモ"), s("text")),
        events::RUN_DETACHED => (
            lang.pick("run detached", "実行の切り離し"),
            format!("{}: {}", s("run_id"), s("reason")),
        ),
        events::HYPOTHESIS => (
            lang.pick("hypothesis", "仮説"),
            format!("{}: {}", s("hypothesis"), s("text")),
        ),
        events::VERDICT => {
            let verdict = parse_word(p, "verdict", Verdict::parse)
                .map(|v| v.label(lang))
                .unwrap_or_default();
            (
                lang.pick("hypothesis verdict", "仮説の判定"),
                format!("{}: {verdict} — {}", s("hypothesis"), s("evidence")),
            )
        }
        events::CAUSE => {
            let layer = parse_word(p, "layer", Layer::parse)
                .map(|l| l.label(lang))
                .unwrap_or_default();
            (
                lang.pick("cause recorded", "原因の記録"),
                format!("[{layer}] {}", s("text")),
            )
        }
        events::LESSON => (lang.pick("lesson recorded", "教訓の記録"), s("text")),
        events::SEVERITY => (
            lang.pick("severity changed", "重大度の変更"),
            format!("{} → {}", s("from"), s("to")),
        ),
        events::IMPACT => (lang.pick("impact stated", "影響範囲の記録"), s("text")),
        events::ACTION => {
            let term = parse_word(p, "term", Term::parse)
                .map(|t| t.label(lang))
                .unwrap_or_default();
            let due = match p.get("due").and_then(Value::as_str) {
                Some(due) => format!(", {} {due}", lang.pick("due", "期限")),
                None => String::new(),
            };
            (
                lang.pick("action recorded", "改善アクションの記録"),
                format!("[{term}] {} ({}{due})", s("text"), s("owner")),
            )
        }
        events::ACTION_STATUS => {
            let status = parse_word(p, "status", crate::model::ActionStatus::parse)
                .map(|st| st.label(lang).to_string())
                .unwrap_or_else(|| s("status"));
            (
                lang.pick("action status", "改善アクションの状態"),
                format!("#{} → {status}", num(p, "number")),
            )
        }
        events::POSTMORTEM => (
            lang.pick("postmortem edited", "ポストモーテム編集の取り込み"),
            s("file"),
        ),
        events::REMINDER => (
            lang.pick("reminder", "リマインダー"),
            lang.pick(&s("text_en"), &s("text_ja")).to_string(),
        ),
        events::EVIDENCE => {
            let files = p.get("files").and_then(Value::as_array).map_or(0, Vec::len);
            (
                lang.pick("evidence collected", "証拠の収集"),
                format!(
                    "{} ({files} {}, sha256 {})",
                    s("bundle"),
                    lang.pick("files", "ファイル"),
                    s("bundle_sha256")
                ),
            )
        }
        events::DETECT_TRIGGERED => (
            lang.pick("detection", "検知"),
            format!(
                "{} {}: {} {} / {}",
                lang.pick("rule", "ルール"),
                s("rule"),
                s("offender"),
                lang.pick(
                    &format!("{} matches", num(p, "count")),
                    &format!("{} 回一致", num(p, "count"))
                ),
                secs(p, "findtime_s", lang),
            ) + &excerpts(p, lang),
        ),
        events::BAN_ADDED => (
            lang.pick("ban", "遮断 (BAN)"),
            format!(
                "{} ({} {}, {} {}, {})",
                s("offender"),
                lang.pick("rule", "ルール"),
                s("rule"),
                lang.pick("for", "期間"),
                secs(p, "bantime_s", lang),
                s("backend")
            ),
        ),
        "run.started" => (
            lang.pick("run started", "手順の実行開始"),
            format!(
                "{} ({} {}, {} {})",
                s("runbook"),
                lang.pick("env", "環境"),
                s("env"),
                lang.pick("run", "実行"),
                s("run_id")
            ),
        ),
        "step.started" => {
            let what = match p.get("command").and_then(Value::as_str) {
                Some(cmd) => format!("`{cmd}`"),
                None => s("kind"),
            };
            (
                lang.pick("step started", "ステップ開始"),
                format!("{}/{} [{}]: {what}", s("phase"), s("step_id"), s("safety")),
            )
        }
        "step.finished" => {
            let exit = p
                .get("exit_code")
                .and_then(Value::as_i64)
                .map(|c| format!(", exit {c}"))
                .unwrap_or_default();
            (
                lang.pick("step finished", "ステップ終了"),
                format!(
                    "{}/{}: {}{exit} ({} ms)",
                    s("phase"),
                    s("step_id"),
                    s("status"),
                    num(p, "duration_ms")
                ),
            )
        }
        "step.confirmed" => (
            lang.pick("step confirmed", "ステップ確認"),
            format!(
                "{}: {}{}",
                s("step_id"),
                s("answer"),
                opt(lang, p, "evidence", "evidence", "根拠")
            ),
        ),
        "rollback.started" => (
            lang.pick("rollback started", "ロールバック開始"),
            rollback_reason(&s("reason"), lang),
        ),
        // The two-person rule's decisions are part of what happened: who
        // let a change go ahead (or stopped it), and why.
        "approval.requested" => (
            lang.pick("approval requested", "承認の依頼"),
            lang.pick(
                &format!(
                    "run {}: {} approval(s) needed, executor {}",
                    s("run_id"),
                    num(p, "count"),
                    s("executor")
                ),
                &format!(
                    "実行 {}: 承認 {} 件が必要 (実行者 {})",
                    s("run_id"),
                    num(p, "count"),
                    s("executor")
                ),
            )
            .to_string(),
        ),
        "approval.granted" | "approval.rejected" => (
            if entry.kind == "approval.granted" {
                lang.pick("approved", "承認")
            } else {
                lang.pick("approval rejected", "承認の却下")
            },
            format!(
                "{} {}{}",
                lang.pick("run", "実行"),
                s("run_id"),
                opt(lang, p, "reason", "reason", "理由")
            ),
        ),
        "run.ended" => (
            lang.pick("run ended", "手順の実行終了"),
            format!(
                "{} ({}, {} {})",
                outcome_label(&s("outcome"), lang),
                match p.get("duration_ms").and_then(Value::as_i64).unwrap_or(0) {
                    ms if ms < 1000 => lang.pick("under 1s", "1秒未満").to_string(),
                    ms => crate::report::figures::human_secs(ms / 1000, lang),
                },
                lang.pick("run", "実行"),
                s("run_id")
            ),
        ),
        other => (other, String::new()),
    };
    let who = match entry.kind.as_str() {
        "approval.granted" | "approval.rejected" => p
            .get("who")
            .and_then(Value::as_str)
            .unwrap_or(&entry.actor)
            .to_string(),
        "run.started" => p
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or(&entry.actor)
            .to_string(),
        _ => match p.get(crate::ops::ON_BEHALF_OF).and_then(Value::as_str) {
            Some(name) => format!(
                "{name} ({} {})",
                lang.pick("recorded by", "記録:"),
                entry.actor
            ),
            None => entry.actor.clone(),
        },
    };
    Row {
        seq: entry.seq,
        at: entry.ts,
        kind: entry.kind.clone(),
        event: event.to_string(),
        who,
        detail,
        backfilled: p
            .get("backfilled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// Up to [`EXCERPT_LINES`] matched log lines with their SHA-256, so the
/// timeline itself shows what was seen and how to prove it.
fn excerpts(p: &Value, lang: Lang) -> String {
    let Some(lines) = p.get("lines").and_then(Value::as_array) else {
        return String::new();
    };
    let mut out = String::new();
    for line in lines.iter().take(EXCERPT_LINES) {
        let excerpt: String = text(line, "text").chars().take(EXCERPT_CHARS).collect();
        out.push_str(&format!(
            " — \"{excerpt}\" (sha256 {})",
            text(line, "sha256")
        ));
    }
    if lines.len() > EXCERPT_LINES {
        let more = lines.len() - EXCERPT_LINES;
        out.push_str(lang.pick(&format!(" (+{more} more)"), &format!(" (他 {more} 行)")));
    }
    out
}

const EXCERPT_LINES: usize = 2;
const EXCERPT_CHARS: usize = 160;

fn text(p: &Value, key: &str) -> String {
    match p.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn num(p: &Value, key: &str) -> String {
    p.get(key)
        .map(|v| v.to_string())
        .unwrap_or_else(|| "?".to_string())
}

fn opt(lang: Lang, p: &Value, key: &str, en: &str, ja: &str) -> String {
    match p.get(key).and_then(Value::as_str) {
        Some(v) if !v.is_empty() => format!(" — {}: {v}", lang.pick(en, ja)),
        _ => String::new(),
    }
}

fn parse_word<T>(p: &Value, key: &str, parse: fn(&str) -> Result<T>) -> Option<T> {
    p.get(key)
        .and_then(Value::as_str)
        .and_then(|w| parse(w).ok())
}
