//! Running a firewall tool: argv only, bounded in time, output captured.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::BanError;

/// A firewall command that hangs must not stall detection for long.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `argv` (prefixed by `wrapper`, e.g. `ip netns exec NAME`), feeding
/// `stdin`; returns stderr on failure.
pub fn run(wrapper: &[String], argv: &[String], stdin: Option<&str>) -> Result<(), BanError> {
    let full: Vec<&String> = wrapper.iter().chain(argv).collect();
    let (program, args) = full
        .split_first()
        .ok_or_else(|| BanError("empty command".into()))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BanError(format!("{program}: {e}")))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| BanError(format!("{program}: {e}")))?;
    }
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BanError(format!(
                    "{program}: no answer within {}s",
                    TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(BanError(format!("{program}: {e}"))),
        }
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    if status.success() {
        Ok(())
    } else {
        let shown: Vec<&str> = full.iter().map(|s| s.as_str()).collect();
        Err(BanError(format!(
            "`{}` failed ({status}): {}",
            shown.join(" "),
            stderr.trim()
        )))
    }
}
