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

/// `1h 02m 03s` / `1時間02分03秒`; hours left out when zero.
pub fn human(duration: SignedDuration, lang: Lang) -> String {
    let total = duration.as_secs().max(0);
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    match (lang, h) {
        (Lang::En, 0) => format!("{m}m {s:02}s"),
        (Lang::En, _) => format!("{h}h {m:02}m {s:02}s"),
        (Lang::Ja, 0) => format!("{m}分{s:02}秒"),
        (Lang::Ja, _) => format!("{h}時間{m:02}分{s:02}秒"),
    }
}
