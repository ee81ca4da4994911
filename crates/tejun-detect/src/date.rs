//! Finding and reading the date of a log line, the way fail2ban does.
//!
//! fail2ban describes dates with strptime-like templates (`%b %d %H:%M:%S`),
//! searches them anywhere in the line (or only at its start with
//! `{^LN-BEG}`) and cuts the date out before the filter regexes run. The
//! same templates are used here for fail2ban filters and tejun rules, so a
//! filter's `datepattern` means the same thing in both.
//!
//! Syslog dates have neither a year nor a zone: they are read in the
//! configured zone, in the year of the reference time, and moved one year
//! back when that would put them more than a day in the future (a December
//! line read in January belongs to last year).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp, ToSpan};
use regex_automata::{Input, PatternID, meta};

use crate::memo::{Automaton, Memo, Shape, Slot, spans_of_captures};
use crate::pyregex;

/// What dates without year or zone are relative to.
#[derive(Debug, Clone)]
pub struct DateContext {
    /// The zone of dates that carry none (default: the local zone).
    zone: TimeZone,
    /// Tells contexts apart cheaply (comparing zones compares their rules),
    /// so a reader's remembered minute is only reused in its own context.
    id: u64,
    /// "Now" for year roll-over: a date more than a day after it moves back
    /// one year. For a file being scanned, its modification time.
    now: Timestamp,
    /// `now`'s date in `zone`, for dates missing their year or day, and the
    /// latest time a year-less date may have before it moves back a year
    /// (both worked out once, not per line).
    today: jiff::civil::Date,
    latest: Timestamp,
}

impl DateContext {
    pub fn new(zone: TimeZone, now: Timestamp) -> DateContext {
        let today = now.to_zoned(zone.clone()).date();
        let latest = now.checked_add(24.hours()).unwrap_or(Timestamp::MAX);
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        DateContext {
            zone,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            now,
            today,
            latest,
        }
    }

    /// The zone of dates that carry none.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The local zone and the current time.
    pub fn local() -> DateContext {
        DateContext::new(
            TimeZone::try_system().unwrap_or(TimeZone::UTC),
            Timestamp::now(),
        )
    }
}

#[derive(Debug, Clone)]
enum DateRegex {
    /// Searched with a cache each reader holds ([`TemplateState`]).
    Linear(meta::Regex),
    Backtracking(fancy_regex::Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fields,
    Epoch { long: bool },
    Tai64n,
}

/// One date template.
#[derive(Debug, Clone)]
pub struct DateTemplate {
    pub name: String,
    kind: Kind,
    word_begin: bool,
    word_end: bool,
    line_begin: bool,
    /// Group holding the date (1 when the pattern has its own group).
    group: usize,
    /// The regex, compiled on first use and shared by clones: fail2ban's
    /// default list has 33 templates, a log uses one or two, and compiling
    /// them all cost more than reading 10,000 lines.
    regex: Arc<LazyRegex>,
}

#[derive(Debug)]
struct LazyRegex {
    source: String,
    compiled: OnceLock<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    regex: DateRegex,
    /// Index of each group that holds a strptime field, and the field
    /// (resolved once: matching the names on every line cost a string
    /// compare per group).
    fields: Vec<(usize, Field)>,
    /// For a linear template: how its automaton sees bytes, so the groups
    /// of a date are remembered by its shape (see [`crate::memo`]). Built
    /// on first use: most templates never match a given log.
    shape: OnceLock<Option<Shape>>,
}

impl Compiled {
    fn new(source: &str) -> Result<Compiled, String> {
        // `regex::Regex`'s configuration, with the cache held by readers.
        let linear = meta::Builder::new()
            .configure(meta::Config::new().hybrid_cache_capacity(256 << 10))
            .build(source);
        let regex = match linear {
            Ok(re) => DateRegex::Linear(re),
            Err(_) => DateRegex::Backtracking(
                fancy_regex::RegexBuilder::new(source)
                    .backtrack_limit(crate::pattern::BACKTRACK_LIMIT)
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
        };
        let fields = match &regex {
            DateRegex::Linear(re) => field_groups(re.group_info().pattern_names(PatternID::ZERO)),
            DateRegex::Backtracking(re) => field_groups(re.capture_names()),
        };
        Ok(Compiled {
            regex,
            fields,
            shape: OnceLock::new(),
        })
    }
}

/// What one reader of lines keeps between them: the template that matched
/// last, and what each template keeps.
#[derive(Debug)]
pub struct DateState {
    last: usize,
    templates: Vec<TemplateState>,
    new_memo: fn() -> Memo,
    minute: MinuteCache,
}

/// One template's remembered date shapes, and its search cache (one per
/// reader, so threads do not share the regex's cache pool).
#[derive(Debug)]
struct TemplateState {
    memo: Memo,
    cache: Option<meta::Cache>,
    alike: Alike,
}

/// The last date found by a walk at the start of a line, kept so that the
/// next one, written alike but for its seconds, is read from its seconds
/// alone: syslog lines come seconds apart, and reading every field again
/// to compare them with the last minute's was most of a date's cost.
#[derive(Debug, Default)]
struct Alike {
    /// The groups the walk found, and the line as far as the walk read it.
    slots: Vec<Slot>,
    text: Vec<u8>,
    /// Whether the walk ran to the end of the line (else it stopped on the
    /// last byte of `text`).
    ended: bool,
    /// The date's span, and where its seconds are, in `text`.
    span: (usize, usize),
    second: (usize, usize),
    /// The walk's nodes before and after the seconds.
    seconds_walk: Option<(u32, u32)>,
    /// What [`MinuteCache::by_text`] answers for the date's minute, in
    /// context `context`; `None` when nothing is remembered.
    minute: Option<(Timestamp, Assumed)>,
    context: u64,
}

impl Alike {
    /// The span and time of the date at the start of `line`, without a
    /// walk, when the line is written as the last one through the bytes its
    /// walk read but for the seconds, and its seconds lead the walk to the
    /// same node: its walk would end alike, and so would the match, its
    /// groups and the bounds around it. Most syslog lines pass here.
    fn quick(
        &self,
        line: &str,
        memo: &mut Memo,
        automaton: &Automaton,
        ctx: &DateContext,
    ) -> Option<((usize, usize), Timestamp)> {
        let (start, assumed) = self.minute?;
        let (before, after) = self.seconds_walk?;
        let (from, to) = self.second;
        let bytes = line.as_bytes();
        let head = bytes.get(..self.text.len())?;
        if self.context != ctx.id
            || (self.ended && bytes.len() != head.len())
            || head[..from] != self.text[..from]
            || head[to..] != self.text[to..]
            || memo.walk_node(automaton, Some(before), &head[from..to]) != Some(after)
        {
            return None;
        }
        let time = self.at_second(start, assumed, line.get(from..to), ctx)?;
        Some((self.span, time))
    }

    /// The time of the date the walk found as `slots` at the start of
    /// `line`, when all of it but the seconds is written as the last one:
    /// what [`fields_to_time`] reads through [`MinuteCache::by_text`].
    fn time(&self, slots: &[Slot], line: &str, ctx: &DateContext) -> Option<Timestamp> {
        let (start, assumed) = self.minute?;
        let (from, to) = self.second;
        let end = self.span.1;
        let text = line.as_bytes().get(..end)?;
        if self.context != ctx.id
            || *self.slots != *slots
            || text[..from] != self.text[..from]
            || text[to..] != self.text[to..end]
        {
            return None;
        }
        self.at_second(start, assumed, line.get(from..to), ctx)
    }

    /// `second` seconds into the remembered minute, if `ctx` lets the date
    /// stand as read.
    fn at_second(
        &self,
        start: Timestamp,
        assumed: Assumed,
        second: Option<&str>,
        ctx: &DateContext,
    ) -> Option<Timestamp> {
        let second: i8 = num::<i8>(second).unwrap_or(0).min(59);
        // A minute starts on a whole second: adding seconds is exact.
        debug_assert_eq!(start.subsec_nanosecond(), 0);
        let ts = Timestamp::from_second(start.as_second() + i64::from(second)).ok()?;
        assumed.allows(ts, ctx).then_some(ts)
    }

    /// Keeps the groups a walk found, for [`Alike::remember`].
    fn walked(&mut self, slots: &[Slot]) {
        self.minute = None;
        self.slots.clear();
        self.slots.extend_from_slice(slots);
    }

    /// Remembers the date last [`Alike::walked`], found at `span` of `line`
    /// by the last walk of `memo` on `automaton` and read from `fields`, if
    /// its minute is the one `minutes` holds.
    #[allow(clippy::too_many_arguments)]
    fn remember(
        &mut self,
        line: &str,
        span: (usize, usize),
        memo: &mut Memo,
        automaton: Option<&Automaton>,
        fields: &Fields<'_>,
        minutes: &MinuteCache,
        context: u64,
    ) {
        let Some(second) = fields
            .get(Field::Second)
            .filter(|_| fields.get(Field::Fraction).is_none())
        else {
            return;
        };
        let Some(minute) = minutes.current(context) else {
            return;
        };
        // The seconds are a slice of `line`: their place is their offset.
        let from = second.as_ptr() as usize - line.as_ptr() as usize;
        let to = from + second.len();
        let walk = memo.last_walk();
        // The character after the date decides its bounds: all of it is
        // compared, though the walk may have read only its first byte.
        let after = line[span.1..].chars().next().map_or(0, char::len_utf8);
        let read = walk.read.max(span.1 + after);
        let bytes = line.as_bytes();
        self.seconds_walk = automaton.and_then(|automaton| {
            let before = memo.walk_node(automaton, None, &bytes[..from])?;
            let after = memo.walk_node(automaton, Some(before), &bytes[from..to])?;
            Some((before, after))
        });
        self.text.clear();
        self.text.extend_from_slice(&bytes[..read]);
        self.ended = walk.ended;
        self.span = span;
        self.second = (from, to);
        self.minute = Some(minute);
        self.context = context;
    }
}

impl Default for DateState {
    fn default() -> DateState {
        DateState::new(Memo::default)
    }
}

impl DateState {
    /// A state whose templates get their memos from `new_memo`.
    pub fn new(new_memo: fn() -> Memo) -> DateState {
        DateState {
            last: 0,
            templates: Vec::new(),
            new_memo,
            minute: MinuteCache::default(),
        }
    }

    /// Forgets which template the last line used, as for a new file; what
    /// is remembered only to go faster is kept.
    pub fn restart(&mut self) {
        self.last = 0;
    }
}

/// The instant the last minute read began: log lines come in order, so
/// most lines fall in the minute before them. A line whose fields other
/// than its seconds are written as the last one's skips reading them;
/// one in the same minute written otherwise still skips the zone lookup.
#[derive(Debug, Default)]
struct MinuteCache {
    last: Option<CachedMinute>,
    /// The fields of the date being read, as [`MinuteCache::text_key`]
    /// writes them.
    key: Vec<u8>,
}

#[derive(Debug)]
struct CachedMinute {
    /// Year, month, day, hour, minute as read.
    civil: (i16, i8, i8, i8, i8),
    /// The fields it was read from (all but seconds and fraction), and
    /// what they left to assume.
    text: Vec<u8>,
    assumed: Assumed,
    /// The offset written in the date, else the context (and so the zone)
    /// it was read in.
    offset: Option<Offset>,
    context: u64,
    start: Timestamp,
}

/// What a date left out and fail2ban fills in from the reading context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Assumed {
    /// No month and day: today (yesterday if that is in the future).
    today: bool,
    /// No year: this year (last year if that is too far in the future).
    year: bool,
}

impl Assumed {
    /// Whether `ts`, read with these assumptions, stands as read: a date
    /// assumed today or this year must not lie beyond what `ctx` allows
    /// (else it is moved a day or a year back).
    fn allows(self, ts: Timestamp, ctx: &DateContext) -> bool {
        !(self.today && ts > ctx.now || self.year && ts > ctx.latest)
    }
}

impl MinuteCache {
    /// The start of the minute `fields` fall in, when every field but the
    /// seconds and fraction reads as in the last remembered minute.
    fn by_text(&mut self, fields: &Fields<'_>, context: u64) -> Option<(Timestamp, Assumed)> {
        self.key.clear();
        for (index, text) in fields.0.iter().enumerate() {
            if index == Field::Second as usize || index == Field::Fraction as usize {
                continue;
            }
            if let Some(text) = text {
                // A field too long to measure in one byte is never matched.
                let len = u8::try_from(text.len()).ok()?;
                self.key.extend_from_slice(&[index as u8, len]);
                self.key.extend_from_slice(text.as_bytes());
            }
        }
        self.current(context)
    }

    /// The remembered minute, if it is the one of the fields last given to
    /// [`MinuteCache::by_text`] in `context`.
    fn current(&self, context: u64) -> Option<(Timestamp, Assumed)> {
        let last = self.last.as_ref()?;
        (last.context == context && last.text == self.key).then_some((last.start, last.assumed))
    }

    /// `civil` as an instant: `to_ts` is the zone lookup, made once per
    /// minute. A minute is remembered only when its 59th second is 59
    /// seconds after its start (no offset change inside it).
    /// Called after [`MinuteCache::by_text`] on the same fields.
    fn instant(
        &mut self,
        civil: DateTime,
        assumed: Assumed,
        offset: Option<Offset>,
        context: u64,
        to_ts: impl Fn(DateTime) -> Option<Timestamp>,
    ) -> Option<Timestamp> {
        let key = (
            civil.year(),
            civil.month(),
            civil.day(),
            civil.hour(),
            civil.minute(),
        );
        let within = SignedDuration::new(i64::from(civil.second()), civil.subsec_nanosecond());
        if let Some(c) = &mut self.last
            && c.civil == key
            && c.offset == offset
            && (offset.is_some() || c.context == context)
        {
            // The same minute written otherwise: read by text from now on.
            c.text.clone_from(&self.key);
            c.assumed = assumed;
            c.context = context;
            return c.start.checked_add(within).ok();
        }
        let start = to_ts(civil.with().second(0).subsec_nanosecond(0).build().ok()?)?;
        let last = to_ts(civil.with().second(59).subsec_nanosecond(0).build().ok()?);
        self.last =
            (last == start.checked_add(SignedDuration::from_secs(59)).ok()).then(|| CachedMinute {
                civil: key,
                text: self.key.clone(),
                assumed,
                offset,
                context,
                start,
            });
        match self.last {
            Some(_) => start.checked_add(within).ok(),
            None => to_ts(civil),
        }
    }
}

/// A datepattern that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePatternError {
    pub pattern: String,
    pub message: String,
}

impl fmt::Display for DatePatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "datepattern {:?}: {}", self.pattern, self.message)
    }
}

/// A found date: where it was in the line and when it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundDate {
    pub start: usize,
    pub end: usize,
    /// `None` when the text looked like a date but is not one (Feb 30).
    pub time: Option<Timestamp>,
}

const DEFAULT_TEMPLATES: &[&str] = &[
    r"%ExY[-/.]%m[-/.]%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d[-/]%m[-/](?:%ExY|%Exy) %k:%M:%S",
    r"%d[-/]%b[-/]%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    r"EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"TAI64N",
];

/// Date templates to try, in order, with the index of the last one that
/// matched tried first (most files use one format throughout).
#[derive(Debug, Clone)]
pub struct DateDetector {
    pub templates: Vec<DateTemplate>,
    /// `{NONE}`: lines carry no date; hits get none.
    pub none: bool,
}

impl DateDetector {
    /// fail2ban's default templates: each one anchored at the line start
    /// first, then anywhere.
    pub fn defaults() -> DateDetector {
        static DEFAULTS: std::sync::OnceLock<DateDetector> = std::sync::OnceLock::new();
        DEFAULTS.get_or_init(DateDetector::build_defaults).clone()
    }

    fn build_defaults() -> DateDetector {
        let mut anchored = Vec::new();
        let mut anywhere = Vec::new();
        for pattern in DEFAULT_TEMPLATES {
            let tpl = DateTemplate::builtin(pattern);
            if !tpl.is_line_begin() {
                let wrapped = if pattern.starts_with("{^LN-BEG}") {
                    pattern.to_string()
                } else {
                    format!("{{^LN-BEG}}{pattern}")
                };
                anchored.push(DateTemplate::builtin(&wrapped));
            }
            anywhere.push(tpl);
        }
        anchored.extend(anywhere);
        DateDetector {
            templates: anchored,
            none: false,
        }
    }

    /// Only templates bound to the line start (`datepattern = {^LN-BEG}`).
    pub fn line_begin_defaults() -> DateDetector {
        let mut all = DateDetector::defaults();
        all.templates.retain(DateTemplate::is_line_begin);
        all
    }

    /// A fail2ban `datepattern` value: one template per line; `{^LN-BEG}`,
    /// `{DEFAULT}`, `{NONE}`, `{DATE}`, `EPOCH`, `LEPOCH`, `TAI64N` and
    /// strptime fields (`%%` is a literal percent in config files and has
    /// already been unescaped by the config reader).
    pub fn from_pattern(value: &str) -> Result<DateDetector, DatePatternError> {
        let mut templates = Vec::new();
        let mut none = false;
        for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let upper = line.to_ascii_uppercase();
            if upper == "{^LN-BEG}" {
                templates.extend(DateDetector::line_begin_defaults().templates);
            } else if upper == "{DEFAULT}" {
                templates.extend(DateDetector::defaults().templates);
            } else if upper == "{NONE}" {
                none = true;
            } else if line.contains("{DATE}") {
                for default in DEFAULT_TEMPLATES {
                    if matches!(*default, "EPOCH" | "TAI64N")
                        || default.starts_with('^')
                        || default.starts_with('{')
                    {
                        continue;
                    }
                    let wrapped = line.replace("{DATE}", default);
                    templates.push(DateTemplate::new(&wrapped)?);
                }
            } else {
                templates.push(DateTemplate::new(line)?);
            }
        }
        Ok(DateDetector { templates, none })
    }

    /// Finds the date in `line`, trying first the template that matched
    /// last time (kept in `state`).
    pub fn find(&self, line: &str, ctx: &DateContext, state: &mut DateState) -> Option<FoundDate> {
        if self.none {
            return None;
        }
        if state.templates.len() != self.templates.len() {
            let new_memo = state.new_memo;
            state
                .templates
                .resize_with(self.templates.len(), || TemplateState {
                    memo: new_memo(),
                    cache: None,
                    alike: Alike::default(),
                });
        }
        let last = state.last;
        if let Some(tpl) = self.templates.get(last)
            && let Some(found) = tpl.find(line, ctx, &mut state.templates[last], &mut state.minute)
            && (found.start == 0 || tpl.is_line_begin())
        {
            return Some(found);
        }
        let mut best: Option<(usize, FoundDate)> = None;
        for (index, tpl) in self.templates.iter().enumerate() {
            if let Some(found) = tpl.find(line, ctx, &mut state.templates[index], &mut state.minute)
            {
                if best.is_none_or(|(_, b)| found.start < b.start) {
                    best = Some((index, found));
                }
                if found.start == 0 || tpl.is_line_begin() {
                    break;
                }
            }
        }
        let (index, found) = best?;
        state.last = index;
        Some(found)
    }
}

impl DateTemplate {
    /// Compiles one template.
    pub fn new(pattern: &str) -> Result<DateTemplate, DatePatternError> {
        DateTemplate::build(pattern, true)
    }

    /// A built-in template, compiled when first used (`tests` compile them
    /// all).
    fn builtin(pattern: &str) -> DateTemplate {
        DateTemplate::build(pattern, false).expect("built-in date template is well-formed")
    }

    fn build(pattern: &str, eager: bool) -> Result<DateTemplate, DatePatternError> {
        let err = |message: String| DatePatternError {
            pattern: pattern.to_string(),
            message,
        };
        let mut body = pattern.trim().to_string();
        let mut word_begin = true;
        let mut word_end = true;
        let mut line_begin = false;
        if let Some(rest) = body.strip_prefix("{UNB}") {
            body = rest.to_string();
            word_begin = false;
            word_end = false;
        }
        if let Some(rest) = body.strip_prefix("{^LN-BEG}") {
            body = rest.to_string();
            line_begin = true;
        }
        let upper = body.to_ascii_uppercase();
        let (kind, regex_body) = match upper.as_str() {
            "EPOCH" | "^EPOCH" => (
                Kind::Epoch { long: false },
                epoch_re(false, line_begin || upper.starts_with('^')),
            ),
            "LEPOCH" | "^LEPOCH" => (
                Kind::Epoch { long: true },
                epoch_re(true, line_begin || upper.starts_with('^')),
            ),
            "TAI64N" | "^TAI64N" => (
                Kind::Tai64n,
                format!("{}(@[0-9a-f]{{24}})", if line_begin { "^" } else { "" }),
            ),
            _ => {
                let (re, _) = strptime_to_regex(&body).map_err(err)?;
                let re = pyregex::translate(&re).rust;
                if line_begin {
                    word_begin = false;
                    (
                        Kind::Fields,
                        format!(r"^(?:\W{{0,2}})?{}", group_whole(&re)),
                    )
                } else {
                    if re.starts_with('^') || re.starts_with("(?i)^") {
                        word_begin = false;
                    }
                    (Kind::Fields, group_whole(&re))
                }
            }
        };
        if regex_body.ends_with('$') || regex_body.ends_with(r"\b") || regex_body.ends_with("**") {
            word_end = false;
        }
        let regex_body = regex_body.replace("**", "");
        let alpha = pattern.contains("%a")
            || pattern.contains("%b")
            || pattern.contains("%p")
            || pattern.contains("%A")
            || pattern.contains("%B");
        let full = if alpha {
            format!("(?i){regex_body}")
        } else {
            regex_body
        };
        let compiled = OnceLock::new();
        if eager {
            let _ = compiled.set(Compiled::new(&full).map_err(err)?);
        }
        let word_begin = word_begin && !matches!(kind, Kind::Epoch { .. });
        Ok(DateTemplate {
            name: pattern.to_string(),
            kind,
            word_begin,
            word_end,
            line_begin: full.starts_with('^') || full.starts_with("(?i)^"),
            group: 1,
            regex: Arc::new(LazyRegex {
                source: full,
                compiled,
            }),
        })
    }

    /// The regex the template runs.
    pub(crate) fn source(&self) -> &str {
        &self.regex.source
    }

    fn compiled(&self) -> &Compiled {
        let lazy = &*self.regex;
        lazy.compiled
            .get_or_init(|| Compiled::new(&lazy.source).expect("built-in date template compiles"))
    }

    /// The automaton dates are walked on, once a walk has built it.
    fn automaton(&self) -> Option<&Automaton> {
        let compiled = self.regex.compiled.get()?;
        compiled.shape.get()?.as_ref()?.automaton()
    }

    pub fn is_line_begin(&self) -> bool {
        self.line_begin
    }

    fn find(
        &self,
        line: &str,
        ctx: &DateContext,
        state: &mut TemplateState,
        minute: &mut MinuteCache,
    ) -> Option<FoundDate> {
        if let Some(found) = self.find_alike(line, ctx, state) {
            return Some(found);
        }
        let mut from = 0;
        // Filled in place: returned with the span, it was copied four
        // times a line.
        let mut fields = Fields::default();
        // Bounded: each turn starts at least one byte later.
        while from <= line.len() {
            let (span, read) = self.captures_at(line, from, state, &mut fields, ctx)?;
            if self.bounds_ok(line, span) {
                let time = match (self.kind, read) {
                    (_, Read::Alike(time)) => Some(time),
                    (Kind::Fields, Read::Walked) => {
                        let time = fields_to_time(&fields, ctx, minute);
                        let automaton = self.automaton();
                        state.alike.remember(
                            line,
                            span,
                            &mut state.memo,
                            automaton,
                            &fields,
                            minute,
                            ctx.id,
                        );
                        time
                    }
                    (Kind::Fields, _) => fields_to_time(&fields, ctx, minute),
                    (Kind::Epoch { long }, _) => epoch_to_time(&line[span.0..span.1], long),
                    (Kind::Tai64n, _) => {
                        let text = &line[span.0..span.1];
                        i64::from_str_radix(text.get(2..17)?, 16)
                            .ok()
                            .and_then(|s| Timestamp::from_second(s).ok())
                    }
                };
                return Some(FoundDate {
                    start: span.0,
                    end: span.1,
                    time,
                });
            }
            from = span.0 + line[span.0..].chars().next().map_or(1, char::len_utf8);
        }
        None
    }

    /// The date at the start of `line` when it is written as the last one
    /// walked but for its seconds ([`Alike::quick`]): no search, no fields
    /// read, and no bounds checked (the characters around the date are the
    /// last one's, whose bounds passed).
    fn find_alike(
        &self,
        line: &str,
        ctx: &DateContext,
        state: &mut TemplateState,
    ) -> Option<FoundDate> {
        if !self.line_begin || self.kind != Kind::Fields {
            return None;
        }
        let automaton = self.automaton()?;
        let (span, time) = state.alike.quick(line, &mut state.memo, automaton, ctx)?;
        debug_assert!(self.bounds_ok(line, span));
        Some(FoundDate {
            start: span.0,
            end: span.1,
            time: Some(time),
        })
    }

    fn bounds_ok(&self, line: &str, (start, end): (usize, usize)) -> bool {
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let before = line[..start].chars().next_back();
        let first = line[start..].chars().next();
        let last = line[..end].chars().next_back();
        let after = line[end..].chars().next();
        let begin_ok = !self.word_begin || !is_word(first) || !is_word(before);
        let end_ok = !self.word_end || !is_word(after) || !is_word(last);
        begin_ok && end_ok
    }

    /// The date's span, searching from `from`, and its strptime fields
    /// into `fields` (unless it was read alike the last one).
    fn captures_at<'l>(
        &self,
        line: &'l str,
        from: usize,
        state: &mut TemplateState,
        fields: &mut Fields<'l>,
        ctx: &DateContext,
    ) -> Option<((usize, usize), Read)> {
        *fields = Fields::default();
        let mut read = Read::Searched;
        let span;
        let compiled = self.compiled();
        match &compiled.regex {
            DateRegex::Linear(re) => {
                let cache = state.cache.get_or_insert_with(|| re.create_cache());
                let input = Input::new(line).range(from..);
                let shape = compiled
                    .shape
                    .get_or_init(|| Shape::with_steps(self.source()));
                let search = |cache: &mut meta::Cache| {
                    let mut caps = re.create_captures();
                    re.search_captures_with(cache, &input, &mut caps);
                    caps.is_match().then(|| spans_of_captures(&caps))
                };
                // Anchored at the line start: the walk of the bytes the
                // pattern reads decides the match and its groups.
                let walked = if from == 0 && self.line_begin {
                    state.memo.spans_of_anchored(
                        shape.as_ref().and_then(Shape::automaton),
                        line,
                        || search(cache),
                    )
                } else {
                    None
                };
                let (slots, offset) = match walked {
                    Some(slots) => {
                        if self.kind == Kind::Fields {
                            read = Read::Walked;
                        }
                        (slots?, 0)
                    }
                    None => {
                        // The match itself on the lazy DFA; its groups by
                        // shape.
                        let found = re.search_with(cache, &input)?;
                        let slots = state.memo.spans_of_match(
                            shape.as_ref(),
                            line,
                            (found.start(), found.end()),
                            || search(cache),
                        )?;
                        (slots, found.start())
                    }
                };
                let at = |index: usize| {
                    let (start, end) = slots.get(index).copied().flatten()?;
                    Some((offset + start, offset + end))
                };
                span = at(self.group).or_else(|| at(0))?;
                if let Read::Walked = read {
                    if let Some(time) = state.alike.time(slots, line, ctx) {
                        return Some((span, Read::Alike(time)));
                    }
                    state.alike.walked(slots);
                }
                for (index, field) in &compiled.fields {
                    if let Some((start, end)) = at(*index) {
                        fields.set(*field, &line[start..end]);
                    }
                }
            }
            DateRegex::Backtracking(re) => {
                let caps = re.captures_from_pos(line, from).ok()??;
                let m = caps.get(self.group).or_else(|| caps.get(0))?;
                span = (m.start(), m.end());
                for (index, field) in &compiled.fields {
                    if let Some(v) = caps.get(*index) {
                        fields.set(*field, v.as_str());
                    }
                }
            }
        }
        Some((span, read))
    }
}

/// How [`DateTemplate::captures_at`] read a date.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// Searched: its fields are filled in.
    Searched,
    /// Walked from the start of the line: its fields are filled in, and
    /// [`Alike::remember`] may keep it.
    Walked,
    /// Walked and written as the last one but for its seconds: this time.
    Alike(Timestamp),
}

/// The groups that hold strptime fields, with the field each holds.
fn field_groups<'a>(names: impl Iterator<Item = Option<&'a str>>) -> Vec<(usize, Field)> {
    names
        .enumerate()
        .filter_map(|(i, n)| Some((i, Field::of_group(n?)?)))
        .collect()
}

/// Wraps a template regex in a capture group unless it has its own (a
/// `{DATE}` wrapper like `^\[({DATE})\]` names the date part itself).
fn group_whole(re: &str) -> String {
    let bytes = re.as_bytes();
    let has_group = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'(' && bytes.get(i + 1) != Some(&b'?') && (i == 0 || bytes[i - 1] != b'\\')
    });
    if has_group {
        return re.to_string();
    }
    match re.strip_prefix('^') {
        Some(rest) => format!("^({rest})"),
        None => format!("({re})"),
    }
}

fn epoch_re(long: bool, line_begin: bool) -> String {
    let num = if long {
        r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?"
    } else {
        r"\d{10,11}(?:\.\d{3,6})?"
    };
    if line_begin {
        format!(r"^\[?({num})\b")
    } else {
        format!(r"(?:^\[?|audit\()({num})\b")
    }
}

/// A strptime field a template's named group holds (`%Y` is group `Y`).
#[derive(Debug, Clone, Copy)]
enum Field {
    Year4,
    Year2,
    Month,
    MonthName,
    Day,
    Hour,
    Hour12,
    AmPm,
    Minute,
    Second,
    Fraction,
    Offset,
    ZoneName,
}

impl Field {
    const COUNT: usize = Field::ZoneName as usize + 1;

    fn of_group(name: &str) -> Option<Field> {
        Some(match name {
            "Y" => Field::Year4,
            "y" => Field::Year2,
            "m" => Field::Month,
            "b" | "B" => Field::MonthName,
            "d" => Field::Day,
            "H" => Field::Hour,
            "I" => Field::Hour12,
            "p" => Field::AmPm,
            "M" => Field::Minute,
            "S" => Field::Second,
            "f" => Field::Fraction,
            "z" => Field::Offset,
            "Z" => Field::ZoneName,
            _ => return None,
        })
    }
}

/// The strptime fields read from one date, by [`Field`].
#[derive(Debug, Default)]
struct Fields<'l>([Option<&'l str>; Field::COUNT]);

impl<'l> Fields<'l> {
    fn set(&mut self, field: Field, value: &'l str) {
        self.0[field as usize] = Some(value);
    }

    fn get(&self, field: Field) -> Option<&'l str> {
        self.0[field as usize]
    }
}

fn month_from_name(name: &str) -> Option<i8> {
    // One match on the lowercased first three letters: this runs on every
    // syslog line, and comparing against each month in turn showed.
    let &[a, b, c] = name.as_bytes().get(..3)? else {
        return None;
    };
    let month = match [a, b, c].map(|byte| byte.to_ascii_lowercase()) {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    };
    Some(month)
}

fn num<T: TryFrom<u32> + std::str::FromStr>(s: Option<&str>) -> Option<T> {
    let s = s?;
    // Most fields are two digits: read without trimming or looping.
    if let &[tens @ b'0'..=b'9', ones @ b'0'..=b'9'] = s.as_bytes() {
        return T::try_from(u32::from(tens - b'0') * 10 + u32::from(ones - b'0')).ok();
    }
    // Dates are short runs of ASCII digits, maybe space-padded (` 1`);
    // `parse` handles anything else.
    let digits = s.trim_ascii().as_bytes();
    if !digits.is_empty() && digits.len() <= 9 && digits.iter().all(u8::is_ascii_digit) {
        let value = digits
            .iter()
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
        return T::try_from(value).ok();
    }
    s.trim().parse().ok()
}

/// Reads strptime fields into a timestamp, with fail2ban's defaults for
/// what is missing.
fn fields_to_time(
    f: &Fields<'_>,
    ctx: &DateContext,
    minutes: &mut MinuteCache,
) -> Option<Timestamp> {
    let second: i8 = num::<i8>(f.get(Field::Second)).unwrap_or(0).min(59);
    let nanos: i32 = f.get(Field::Fraction).map_or(0, fraction_nanos);
    let within = SignedDuration::new(i64::from(second), nanos);
    if let Some((start, assumed)) = minutes.by_text(f, ctx.id)
        && let Ok(ts) = start.checked_add(within)
        && assumed.allows(ts, ctx)
    {
        return Some(ts);
    }
    let today = ctx.today;
    let mut assume_year = false;
    let year: i16 = if let Some(y) = num::<i16>(f.get(Field::Year4)) {
        y
    } else if let Some(y) = num::<i16>(f.get(Field::Year2)) {
        if y <= 2000 { y + 2000 } else { y }
    } else {
        assume_year = true;
        today.year()
    };
    let month: Option<i8> =
        num(f.get(Field::Month)).or_else(|| f.get(Field::MonthName).and_then(month_from_name));
    let day: Option<i8> = num(f.get(Field::Day));
    let assume_today = month.is_none() && day.is_none();
    let (month, day) = if assume_today {
        (today.month(), today.day())
    } else {
        (month.unwrap_or(1), day.unwrap_or(1))
    };
    let mut hour: i8 = num(f.get(Field::Hour)).unwrap_or(0);
    if let Some(h12) = num::<i8>(f.get(Field::Hour12)) {
        let pm = f
            .get(Field::AmPm)
            .is_some_and(|p| p.eq_ignore_ascii_case("pm"));
        hour = match (h12, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    let minute: i8 = num(f.get(Field::Minute)).unwrap_or(0);
    let civil = DateTime::new(year, month, day, hour, minute, second, nanos).ok()?;
    let offset = zone_offset(f);
    let to_ts = |dt: DateTime| -> Option<Timestamp> {
        match offset {
            Some(off) => off.to_timestamp(dt).ok(),
            None => ctx.zone.to_ambiguous_timestamp(dt).compatible().ok(),
        }
    };
    let assumed = Assumed {
        today: assume_today,
        year: assume_year,
    };
    let mut ts = minutes.instant(civil, assumed, offset, ctx.id, to_ts)?;
    if assume_today && ts > ctx.now {
        ts = ts.checked_sub(Span::new().hours(24)).ok()?;
    }
    if assume_year && ts > ctx.latest {
        ts = to_ts(civil.with().year(year - 1).build().ok()?)?;
    }
    Some(ts)
}

/// `%f`: up to nine digits of a second, as nanoseconds (`5` is 500ms).
fn fraction_nanos(digits: &str) -> i32 {
    let mut nanos = 0;
    let mut scale = 100_000_000;
    for b in digits.bytes().take(9) {
        let Some(d) = char::from(b).to_digit(10) else {
            return 0;
        };
        nanos += d as i32 * scale;
        scale /= 10;
    }
    nanos
}

fn zone_offset(f: &Fields<'_>) -> Option<Offset> {
    if let Some(z) = f.get(Field::Offset) {
        return parse_offset(z);
    }
    f.get(Field::ZoneName).and_then(|z| {
        abbreviation_offset(z).map(|min| Offset::from_seconds(min * 60).unwrap_or(Offset::UTC))
    })
}

/// `Z`, `UTC`, `GMT`, `+09`, `+0900`, `+09:00`, `CET+0100`.
fn parse_offset(z: &str) -> Option<Offset> {
    let sign_pos = z.find(['+', '-']);
    let (abbr, num) = match sign_pos {
        Some(p) => (&z[..p], &z[p..]),
        None => (z, ""),
    };
    let base = abbreviation_offset(abbr)?;
    if num.is_empty() {
        return Offset::from_seconds(base * 60).ok();
    }
    let sign = if num.starts_with('-') { -1 } else { 1 };
    let digits: String = num[1..].chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    Offset::from_seconds((base + sign * (h * 60 + m)) * 60).ok()
}

/// Zone abbreviations fail2ban knows, as fixed offsets in minutes.
fn abbreviation_offset(abbr: &str) -> Option<i32> {
    let hours: f32 = match abbr {
        "" | "Z" | "UTC" | "GMT" | "WET" | "UT" => 0.0,
        "CET" | "WEST" | "BST" | "WAT" => 1.0,
        "CEST" | "EET" | "CAT" | "SAST" => 2.0,
        "EEST" | "MSK" | "EAT" | "IDT" => 3.0,
        "IST" => 5.5,
        "ICT" | "WIB" => 7.0,
        "HKT" | "SGT" | "AWST" | "PHT" | "CST8" => 8.0,
        "JST" | "KST" => 9.0,
        "AEST" => 10.0,
        "AEDT" => 11.0,
        "NZST" => 12.0,
        "NZDT" => 13.0,
        "EST" | "CDT" => -5.0,
        "EDT" => -4.0,
        "CST" | "MDT" => -6.0,
        "MST" | "PDT" => -7.0,
        "PST" | "AKDT" => -8.0,
        "AKST" => -9.0,
        "HST" => -10.0,
        "AST" => -4.0,
        "ADT" => -3.0,
        _ => return None,
    };
    Some((hours * 60.0) as i32)
}

fn epoch_to_time(text: &str, long: bool) -> Option<Timestamp> {
    let text = text.trim_start_matches('[');
    let mut value: f64 = text.parse().ok()?;
    if long && text.len() >= 13 {
        value /= if text.len() >= 16 && !text.contains('.') {
            1_000_000.0
        } else {
            1000.0
        };
    }
    let secs = value.trunc() as i64;
    let nanos = ((value - value.trunc()) * 1e9).round() as i32;
    Timestamp::new(secs, nanos.clamp(0, 999_999_999)).ok()
}

/// Turns `%`-fields into named groups; returns the regex and whether the
/// template names letters (case-insensitive matching).
fn strptime_to_regex(pattern: &str) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut alpha = false;
    let mut rest = pattern;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        let (key, len) = if let Some(r) = rest.strip_prefix("Ex") {
            let key_len = r.chars().next().map_or(0, char::len_utf8);
            (format!("Ex{}", &r[..key_len]), 2 + key_len)
        } else {
            let key_len = rest.chars().next().map_or(0, char::len_utf8);
            (rest[..key_len].to_string(), key_len)
        };
        rest = &rest[len..];
        let re = match key.as_str() {
            "%" => "%",
            "a" => {
                alpha = true;
                r"(?P<a>mon(?:day)?|tue(?:sday)?|wed(?:nesday)?|thu(?:rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
            }
            "A" => {
                alpha = true;
                r"(?P<A>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
            }
            "b" => {
                alpha = true;
                r"(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
            }
            "B" => {
                alpha = true;
                r"(?P<B>january|february|march|april|may|june|july|august|september|october|november|december)"
            }
            "p" => {
                alpha = true;
                r"(?P<p>am|pm)"
            }
            "d" => r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])",
            "Exd" => r"(?P<d>[1-2]\d|0[1-9]|3[0-1])",
            "m" => r"(?P<m>1[0-2]|0?[1-9])",
            "Exm" => r"(?P<m>0[1-9]|1[0-2])",
            "Y" => r"(?P<Y>\d{4})",
            "ExY" => r"(?P<Y>(?:19[7-9]|20\d)\d)",
            "y" | "Exy" => r"(?P<y>\d\d)",
            "H" => r"(?P<H>2[0-3]|[0-1]?\d)",
            "ExH" => r"(?P<H>[0-1]\d|2[0-3])",
            "k" | "Exk" => r" ?(?P<H>2[0-3]|[0-1]?\d)",
            "I" | "l" | "Exl" => r" ?(?P<I>1[0-2]|0?[1-9])",
            "M" => r"(?P<M>[0-5]?\d)",
            "ExM" => r"(?P<M>[0-5]\d)",
            "S" => r"(?P<S>6[0-1]|[0-5]?\d)",
            "ExS" => r"(?P<S>[0-5]\d|6[0-1])",
            "f" => r"(?P<f>[0-9]{1,6})",
            "z" => r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
            "Exz" => r"(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)",
            "Z" => r"(?P<Z>Z|[A-Z]{3,5})",
            "ExZ" => r"(?P<Z>[A-Z](?:[A-Z]{2,4})?)",
            "j" => r"(?P<j>36[0-6]|3[0-5]\d|[12]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
            "w" => r"(?P<w>[0-6])",
            other => return Err(format!("unknown date field %{other}")),
        };
        out.push_str(re);
    }
    out.push_str(rest);
    Ok((out, alpha))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(now: &str) -> DateContext {
        DateContext::new(TimeZone::get("Asia/Tokyo").unwrap(), now.parse().unwrap())
    }

    fn find(det: &DateDetector, line: &str, c: &DateContext) -> Option<FoundDate> {
        det.find(line, c, &mut DateState::default())
    }

    #[test]
    fn every_default_template_compiles_on_the_linear_engine() {
        let det = DateDetector::defaults();
        assert_eq!(det.templates.len(), 2 * DEFAULT_TEMPLATES.len() - 3);
        for tpl in &det.templates {
            assert!(
                matches!(tpl.compiled().regex, DateRegex::Linear(_)),
                "{}",
                tpl.name
            );
        }
    }

    #[test]
    fn a_wrong_user_template_is_refused_when_loaded() {
        let err = DateDetector::from_pattern("^(%H:%M").unwrap_err();
        assert_eq!(err.pattern, "^(%H:%M");
    }

    #[test]
    fn syslog_date_rolls_back_a_year_in_january() {
        let det = DateDetector::defaults();
        let c = ctx("2027-01-02T00:00:00Z");
        let found = find(&det, "Dec 31 23:59:01 host sshd[1]: x", &c).unwrap();
        assert_eq!(found.start, 0);
        assert_eq!(found.time.unwrap().to_string(), "2026-12-31T14:59:01Z");
        let jan = find(&det, "Jan  1 00:00:05 host sshd[1]: x", &c).unwrap();
        assert_eq!(jan.time.unwrap().to_string(), "2026-12-31T15:00:05Z");
    }

    #[test]
    fn iso_and_zoned_dates_are_honoured() {
        let det = DateDetector::defaults();
        let c = ctx("2026-11-22T00:00:00Z");
        let iso = find(&det, "2026-11-21T10:00:00+02:00 web x", &c).unwrap();
        assert_eq!(iso.time.unwrap().to_string(), "2026-11-21T08:00:00Z");
        let apache = find(
            &det,
            r#"1.2.3.4 - - [21/Nov/2026:10:00:00 -0500] "GET / HTTP/1.1""#,
            &c,
        )
        .unwrap();
        assert_eq!(apache.time.unwrap().to_string(), "2026-11-21T15:00:00Z");
        let epoch = find(&det, "1700000000.123 x", &c).unwrap();
        assert_eq!(epoch.time.unwrap().as_second(), 1_700_000_000);
    }

    #[test]
    fn custom_pattern_with_percent_fields() {
        let det = DateDetector::from_pattern(r"^%Y-%m-%d %H:%M:%S").unwrap();
        let c = ctx("2026-11-22T00:00:00Z");
        let found = find(&det, "2026-11-21 09:00:00 x", &c).unwrap();
        assert_eq!(found.time.unwrap().to_string(), "2026-11-21T00:00:00Z");
        assert!(find(&det, "no date here", &c).is_none());
        assert!(DateDetector::from_pattern("%Q").is_err());
    }

    /// Lines read one after another share one [`DateState`], so later lines
    /// take the remembered minute; across a clock change they must still be
    /// read as a fresh search reads them.
    #[test]
    fn remembered_minutes_agree_with_fresh_reads_across_clock_changes() {
        let det = DateDetector::from_pattern(r"^%Y-%m-%d %H:%M:%S(?:\.%f)?").unwrap();
        let c = DateContext::new(
            TimeZone::get("America/New_York").unwrap(),
            "2026-12-01T00:00:00Z".parse().unwrap(),
        );
        let mut state = DateState::default();
        let mut lines = Vec::new();
        // Spring forward (02:xx does not exist) and fall back (01:xx twice).
        // Minute by minute, then the same minute of each hour in a row.
        for day in ["2026-03-08", "2026-11-01"] {
            for hour in 0..4 {
                for (minute, second) in [(0, 0), (0, 1), (30, 59), (59, 58), (59, 59)] {
                    lines.push(format!("{day} {hour:02}:{minute:02}:{second:02}.25 x"));
                }
            }
            for hour in 0..4 {
                lines.push(format!("{day} {hour:02}:30:00.25 x"));
            }
        }
        for line in &lines {
            let remembered = det.find(line, &c, &mut state).map(|f| f.time);
            assert_eq!(remembered, find(&det, line, &c).map(|f| f.time), "{line}");
        }
        let found = det
            .find("2026-03-08 03:00:01.25 x", &c, &mut state)
            .unwrap();
        assert_eq!(found.time.unwrap().to_string(), "2026-03-08T07:00:01.25Z");
    }

    #[test]
    fn month_names_in_any_case() {
        let names = [
            "jan", "FEB", "Mar", "aPr", "May", "June", "July", "Aug", "Sept", "oct", "Nov",
            "December",
        ];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(month_from_name(name), Some(i as i8 + 1), "{name}");
        }
        for bad in ["No", "Nox", "日本語", ""] {
            assert_eq!(month_from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn fields_read_padded_days_and_fractions() {
        assert_eq!(num::<i8>(Some(" 1")), Some(1));
        assert_eq!(num::<i8>(Some("07")), Some(7));
        assert_eq!(num::<i8>(Some("59")), Some(59));
        assert_eq!(num::<i16>(Some("2026")), Some(2026));
        assert_eq!(num::<i8>(Some("300")), None);
        assert_eq!(num::<i16>(Some("+5")), Some(5));
        assert_eq!(fraction_nanos("5"), 500_000_000);
        assert_eq!(fraction_nanos("0012345678"), 1_234_567);
        assert_eq!(fraction_nanos("1x"), 0);
    }

    /// One syslog line in a run of alike ones: a minute that sometimes
    /// moves on, seconds, an optional year or fraction, and a context.
    fn syslog_line() -> impl proptest::strategy::Strategy<Value = (String, bool)> {
        use proptest::prelude::*;
        (
            (0..3usize, 0..3u8, 0..2u8, 0..70u8),
            (0..4usize, 0..8usize, proptest::bool::ANY),
        )
            .prop_map(|((month, day, minute, second), (year, tail, other_ctx))| {
                let month = ["Dec", "Jan", "Nov"][month];
                let day = [" 1", "01", "31"][usize::from(day)];
                let year = ["", " 2025", " 2026", ".5"][year];
                // After the seconds: a year, a word character (no date
                // there), a byte the automaton does not tell apart from it,
                // and two characters of three bytes (a symbol, a letter)
                // that a walk reads only the start of.
                let tail = [
                    "",
                    " web1 sshd[1]: x",
                    " 2026 x",
                    " 2026x",
                    "x",
                    "-",
                    "\u{2103} x",
                    "\u{2102} x",
                ][tail];
                (
                    format!("{month} {day} 23:5{minute}:{second:02}{year}{tail}"),
                    other_ctx,
                )
            })
    }

    /// A character after the date that the walk reads only the start of
    /// still decides its bounds: `℃` ends a word, `ℂ` does not.
    #[test]
    fn a_date_read_alike_still_ends_at_a_word_boundary() {
        let c = ctx("2026-06-15T12:00:00Z");
        let lines = ["Jan  1 23:50:00\u{2103} x", "Jan  1 23:50:03\u{2102} x"];
        for det in [
            DateDetector::line_begin_defaults(),
            DateDetector::from_pattern("{^LN-BEG}%b %d %H:%M:%S").unwrap(),
        ] {
            let mut state = DateState::default();
            for line in lines {
                assert_eq!(
                    det.find(line, &c, &mut state),
                    find(&det, line, &c),
                    "{line}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Dates read from their seconds, alike the last one, are the
        /// dates read afresh: in two contexts, across a year's end (the
        /// reference times are in different years; at Jan 1, December rolls a
        /// year back).
        #[test]
        fn dates_read_alike_the_last_are_read_as_afresh(
            lines in proptest::collection::vec(syslog_line(), 1..60)
        ) {
            let contexts = [ctx("2026-01-01T00:10:00Z"), ctx("2027-06-15T12:00:00Z")];
            for det in [DateDetector::defaults(), DateDetector::from_pattern("{^LN-BEG}%b %d %H:%M:%S").unwrap()] {
                let mut state = DateState::default();
                for (line, other) in &lines {
                    let c = &contexts[usize::from(*other)];
                    let remembered = det.find(line, c, &mut state);
                    proptest::prop_assert_eq!(remembered, find(&det, line, c), "{}", line);
                }
            }
        }
    }
}
