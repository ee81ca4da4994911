//! Opening a log named on the command line for the batch readers
//! (`tejun stats`, `tejun digest`, `collect`'s signals): through
//! `tejun_detect::input`, so `-`, pipes, gzip (by name or magic bytes) and
//! refused devices behave exactly as in `tejun scan`, with the bytes read
//! counted on the scan progress bar.

use std::io::{BufRead, BufReader};
use std::path::Path;

use indicatif::ProgressBar;
use tejun_detect::input::Input;
use tejun_locale::Lang;

const BUFFER: usize = 256 << 10;

/// `path` for reading, decompressed; errors in `lang`.
pub fn open_log(
    path: &Path,
    bar: Option<ProgressBar>,
    lang: Lang,
) -> std::io::Result<Box<dyn BufRead + Send>> {
    let input = Input::check(path).map_err(|e| std::io::Error::other(e.message(lang)))?;
    let reader = match bar {
        Some(bar) => input.open_counted(move |bytes| bar.inc(bytes))?,
        None => input.open()?,
    };
    Ok(Box::new(BufReader::with_capacity(BUFFER, reader)))
}

/// Plain files smaller than this are read on one thread (`tejun scan`'s
/// default part size).
pub const PART_MIN: u64 = 1 << 20;

/// `--threads`: at least 1; 0 or none means one per core.
pub fn threads(asked: Option<usize>) -> usize {
    match asked {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// The byte ranges a large plain file is read in on `threads` threads (cut
/// at line starts, as `tejun scan` cuts it), or `None` for a file read in
/// one piece: gzip, a pipe or stdin, a small file, one thread.
pub fn plain_file_parts(path: &Path, threads: usize) -> Option<Vec<u64>> {
    if threads < 2 {
        return None;
    }
    let input = Input::check(path).ok()?;
    let tejun_detect::input::Kind::File { len } = input.kind else {
        return None;
    };
    if len < PART_MIN {
        return None;
    }
    let bounds = tejun_detect::scan::file_parts(path, len, threads, PART_MIN).ok()?;
    (bounds.len() > 2).then_some(bounds)
}

/// Reads the parts of `path` between `bounds` on up to `threads` threads:
/// `read` gets each part's bytes (or the error opening it), and `merge`
/// gets their results in file order, as each becomes next, so few parts
/// wait in memory.
pub fn read_parts<R: Send>(
    path: &Path,
    bounds: &[u64],
    threads: usize,
    bar: Option<ProgressBar>,
    read: impl Fn(std::io::Result<Box<dyn std::io::Read + Send>>) -> R + Sync,
    merge: impl FnMut(R) + Send,
) {
    use std::collections::BTreeMap;
    use std::io::{Read, Seek, SeekFrom};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted<T> {
        inner: T,
        bar: Option<ProgressBar>,
    }
    impl<T: Read> Read for Counted<T> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            if let Some(bar) = &self.bar {
                bar.inc(n as u64);
            }
            Ok(n)
        }
    }

    let parts = bounds.len().saturating_sub(1);
    let next = AtomicUsize::new(0);
    // The next part to merge, the parts done ahead of it, the merger.
    let in_order = Mutex::new((0usize, BTreeMap::new(), merge));
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, parts.max(1)) {
            scope.spawn(|| {
                // Bounded: each turn takes a new part index.
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&[start, end]) = bounds.get(index..index + 2) else {
                        return;
                    };
                    let opened = std::fs::File::open(path)
                        .and_then(|mut f| f.seek(SeekFrom::Start(start)).map(|_| f))
                        .map(|f| {
                            Box::new(Counted {
                                inner: f.take(end - start),
                                bar: bar.clone(),
                            }) as Box<dyn Read + Send>
                        });
                    let result = read(opened);
                    let mut guard = in_order
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let (next_merge, waiting, merge) = &mut *guard;
                    waiting.insert(index, result);
                    while let Some(done) = waiting.remove(next_merge) {
                        merge(done);
                        *next_merge += 1;
                    }
                }
            });
        }
    });
}

/// Moves each inner cut of `bounds` forward to the first line at or after
/// it where `starts_entry(last byte of the line before, line)` holds, for
/// logs whose entries span several lines; cuts that meet drop out.
pub fn cut_at_entries(
    path: &Path,
    bounds: &[u64],
    starts_entry: impl Fn(u8, &[u8]) -> bool,
) -> std::io::Result<Vec<u64>> {
    use std::io::{Read, Seek, SeekFrom};

    let Some((&len, inner)) = bounds.split_last() else {
        return Ok(Vec::new());
    };
    let mut out = vec![0];
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let mut line = Vec::new();
    for &cut in inner.iter().skip(1) {
        let mut pos = cut.max(*out.last().expect("non-empty") + 1);
        if pos >= len {
            break;
        }
        // The byte before the line ending of the line before `pos`.
        let back = pos.min(3);
        file.seek(SeekFrom::Start(pos - back))?;
        let mut tail = vec![0; back as usize];
        file.read_exact(&mut tail)?;
        let mut before = last_byte(&tail);
        // Bounded: each turn reads one line, up to the end of the file.
        loop {
            line.clear();
            let read = file.read_until(b'\n', &mut line)?;
            if read == 0 {
                pos = len;
                break;
            }
            if starts_entry(before, &line) {
                break;
            }
            before = last_byte(&line);
            pos += read as u64;
        }
        if pos < len {
            out.push(pos);
        }
    }
    out.push(len);
    Ok(out)
}

/// The last byte of a line without its `\n` / `\r\n` (0 for an empty one).
fn last_byte(line: &[u8]) -> u8 {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.last().copied().unwrap_or(0)
}
