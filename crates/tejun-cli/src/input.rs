//! Opening a log the way `tejun scan` does: a plain file, a `.gz` (read
//! through, progress counted in compressed bytes) or `-` for stdin, with
//! the scan progress bar on a terminal.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use indicatif::ProgressBar;

/// Bytes read so far go to the progress bar.
struct Counted<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// `path` for reading: `-` is stdin, `*.gz` is decompressed.
pub fn open_log(path: &Path, bar: Option<ProgressBar>) -> std::io::Result<Box<dyn BufRead>> {
    const BUFFER: usize = 256 << 10;
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            BUFFER,
            std::io::stdin().lock(),
        )));
    }
    if std::fs::metadata(path)?.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    let counted = Counted {
        inner: File::open(path)?,
        bar,
    };
    if path.extension().is_some_and(|e| e == "gz") {
        let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(BUFFER, counted));
        return Ok(Box::new(BufReader::with_capacity(BUFFER, decoder)));
    }
    Ok(Box::new(BufReader::with_capacity(BUFFER, counted)))
}
