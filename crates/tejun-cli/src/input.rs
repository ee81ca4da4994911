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
