//! Batch scanning of whole files, `.gz` included, on every core.
//!
//! Memory stays flat whatever the file size: files are streamed in buffered
//! chunks, never loaded whole, and only per-offender counters are kept. A
//! plain file is cut at line boundaries into parts, several per thread;
//! each thread takes the next part when done with one, matches it with its
//! own [`Matcher`] (restarted at every part, so a part's result does not
//! depend on the thread), and parts are merged in file order as they finish
//! (offender counts, first/last time, users). Compressed files are read by
//! one thread (gzip cannot be split).
//!
//! Consequence of splitting: fail2ban state that spans lines (`maxlines`,
//! connection ids) starts fresh at each part boundary, which can lose at
//! most the few lines around each cut point (15 in a 100 MB file on two
//! cores).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::RuleSet;
use crate::date::DateContext;
use crate::input::{Input, InputError, Kind, Origin};
use crate::ip::Offender;
use crate::matcher::{FastMap, HitRef, HitSink, Matcher};
use crate::model::EngineReport;

mod offenders;

use offenders::OffenderTable;

/// Lines longer than this are matched on their first MAX_LINE bytes only
/// (and counted), so one huge line cannot blow memory up.
pub const MAX_LINE: usize = 1 << 20;
/// Sample lines kept per rule for the report.
const SAMPLES: usize = 5;
/// Users remembered per offender (the first ones seen).
const USERS_PER_OFFENDER: usize = 4;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub zone: TimeZone,
    pub threads: usize,
    /// Reference time for year-less dates; default: each file's mtime.
    pub now: Option<Timestamp>,
    /// Told how many more bytes of input were read (on disk: compressed
    /// bytes for `.gz`), about once per MiB and from every scan thread.
    pub progress: Option<Progress>,
    /// Smallest part a file is cut into for the threads; smaller files are
    /// scanned on one.
    pub part_bytes: u64,
    /// Told every counted hit with its file and line number, in input
    /// order (`tejun scan --matches`): files are then scanned on one
    /// thread each, so line numbers are known as lines are read.
    pub matches: Option<MatchSink>,
}

/// One hit as `tejun scan --matches` shows it.
#[derive(Debug, Clone, Copy)]
pub struct MatchedLine<'a> {
    /// The input as named on the command line (`-` for standard input).
    pub input: &'a str,
    /// 1-based line number in the (decompressed) input.
    pub line_number: u64,
    pub hit: HitRef<'a>,
}

/// Where hits go one by one (see [`ScanOptions::matches`]).
#[derive(Clone)]
pub struct MatchSink(pub Arc<Mutex<MatchFn>>);

/// What a [`MatchSink`] calls.
pub type MatchFn = dyn FnMut(&MatchedLine<'_>) + Send;

impl std::fmt::Debug for MatchSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MatchSink(..)")
    }
}

/// A progress callback for long scans (the CLI draws a bar with it).
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Bytes gathered before the progress callback is called.
const PROGRESS_STEP: u64 = 1 << 20;

/// Reports bytes to a [`Progress`] in steps of [`PROGRESS_STEP`], the rest
/// when dropped (so a finished file always adds up to its size).
struct ProgressCount {
    progress: Option<Progress>,
    pending: u64,
}

impl ProgressCount {
    fn new(progress: Option<Progress>) -> Self {
        ProgressCount {
            progress,
            pending: 0,
        }
    }
    fn add(&mut self, bytes: u64) {
        if let Some(p) = &self.progress {
            self.pending += bytes;
            if self.pending >= PROGRESS_STEP {
                (p.0)(std::mem::take(&mut self.pending));
            }
        }
    }
}

impl Drop for ProgressCount {
    fn drop(&mut self) {
        if let Some(p) = &self.progress
            && self.pending > 0
        {
            (p.0)(self.pending);
        }
    }
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            since: None,
            until: None,
            zone: TimeZone::try_system().unwrap_or(TimeZone::UTC),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            part_bytes: 1 << 20,
            now: None,
            progress: None,
            matches: None,
        }
    }
}

/// What one file contributed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileReport {
    pub path: String,
    pub lines: u64,
    pub hits: u64,
    /// Matching lines whose date could not be read (still counted as hits).
    pub undated: u64,
    /// Lines on which a backtracking pattern hit its limit.
    pub match_errors: u64,
    /// Lines longer than [`MAX_LINE`] (matched on their beginning).
    pub long_lines: u64,
    /// Lines with NUL bytes or invalid UTF-8 (read lossily).
    pub binary_lines: u64,
    /// Hits outside --since/--until.
    pub out_of_range: u64,
    /// Set when the file could not be read; other files carry on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OffenderReport {
    pub host: Offender,
    pub count: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Sorted, without duplicates. Shared: a report can hold hundreds of
    /// thousands of offenders but few distinct sets of users, so offenders
    /// with the same users point at one list (an allocation per offender
    /// was half the time spent building a report, and a B-tree per
    /// offender once dominated peak memory).
    #[serde(serialize_with = "serialize_names")]
    pub users: Arc<[Arc<str>]>,
}

impl OffenderReport {
    /// Where an offender goes in its rule's report: most hits first, then
    /// by address ([`Offender::order_key`], integers rather than the
    /// enums `Ord` matches on); names tie there and go by `Ord`. Hosts are
    /// unique within a rule, so the order is total.
    fn report_order(a: &OffenderReport, b: &OffenderReport) -> std::cmp::Ordering {
        (b.count.cmp(&a.count))
            .then_with(|| a.host.order_key().cmp(&b.host.order_key()))
            .then_with(|| a.host.cmp(&b.host))
    }
}

fn serialize_names<S: serde::Serializer>(names: &[Arc<str>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(names.iter().map(|n| &**n))
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub rule: String,
    pub matches: u64,
    pub offenders: Vec<OffenderReport>,
    pub samples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub files: Vec<FileReport>,
    pub rules: Vec<RuleReport>,
    pub engines: Vec<EngineReport>,
}

impl ScanReport {
    pub fn total_lines(&self) -> u64 {
        self.files.iter().map(|f| f.lines).sum()
    }
    pub fn failed_files(&self) -> usize {
        self.files.iter().filter(|f| f.error.is_some()).count()
    }
}

/// Per-offender counters, 40 bytes and allocation-free: a large file can
/// have hundreds of thousands of distinct offenders. Times are Unix seconds
/// (`i64::MIN`/`MAX` = none yet), users are indices into the range's
/// [`Partial::user_names`] (`u32::MAX` = empty slot).
#[derive(Debug)]
struct Agg {
    count: u64,
    first: i64,
    last: i64,
    users: [u32; USERS_PER_OFFENDER],
}

impl Default for Agg {
    fn default() -> Agg {
        Agg {
            count: 0,
            first: i64::MAX,
            last: i64::MIN,
            users: [u32::MAX; USERS_PER_OFFENDER],
        }
    }
}

impl Agg {
    fn add(&mut self, time: Option<Timestamp>, user: Option<u32>) {
        self.count += 1;
        if let Some(t) = time {
            self.first = self.first.min(t.as_second());
            self.last = self.last.max(t.as_second());
        }
        if let Some(u) = user {
            self.add_user(u);
        }
    }
    fn add_user(&mut self, user: u32) {
        for slot in &mut self.users {
            if *slot == user {
                return;
            }
            if *slot == u32::MAX {
                *slot = user;
                return;
            }
        }
    }
    /// Merges counters whose user indices were remapped by `map`.
    fn merge(&mut self, other: Agg, map: &[u32]) {
        self.count += other.count;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        for u in other.users.into_iter().filter(|u| *u != u32::MAX) {
            self.add_user(map[u as usize]);
        }
    }
    fn time(secs: i64) -> Option<Timestamp> {
        (secs != i64::MAX && secs != i64::MIN)
            .then(|| Timestamp::from_second(secs).ok())
            .flatten()
    }
}

/// Per-offender counters by rule and offender.
type Offenders = OffenderTable<Agg>;

/// Counters of one range of one file.
#[derive(Debug, Default)]
struct Partial {
    file: FileReport,
    /// User names seen, indexed by [`Agg::users`].
    user_names: Vec<Arc<str>>,
    user_index: FastMap<Arc<str>, u32>,
    offenders: Offenders,
    matches: Vec<u64>,
    samples: Vec<Vec<String>>,
}

impl Partial {
    fn new(rules: usize) -> Partial {
        Partial {
            matches: vec![0; rules],
            samples: vec![Vec::new(); rules],
            ..Partial::default()
        }
    }
    fn intern(&mut self, user: &str) -> u32 {
        if let Some(i) = self.user_index.get(user) {
            return *i;
        }
        let shared: Arc<str> = Arc::from(user);
        let index = self.user_names.len() as u32;
        self.user_names.push(shared.clone());
        self.user_index.insert(shared, index);
        index
    }

    /// Adds `other`'s counters, in file order after this one's, and gives
    /// back its offender table emptied (its memory kept for another part).
    fn merge(&mut self, mut other: Partial) -> Offenders {
        if self.offenders.is_empty() && self.user_names.is_empty() {
            // The first contribution is adopted rather than copied: copying
            // held two tables of every offender at once (≈10 MB each for
            // 65k offenders), the largest part of peak memory.
            std::mem::swap(&mut self.offenders, &mut other.offenders);
            std::mem::swap(&mut self.user_names, &mut other.user_names);
            std::mem::swap(&mut self.user_index, &mut other.user_index);
        }
        let map: Vec<u32> = other.user_names.iter().map(|u| self.intern(u)).collect();
        let f = &mut self.file;
        f.lines += other.file.lines;
        f.hits += other.file.hits;
        f.undated += other.file.undated;
        f.match_errors += other.file.match_errors;
        f.long_lines += other.file.long_lines;
        f.binary_lines += other.file.binary_lines;
        f.out_of_range += other.file.out_of_range;
        let merge = |mine: &mut Agg, theirs| mine.merge(theirs, &map);
        self.offenders.absorb(&mut other.offenders, merge);
        for (i, m) in other.matches.into_iter().enumerate() {
            self.matches[i] += m;
        }
        for (i, s) in other.samples.into_iter().enumerate() {
            for line in s {
                if self.samples[i].len() < SAMPLES {
                    self.samples[i].push(line);
                }
            }
        }
        other.offenders
    }
}

/// Scans files; unreadable files are reported in their [`FileReport`] and
/// the others are still scanned. Commands that refuse bad inputs up front
/// check them with [`crate::input::check_all`] and call [`scan_inputs`].
pub fn scan_files(rules: &RuleSet, paths: &[PathBuf], options: &ScanOptions) -> ScanReport {
    let checked: Vec<Result<Input, InputError>> = paths.iter().map(|p| Input::check(p)).collect();
    scan_checked(rules, checked, options)
}

/// Scans inputs already checked (see [`crate::input::check_all`]): files,
/// gzip, pipes and standard input; those that could not be checked are
/// reported with their error in their [`FileReport`].
pub fn scan_checked(
    rules: &RuleSet,
    inputs: Vec<Result<Input, InputError>>,
    options: &ScanOptions,
) -> ScanReport {
    let mut total = Partial::new(rules.rules.len());
    let mut files = Vec::new();
    for input in inputs {
        let mut part = match input {
            Ok(input) => {
                let mut part = scan_input(rules, &input, options);
                part.file.path = input.name;
                part
            }
            Err(e) => {
                let mut part = Partial::new(rules.rules.len());
                let (name, error) = match e {
                    InputError::Directory { name } => (name, "is a directory".into()),
                    other => other.name_and_reason(tejun_locale::Lang::En),
                };
                part.file.path = name;
                part.file.error = Some(error);
                part
            }
        };
        files.push(std::mem::take(&mut part.file));
        total.merge(part);
    }
    let mut reports: Vec<RuleReport> = rules
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleReport {
            rule: r.name.to_string(),
            matches: total.matches[i],
            offenders: Vec::new(),
            samples: std::mem::take(&mut total.samples[i]),
        })
        .collect();
    // Exact capacities: growing by doubling would briefly hold two copies.
    let mut per_rule = vec![0usize; reports.len()];
    for rule in total.offenders.rules() {
        per_rule[rule] += 1;
    }
    for (report, n) in reports.iter_mut().zip(per_rule) {
        report.offenders.reserve_exact(n);
    }
    // Each interned name's place in name order, so an offender's users sort
    // by number rather than by comparing strings.
    let mut by_name: Vec<u32> = (0..total.user_names.len() as u32).collect();
    by_name
        .sort_unstable_by(|a, b| total.user_names[*a as usize].cmp(&total.user_names[*b as usize]));
    let mut rank = vec![0u32; by_name.len()];
    for (place, index) in by_name.iter().enumerate() {
        rank[*index as usize] = place as u32;
    }
    // Built straight from the table, then sorted in place: a sorted list
    // of table entries first held a third copy of every offender.
    let mut user_sets: FastMap<[u32; USERS_PER_OFFENDER], Arc<[Arc<str>]>> = FastMap::default();
    for ((rule, host), agg) in total.offenders.into_entries() {
        let mut ids = agg.users;
        // Empty slots (u32::MAX) rank last.
        ids.sort_unstable_by_key(|u| rank.get(*u as usize).copied().unwrap_or(u32::MAX));
        // Indices are unique per offender (`Agg::add_user`), and so are
        // the names they intern.
        let users = user_sets.entry(ids).or_insert_with(|| {
            ids.iter()
                .filter(|u| **u != u32::MAX)
                .map(|u| total.user_names[*u as usize].clone())
                .collect()
        });
        reports[rule].offenders.push(OffenderReport {
            host,
            count: agg.count,
            first: Agg::time(agg.first),
            last: Agg::time(agg.last),
            users: users.clone(),
        });
    }
    for report in &mut reports {
        crate::parallel::sort_unstable_by(&mut report.offenders, OffenderReport::report_order);
    }
    ScanReport {
        files,
        rules: reports,
        engines: rules.engine_reports(),
    }
}

fn scan_input(rules: &RuleSet, input: &Input, options: &ScanOptions) -> Partial {
    let mut failed = Partial::new(rules.rules.len());
    let now = options
        .now
        .or_else(|| input.modified.and_then(|m| Timestamp::try_from(m).ok()));
    let ctx = DateContext::new(options.zone.clone(), now.unwrap_or_else(Timestamp::now));
    let path = match (&input.origin, input.kind) {
        (Origin::Path(path), Kind::File { len }) => (path, len),
        (Origin::Journal(query), _) => {
            return scan_journal(rules, query, &input.name, &ctx, options);
        }
        _ => {
            // One reader, front to back: gzip cannot be split, and a stream
            // can be read only once.
            // On disk bytes (compressed ones for gzip): a decompressed
            // stream cannot say how far into the file it is.
            let mut count = ProgressCount::new(options.progress.clone());
            let opened = input.open_counted(move |n| count.add(n));
            return match opened {
                Ok(reader) => {
                    let mut worker = Worker::new(rules);
                    let mut part = scan_reader(
                        rules,
                        &mut worker,
                        reader,
                        &ctx,
                        options,
                        false,
                        &input.name,
                    );
                    if input.kind == Kind::Gzip
                        && let Some(e) = part.file.error.take()
                    {
                        part.file.error = Some(format!("gzip: {e}"));
                    }
                    part
                }
                Err(e) => {
                    failed.file.error = Some(e.to_string());
                    failed
                }
            };
        }
    };
    let (path, len) = (path.0.as_path(), path.1);
    let threads = if len < options.part_bytes || options.matches.is_some() {
        1
    } else {
        options.threads.max(1)
    };
    let bounds = match split_points(path, len, &part_targets(len, threads, options.part_bytes)) {
        Ok(b) => b,
        Err(e) => {
            failed.file.error = Some(e.to_string());
            return failed;
        }
    };
    let merged = Mutex::new(InOrder::new(rules.rules.len()));
    let next_part = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(bounds.len() - 1) {
            scope.spawn(|| {
                let mut worker = Worker::new(rules);
                loop {
                    let index = next_part.fetch_add(1, Ordering::Relaxed);
                    let Some(&[start, end]) = bounds.get(index..index + 2) else {
                        return;
                    };
                    worker.matcher.restart();
                    let part = scan_range(
                        rules,
                        &mut worker,
                        path,
                        (start, end),
                        &ctx,
                        options,
                        &input.name,
                    );
                    let mut merged = merged.lock().unwrap_or_else(PoisonError::into_inner);
                    worker.offenders = merged.add(index, part);
                }
            });
        }
    });
    merged
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .total
}

/// Matches the journal entries `query` selects, each at its own time
/// (no date is searched in the text, as fail2ban's systemd backend does).
fn scan_journal(
    rules: &RuleSet,
    query: &crate::input::journald::Query,
    name: &str,
    ctx: &DateContext,
    options: &ScanOptions,
) -> Partial {
    let mut part = Partial::new(rules.rules.len());
    part.file.path = name.to_string();
    let mut matcher = Matcher::new(rules);
    let entries = match query.spawn(None) {
        Ok(entries) => entries,
        Err(e) => {
            part.file.error = Some(e.to_string());
            return part;
        }
    };
    for entry in entries {
        match entry {
            Ok(entry) => {
                part.file.lines += 1;
                let stats = matcher.feed_into(
                    &entry.line,
                    Some(entry.time),
                    ctx,
                    &mut Counting {
                        part: &mut part,
                        options,
                    },
                );
                part.file.match_errors += stats.match_errors as u64;
            }
            Err(e) => {
                part.file.error = Some(e.to_string());
                break;
            }
        }
    }
    part
}

/// Byte offsets `[0, …, len]` cutting a plain file of `len` bytes at line
/// starts for `threads` threads, no part under `smallest` bytes: the parts
/// `tejun scan` reads in parallel, for the other readers of large logs
/// (`tejun stats`, `tejun digest`).
pub fn file_parts(
    path: &Path,
    len: u64,
    threads: usize,
    smallest: u64,
) -> std::io::Result<Vec<u64>> {
    split_points(path, len, &part_targets(len, threads, smallest))
}

/// Where a file of `len` bytes is cut for `threads` threads, before the
/// cuts move to line starts. Each part is a share of what is left (never
/// under `smallest`), so parts shrink towards the end: a thread on a
/// slower core (this machine's two differ by half under load) takes fewer
/// of them, and the last ones are short enough that the threads finish
/// together. Equal parts left one thread a whole part behind the other.
fn part_targets(len: u64, threads: usize, smallest: u64) -> Vec<u64> {
    let mut targets = Vec::new();
    if threads < 2 {
        return targets;
    }
    let share = 2 * threads as u64;
    let mut at = 0;
    // Bounded: each turn moves at least `smallest` (at least 1) bytes on.
    loop {
        let remaining = len - at;
        let size = (remaining / share).max(smallest.max(1));
        if size >= remaining {
            return targets;
        }
        at += size;
        targets.push(at);
    }
}

/// Parts merged in file order as they are done: the first users of an
/// offender and the sample lines are those of a scan in one piece.
struct InOrder {
    next: usize,
    waiting: BTreeMap<usize, Partial>,
    total: Partial,
    /// Offender tables of merged parts, emptied, for the next parts:
    /// growing a fresh table for each part took more than half the
    /// scan's page faults.
    spare: Vec<Offenders>,
}

impl InOrder {
    fn new(rules: usize) -> InOrder {
        InOrder {
            next: 0,
            waiting: BTreeMap::new(),
            total: Partial::new(rules),
            spare: Vec::new(),
        }
    }

    /// Merges what can be merged in file order once part `index` is done,
    /// and hands out an empty offender table for the caller's next part.
    fn add(&mut self, index: usize, part: Partial) -> Offenders {
        self.waiting.insert(index, part);
        while let Some(part) = self.waiting.remove(&self.next) {
            if part.file.error.is_some() && self.total.file.error.is_none() {
                self.total.file.error = part.file.error.clone();
            }
            let emptied = self.total.merge(part);
            self.spare.push(emptied);
            self.next += 1;
        }
        self.spare.pop().unwrap_or_default()
    }
}

/// Scans the lines of `path` between two line starts.
fn scan_range(
    rules: &RuleSet,
    worker: &mut Worker<'_>,
    path: &Path,
    (start, end): (u64, u64),
    ctx: &DateContext,
    options: &ScanOptions,
    name: &str,
) -> Partial {
    let opened = File::open(path).and_then(|mut f| f.seek(SeekFrom::Start(start)).map(|_| f));
    match opened {
        Ok(f) => scan_reader(rules, worker, f.take(end - start), ctx, options, true, name),
        Err(e) => {
            let mut part = Partial::new(rules.rules.len());
            part.file.error = Some(e.to_string());
            part
        }
    }
}

/// Byte offsets `[0, …, len]` cutting the file at the first line start at
/// or after each of `targets` (ascending).
fn split_points(path: &Path, len: u64, targets: &[u64]) -> std::io::Result<Vec<u64>> {
    let mut points = vec![0u64];
    if !targets.is_empty() {
        let mut f = File::open(path)?;
        let mut buf = vec![0u8; 64 << 10];
        for &target in targets {
            let mut pos = target;
            if pos <= *points.last().expect("non-empty") {
                continue;
            }
            f.seek(SeekFrom::Start(pos))?;
            // Bounded: at most len bytes are read looking for a newline.
            loop {
                let read = f.read(&mut buf)?;
                if read == 0 {
                    pos = len;
                    break;
                }
                if let Some(nl) = memchr::memchr(b'\n', &buf[..read]) {
                    pos += nl as u64 + 1;
                    break;
                }
                pos += read as u64;
            }
            if pos < len && pos > *points.last().expect("non-empty") {
                points.push(pos);
            }
        }
    }
    points.push(len);
    Ok(points)
}

/// Bytes read at a time: lines are matched where they lie in this buffer,
/// and a line longer than it is cut (see [`MAX_LINE`]).
const BLOCK: usize = 2 * MAX_LINE;

/// What a scan thread keeps from part to part: its matcher, and the block
/// lines are read into (faulted in once, not once a part).
struct Worker<'r> {
    matcher: Matcher<'r>,
    block: Vec<u8>,
    /// An empty offender table, with room from an earlier part.
    offenders: Offenders,
}

impl<'r> Worker<'r> {
    fn new(rules: &'r RuleSet) -> Worker<'r> {
        Worker {
            matcher: Matcher::new(rules),
            block: vec![0; BLOCK],
            offenders: Offenders::default(),
        }
    }
}

/// Matches the lines of `reader` (counting them as progress when
/// `count_progress`); `name` is the input as `--matches` shows it.
///
/// Lines are matched in place in a block of [`BLOCK`] bytes, and a block's
/// whole lines are checked for UTF-8 and NUL bytes at once: copying each
/// line out and checking it alone cost about 300 instructions a line.
fn scan_reader<R: Read>(
    rules: &RuleSet,
    worker: &mut Worker<'_>,
    mut reader: R,
    ctx: &DateContext,
    options: &ScanOptions,
    count_progress: bool,
    name: &str,
) -> Partial {
    let mut part = Partial::new(rules.rules.len());
    if options.matches.is_some() {
        part.file.path = name.to_string();
    }
    part.offenders = std::mem::take(&mut worker.offenders);
    let mut progress = ProgressCount::new(options.progress.clone().filter(|_| count_progress));
    let Worker {
        matcher,
        block: buf,
        ..
    } = worker;
    // Bytes of `buf` read and not yet matched: the start of a line.
    let mut held = 0;
    // Inside the rest of a line longer than the block, already matched.
    let mut skipping = false;
    loop {
        let read = match reader.read(&mut buf[held..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                part.file.error = Some(e.to_string());
                break;
            }
        };
        progress.add(read as u64);
        let filled = held + read;
        let at_end = read == 0;
        let mut block = &buf[..filled];
        if skipping {
            match memchr::memchr(b'\n', block) {
                Some(nl) => {
                    block = &block[nl + 1..];
                    skipping = false;
                }
                None => block = &[],
            }
        }
        // Whole lines, and at the end of input the last one without a
        // newline.
        let whole = if at_end {
            block.len()
        } else {
            memchr::memrchr(b'\n', block).map_or(0, |nl| nl + 1)
        };
        feed_block(matcher, &mut part, &block[..whole], ctx, options);
        let rest = &block[whole..];
        if at_end {
            break;
        }
        if rest.len() == BLOCK {
            // A line longer than the block: its start is matched, the rest
            // skipped up to the next newline.
            feed_line(matcher, &mut part, rest, ctx, options);
            skipping = true;
            held = 0;
        } else {
            held = rest.len();
            let from = filled - held;
            buf.copy_within(from..filled, 0);
        }
    }
    part
}

/// Matches each line of `block`, whole lines (the last one's newline
/// optional).
fn feed_block(
    matcher: &mut Matcher<'_>,
    part: &mut Partial,
    block: &[u8],
    ctx: &DateContext,
    options: &ScanOptions,
) {
    // Valid UTF-8 as a whole is valid line by line (a newline never falls
    // inside a character): lines of a clean block skip their own checks.
    let clean = std::str::from_utf8(block)
        .ok()
        .filter(|_| memchr::memchr(0, block).is_none());
    let unended = !block.is_empty() && !block.ends_with(b"\n");
    // The memchr crate's search: `str::split` used core's slower one.
    let ends = memchr::memchr_iter(b'\n', block).chain(unended.then_some(block.len()));
    let mut start = 0;
    for end in ends {
        match clean {
            Some(text) if end - start <= MAX_LINE => {
                part.file.lines += 1;
                feed_text(matcher, part, &text[start..end], ctx, options);
            }
            _ => feed_line(matcher, part, &block[start..end], ctx, options),
        }
        start = end + 1;
    }
}

/// Matches one line (without its newline) of unchecked bytes: lines longer
/// than [`MAX_LINE`] on their start, invalid UTF-8 lossily.
fn feed_line(
    matcher: &mut Matcher<'_>,
    part: &mut Partial,
    mut line: &[u8],
    ctx: &DateContext,
    options: &ScanOptions,
) {
    part.file.lines += 1;
    if line.len() > MAX_LINE {
        part.file.long_lines += 1;
        line = &line[..MAX_LINE];
    }
    let binary = memchr::memchr(0, line).is_some();
    match std::str::from_utf8(line) {
        Ok(text) => {
            part.file.binary_lines += u64::from(binary);
            feed_text(matcher, part, text, ctx, options);
        }
        Err(_) => {
            part.file.binary_lines += 1;
            feed_text(matcher, part, &String::from_utf8_lossy(line), ctx, options);
        }
    }
}

/// Matches one line of text, without its newline and trailing `\r`s.
fn feed_text(
    matcher: &mut Matcher<'_>,
    part: &mut Partial,
    line: &str,
    ctx: &DateContext,
    options: &ScanOptions,
) {
    let line = line.trim_end_matches('\r');
    let stats = matcher.feed_split_line(line, ctx, &mut Counting { part, options });
    part.file.match_errors += stats.match_errors as u64;
}

/// Adds each hit to a range's counters straight from the matched line: no
/// per-hit copy of the line, host or user.
struct Counting<'p> {
    part: &'p mut Partial,
    options: &'p ScanOptions,
}

impl HitSink for Counting<'_> {
    fn hit(&mut self, hit: HitRef<'_>) {
        let (part, options) = (&mut *self.part, self.options);
        if let Some(t) = hit.time
            && (options.since.is_some_and(|s| t < s) || options.until.is_some_and(|u| t > u))
        {
            part.file.out_of_range += 1;
            return;
        }
        if hit.time.is_none() {
            part.file.undated += 1;
        }
        part.file.hits += 1;
        part.matches[hit.rule] += 1;
        if let Some(sink) = &options.matches {
            let mut sink = sink.0.lock().unwrap_or_else(PoisonError::into_inner);
            sink(&MatchedLine {
                input: &part.file.path,
                line_number: part.file.lines,
                hit,
            });
        }
        if part.samples[hit.rule].len() < SAMPLES {
            part.samples[hit.rule].push(hit.line.to_string());
        }
        let user = hit.user.map(|u| part.intern(u));
        part.offenders
            .entry(hit.rule, Offender::parse(hit.host_text))
            .add(hit.time, user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts finishing out of order still merge in file order.
    #[test]
    fn parts_merge_in_file_order_whatever_order_they_finish_in() {
        let part = |line: &str| {
            let mut part = Partial::new(1);
            part.samples[0].push(line.to_string());
            part
        };
        let mut merged = InOrder::new(1);
        merged.add(2, part("third"));
        merged.add(0, part("first"));
        assert_eq!(merged.total.samples[0], ["first"]);
        merged.add(1, part("second"));
        assert_eq!(merged.total.samples[0], ["first", "second", "third"]);
    }

    /// A merged part's offender table comes back empty with its room, so
    /// the next part does not grow a table from nothing.
    #[test]
    fn merged_parts_hand_back_their_offender_tables_empty() {
        let part = |host: &str| {
            let mut part = Partial::new(1);
            for i in 0..100 {
                part.offenders
                    .entry(0, Offender::parse(&format!("{host}.{i}")))
                    .add(None, None);
            }
            part
        };
        let mut merged = InOrder::new(1);
        merged.add(0, part("192.0.2"));
        let table = merged.add(1, part("198.51.100"));
        assert!(table.is_empty());
        assert!(table.capacity() >= 100, "{}", table.capacity());
        assert_eq!(merged.total.offenders.len(), 200);
    }

    /// A report lists the most hits first; among equal counts IPv4 by
    /// address (numerically), then IPv6, then names alphabetically.
    #[test]
    fn offenders_sort_by_hits_then_address() {
        let report = |host: &str, count| OffenderReport {
            host: Offender::parse(host),
            count,
            first: None,
            last: None,
            users: Arc::from([]),
        };
        let mut offenders = [
            report("host-b", 2),
            report("2001:db8::1", 2),
            report("192.0.2.10", 2),
            report("host-a", 2),
            report("192.0.2.9", 2),
            report("198.51.100.1", 3),
        ];
        offenders.sort_unstable_by(OffenderReport::report_order);
        let hosts: Vec<String> = offenders.iter().map(|o| o.host.to_string()).collect();
        assert_eq!(
            hosts,
            [
                "198.51.100.1",
                "192.0.2.9",
                "192.0.2.10",
                "2001:db8::1",
                "host-a",
                "host-b"
            ]
        );
    }

    /// Parts shrink towards the end of the file, so the threads finish
    /// together, but never below the smallest size.
    #[test]
    fn parts_shrink_to_the_smallest_size() {
        const MIB: u64 = 1 << 20;
        let targets = part_targets(100 * MIB, 2, MIB);
        let sizes: Vec<u64> = std::iter::once(0)
            .chain(targets.iter().copied())
            .zip(targets.iter().copied().chain([100 * MIB]))
            .map(|(start, end)| end - start)
            .collect();
        assert_eq!(sizes[0], 25 * MIB, "{sizes:?}");
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert!(
            sizes[..sizes.len() - 1].iter().all(|s| *s >= MIB),
            "{sizes:?}"
        );
        assert!(*sizes.last().unwrap() <= MIB, "{sizes:?}");
        assert_eq!(sizes.len(), 16, "{sizes:?}");
        assert!(part_targets(100 * MIB, 1, MIB).is_empty());
    }

    /// Lines are read whole wherever they fall across the blocks the file
    /// is read in: each counted once, every failure found (CRLF endings
    /// too), NUL bytes and invalid UTF-8 counted, and the last line read
    /// without its newline.
    #[test]
    fn lines_across_block_boundaries_are_read_whole() {
        let mut text = Vec::new();
        let (mut lines, mut failures, mut binary) = (0u64, 0u64, 0u64);
        for i in 0u32.. {
            if text.len() > 2 * BLOCK + BLOCK / 2 {
                break;
            }
            lines += 1;
            match i % 4 {
                0 => {
                    failures += 1;
                    text.extend_from_slice(
                        format!(
                            "Nov 21 10:00:{:02} web1 sshd[{i}]: Failed password for root from 203.0.113.{} port 22 ssh2\r\n",
                            i % 60,
                            i % 200
                        )
                        .as_bytes(),
                    );
                }
                // Lengths that vary, so lines straddle every boundary.
                1 => text.extend_from_slice(
                    format!("noise {}\n", "x".repeat(i as usize * 37 % 500)).as_bytes(),
                ),
                2 if i % 10_000 == 2 => {
                    binary += 1;
                    text.extend_from_slice(b"noise \0 nul\n");
                }
                2 if i % 10_000 == 6 => {
                    binary += 1;
                    text.extend_from_slice(b"noise \xff invalid\n");
                }
                _ => text.extend_from_slice(b"\n"),
            }
        }
        // The last line has no newline.
        text.pop();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        std::fs::write(&path, &text).unwrap();
        let rules = RuleSet::builtin(&["sshd"]).unwrap();
        let options = ScanOptions {
            threads: 1,
            zone: TimeZone::UTC,
            now: Some("2026-12-01T00:00:00Z".parse().unwrap()),
            ..ScanOptions::default()
        };
        let report = scan_files(&rules, std::slice::from_ref(&path), &options);
        let file = &report.files[0];
        assert_eq!(file.lines, lines);
        assert_eq!(file.binary_lines, binary);
        assert!(binary >= 2, "{binary}");
        assert_eq!(file.hits, failures);
        assert_eq!(file.long_lines, 0);
        let counted: u64 = report.rules[0].offenders.iter().map(|o| o.count).sum();
        assert_eq!(counted, failures);
        let sample = &report.rules[0].samples[0];
        assert!(sample.ends_with("ssh2"), "{sample:?}");
    }

    /// Offenders list their users by name whatever order they tried them
    /// in, and offenders with the same users share one list.
    #[test]
    fn offenders_with_the_same_users_share_one_sorted_list() {
        let lines = [
            ("root", "203.0.113.1"),
            ("admin", "203.0.113.1"),
            ("admin", "203.0.113.2"),
            ("root", "203.0.113.2"),
            ("admin", "203.0.113.3"),
            ("admin", "203.0.113.3"),
        ];
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, (user, host))| {
                format!("Nov 21 10:00:0{i} web1 sshd[{i}]: Failed password for {user} from {host} port 2222 ssh2\n")
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        std::fs::write(&path, &text).unwrap();
        let rules = RuleSet::builtin(&["sshd"]).unwrap();
        let options = ScanOptions {
            zone: TimeZone::UTC,
            now: Some("2026-12-01T00:00:00Z".parse().unwrap()),
            ..ScanOptions::default()
        };
        let report = scan_files(&rules, std::slice::from_ref(&path), &options);
        let offenders = &report.rules[0].offenders;
        let users = |host: &str| {
            let o = offenders.iter().find(|o| o.host.to_string() == host);
            o.map(|o| o.users.clone()).unwrap()
        };
        let names =
            |users: &Arc<[Arc<str>]>| users.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&users("203.0.113.1")), ["admin", "root"]);
        assert!(Arc::ptr_eq(&users("203.0.113.1"), &users("203.0.113.2")));
        assert_eq!(names(&users("203.0.113.3")), ["admin"]);
    }

    /// A file cut into parts scanned by several threads reports what a scan
    /// in one piece reports: the same counts and times, the first users of
    /// an offender and the first sample lines in file order.
    #[test]
    fn a_file_scanned_in_parts_reports_as_in_one_piece() {
        let mut text = String::new();
        for i in 0..3000u32 {
            let (m, s) = (i / 60 % 60, i % 60);
            let (user, host) = if i % 3 == 0 {
                (format!("user{}", i / 3 % 10), "198.51.100.7".to_string())
            } else {
                (
                    "root".to_string(),
                    format!("203.0.{}.{}", i / 250 % 256, i % 250),
                )
            };
            text.push_str(&format!(
                "Nov 21 10:{m:02}:{s:02} web1 sshd[{}]: Failed password for {user} from {host} port 2222 ssh2\n",
                1000 + i
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        std::fs::write(&path, &text).unwrap();
        let rules = RuleSet::builtin(&["sshd"]).unwrap();
        let scan = |threads, part_bytes| {
            let options = ScanOptions {
                threads,
                part_bytes,
                zone: TimeZone::UTC,
                now: Some("2026-12-01T00:00:00Z".parse().unwrap()),
                ..ScanOptions::default()
            };
            serde_json::to_string(&scan_files(&rules, std::slice::from_ref(&path), &options))
                .unwrap()
        };
        let whole = scan(1, u64::MAX);
        assert!(
            whole.contains(r#""users":["user0","user1","user2","user3"]"#),
            "{whole}"
        );
        // Cut into 16 and 12 parts of shrinking size, taken in turn.
        assert_eq!(part_targets(text.len() as u64, 3, 8 << 10).len(), 15);
        assert_eq!(scan(3, 8 << 10), whole);
        assert_eq!(scan(2, 8 << 10), whole);
    }
}
