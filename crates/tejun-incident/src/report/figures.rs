//! Impact figures, measured from when the impact started:
//! time to detect (→ detected), to mitigate (→ first mitigated), to recover
//! (→ resolved), and the error budget the impact window (started →
//! mitigated, or resolved if never mitigated) used against an availability
//! SLO over a 30-day window. The window is counted as full unavailability:
//! a conservative figure for partial outages, stated as such in the report.

use jiff::{SignedDuration, Timestamp};
use tejun_locale::Lang;

use crate::fold::Incident;

/// SLO window for the error budget.
pub const WINDOW_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub to_detect: SignedDuration,
    pub to_mitigate: Option<SignedDuration>,
    pub to_recover: Option<SignedDuration>,
    /// Started → mitigated (else resolved); None while users are still hurt.
    pub impact: Option<SignedDuration>,
    pub budget: Option<Budget>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub slo: f64,
    pub allowed: SignedDuration,
    pub used: SignedDuration,
    pub percent: f64,
}

pub fn compute(incident: &Incident, slo: Option<f64>) -> Figures {
    let since_start = |ts: Timestamp| ts.duration_since(incident.started_at);
    let impact = incident.mitigated_at().map(since_start);
    let budget = slo.zip(impact).map(|(slo, used)| {
        let allowed_secs = (100.0 - slo) / 100.0 * (WINDOW_DAYS * 86_400) as f64;
        let percent = if allowed_secs > 0.0 {
            used.as_secs_f64() / allowed_secs * 100.0
        } else {
            f64::INFINITY
        };
        Budget {
            slo,
            allowed: SignedDuration::from_secs_f64(allowed_secs),
            used,
            percent,
        }
    });
    Figures {
        to_detect: since_start(incident.detected_at),
        to_mitigate: incident
            .machine
            .first_reached(crate::model::Status::Mitigated)
            .map(since_start),
        to_recover: incident.resolved_at().map(since_start),
        impact,
        budget,
    }
}

/// `2h 20m` / `2時間20分`: zero parts left out, so ten minutes reads
/// `10m` / `10分` and an hour `1h` / `1時間`.
pub fn human(duration: SignedDuration, lang: Lang) -> String {
    human_secs(duration.as_secs(), lang)
}

/// [`human`] for a count of seconds (a payload's `findtime_s`).
pub fn human_secs(total: i64, lang: Lang) -> String {
    let total = total.max(0);
    let (d, h, m, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let units: [(i64, &str, &str); 4] = [
        (d, "d", "日"),
        (h, "h", "時間"),
        (m, "m", "分"),
        (s, "s", "秒"),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, en, ja)| format!("{n}{}", lang.pick(en, ja)))
        .collect();
    if parts.is_empty() {
        return lang.pick("0s", "0秒").to_string();
    }
    parts.join(lang.pick(" ", ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_secs(600, Lang::Ja), "10分");
        assert_eq!(human_secs(3600, Lang::Ja), "1時間");
        assert_eq!(human_secs(8400, Lang::Ja), "2時間20分");
        assert_eq!(human_secs(86_400, Lang::Ja), "1日");
        assert_eq!(human_secs(2592, Lang::En), "43m 12s");
        assert_eq!(human_secs(0, Lang::En), "0s");
    }
}
