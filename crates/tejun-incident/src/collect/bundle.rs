//! The evidence bundle: `<name>/<layer>/<id>.txt` per command plus
//! `<name>/manifest.json` with the SHA-256 of every file, as one tar.gz.
//! Written to a temporary name and renamed, so a bundle that exists is
//! complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::runner::Outcome;
use crate::error::{Error, Result};
use crate::events::EvidenceFile;

/// What was written.
#[derive(Debug, Clone)]
pub struct Collected {
    pub path: PathBuf,
    pub sha256: String,
    pub files: Vec<EvidenceFile>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'static str,
    incident: Option<&'a str>,
    host: &'a str,
    collected_at: String,
    redaction: Redaction,
    files: Vec<ManifestFile>,
}

#[derive(Serialize)]
struct Redaction {
    secrets: bool,
    ips: bool,
    users: bool,
}

#[derive(Serialize)]
struct ManifestFile {
    name: String,
    sha256: String,
    bytes: usize,
    id: String,
    layer: String,
    command: String,
    status: &'static str,
    exit_code: Option<i32>,
    duration_ms: u64,
    reason: Option<String>,
}

pub struct BundleInfo<'a> {
    pub out_dir: &'a Path,
    pub host: &'a str,
    pub incident: Option<&'a str>,
    pub at: Timestamp,
    pub redact_ips: bool,
    pub redact_users: bool,
}

/// The text file for one command.
pub fn render_output(o: &Outcome, at: Timestamp) -> String {
    let mut text = format!(
        "# {} — {} / {}\n# command: {}\n# status: {}",
        o.id,
        o.title_en,
        o.title_ja,
        o.command,
        o.status.as_str()
    );
    if let Some(code) = o.exit_code {
        text.push_str(&format!(" (exit {code})"));
    }
    text.push_str(&format!(" in {} ms\n", o.duration_ms));
    if let Some(reason) = &o.reason {
        text.push_str(&format!("# reason: {reason}\n"));
    }
    text.push_str(&format!(
        "# collected-at: {at}\n--- stdout ---\n{}",
        o.stdout
    ));
    if !o.stdout.is_empty() && !o.stdout.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("--- stderr ---\n{}", o.stderr));
    text
}

pub fn write_bundle(outcomes: &[Outcome], info: &BundleInfo<'_>) -> Result<Collected> {
    let stamp = info.at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let host = info
        .host
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    let name = match info.incident {
        Some(id) => format!("evidence-{id}-{host}-{stamp}"),
        None => format!("evidence-{host}-{stamp}"),
    };
    std::fs::create_dir_all(info.out_dir).map_err(|e| io_error(info.out_dir, &e))?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut manifest_files = Vec::new();
    for o in outcomes {
        let file = format!("{}/{}.txt", o.layer, o.id);
        let body = render_output(o, info.at).into_bytes();
        manifest_files.push(ManifestFile {
            name: file.clone(),
            sha256: sha256_hex(&body),
            bytes: body.len(),
            id: o.id.clone(),
            layer: o.layer.clone(),
            command: o.command.clone(),
            status: o.status.as_str(),
            exit_code: o.exit_code,
            duration_ms: o.duration_ms,
            reason: o.reason.clone(),
        });
        files.push((file, body));
    }
    let manifest = Manifest {
        format: "tejun-evidence/v1",
        incident: info.incident,
        host: info.host,
        collected_at: info.at.to_string(),
        redaction: Redaction {
            secrets: true,
            ips: info.redact_ips,
            users: info.redact_users,
        },
        files: manifest_files,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    let mut evidence: Vec<EvidenceFile> = manifest
        .files
        .iter()
        .map(|f| EvidenceFile {
            name: f.name.clone(),
            sha256: f.sha256.clone(),
            status: f.status.to_string(),
        })
        .collect();
    evidence.push(EvidenceFile {
        name: "manifest.json".to_string(),
        sha256: sha256_hex(&manifest_bytes),
        status: "ok".to_string(),
    });
    files.push(("manifest.json".to_string(), manifest_bytes));

    let path = info.out_dir.join(format!("{name}.tar.gz"));
    let tmp = info.out_dir.join(format!(".{name}.tar.gz.partial"));
    let result = (|| -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
        let mtime = info.at.as_second().max(0) as u64;
        for (file_name, body) in &files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(mtime);
            header.set_cksum();
            tar.append_data(&mut header, format!("{name}/{file_name}"), body.as_slice())?;
        }
        let gz = tar.into_inner()?;
        let mut file = gz.finish()?;
        file.flush()?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(&path, &e));
    }
    let bytes = std::fs::read(&path).map_err(|e| io_error(&path, &e))?;
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    Ok(Collected {
        path,
        sha256: sha256_hex(&bytes),
        files: evidence,
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::io(
        format!("{}: {e}", path.display()),
        format!("{}: {e}", path.display()),
    )
}
