//! Severities. The book's four levels are the default; an inventory may
//! replace them (`incidents.severities`), in which case its names and
//! definitions are the only ones accepted.

use tejun_locale::Lang;

use crate::error::Error;
use crate::settings::{IncidentSettings, default_severities};

/// The book's definitions: (name, English, Japanese).
pub const BOOK: &[(&str, &str, &str)] = &[
    (
        "P0",
        "full outage: the service is down for everyone",
        "全面停止: サービス全体が利用できない",
    ),
    ("P1", "a major function is broken", "主要機能の障害"),
    ("P2", "a minor function is broken", "一部機能の障害"),
    (
        "P3",
        "latent risk, no user impact yet",
        "潜在的リスク (利用者への影響はまだない)",
    ),
];

/// The severities in force: the inventory's if it defines any, else the book's.
pub fn names(settings: &IncidentSettings) -> Vec<String> {
    if settings.severities.is_empty() {
        BOOK.iter().map(|(name, _, _)| name.to_string()).collect()
    } else {
        settings.severities.keys().cloned().collect()
    }
}

/// Normalises and checks a severity the operator typed (`p1` → `P1`).
pub fn parse(input: &str, settings: &IncidentSettings) -> Result<String, Error> {
    let known = names(settings);
    let trimmed = input.trim();
    if let Some(name) = known.iter().find(|name| name.eq_ignore_ascii_case(trimmed)) {
        return Ok(name.clone());
    }
    let list = known.join(", ");
    Err(Error::input(
        format!("unknown severity {input:?}; expected one of: {list}"),
        format!("不明な重大度 {input:?} です。次のいずれかを指定してください: {list}"),
    ))
}

/// What a severity means, for reports: the inventory's own text if it
/// redefined the severity, else the book's in the operator's language.
pub fn definition(name: &str, settings: &IncidentSettings, lang: Lang) -> String {
    let book_text = default_severities().get(name).cloned();
    if let Some(text) = settings.severities.get(name)
        && Some(text) != book_text.as_ref()
    {
        return text.clone();
    }
    BOOK.iter()
        .find(|(book, _, _)| *book == name)
        .map(|(_, en, ja)| lang.pick(en, ja).to_string())
        .unwrap_or_default()
}
