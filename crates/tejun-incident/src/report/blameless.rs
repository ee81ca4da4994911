//! A nudge towards blameless wording. The report's own text is blameless;
//! what people typed (causes, lessons, notes, actions) may not be. This
//! finds words that point at a person rather than at the system, so `tejun
//! report` can suggest rephrasing. It never changes what was written.

use crate::fold::Incident;

/// Words that usually blame a person (lower-case; Japanese as written).
const BLAMING: &[&str] = &[
    "careless",
    "carelessness",
    "negligence",
    "negligent",
    "incompetent",
    "stupid",
    "fault of",
    "his fault",
    "her fault",
    "their fault",
    "blame",
    "should have known",
    "human error",
    "不注意",
    "怠慢",
    "せいで",
    "のせい",
    "人為的ミス",
    "ヒューマンエラー",
    "担当者のミス",
    "確認不足",
];

/// One place where blaming wording was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `cause`, `lesson`, `action`, `note`.
    pub field: &'static str,
    pub word: &'static str,
    pub text: String,
}

pub fn check(incident: &Incident) -> Vec<Finding> {
    let mut texts: Vec<(&'static str, &str)> = Vec::new();
    for cause in &incident.causes {
        texts.push(("cause", &cause.text));
        texts.extend(cause.whys.iter().map(|w| ("cause", w.as_str())));
    }
    texts.extend(incident.lessons.iter().map(|l| ("lesson", l.text.as_str())));
    texts.extend(incident.actions.iter().map(|a| ("action", a.text.as_str())));
    texts.extend(incident.notes.iter().map(|n| ("note", n.text.as_str())));
    let mut findings = Vec::new();
    for (field, text) in texts {
        let lower = text.to_lowercase();
        if let Some(word) = BLAMING.iter().find(|w| lower.contains(*w)) {
            findings.push(Finding {
                field,
                word,
                text: text.to_string(),
            });
        }
    }
    findings
}
