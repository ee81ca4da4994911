//! The likely-missing-index flag: a statement that reads far more rows
//! than it returns is scanning where an index would seek.

use tejun_locale::Lang;

/// When a fingerprint is flagged: its rows examined are at least
/// `min_ratio` times its rows sent (at least one), and it examines at
/// least `min_examined_per_call` rows per call on average (so a scan of a
/// ten-row table is not flagged).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IndexRule {
    pub min_ratio: f64,
    pub min_examined_per_call: f64,
}

impl Default for IndexRule {
    fn default() -> IndexRule {
        IndexRule {
            min_ratio: 100.0,
            min_examined_per_call: 1000.0,
        }
    }
}

impl IndexRule {
    /// Whether `count` calls of `fingerprint` that examined `examined`
    /// rows and sent `sent` look like they lack an index. Only statements
    /// that look rows up (SELECT, UPDATE, DELETE, WITH) are judged: an
    /// `INSERT … SELECT` or a `CREATE INDEX` reads a whole table by design.
    pub fn flags(&self, fingerprint: &str, count: u64, examined: u64, sent: u64) -> bool {
        let looks_up = ["select", "update", "delete", "with", "(select"]
            .iter()
            .any(|verb| fingerprint.starts_with(verb));
        looks_up
            && count > 0
            && ratio(examined, sent) >= self.min_ratio
            && examined as f64 / count as f64 >= self.min_examined_per_call
    }

    /// The rule as the report states it.
    pub fn describe(&self, lang: Lang) -> String {
        lang.pick(
            &format!(
                "INDEX? marks SELECT/UPDATE/DELETE statements with rows examined >= {}x rows sent and >= {} rows examined per call (--index-ratio, --index-min-rows)",
                self.min_ratio, self.min_examined_per_call
            ),
            &format!(
                "INDEX? は 調べた行数が 返した行数の {} 倍以上 かつ 1 回あたり {} 行以上 の SELECT/UPDATE/DELETE 文 (--index-ratio, --index-min-rows)",
                self.min_ratio, self.min_examined_per_call
            ),
        )
        .to_string()
    }
}

/// Rows examined per row sent (a statement that sends none counts as one).
pub fn ratio(examined: u64, sent: u64) -> f64 {
    examined as f64 / sent.max(1) as f64
}
