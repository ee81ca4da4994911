//! The log inputs a command reads, told apart before any is read.
//!
//! One place for every command that reads logs named on its command line
//! (`tejun scan`, and `tejun stats` / `tejun digest`): give [`Input::check`]
//! (or [`check_all`]) each argument, refuse the whole command on the first
//! refusal ([`InputError::is_refusal`]: exit 2, nothing read yet), report
//! the inputs that cannot be read and [`Input::open`] the others.
//!
//! * a regular file is read in place (a scan can cut it into parts for its
//!   threads); `.gz` files, or files whose first bytes are gzip's magic,
//!   are decompressed;
//! * `-` is standard input, and a pipe, FIFO or socket (`/dev/stdin` under
//!   `cat x |`, `<(zcat …)`) is a stream: read once, front to back, and
//!   decompressed when its first bytes are gzip's magic;
//! * a character or block device (`/dev/zero`, `/dev/urandom`, a terminal
//!   on standard input) is refused: it may never end, and a log is not a
//!   device. `/dev/null` is the exception: it ends at once.
//! * a directory or a missing file is reported, naming the argument;
//! * the systemd journal ([`journald`]) is an input too, built with
//!   [`Input::journal`] from a match, units or a journal directory.

pub mod journald;

use std::fs::File;
use std::io::{Cursor, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use tejun_locale::Lang;

/// gzip's magic bytes (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Where an input's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Standard input (`-`).
    Stdin,
    Path(PathBuf),
    /// Entries of the systemd journal.
    Journal(journald::Query),
}

/// How an input is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file of this many bytes, read in place.
    File { len: u64 },
    /// A regular file holding gzip (one or more members).
    Gzip,
    /// A pipe, FIFO, socket or standard input: read once, front to back
    /// (gzip or not is found from its first bytes when opened).
    Stream,
    /// The systemd journal: entries with their own times.
    Journal,
}

/// One checked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub origin: Origin,
    pub kind: Kind,
    /// As the operator wrote it (`-` for standard input).
    pub name: String,
    /// The file's modification time, for year-less dates (`None` for
    /// streams: their lines are as recent as now).
    pub modified: Option<std::time::SystemTime>,
}

/// Why an argument is not a readable log. Each names the argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// Does not exist or cannot be examined.
    Missing {
        name: String,
        error: String,
    },
    Directory {
        name: String,
    },
    /// A character or block device: may never end.
    Device {
        name: String,
        block: bool,
    },
    /// Standard input is a terminal: nothing would end it but ^D.
    Terminal {
        name: String,
    },
    /// `-` given more than once: standard input can be read only once.
    StdinTwice,
}

impl InputError {
    /// Refused outright (exit 2): reading it would never end or cannot be
    /// what was meant. Missing files and directories are not refusals:
    /// they are reported, and the other inputs still read.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            InputError::Device { .. } | InputError::Terminal { .. } | InputError::StdinTwice
        )
    }

    /// The argument it is about, and the reason without it.
    pub fn name_and_reason(&self, lang: Lang) -> (String, String) {
        let message = self.message(lang);
        match self {
            InputError::Missing { name, error } => (name.clone(), error.clone()),
            InputError::Directory { name }
            | InputError::Device { name, .. }
            | InputError::Terminal { name } => {
                let reason = message
                    .strip_prefix(&format!("{name}: "))
                    .unwrap_or(&message)
                    .to_string();
                (name.clone(), reason)
            }
            InputError::StdinTwice => ("-".to_string(), message),
        }
    }

    /// The message in the operator's language, starting with the argument.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            InputError::Missing { name, error } => {
                format!("{name}: {}: {error}", lang.pick("cannot read", "読み込めません"))
            }
            InputError::Directory { name } => format!(
                "{name}: {}",
                lang.pick(
                    "is a directory; name the log files in it",
                    "ディレクトリです。中のログファイルを指定してください"
                )
            ),
            InputError::Device { name, block } => format!(
                "{name}: {}",
                if *block {
                    lang.pick(
                        "is a block device, not a log; refused",
                        "ブロックデバイスはログではないため読みません",
                    )
                } else {
                    lang.pick(
                        "is a character device, which may never end; refused (to read part of it, pipe it: head -c 10M DEVICE | tejun scan -)",
                        "キャラクタデバイスは終わらない可能性があるため読みません (一部を読むにはパイプで渡してください: head -c 10M DEVICE | tejun scan -)",
                    )
                }
            ),
            InputError::Terminal { name } => format!(
                "{name}: {}",
                lang.pick(
                    "standard input is a terminal; pipe a log in (cat auth.log | tejun scan -) or name a file",
                    "標準入力が端末です。ログをパイプで渡す (cat auth.log | tejun scan -) か、ファイルを指定してください"
                )
            ),
            InputError::StdinTwice => lang
                .pick(
                    "-: standard input is named more than once; it can be read only once",
                    "-: 標準入力が複数回指定されています。標準入力は一度しか読めません",
                )
                .to_string(),
        }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for InputError {}

/// Checks every argument, in order. A refusal ([`InputError::is_refusal`]:
/// a device, a terminal, `-` twice) refuses them all; an input that merely
/// cannot be read (missing, a directory) is given back as its error, so
/// the command reports it and reads the others.
pub fn check_all<P: AsRef<Path>>(args: &[P]) -> Result<Vec<Result<Input, InputError>>, InputError> {
    let mut inputs: Vec<Result<Input, InputError>> = Vec::with_capacity(args.len());
    for arg in args {
        let input = Input::check(arg.as_ref());
        match &input {
            Err(e) if e.is_refusal() => return Err(e.clone()),
            Ok(i)
                if i.origin == Origin::Stdin
                    && inputs
                        .iter()
                        .any(|seen| seen.as_ref().is_ok_and(|s| s.origin == Origin::Stdin)) =>
            {
                return Err(InputError::StdinTwice);
            }
            _ => {}
        }
        inputs.push(input);
    }
    Ok(inputs)
}

impl Input {
    /// The entries of the systemd journal that `query` selects.
    pub fn journal(query: journald::Query) -> Input {
        Input {
            name: query.name(),
            origin: Origin::Journal(query),
            kind: Kind::Journal,
            modified: None,
        }
    }

    /// What `arg` is (`-` is standard input), without reading from it.
    pub fn check(arg: &Path) -> Result<Input, InputError> {
        let name = arg.display().to_string();
        let stdin = arg.as_os_str() == "-";
        let meta = if stdin {
            stdin_metadata()
        } else {
            std::fs::metadata(arg)
        }
        .map_err(|e| InputError::Missing {
            name: name.clone(),
            error: e.to_string(),
        })?;
        let kind = meta.file_type();
        let origin = if stdin {
            Origin::Stdin
        } else {
            Origin::Path(arg.to_path_buf())
        };
        if kind.is_dir() {
            return Err(InputError::Directory { name });
        }
        if kind.is_char_device() || kind.is_block_device() {
            if is_dev_null(&meta) {
                // Ends at once: an empty stream.
                return Ok(Input {
                    origin,
                    kind: Kind::Stream,
                    name,
                    modified: None,
                });
            }
            if stdin && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err(InputError::Terminal { name });
            }
            return Err(InputError::Device {
                name,
                block: kind.is_block_device(),
            });
        }
        if kind.is_file() && !stdin {
            let gzip = arg.extension().is_some_and(|e| e == "gz") || starts_with_gzip(arg);
            return Ok(Input {
                origin,
                kind: if gzip {
                    Kind::Gzip
                } else {
                    Kind::File { len: meta.len() }
                },
                name,
                modified: meta.modified().ok(),
            });
        }
        // A pipe, FIFO, socket, or a file redirected to standard input
        // (read as a stream: it is read through the descriptor we have).
        Ok(Input {
            origin,
            kind: Kind::Stream,
            name,
            modified: if kind.is_file() {
                meta.modified().ok()
            } else {
                None
            },
        })
    }

    /// Whether reading this input twice is impossible (streams).
    pub fn is_stream(&self) -> bool {
        self.kind == Kind::Stream
    }

    /// The input's lines as bytes, decompressed: gzip files, and streams
    /// whose first bytes are gzip's magic.
    pub fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        let raw = self.open_raw()?;
        match self.kind {
            Kind::File { .. } | Kind::Journal => Ok(raw),
            Kind::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(raw))),
            Kind::Stream => sniff_gzip(raw),
        }
    }

    /// [`Input::open`] with every byte read from the source (compressed
    /// bytes for gzip) told to `count`: how far a scan is.
    pub fn open_counted(
        &self,
        count: impl FnMut(u64) + Send + 'static,
    ) -> std::io::Result<Box<dyn Read + Send>> {
        let counted = Box::new(Counted {
            inner: self.open_raw()?,
            count,
        });
        match self.kind {
            Kind::File { .. } | Kind::Journal => Ok(counted),
            Kind::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(counted))),
            Kind::Stream => sniff_gzip(counted),
        }
    }
}

impl Input {
    /// The bytes as they come: a file, standard input, or journal entries
    /// as lines starting with their time (RFC 3339).
    fn open_raw(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(match &self.origin {
            Origin::Stdin => Box::new(std::io::stdin()),
            Origin::Path(path) => Box::new(File::open(path)?),
            Origin::Journal(query) => Box::new(journald::EntryLines::new(query.spawn(None)?)),
        })
    }
}

struct Counted<R, F> {
    inner: R,
    count: F,
}

impl<R: Read, F: FnMut(u64)> Read for Counted<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.count)(n as u64);
        Ok(n)
    }
}

/// Reads a stream's first bytes to see whether it is gzip, and gives back
/// a reader that still starts with them.
fn sniff_gzip(mut raw: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 2];
    let mut got = 0;
    // Bounded: at most two successful reads, and a read of 0 ends it.
    while got < head.len() {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = Cursor::new(head[..got].to_vec()).chain(raw);
    if got == 2 && head == GZIP_MAGIC {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(whole)))
    } else {
        Ok(Box::new(whole))
    }
}

fn starts_with_gzip(path: &Path) -> bool {
    let mut head = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == GZIP_MAGIC)
}

fn stdin_metadata() -> std::io::Result<std::fs::Metadata> {
    // The descriptor itself, whatever it is (pipe, file, terminal).
    std::fs::metadata("/proc/self/fd/0").or_else(|_| std::fs::metadata("/dev/stdin"))
}

fn is_dev_null(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/dev/null")
        .is_ok_and(|null| null.file_type().is_char_device() && meta.rdev() == null.rdev())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_that_never_end_are_refused_and_dev_null_is_empty() {
        let err = Input::check(Path::new("/dev/zero")).unwrap_err();
        assert!(
            matches!(err, InputError::Device { block: false, .. }),
            "{err:?}"
        );
        assert!(err.message(Lang::En).starts_with("/dev/zero: "));
        let null = Input::check(Path::new("/dev/null")).unwrap();
        assert_eq!(null.kind, Kind::Stream);
        let mut text = Vec::new();
        null.open().unwrap().read_to_end(&mut text).unwrap();
        assert!(text.is_empty());
    }

    #[test]
    fn a_gzip_file_is_known_by_its_magic_bytes_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log.1");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"one\ntwo\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let input = Input::check(&path).unwrap();
        assert_eq!(input.kind, Kind::Gzip);
        let mut text = String::new();
        input.open().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "one\ntwo\n");
    }

    #[test]
    fn a_stream_is_decompressed_when_its_first_bytes_say_gzip() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"zipped\n").unwrap();
        let mut text = String::new();
        sniff_gzip(Box::new(Cursor::new(gz.finish().unwrap())))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "zipped\n");
        let mut plain = String::new();
        sniff_gzip(Box::new(Cursor::new(b"p".to_vec())))
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "p");
    }
}
