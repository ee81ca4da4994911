//! The catalogue of evidence commands: a YAML data file, built in
//! (`catalog/default.yaml`, embedded at compile time) and extendable with
//! the user's own files. Every entry must say `safety: read-only`; see
//! [`super::safety`] for the second line of defence.

use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::safety;
use crate::error::{Error, Result};

/// The built-in catalogue.
pub const BUILT_IN: &str = include_str!("../../../../catalog/default.yaml");

/// Layers in the order the book gathers them.
pub const LAYERS: &[&str] = &[
    "os", "network", "web", "mysql", "postgres", "security", "boot",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub layer: String,
    pub title_en: String,
    pub title_ja: String,
    pub run: Vec<String>,
    pub timeout: Option<Duration>,
    /// `file:line:col` of the entry, for messages.
    pub origin: String,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    commands: Vec<Spanned<EntrySpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySpec {
    id: String,
    layer: String,
    title: Title,
    run: Vec<String>,
    safety: Spanned<String>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Title {
    en: String,
    ja: String,
}

impl Catalog {
    pub fn built_in() -> Result<Catalog> {
        let mut catalog = Catalog::default();
        catalog.add(BUILT_IN, "<built-in catalog/default.yaml>")?;
        Ok(catalog)
    }

    /// Adds a catalogue file's entries; an entry whose id already exists
    /// replaces it. Nothing is added if any entry is refused.
    pub fn add(&mut self, source: &str, file: &str) -> Result<()> {
        let spec: FileSpec = serde_saphyr::from_str(source).map_err(|e| {
            let msg = e.to_string();
            Error::input(
                format!("{file}: {msg}"),
                format!("{file}: カタログを読めません: {msg}"),
            )
        })?;
        let mut fresh: Vec<Entry> = Vec::new();
        for spanned in spec.commands {
            let origin = format!(
                "{file}:{}:{}",
                spanned.referenced.line(),
                spanned.referenced.column()
            );
            let e = spanned.value;
            let at =
                |loc: &serde_saphyr::Location| format!("{file}:{}:{}", loc.line(), loc.column());
            if e.id.trim().is_empty() || e.id.contains(['/', '\\']) || e.id.starts_with('.') {
                return Err(Error::input(
                    format!(
                        "{origin}: id {:?} must be a plain, non-empty name (it becomes a file name)",
                        e.id
                    ),
                    format!(
                        "{origin}: id {:?} は空でない単純な名前にしてください (ファイル名になります)",
                        e.id
                    ),
                ));
            }
            if e.layer.trim().is_empty() || e.layer.contains(['/', '\\', ',']) {
                return Err(Error::input(
                    format!(
                        "{origin}: layer {:?} must be a plain, non-empty name",
                        e.layer
                    ),
                    format!(
                        "{origin}: layer {:?} は空でない単純な名前にしてください",
                        e.layer
                    ),
                ));
            }
            if e.safety.value != "read-only" {
                let loc = at(&e.safety.referenced);
                return Err(Error::input(
                    format!(
                        "{loc}: entry {:?} has safety {:?}; tejun collect runs only `safety: read-only` commands",
                        e.id, e.safety.value
                    ),
                    format!(
                        "{loc}: エントリ {:?} の safety が {:?} です。tejun collect は `safety: read-only` のコマンドだけを実行します",
                        e.id, e.safety.value
                    ),
                ));
            }
            if let Err(reason) = safety::check(&e.run) {
                return Err(Error::input(
                    format!("{origin}: entry {:?} refused: {}", e.id, reason.en),
                    format!(
                        "{origin}: エントリ {:?} は拒否されました: {}",
                        e.id, reason.ja
                    ),
                ));
            }
            let timeout = match &e.timeout {
                None => None,
                Some(t) => Some(
                    tejun_runbook::duration::parse_duration(&t.value).ok_or_else(|| {
                        let loc = at(&t.referenced);
                        Error::input(
                            format!(
                                "{loc}: timeout {:?} is not a duration like 10s or 2m",
                                t.value
                            ),
                            format!(
                                "{loc}: timeout {:?} は 10s や 2m のような時間ではありません",
                                t.value
                            ),
                        )
                    })?,
                ),
            };
            if fresh.iter().any(|f| f.id == e.id) {
                return Err(Error::input(
                    format!("{origin}: id {:?} appears twice in this file", e.id),
                    format!("{origin}: id {:?} がこのファイル内で重複しています", e.id),
                ));
            }
            fresh.push(Entry {
                id: e.id,
                layer: e.layer,
                title_en: e.title.en,
                title_ja: e.title.ja,
                run: e.run,
                timeout,
                origin,
            });
        }
        for entry in fresh {
            match self.entries.iter_mut().find(|old| old.id == entry.id) {
                Some(old) => *old = entry,
                None => self.entries.push(entry),
            }
        }
        Ok(())
    }

    /// Every layer some entry belongs to.
    pub fn layers(&self) -> Vec<String> {
        let mut layers: Vec<String> = Vec::new();
        for e in &self.entries {
            if !layers.contains(&e.layer) {
                layers.push(e.layer.clone());
            }
        }
        layers
    }

    /// The entries of `layers` (all if empty), refusing unknown layer names.
    pub fn select(&self, layers: &[String]) -> Result<Vec<&Entry>> {
        let known = self.layers();
        if let Some(unknown) = layers.iter().find(|l| !known.contains(l)) {
            let list = known.join(", ");
            return Err(Error::input(
                format!("unknown layer {unknown:?}; known layers: {list}"),
                format!("不明なレイヤー {unknown:?} です。利用できるレイヤー: {list}"),
            ));
        }
        Ok(self
            .entries
            .iter()
            .filter(|e| layers.is_empty() || layers.contains(&e.layer))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogue_loads_and_covers_every_layer() {
        let catalog = Catalog::built_in().unwrap();
        for layer in LAYERS {
            assert!(catalog.layers().iter().any(|l| l == layer), "{layer}");
        }
        let ids: Vec<&str> = catalog.entries.iter().map(|e| e.id.as_str()).collect();
        for id in [
            "uptime",
            "failed-units",
            "listening",
            "mysql-processlist",
            "shutdown-history",
            "boots",
        ] {
            assert!(ids.contains(&id), "{id}");
        }
    }

    #[test]
    fn refuses_entries_that_are_not_read_only() {
        let mut catalog = Catalog::built_in().unwrap();
        let before = catalog.entries.len();
        let src = "commands:\n  - id: ok\n    layer: os\n    title: {en: a, ja: b}\n    run: [uptime]\n    safety: read-only\n  - id: wipe\n    layer: os\n    title: {en: a, ja: b}\n    run: [rm, -rf, /tmp/x]\n    safety: changes-state\n";
        let err = catalog.add(src, "mine.yaml").unwrap_err();
        assert!(err.to_string().starts_with("mine.yaml:11:13:"), "{err}");
        assert_eq!(catalog.entries.len(), before, "nothing half-added");
        let sneaky = src.replace("changes-state", "read-only");
        let err = catalog.add(&sneaky, "mine.yaml").unwrap_err();
        assert!(err.to_string().contains("rm"), "{err}");
        let err = catalog.add("commands:\n  - id: x\n    layer: os\n    title: {en: a, ja: b}\n    run: [uptime]\n    safety: read-only\n    timeout: soon\n", "t.yaml").unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:7:"), "{err}");
    }

    #[test]
    fn user_entries_replace_built_in_ones_by_id() {
        let mut catalog = Catalog::built_in().unwrap();
        catalog
            .add("commands:\n  - id: uptime\n    layer: os\n    title: {en: a, ja: b}\n    run: [cat, /proc/loadavg]\n    safety: read-only\n    timeout: 2s\n", "u.yaml")
            .unwrap();
        let entry = catalog.entries.iter().find(|e| e.id == "uptime").unwrap();
        assert_eq!(entry.run, vec!["cat", "/proc/loadavg"]);
        assert_eq!(entry.timeout, Some(Duration::from_secs(2)));
        assert!(catalog.select(&["nope".into()]).is_err());
    }
}
