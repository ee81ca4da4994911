//! What a run changed in the files it backed up: each backup copy in the
//! run folder against the file as it is now, as a unified diff.
//!
//! `tejun show RUN --diff` prints them all; `tejun run` prints them at the
//! end when they are short, so the operator sees what the change did
//! without opening the files. The backup is the "before" the run itself
//! recorded (its hash is in the journal), not a guess.

use std::path::Path;

use serde::Serialize;
use similar::TextDiff;
use tejun_engine::events::FileRecord;
use tejun_engine::history::RunTimeline;
use tejun_locale::Lang;

/// One backed-up file compared with its backup.
#[derive(Debug, Serialize)]
pub struct FileDiff {
    pub path: String,
    /// The backup step that copied it.
    pub step: String,
    pub state: FileState,
    /// A unified diff (backup → now) when both are text and differ.
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileState {
    Unchanged,
    Changed,
    /// The file is gone.
    Deleted,
    /// Changed, but not text: compared by hash only.
    ChangedBinary,
    /// Changed, and over [`DIFF_LIMIT`]: compared by hash only.
    ChangedLarge,
    /// The backup copy is missing from the run folder.
    BackupMissing,
    /// Backed up from fleet hosts: the file there is not compared.
    Remote,
    /// The path holds a secret and was journaled redacted.
    Redacted,
}

impl FileState {
    pub fn describe(self, lang: Lang) -> &'static str {
        match self {
            FileState::Unchanged => {
                lang.pick("unchanged since the backup", "バックアップから変更なし")
            }
            FileState::Changed => lang.pick("changed since the backup", "バックアップから変更あり"),
            FileState::Deleted => {
                lang.pick("deleted since the backup", "バックアップ後に削除された")
            }
            FileState::ChangedBinary => lang.pick(
                "changed since the backup (not text: compared by hash)",
                "バックアップから変更あり (テキストでないためハッシュで比較)",
            ),
            FileState::ChangedLarge => lang.pick(
                "changed since the backup (over 1 MiB: compared by hash, no diff)",
                "バックアップから変更あり (1 MiB 超のためハッシュで比較、差分なし)",
            ),
            FileState::BackupMissing => lang.pick(
                "the backup copy is missing from the run folder",
                "実行フォルダにバックアップのコピーがありません",
            ),
            FileState::Redacted => lang.pick(
                "its path holds a secret (redacted in the journal): not compared",
                "パスに秘密の値が含まれる (ジャーナルでは伏せ字): 比較しません",
            ),
            FileState::Remote => lang.pick(
                "on remote hosts: not compared here",
                "リモートホスト上のファイル: ここでは比較しません",
            ),
        }
    }
}

/// Every file the run's backup steps copied, each compared once (the
/// first backup of a path is the "before").
pub fn backed_up_files(timeline: &RunTimeline) -> Vec<FileDiff> {
    let Some(started) = &timeline.started else {
        return Vec::new();
    };
    let run_dir = Path::new(&started.run_dir);
    let mut out: Vec<FileDiff> = Vec::new();
    for step in timeline.steps.iter().filter(|s| s.kind == "backup") {
        let Some(finished) = &step.finished else {
            continue;
        };
        let remote = !finished.hosts.is_empty();
        for record in &finished.files {
            if out.iter().any(|d| d.path == record.path) {
                continue;
            }
            let (state, diff) = if remote {
                (FileState::Remote, None)
            } else if record.path.contains("***") {
                (FileState::Redacted, None)
            } else {
                compare(
                    &run_dir.join(&record.backup),
                    Path::new(&record.path),
                    record,
                )
            };
            out.push(FileDiff {
                path: record.path.clone(),
                step: step.step_id.clone(),
                state,
                diff,
            });
        }
    }
    out
}

/// Files larger than this are compared by hash, not diffed: every run
/// that backed one up ends with this comparison, and a diff of a large
/// dump would cost time and memory and help nobody on a terminal.
const DIFF_LIMIT: u64 = 1 << 20;

fn compare(backup: &Path, now: &Path, record: &FileRecord) -> (FileState, Option<String>) {
    let Ok(meta) = std::fs::metadata(now) else {
        return (FileState::Deleted, None);
    };
    if meta.len() > DIFF_LIMIT || record.size > DIFF_LIMIT {
        // The journal holds the backup's hash: the copy need not be read.
        return match tejun_engine::backup::sha256_file(now) {
            Ok(hash) if hash == record.sha256 => (FileState::Unchanged, None),
            Ok(_) => (FileState::ChangedLarge, None),
            Err(_) => (FileState::Deleted, None),
        };
    }
    let Ok(before) = std::fs::read(backup) else {
        return (FileState::BackupMissing, None);
    };
    let Ok(after) = std::fs::read(now) else {
        return (FileState::Deleted, None);
    };
    if before == after {
        return (FileState::Unchanged, None);
    }
    match (std::str::from_utf8(&before), std::str::from_utf8(&after)) {
        (Ok(before), Ok(after)) => {
            let name = now.display().to_string();
            let diff = TextDiff::from_lines(before, after)
                .unified_diff()
                .context_radius(3)
                .header(&format!("{name} (backup)"), &format!("{name} (now)"))
                .to_string();
            (FileState::Changed, Some(diff))
        }
        _ => (FileState::ChangedBinary, None),
    }
}

/// A diff with `+`/`-` lines coloured (anstream drops the colour for
/// `NO_COLOR` and pipes).
pub fn colored(diff: &str) -> String {
    let red = anstyle::AnsiColor::Red.on_default();
    let green = anstyle::AnsiColor::Green.on_default();
    let cyan = anstyle::AnsiColor::Cyan.on_default();
    let mut out = String::with_capacity(diff.len());
    for line in diff.lines() {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            anstyle::Style::new().bold()
        } else if line.starts_with('+') {
            green
        } else if line.starts_with('-') {
            red
        } else if line.starts_with("@@") {
            cyan
        } else {
            anstyle::Style::new()
        };
        out.push_str(&format!("{style}{line}{style:#}\n"));
    }
    out
}
