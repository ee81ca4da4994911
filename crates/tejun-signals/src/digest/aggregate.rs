//! Per-fingerprint totals over any number of logs, and the report sorted
//! by total query time (pt-query-digest's default `--order-by
//! Query_time:sum`).

use std::collections::HashMap;
use std::io::BufRead;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::baseline::{BaselineOptions, BaselineReport, FingerprintTrends};
use super::fingerprint::{EmbeddedNumbers, Fingerprinter};
use super::missing_index::{IndexRule, ratio};
use super::mysql::MysqlReader;
use super::postgres::PostgresReader;
use super::redact::redact;
use super::{Format, Malformed, Query};

/// Malformed entries kept with their line per file; the rest are counted.
const MALFORMED_KEPT: usize = 20;

/// How queries are grouped and judged.
#[derive(Debug, Clone)]
pub struct Options {
    pub numbers: EmbeddedNumbers,
    pub index: IndexRule,
    /// Samples with literals replaced by `?`.
    pub redact: bool,
    /// Zone of log dates that carry none (MariaDB's `# Time: 241204 …`).
    pub zone: TimeZone,
    /// `--since`/`--until`: queries outside are counted, not digested (a
    /// query without a time is kept: nothing places it outside).
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// `--baseline 7d`: fingerprints whose p95 rose against previous days.
    pub baseline: Option<BaselineOptions>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            numbers: EmbeddedNumbers::Keep,
            index: IndexRule::default(),
            redact: false,
            zone: TimeZone::UTC,
            since: None,
            until: None,
            baseline: None,
        }
    }
}

/// Query times in buckets 5% wide from 1 µs (pt-query-digest's scheme):
/// a percentile within 5% in bounded memory.
#[derive(Debug, Clone, Default)]
struct Buckets(Vec<u32>);

const BUCKET_BASE: f64 = 1.05;
const BUCKET_MIN: f64 = 0.000_001;
const BUCKETS: usize = 1000;

impl Buckets {
    fn index(v: f64) -> usize {
        if v <= BUCKET_MIN {
            return 0;
        }
        ((v / BUCKET_MIN).ln() / BUCKET_BASE.ln())
            .floor()
            .clamp(0.0, (BUCKETS - 1) as f64) as usize
            + 1
    }

    fn merge(&mut self, other: &Buckets) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    fn add(&mut self, v: f64) {
        let i = Buckets::index(v).min(BUCKETS - 1);
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] = self.0[i].saturating_add(1);
    }

    /// The upper bound of the bucket holding the `q` quantile.
    fn quantile(&self, q: f64, count: u64) -> f64 {
        let rank = ((count as f64 * q).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, n) in self.0.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= rank {
                return if i == 0 {
                    BUCKET_MIN
                } else {
                    BUCKET_MIN * BUCKET_BASE.powi(i as i32)
                };
            }
        }
        0.0
    }
}

/// A sum of seconds kept in whole nanoseconds: the same total whatever
/// order the calls are added in (parts of a log read on several threads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Seconds(u64);

impl Seconds {
    fn add(&mut self, secs: f64) {
        let nanos = (secs.max(0.0) * 1e9).round();
        self.0 = self.0.saturating_add(nanos as u64);
    }

    fn merge(&mut self, other: Seconds) {
        self.0 = self.0.saturating_add(other.0);
    }

    fn secs(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl Class {
    /// Adds the same fingerprint's calls from a later part of the file
    /// `file`, whose lines start after `offset` lines.
    fn merge(&mut self, o: Class, file: usize, offset: u64) {
        self.count += o.count;
        self.query_time.merge(o.query_time);
        self.query_min = self.query_min.min(o.query_min);
        self.buckets.merge(&o.buckets);
        match (&mut self.lock_time, o.lock_time) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
        self.lock_max = self.lock_max.max(o.lock_max);
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        self.rows_sent = sum(self.rows_sent, o.rows_sent);
        self.rows_sent_max = self.rows_sent_max.max(o.rows_sent_max);
        self.rows_examined = sum(self.rows_examined, o.rows_examined);
        self.rows_examined_max = self.rows_examined_max.max(o.rows_examined_max);
        self.first = earliest(self.first, o.first);
        self.last = latest(self.last, o.last);
        // The first slowest call in file order, as one read keeps it.
        if o.query_max > self.query_max {
            self.query_max = o.query_max;
            self.sample = o.sample;
            self.sample_file = file;
            self.sample_line = o.sample_line + offset;
            self.sample_db = o.sample_db;
        }
    }
}

#[derive(Debug, Clone)]
struct Class {
    count: u64,
    query_time: Seconds,
    query_max: f64,
    query_min: f64,
    buckets: Buckets,
    lock_time: Option<Seconds>,
    lock_max: f64,
    rows_sent: Option<u64>,
    rows_sent_max: u64,
    rows_examined: Option<u64>,
    rows_examined_max: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// The slowest call, as pt-query-digest samples.
    sample: String,
    sample_file: usize,
    sample_line: u64,
    sample_db: Option<String>,
}

/// Reads logs and folds their queries per fingerprint.
pub struct Aggregate {
    options: Options,
    classes: HashMap<String, Class>,
    fingerprinter: Fingerprinter,
    files: Vec<FileSummary>,
    queries: u64,
    query_time: Seconds,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    out_of_range: u64,
    trends: Option<FingerprintTrends>,
}

/// What one log held.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub format: Format,
    pub queries: u64,
    pub malformed: u64,
    /// The first malformed entries, with their line.
    pub malformed_entries: Vec<Malformed>,
    /// Lines read (where a next part's line numbers start).
    #[serde(skip)]
    pub lines: u64,
}

/// Query time statistics of one fingerprint, in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct Times {
    pub total: f64,
    pub avg: f64,
    /// Within 5% (log buckets).
    pub p95: f64,
    pub max: f64,
    pub min: f64,
}

/// Lock time, in seconds (MySQL/MariaDB).
#[derive(Debug, Clone, Serialize)]
pub struct Lock {
    pub total: f64,
    pub avg: f64,
    pub max: f64,
}

/// Rows sent and examined (MySQL/MariaDB).
#[derive(Debug, Clone, Serialize)]
pub struct Rows {
    pub sent: u64,
    pub sent_avg: f64,
    pub sent_max: u64,
    pub examined: u64,
    pub examined_avg: f64,
    pub examined_max: u64,
    /// Rows examined per row sent (a call that sends none counts as one).
    pub examined_per_sent: f64,
}

/// One fingerprint in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    /// 1 = most total query time.
    pub rank: usize,
    pub fingerprint: String,
    pub count: u64,
    /// Share of all query time, 0–1.
    pub share: f64,
    pub query_time: Times,
    pub lock_time: Option<Lock>,
    pub rows: Option<Rows>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// Rows examined far above rows sent ([`IndexRule`]).
    pub missing_index: bool,
    /// The slowest call's statement (literals replaced when redacted).
    pub sample: String,
    pub sample_file: String,
    pub sample_line: u64,
    pub sample_db: Option<String>,
}

/// The digest: totals, then fingerprints by total query time.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub files: Vec<FileSummary>,
    pub queries: u64,
    pub query_time: f64,
    pub fingerprints: usize,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub index_rule: IndexRule,
    pub embedded_numbers: EmbeddedNumbers,
    pub redacted: bool,
    /// The top fingerprints (all of them when no limit was asked).
    pub classes: Vec<ClassReport>,
    /// Queries outside `--since`/`--until`.
    #[serde(skip_serializing_if = "is_zero")]
    pub out_of_range: u64,
    /// `--baseline`: fingerprints whose p95 rose against previous days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Aggregate {
    pub fn new(options: Options) -> Aggregate {
        Aggregate {
            trends: options.baseline.clone().map(FingerprintTrends::new),
            out_of_range: 0,
            options,
            classes: HashMap::new(),
            fingerprinter: Fingerprinter::default(),
            files: Vec::new(),
            queries: 0,
            query_time: Seconds::default(),
            first: None,
            last: None,
        }
    }

    /// Reads one whole log. `name` labels its malformed entries and
    /// samples. An I/O error (a truncated .gz) ends the file there: what
    /// was read stays counted.
    pub fn read_log(
        &mut self,
        name: &str,
        mut input: impl BufRead,
        format: Format,
    ) -> std::io::Result<&FileSummary> {
        let format = match format {
            Format::Auto => Format::detect(input.fill_buf()?),
            f => f,
        };
        self.start_file(name, format);
        let zone = self.options.zone.clone();
        let (result, lines) = match format {
            Format::Postgres => {
                let mut reader = PostgresReader::new(input, zone);
                (self.read_entries(&mut reader), reader.lines_read())
            }
            _ => {
                let mut reader = MysqlReader::new(input, zone);
                (self.read_entries(&mut reader), reader.lines_read())
            }
        };
        let file = self.files.last_mut().expect("pushed above");
        file.lines = lines;
        result.map(|()| &*file)
    }

    /// Starts the summary of a file whose parts are read apart
    /// ([`Aggregate::part`]) and [`merged`](Aggregate::merge) in order.
    pub fn start_file(&mut self, name: &str, format: Format) {
        self.files.push(FileSummary {
            path: name.to_string(),
            format,
            queries: 0,
            malformed: 0,
            malformed_entries: Vec::new(),
            lines: 0,
        });
    }

    /// An empty digest with the same options for one part of a log read on
    /// its own thread (cut where an entry starts). Baselines need the
    /// queries in one piece: a part has none.
    pub fn part(&self) -> Aggregate {
        Aggregate::new(Options {
            baseline: None,
            ..self.options.clone()
        })
    }

    /// Whether this digest keeps baselines (and so reads in one piece).
    pub fn has_baseline(&self) -> bool {
        self.trends.is_some()
    }

    /// Adds a part (one [`Aggregate::read_log`] of a piece of the file
    /// last started) in file order: the report is the one a read in one
    /// piece gives — sums are kept in whole nanoseconds so their order does
    /// not matter, samples are the first slowest call, line numbers
    /// continue.
    pub fn merge(&mut self, part: Aggregate) {
        let file = self.file_index();
        let offset = self.files[file].lines;
        for theirs in part.files {
            let mine = &mut self.files[file];
            mine.queries += theirs.queries;
            mine.malformed += theirs.malformed;
            for mut m in theirs.malformed_entries {
                if mine.malformed_entries.len() < MALFORMED_KEPT {
                    m.line += offset;
                    mine.malformed_entries.push(m);
                }
            }
            mine.lines += theirs.lines;
        }
        self.queries += part.queries;
        self.query_time.merge(part.query_time);
        self.first = earliest(self.first, part.first);
        self.last = latest(self.last, part.last);
        self.out_of_range += part.out_of_range;
        for (fingerprint, mut class) in part.classes {
            match self.classes.get_mut(&fingerprint) {
                Some(mine) => mine.merge(class, file, offset),
                None => {
                    class.sample_file = file;
                    class.sample_line += offset;
                    self.classes.insert(fingerprint, class);
                }
            }
        }
    }

    fn read_entries(
        &mut self,
        entries: impl Iterator<Item = std::io::Result<Result<Query, Malformed>>>,
    ) -> std::io::Result<()> {
        for entry in entries {
            match entry? {
                Ok(query) => self.add(query),
                Err(malformed) => self.add_malformed(malformed),
            }
        }
        Ok(())
    }

    fn file_index(&mut self) -> usize {
        if self.files.is_empty() {
            self.files.push(FileSummary {
                path: "-".into(),
                format: Format::Auto,
                queries: 0,
                malformed: 0,
                malformed_entries: Vec::new(),
                lines: 0,
            });
        }
        self.files.len() - 1
    }

    pub fn add_malformed(&mut self, malformed: Malformed) {
        let file = self.file_index();
        let summary = &mut self.files[file];
        summary.malformed += 1;
        if summary.malformed_entries.len() < MALFORMED_KEPT {
            summary.malformed_entries.push(malformed);
        }
    }

    /// Counts one query under its fingerprint.
    pub fn add(&mut self, query: Query) {
        if let Some(t) = query.time
            && (self.options.since.is_some_and(|s| t < s)
                || self.options.until.is_some_and(|u| t > u))
        {
            self.out_of_range += 1;
            return;
        }
        let file = self.file_index();
        self.files[file].queries += 1;
        self.queries += 1;
        self.query_time.add(query.query_time);
        self.first = earliest(self.first, query.time);
        self.last = latest(self.last, query.time);
        let fingerprint = self
            .fingerprinter
            .fingerprint(&query.text, self.options.numbers);
        let class = match self.classes.get_mut(fingerprint) {
            Some(class) => class,
            None => self
                .classes
                .entry(fingerprint.to_string())
                .or_insert_with(|| Class {
                    count: 0,
                    query_time: Seconds::default(),
                    query_max: -1.0,
                    query_min: f64::INFINITY,
                    buckets: Buckets::default(),
                    lock_time: None,
                    lock_max: 0.0,
                    rows_sent: None,
                    rows_sent_max: 0,
                    rows_examined: None,
                    rows_examined_max: 0,
                    first: None,
                    last: None,
                    sample: String::new(),
                    sample_file: 0,
                    sample_line: 0,
                    sample_db: None,
                }),
        };
        class.count += 1;
        class.query_time.add(query.query_time);
        class.query_min = class.query_min.min(query.query_time);
        class.buckets.add(query.query_time);
        if let Some(lock) = query.lock_time {
            class.lock_time.get_or_insert_default().add(lock);
            class.lock_max = class.lock_max.max(lock);
        }
        if let Some(sent) = query.rows_sent {
            let total = class.rows_sent.get_or_insert(0);
            *total = total.saturating_add(sent);
            class.rows_sent_max = class.rows_sent_max.max(sent);
        }
        if let Some(examined) = query.rows_examined {
            let total = class.rows_examined.get_or_insert(0);
            *total = total.saturating_add(examined);
            class.rows_examined_max = class.rows_examined_max.max(examined);
        }
        if let (Some(trends), Some(at)) = (&mut self.trends, query.time) {
            trends.observe(at, fingerprint, query.query_time, query.rows_examined);
        }
        class.first = earliest(class.first, query.time);
        class.last = latest(class.last, query.time);
        if query.query_time > class.query_max {
            class.query_max = query.query_time;
            class.sample = query.text;
            class.sample_file = file;
            class.sample_line = query.line;
            class.sample_db = query.db;
        }
    }

    /// The report, fingerprints by total query time (then count, then
    /// text, so equal totals always list in the same order), the first
    /// `top` of them or all.
    pub fn report(self, top: Option<usize>) -> Report {
        let mut classes: Vec<(String, Class)> = self.classes.into_iter().collect();
        let fingerprints = classes.len();
        classes.sort_unstable_by(|(fa, a), (fb, b)| {
            b.query_time
                .cmp(&a.query_time)
                .then(b.count.cmp(&a.count))
                .then(fa.cmp(fb))
        });
        classes.truncate(top.unwrap_or(usize::MAX));
        let total_time = self.query_time.secs();
        let options = &self.options;
        let files = &self.files;
        let classes = classes
            .into_iter()
            .enumerate()
            .map(|(i, (fingerprint, c))| {
                let n = c.count.max(1) as f64;
                let rows = match (c.rows_sent, c.rows_examined) {
                    (None, None) => None,
                    (sent, examined) => {
                        let (sent, examined) = (sent.unwrap_or(0), examined.unwrap_or(0));
                        Some(Rows {
                            sent,
                            sent_avg: sent as f64 / n,
                            sent_max: c.rows_sent_max,
                            examined,
                            examined_avg: examined as f64 / n,
                            examined_max: c.rows_examined_max,
                            examined_per_sent: ratio(examined, sent),
                        })
                    }
                };
                let missing_index = rows.as_ref().is_some_and(|r| {
                    options
                        .index
                        .flags(&fingerprint, c.count, r.examined, r.sent)
                });
                let p95 = if c.count == 1 || c.query_min == c.query_max {
                    c.query_max
                } else {
                    c.buckets.quantile(0.95, c.count).min(c.query_max)
                };
                ClassReport {
                    rank: i + 1,
                    fingerprint,
                    count: c.count,
                    share: if total_time > 0.0 {
                        c.query_time.secs() / total_time
                    } else {
                        0.0
                    },
                    query_time: Times {
                        total: c.query_time.secs(),
                        avg: c.query_time.secs() / n,
                        p95,
                        max: c.query_max,
                        min: c.query_min,
                    },
                    lock_time: c.lock_time.map(|total| Lock {
                        total: total.secs(),
                        avg: total.secs() / n,
                        max: c.lock_max,
                    }),
                    rows,
                    first_seen: c.first,
                    last_seen: c.last,
                    missing_index,
                    sample: if options.redact {
                        redact(&c.sample)
                    } else {
                        c.sample
                    },
                    sample_file: files
                        .get(c.sample_file)
                        .map(|f| f.path.clone())
                        .unwrap_or_default(),
                    sample_line: c.sample_line,
                    sample_db: c.sample_db,
                }
            })
            .collect();
        Report {
            files: self.files,
            queries: self.queries,
            query_time: self.query_time.secs(),
            fingerprints,
            first_seen: self.first,
            last_seen: self.last,
            index_rule: self.options.index,
            embedded_numbers: self.options.numbers,
            redacted: self.options.redact,
            classes,
            out_of_range: self.out_of_range,
            baseline: self.trends.map(FingerprintTrends::finish),
        }
    }
}
