//! Bounded capture of a command's output.
//!
//! A step may print gigabytes (a log dump, a `find /`). The engine must not
//! hold that in memory, yet the journal wants proof of what was printed and
//! the operator wants the last lines. So each stream keeps a running SHA-256
//! of everything and only the last `keep` bytes. The run-wide hash is over
//! stdout followed by stderr; since both streams arrive at once, stderr is
//! spooled (in memory while small, then to an anonymous temporary file) so
//! it can be fed to the hash after stdout.

use std::io::{self, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

/// Spooled stderr above this size goes to a temporary file.
const SPOOL_IN_MEMORY: usize = 256 * 1024;

/// One stream's capture: a hash of every byte and the last `keep` bytes.
#[derive(Debug)]
pub struct Capture {
    hasher: Sha256,
    tail: Vec<u8>,
    keep: usize,
    total: u64,
    spool: Option<Spool>,
}

#[derive(Debug)]
enum Spool {
    Memory(Vec<u8>),
    File(std::fs::File),
}

impl Capture {
    /// Keeps the last `keep` bytes; with `spool`, also every byte for
    /// [`combined_sha256`].
    pub fn new(keep: usize, spool: bool) -> Capture {
        Capture {
            hasher: Sha256::new(),
            tail: Vec::new(),
            keep,
            total: 0,
            spool: spool.then(|| Spool::Memory(Vec::new())),
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.total += bytes.len() as u64;
        if bytes.len() >= self.keep {
            self.tail.clear();
            self.tail
                .extend_from_slice(&bytes[bytes.len() - self.keep..]);
        } else {
            self.tail.extend_from_slice(bytes);
            if self.tail.len() > self.keep {
                let cut = self.tail.len() - self.keep;
                self.tail.drain(..cut);
            }
        }
        if let Some(spool) = &mut self.spool {
            spool.write(bytes);
        }
    }

    /// Reads `reader` to its end (or error) into this capture.
    pub fn drain(&mut self, mut reader: impl Read) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => self.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// The last bytes kept, lossily decoded.
    pub fn tail_text(&self) -> String {
        String::from_utf8_lossy(&self.tail).into_owned()
    }

    /// Whether bytes were dropped from the front of the tail.
    pub fn truncated(&self) -> bool {
        self.total > self.tail.len() as u64
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

impl Spool {
    fn write(&mut self, bytes: &[u8]) {
        if let Spool::Memory(buf) = self {
            if buf.len() + bytes.len() <= SPOOL_IN_MEMORY {
                buf.extend_from_slice(bytes);
                return;
            }
            let spilled =
                tempfile::tempfile().and_then(|mut file| file.write_all(buf).map(|()| file));
            match spilled {
                Ok(file) => *self = Spool::File(file),
                // No temp space: keep spooling in memory rather than lose
                // bytes of the hash.
                Err(_) => {
                    buf.extend_from_slice(bytes);
                    return;
                }
            }
        }
        if let Spool::File(file) = self {
            // A failed write shows up as a wrong combined hash only, never
            // as a failed step: the output is evidence, not the result.
            let _ = file.write_all(bytes);
        }
    }
}

/// SHA-256 of `first`'s bytes followed by `second`'s spooled bytes.
pub fn combined_sha256(first: &Capture, second: &mut Capture) -> String {
    let mut hasher = Sha256::new();
    // Re-hashing `first` would need its bytes; instead hash its stream
    // state forward: Sha256 is incremental, so clone and continue.
    hasher.clone_from(&first.hasher);
    match &mut second.spool {
        Some(Spool::Memory(buf)) => hasher.update(&buf[..]),
        Some(Spool::File(file)) => hash_from_start(file, &mut hasher),
        None => {}
    }
    hex::encode(hasher.finalize())
}

fn hash_from_start(mut file: &std::fs::File, hasher: &mut Sha256) {
    if file.seek(SeekFrom::Start(0)).is_err() {
        return;
    }
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail_but_hashes_everything() {
        let mut c = Capture::new(4, false);
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.tail_text(), "orld");
        assert!(c.truncated());
        assert_eq!(c.sha256(), hex::encode(Sha256::digest(b"hello world")));
    }

    #[test]
    fn combined_hash_is_stdout_then_stderr_even_when_spooled_to_disk() {
        let mut out = Capture::new(16, false);
        let mut err = Capture::new(16, true);
        out.push(b"out");
        let big = vec![b'e'; SPOOL_IN_MEMORY + 10];
        err.push(&big[..100]);
        err.push(&big[100..]);
        let mut expected = b"out".to_vec();
        expected.extend_from_slice(&big);
        assert_eq!(
            combined_sha256(&out, &mut err),
            hex::encode(Sha256::digest(&expected))
        );
    }
}
