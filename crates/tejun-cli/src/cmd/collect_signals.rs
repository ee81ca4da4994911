//! `tejun collect --access-log/--slow-log`: the service's own signals over
//! the incident window, as bundle files (a stats summary for the web layer,
//! a digest top 10 for the mysql layer) and as figures the report cites.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use tejun_incident::collect::{Outcome, RunStatus};
use tejun_incident::events::{AccessFigures, QueryFigure, Signals};
use tejun_signals::access::{AccessFormat, FileStats, LineFormat, Stats, StatsOptions, read_log};
use tejun_signals::digest::{Aggregate, Options as DigestOptions};

/// The window looked at: from a little before the impact started (the
/// cause often shows first) to its resolution, or now.
pub fn window(started: Timestamp, resolved: Option<Timestamp>) -> (Timestamp, Timestamp) {
    let lead = SignedDuration::from_mins(10);
    (
        started.checked_sub(lead).unwrap_or(started),
        resolved.unwrap_or_else(Timestamp::now),
    )
}

fn outcome(id: &str, layer: &str, title: (&str, &str), command: String, text: String) -> Outcome {
    Outcome {
        id: id.into(),
        layer: layer.into(),
        title_en: title.0.into(),
        title_ja: title.1.into(),
        command,
        status: RunStatus::Ok,
        exit_code: Some(0),
        duration_ms: 0,
        reason: None,
        reason_ja: None,
        stdout: text,
        stderr: String::new(),
    }
}

/// Statistics of `log` over the window: figures, and the bundle file.
pub fn access(
    log: &Path,
    format: LineFormat,
    (from, until): (Timestamp, Timestamp),
) -> std::io::Result<(AccessFigures, Outcome)> {
    let options = StatsOptions {
        since: Some(from),
        until: Some(until),
        ..StatsOptions::default()
    };
    let mut stats = Stats::new(options);
    let mut file = FileStats::default();
    let reader = crate::input::open_log(log, None, tejun_locale::Lang::En)?;
    read_log(reader, &AccessFormat::Line(format), &mut stats, &mut file);
    if let Some(e) = file.error {
        return Err(std::io::Error::other(e));
    }
    let summary = stats.finish();
    let figures = AccessFigures {
        log: log.display().to_string(),
        requests: summary.total.requests,
        error_rate: summary.total.error_rate,
        p95_ms: summary.total.latency.map(|l| l.p95_ms),
    };
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    let command = format!(
        "tejun stats {} --since {from} --until {until} --json",
        log.display()
    );
    let outcome = outcome(
        "access-stats",
        "web",
        (
            "Access-log statistics of the incident window",
            "インシデント時間帯のアクセスログ統計",
        ),
        command,
        text,
    );
    Ok((figures, outcome))
}

/// The slow log's top 10 fingerprints over the window.
pub fn digest(
    log: &Path,
    zone: jiff::tz::TimeZone,
    (from, until): (Timestamp, Timestamp),
) -> std::io::Result<(Vec<QueryFigure>, Outcome)> {
    // Only the queries of the window (a query without a time counts).
    let mut inside = Aggregate::new(DigestOptions {
        zone: zone.clone(),
        ..DigestOptions::default()
    });
    let reader = crate::input::open_log(log, None, tejun_locale::Lang::En)?;
    for entry in tejun_signals::digest::mysql::MysqlReader::new(reader, zone) {
        if let Ok(query) = entry?
            && query.time.is_none_or(|t| from <= t && t <= until)
        {
            inside.add(query);
        }
    }
    let report = inside.report(Some(10));
    let figures = report
        .classes
        .iter()
        .map(|c| QueryFigure {
            fingerprint: c.fingerprint.clone(),
            count: c.count,
            query_time: c.query_time.total,
            rows_examined_avg: c.rows.as_ref().map(|r| r.examined_avg),
            missing_index: c.missing_index,
        })
        .collect();
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    let command = format!(
        "tejun digest {} --top 10 --json (window {from} → {until})",
        log.display()
    );
    let outcome = outcome(
        "slow-digest",
        "mysql",
        (
            "Slow-query digest of the incident window (top 10)",
            "インシデント時間帯のスロークエリ集計 (上位 10)",
        ),
        command,
        text,
    );
    Ok((figures, outcome))
}

/// Both, as the collect request wants them.
pub fn gather(
    access_log: Option<(&Path, LineFormat)>,
    slow_log: Option<&Path>,
    zone: jiff::tz::TimeZone,
    window: (Timestamp, Timestamp),
) -> std::io::Result<(Option<Signals>, Vec<Outcome>)> {
    let mut outcomes = Vec::new();
    let mut signals = Signals {
        from: window.0,
        until: window.1,
        access: None,
        queries: Vec::new(),
    };
    if let Some((log, format)) = access_log {
        let (figures, outcome) = access(log, format, window)?;
        signals.access = Some(figures);
        outcomes.push(outcome);
    }
    if let Some(log) = slow_log {
        let (queries, outcome) = digest(log, zone, window)?;
        signals.queries = queries;
        outcomes.push(outcome);
    }
    Ok(((!outcomes.is_empty()).then_some(signals), outcomes))
}
