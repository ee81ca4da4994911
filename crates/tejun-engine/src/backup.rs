//! `backup` and `restore`: files copied into the run folder with their
//! SHA-256, and put back byte-identical.
//!
//! The journal, not the run folder, is the record of truth: a backup step's
//! `step.finished` event lists every file with its hash, and a restore
//! checks the copy against that hash before touching anything. A copy that
//! no longer matches (edited, truncated, replaced) is refused, and nothing
//! is restored: a restore is all files or none. Each file is written to a
//! temporary name beside the target, synced, then renamed over it, so a
//! crash never leaves a half-written config; its hash is checked again after
//! the rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use tejun_runbook::plan::redact;

use crate::events::FileRecord;

/// Copies each of `paths` (regular files) into
/// `run_dir/backup/<step_id>/<sha256 of the content>`: named by content,
/// never by the original path, which may hold a secret.
pub fn backup(run_dir: &Path, step_id: &str, paths: &[String]) -> Result<Vec<FileRecord>, String> {
    let mut records = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let source = std::path::absolute(path).map_err(|e| format!("{path}: {e}"))?;
        let meta = fs::metadata(&source)
            .map_err(|e| format!("cannot back up {}: {e}", source.display()))?;
        if !meta.is_file() {
            return Err(format!(
                "cannot back up {}: not a regular file (list the files to back up)",
                source.display()
            ));
        }
        let dir = run_dir.join("backup").join(step_id);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let partial = dir.join(format!(".partial-{index}"));
        let (sha256, size) = copy_hashed(&source, &partial, 0o600)
            .map_err(|e| format!("cannot copy {} into the run folder: {e}", source.display()))?;
        let relative = Path::new("backup").join(step_id).join(&sha256);
        fs::rename(&partial, run_dir.join(&relative))
            .map_err(|e| format!("cannot copy {} into the run folder: {e}", source.display()))?;
        records.push(FileRecord {
            path: source.display().to_string(),
            backup: relative.display().to_string(),
            sha256,
            size,
            mode: meta.permissions().mode() & 0o7777,
        });
    }
    Ok(records)
}

/// `records` as journaled and shown: secrets in paths replaced by `***`.
pub fn redacted(mut records: Vec<FileRecord>, secrets: &[String]) -> Vec<FileRecord> {
    for record in &mut records {
        record.path = redact(&record.path, secrets);
    }
    records
}

/// Puts every file of a backup back. The journal holds paths with secrets
/// redacted, so each file goes to the restore step's own rendered path
/// (`targets`, the backup's paths come last), which must redact to the
/// recorded one. Checks all copies first; restores none if any copy's hash
/// differs from the one recorded.
pub fn restore(
    run_dir: &Path,
    records: &[FileRecord],
    targets: &[String],
    secrets: &[String],
) -> Result<Vec<FileRecord>, String> {
    let Some(first) = targets.len().checked_sub(records.len()) else {
        return Err("the backup lists more files than the restore step knows".to_string());
    };
    let mut resolved = Vec::with_capacity(records.len());
    for (record, target) in records.iter().zip(&targets[first..]) {
        let target = std::path::absolute(target).map_err(|e| format!("{}: {e}", record.path))?;
        let shown = target.display().to_string();
        if shown != record.path && redact(&shown, secrets) != record.path {
            return Err(format!(
                "refusing to restore: {} was backed up, but the restore step now names {}; nothing was restored",
                record.path,
                redact(&shown, secrets)
            ));
        }
        resolved.push(target);
    }
    for record in records {
        let copy = run_dir.join(&record.backup);
        let actual =
            sha256_file(&copy).map_err(|e| format!("backup copy {}: {e}", copy.display()))?;
        if actual != record.sha256 {
            return Err(format!(
                "refusing to restore: the backup copy of {} was altered (recorded sha256 {}, now {actual}); nothing was restored",
                record.path, record.sha256
            ));
        }
    }
    for (record, target) in records.iter().zip(resolved) {
        let copy = run_dir.join(&record.backup);
        let temp = temp_beside(&target);
        let result = copy_hashed(&copy, &temp, record.mode).and_then(|(sha256, _)| {
            fs::set_permissions(&temp, fs::Permissions::from_mode(record.mode))?;
            if sha256 != record.sha256 {
                return Err(io::Error::other("copy changed while restoring"));
            }
            fs::rename(&temp, &target)?;
            if let Some(dir) = target.parent() {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        });
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(format!("cannot restore {}: {e}", record.path));
        }
        let after = sha256_file(&target).map_err(|e| format!("{}: {e}", record.path))?;
        if after != record.sha256 {
            return Err(format!(
                "restored {} but its sha256 is {after}, expected {}",
                record.path, record.sha256
            ));
        }
    }
    Ok(records.to_vec())
}

fn temp_beside(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tejun-restore-{}", std::process::id()))
}

/// Copies `from` to a new file `to` (mode `mode`), synced; returns the
/// SHA-256 and size of what was written.
fn copy_hashed(from: &Path, to: &Path, mode: u32) -> io::Result<(String, u64)> {
    let mut source = File::open(from)?;
    let _ = fs::remove_file(to);
    let mut dest = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(to)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dest.write_all(&buf[..n])?;
        size += n as u64;
    }
    dest.sync_all()?;
    Ok((hex::encode(hasher.finalize()), size))
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_is_byte_identical_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let file = dir.path().join("site.conf");
        let original = b"upstream app { server 10.0.0.1; }\n\x00\xff";
        fs::write(&file, original).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        let records = backup(&run, "b1", &[file.display().to_string()]).unwrap();
        fs::write(&file, b"broken").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o777)).unwrap();
        restore(&run, &records, &[file.display().to_string()], &[]).unwrap();
        assert_eq!(fs::read(&file).unwrap(), original);
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn altered_backup_is_refused_and_nothing_restored() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "a1").unwrap();
        fs::write(&b, "b1").unwrap();
        let paths = [a.display().to_string(), b.display().to_string()];
        let records = backup(&run, "b", &paths).unwrap();
        fs::write(&a, "a2").unwrap();
        fs::write(&b, "b2").unwrap();
        fs::write(run.join(&records[1].backup), "tampered").unwrap();
        let err = restore(&run, &records, &paths, &[]).unwrap_err();
        assert!(err.contains("altered"), "{err}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "a2");
    }

    #[test]
    fn copies_are_named_by_content_and_secret_paths_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let file = dir.path().join("tok-SECRET.conf");
        fs::write(&file, "x").unwrap();
        let paths = [file.display().to_string()];
        let records = backup(&run, "b", &paths).unwrap();
        assert!(!records[0].backup.contains("SECRET"), "{:?}", records[0]);
        let secrets = ["SECRET".to_string()];
        let shown = redacted(records, &secrets);
        assert!(shown[0].path.ends_with("tok-***.conf"), "{:?}", shown[0]);
        fs::write(&file, "changed").unwrap();
        restore(&run, &shown, &paths, &secrets).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "x");
        // A restore step naming another file than the one backed up.
        let other = [dir.path().join("other.conf").display().to_string()];
        assert!(restore(&run, &shown, &other, &secrets).is_err());
    }

    #[test]
    fn missing_and_directory_sources_fail() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        assert!(backup(&run, "b", &[dir.path().join("nope").display().to_string()]).is_err());
        assert!(backup(&run, "b", &[dir.path().display().to_string()]).is_err());
    }
}
