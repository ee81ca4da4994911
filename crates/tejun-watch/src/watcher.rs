//! The watch loop: follow → match → count → act, then checkpoint.
//!
//! One thread does the reading, counting and banning, in log order, so the
//! state machine needs no locks and a checkpoint is always a consistent cut.
//! It sleeps until inotify reports a change in a watched directory (or the
//! poll interval passes, as a fallback), then polls every followed path.
//!
//! Order of effects for a trigger: the firewall ban at once (idempotent,
//! and the attacker should not get the milliseconds of the fsyncs below);
//! at the end of the batch the detection is saved as pending together
//! with the offsets (see [`crate::detection`]); then the incident (if the
//! rule opens or attaches one, so the detection can refer to it),
//! `detect.triggered`, `ban.added`, the webhook (its own thread) and the
//! runbooks (a child `tejun run` each, on their own threads). When all are
//! done the pending record goes. A crash anywhere in between is finished at
//! the next start: actions are at-least-once, and the journal (every action
//! event carries the detection's id) keeps a done action from being redone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use notify::{RecursiveMode, Watcher as _};
use sha2::{Digest, Sha256};
use tejun_journal::{Journal, NewEvent};

use crate::ban::Backend;
use crate::config::{Config, IncidentAction};
use crate::detection::{BanPlan, Detection, crash_point};
use crate::events::*;
use crate::follow::journal::JournalFollow;
use crate::follow::{Event, Follower, Notice, StartAt};
use tejun_detect::input::journald::Start as JournalStart;

/// The "file" a journal entry's line is kept with as evidence.
const JOURNAL_PATH: &str = "journal";
use crate::ledger::{Ban, Ledger};
use crate::metrics::{MetricEvent, MetricRun};
use crate::offender::{IgnoreList, Offender};
use crate::rules::{LineRules, RuleInfo};
use crate::runbook::{Finished, Launch, Launcher};
use crate::state::{LineRef, State, StateError};
use crate::webhook::{self, Webhooks};
use crate::window::{Hit, Outcome, Windows};

/// What the operator is told, as it happens. The CLI renders these in the
/// operator's language (or as JSON lines).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    Started {
        sources: usize,
        files: usize,
        present: usize,
        /// Sources that follow the systemd journal.
        journals: usize,
        inotify: bool,
    },
    /// `journalctl` ended for a journal source (a bad match, no such
    /// directory): that source reads nothing more until a restart.
    JournalEnded {
        source: String,
        error: String,
    },
    File {
        source: String,
        path: String,
        notice: Notice,
    },
    Triggered {
        rule: String,
        offender: String,
        count: u32,
        severity: Option<String>,
        incident: Option<String>,
        /// A metric rule's reading.
        #[serde(skip_serializing_if = "Option::is_none")]
        metric: Option<crate::metrics::MetricFired>,
    },
    /// A metric rule's expression stopped holding.
    Resolved {
        rule: String,
        source: String,
        since: Timestamp,
        at: Timestamp,
        /// The endpoint or fingerprint of an `each:` rule.
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    Banned {
        rule: String,
        offender: String,
        until: Timestamp,
        backend: String,
    },
    BanFailed {
        offender: String,
        error: String,
    },
    NotBannable {
        rule: String,
        offender: String,
    },
    Unbanned {
        offender: String,
        reason: RemoveReason,
    },
    UnbanFailed {
        offender: String,
        error: String,
    },
    Webhook {
        outcome: webhook::Outcome,
    },
    /// A `runbook:` action started `tejun run` for a detection.
    RunbookStarted {
        rule: String,
        offender: String,
        runbook: String,
        env: String,
    },
    /// ... and it ended (`state` as in `runbook.finished`).
    RunbookFinished {
        rule: String,
        offender: String,
        runbook: String,
        run_id: Option<String>,
        state: String,
        exit_code: Option<i32>,
    },
    /// Detections found pending at start (the previous watcher died before
    /// their actions were all done): finished now.
    Resumed {
        detections: usize,
    },
    IncidentFailed {
        rule: String,
        error: String,
    },
    JournalFailed {
        error: String,
    },
    /// Hits whose line had no readable date, counted at arrival time
    /// instead (total so far for the source).
    Undated {
        source: String,
        total: u64,
    },
    /// Lines of a source with metric rules that its access-log format
    /// could not read (total so far): they count in no metric.
    Unreadable {
        source: String,
        total: u64,
    },
}

/// Fatal errors: the watcher cannot start or cannot keep its promises.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("state database: {0}")]
    StateDb(#[from] rusqlite::Error),
    #[error(transparent)]
    Journal(#[from] tejun_journal::Error),
    #[error("ban backend {backend} is not usable: {error}")]
    Backend { backend: String, error: String },
    #[error("source {name}: cannot follow the systemd journal: {error}")]
    Journald { name: String, error: String },
}

/// Opens or attaches an incident for a detection; returns its id. Kept as
/// a function pointer so the loop does not depend on how incidents work.
pub type IncidentHook = Box<dyn FnMut(&Journal, &IncidentRequest) -> Result<String, String>>;

/// What a detection asks of the incident side.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRequest {
    pub rule: String,
    pub offender: String,
    pub action: IncidentAction,
    pub severity: Option<String>,
    pub title: String,
    pub at: Timestamp,
}

/// Work done every [`Options::periodic_every`].
pub type Periodic = Box<dyn FnMut(&Journal, &Webhooks)>;

/// Everything the loop needs besides the config.
pub struct Options {
    pub journal: Arc<Journal>,
    pub state_dir: PathBuf,
    /// Set by a signal handler: finish the batch, save, return.
    pub stop: Arc<AtomicBool>,
    /// Text of webhook messages in the operator's language.
    pub lang: tejun_locale::Lang,
    pub zone: jiff::tz::TimeZone,
    pub incident: Option<IncidentHook>,
    /// Called every `periodic_every` (incident reminders, for instance).
    pub periodic: Option<Periodic>,
    pub periodic_every: Duration,
    /// Starts `runbook:` actions; without it they are journaled as
    /// `not_started`.
    pub runbooks: Option<Launcher>,
}

struct SourceRun {
    name: String,
    follower: Follower,
    /// A `journal:` source's `journalctl --follow`.
    journal: Option<JournalFollow>,
    rules: Box<dyn LineRules>,
    metrics: Option<MetricRun>,
    /// Undated hits already reported.
    undated_said: u64,
    /// Unreadable access-log lines already reported.
    unreadable_said: u64,
}

/// The running watcher.
pub struct Watcher<'r> {
    config: Config,
    sources: Vec<SourceRun>,
    windows: Windows<LineRef>,
    ledger: Ledger,
    /// watch.yaml's backend first, then those rules name for themselves.
    backends: Vec<Box<dyn Backend>>,
    state: State,
    ignore: IgnoreList,
    webhooks: Webhooks,
    webhook_results: Receiver<webhook::Outcome>,
    /// Offenders whose expiry the firewall refused: retried every second,
    /// said once.
    unban_failed: BTreeSet<String>,
    /// Detections of the current batch, saved as pending with its offsets,
    /// with the firewall's answer to their ban.
    fresh: Vec<(Detection, Option<Result<(), String>>)>,
    /// Detections being acted on, by id, with their async actions
    /// (webhook, runbooks) still running.
    outstanding: HashMap<String, usize>,
    /// Detections whose actions are all done: deleted at the next save.
    done: Vec<String>,
    webhook_done: (std::sync::mpsc::Sender<String>, Receiver<String>),
    runbook_done: (std::sync::mpsc::Sender<Finished>, Receiver<Finished>),
    runbook_threads: Vec<std::thread::JoinHandle<()>>,
    /// Wakes the loop: inotify, and journal sources when entries arrive.
    wake: (Sender<()>, Receiver<()>),
    opts: Options,
    report: &'r mut dyn FnMut(Report),
}

impl<'r> Watcher<'r> {
    /// Prepares the firewall, restores bans and windows, and starts
    /// following every source from its checkpoint.
    pub fn start(
        config: Config,
        rules: Vec<Box<dyn LineRules>>,
        opts: Options,
        report: &'r mut dyn FnMut(Report),
    ) -> Result<Watcher<'r>, WatchError> {
        let state = State::open(&opts.state_dir)?;
        let backends = prepare_backends(&config, &rules)?;
        let (result_tx, webhook_results) = channel();
        let webhooks = webhook::start(config.webhooks.clone(), opts.journal.clone(), result_tx);
        let mut windows = Windows::new();
        for (rule, offender, hits) in state.windows()? {
            let offender: Offender = offender.parse().unwrap_or(Offender::Name(offender));
            windows.restore((rule, offender), hits);
        }
        let ledger = Ledger::load(&opts.journal)?;
        let own = if config.ignoreself {
            crate::offender::own_addresses()
        } else {
            Vec::new()
        };
        let ignore = IgnoreList::with_self(config.ignoreip.clone(), config.ignoreself, &own);
        let mut watcher = Watcher {
            sources: Vec::new(),
            windows,
            ledger,
            backends,
            state,
            ignore,
            webhooks,
            webhook_results,
            unban_failed: BTreeSet::new(),
            fresh: Vec::new(),
            outstanding: HashMap::new(),
            done: Vec::new(),
            webhook_done: channel(),
            runbook_done: channel(),
            runbook_threads: Vec::new(),
            wake: channel(),
            opts,
            report,
            config,
        };
        watcher.restore_bans();
        watcher.resume_pending()?;
        let mut pending: Vec<(usize, String, Event)> = Vec::new();
        for (index, (source, rules)) in watcher.config.sources.iter().zip(rules).enumerate() {
            let journal = match &source.journal {
                None => None,
                Some(query) => {
                    let start = match watcher.state.journal_cursor(&source.name)? {
                        Some(cursor) => JournalStart::AfterCursor(cursor),
                        None => match watcher.config.start_at {
                            StartAt::Beginning => JournalStart::Beginning,
                            StartAt::End => JournalStart::End,
                        },
                    };
                    let follow = JournalFollow::start(query, start, watcher.wake.0.clone())
                        .map_err(|e| WatchError::Journald {
                            name: source.name.clone(),
                            error: e.to_string(),
                        })?;
                    Some(follow)
                }
            };
            let checkpoints = watcher.state.checkpoints(&source.name)?;
            let follower = Follower::start(
                source.patterns.clone(),
                checkpoints,
                watcher.config.start_at,
                &mut |path, event| pending.push((index, path.to_string(), event)),
            );
            let mut metrics = source.metrics.clone().map(MetricRun::new);
            // Baselines read the days a previous watcher saw.
            if let Some(metrics) = &mut metrics {
                metrics.restore_history(watcher.state.metric_history(&source.name)?);
                metrics.restore_buckets(watcher.state.metric_buckets(&source.name)?);
            }
            watcher.sources.push(SourceRun {
                name: source.name.clone(),
                follower,
                journal,
                rules,
                unreadable_said: 0,
                metrics,
                undated_said: 0,
            });
        }
        for (index, path, event) in pending {
            watcher.handle(index, &path, event);
        }
        watcher.save()?;
        Ok(watcher)
    }

    /// Runs until `stop` is set.
    pub fn run(mut self) -> Result<(), WatchError> {
        let (tx, rx) = std::mem::replace(&mut self.wake, channel());
        // Keeps the channel open without inotify, so the wait below is a
        // wait and not a busy loop.
        let _keep_open = tx.clone();
        let mut inotify = if self.config.inotify {
            notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
                let _ = tx.send(());
            })
            .ok()
        } else {
            None
        };
        let mut watched: BTreeSet<PathBuf> = BTreeSet::new();
        let dirs: BTreeSet<PathBuf> = self
            .sources
            .iter()
            .flat_map(|s| s.follower.patterns().iter().map(|p| p.dir().to_path_buf()))
            .collect();
        let watch_dirs = |inotify: &mut Option<notify::RecommendedWatcher>,
                          watched: &mut BTreeSet<PathBuf>| {
            if let Some(w) = inotify {
                for dir in &dirs {
                    if !watched.contains(dir) && w.watch(dir, RecursiveMode::NonRecursive).is_ok() {
                        watched.insert(dir.clone());
                    }
                }
            }
        };
        watch_dirs(&mut inotify, &mut watched);
        let (files, present) = self.sources.iter().fold((0, 0), |(f, p), s| {
            let (files, present) = s.follower.counts();
            (f + files, p + present)
        });
        (self.report)(Report::Started {
            sources: self.sources.len(),
            files,
            present,
            journals: self.sources.iter().filter(|s| s.journal.is_some()).count(),
            inotify: inotify.is_some(),
        });
        // Without inotify, polling is the only way to see appends: poll
        // fast enough to keep the reaction time promise.
        let poll = if inotify.is_some() {
            Duration::from_millis(self.config.poll_interval_ms)
        } else {
            Duration::from_millis(self.config.poll_interval_ms.min(50))
        };
        let mut last_housekeeping = Instant::now();
        let mut last_periodic = Instant::now();
        while !self.opts.stop.load(Ordering::Relaxed) {
            let behind = self.sources.iter().any(|s| {
                s.follower.is_behind() || s.journal.as_ref().is_some_and(JournalFollow::is_behind)
            });
            if !behind {
                // Directories inotify cannot watch (not there yet) are
                // polled fast, to keep the reaction time promise.
                let wait = if watched.len() < dirs.len() {
                    poll.min(Duration::from_millis(50))
                } else {
                    poll
                };
                let _ = rx.recv_timeout(wait);
            }
            while rx.try_recv().is_ok() {}
            self.poll_sources();
            self.save()?;
            self.drain_webhook_results();
            self.drain_done();
            if last_housekeeping.elapsed() >= Duration::from_secs(1) {
                last_housekeeping = Instant::now();
                watch_dirs(&mut inotify, &mut watched);
                self.housekeeping()?;
            }
            if last_periodic.elapsed() >= self.opts.periodic_every {
                last_periodic = Instant::now();
                if let Some(periodic) = &mut self.opts.periodic {
                    periodic(&self.opts.journal, &self.webhooks);
                }
            }
        }
        self.poll_sources();
        self.save()?;
        drop(inotify);
        // Lets queued webhooks finish; running runbooks see `stop` and are
        // interrupted (they stay pending and run again at the next start).
        self.webhooks.finish();
        for thread in std::mem::take(&mut self.runbook_threads) {
            let _ = thread.join();
        }
        self.drain_webhook_results();
        self.drain_done();
        self.save()?;
        Ok(())
    }

    /// Polls every source once (also used by tests that drive the loop).
    pub fn poll_sources(&mut self) {
        let mut events: Vec<(usize, String, Event)> = Vec::new();
        for (index, source) in self.sources.iter_mut().enumerate() {
            source
                .follower
                .poll(&mut |path, event| events.push((index, path.to_string(), event)));
        }
        for (index, path, event) in events {
            self.handle(index, &path, event);
        }
        for index in 0..self.sources.len() {
            let Some(journal) = self.sources[index].journal.as_mut() else {
                continue;
            };
            match journal.poll() {
                Ok(entries) => {
                    for entry in entries {
                        self.line(index, JOURNAL_PATH, &entry.line, Some(entry.time));
                        // Counted: the next start resumes after it.
                        if let Some(journal) = self.sources[index].journal.as_mut() {
                            journal.counted(&entry);
                        }
                    }
                }
                Err(error) => {
                    let source = self.sources[index].name.clone();
                    (self.report)(Report::JournalEnded { source, error });
                }
            }
        }
        // All that was written has been read: a slow log's last query is
        // judged now rather than when the next one is logged.
        for index in 0..self.sources.len() {
            let mut events = Vec::new();
            if let Some(metrics) = &mut self.sources[index].metrics {
                metrics.written(&mut events);
            }
            for event in events {
                self.metric_event(index, event);
            }
        }
    }

    fn handle(&mut self, source: usize, path: &str, event: Event) {
        match event {
            Event::Notice(notice) => {
                let name = self
                    .sources
                    .get(source)
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                (self.report)(Report::File {
                    source: name,
                    path: path.to_string(),
                    notice,
                });
            }
            Event::Line(line) => self.line(source, path, &line, None),
        }
    }

    /// Counts one line; `time` is a journal entry's own time (a file's
    /// lines carry theirs in the text).
    fn line(&mut self, source: usize, path: &str, line: &str, time: Option<Timestamp>) {
        let Some(run) = self.sources.get_mut(source) else {
            return;
        };
        if let Some(metrics) = &mut run.metrics {
            let mut events = Vec::new();
            metrics.line(line, path, &mut events);
            for event in events {
                self.metric_event(source, event);
            }
        }
        let Some(run) = self.sources.get_mut(source) else {
            return;
        };
        let hits = match time {
            Some(time) => run.rules.match_line_at(line, time),
            None => run.rules.match_line(line),
        };
        if hits.is_empty() {
            return;
        }
        let infos: Vec<RuleInfo> = hits
            .iter()
            .filter_map(|h| run.rules.rules().get(h.rule).cloned())
            .collect();
        let override_actions = self
            .config
            .sources
            .get(source)
            .and_then(|s| s.actions.clone());
        let now = Timestamp::now();
        for (hit, mut info) in hits.into_iter().zip(infos) {
            if self.ignore.ignores(&hit.host) {
                continue;
            }
            if let Some(actions) = &override_actions {
                info.actions = actions.clone();
            }
            // The rule's own `ban: {ipv6_prefix}` wins over watch.yaml's,
            // for counting as for the ban.
            let prefix = info.actions.ipv6_prefix.unwrap_or(self.config.ipv6_prefix);
            let prefix = self.ignore.safe_prefix(&hit.host, prefix);
            let offender = Offender::from_host(&hit.host, prefix);
            let at = hit.time.unwrap_or(now);
            let data = LineRef {
                text: line.to_string(),
                file: path.to_string(),
            };
            let outcome =
                self.windows
                    .record(&info.name, &info.params(), &offender, Hit { at, data }, now);
            if let Outcome::Triggered { hits, banned_until } = outcome {
                self.trigger(&info, &offender, hits, banned_until, now);
            }
        }
    }

    /// An offender reached maxretry: ban at once, and plan the rest for
    /// after the batch is saved (with this detection as pending).
    fn trigger(
        &mut self,
        info: &RuleInfo,
        offender: &Offender,
        hits: Vec<Hit<LineRef>>,
        until: Option<Timestamp>,
        now: Timestamp,
    ) {
        let backend = self.backend_for(info);
        let ban = until.and_then(|until| {
            offender.net().map(|net| BanPlan {
                net,
                until,
                bantime_s: until.duration_since(now).as_secs(),
                backend: backend.to_string(),
            })
        });
        // The firewall first: the durable writes cost fsyncs the attacker
        // should not get. Applying a ban again (on replay) is harmless.
        let applied = ban.as_ref().map(|plan| self.apply_ban(plan, now));
        let detection = Detection {
            id: crate::detection::new_id(now),
            rule: info.name.clone(),
            offender: offender.to_string(),
            count: u32::try_from(hits.len()).unwrap_or(u32::MAX),
            findtime_s: info.findtime.as_secs(),
            maxretry: info.maxretry,
            severity: info.severity.clone(),
            first_seen: hits.first().map_or(now, |h| h.at),
            last_seen: hits.last().map_or(now, |h| h.at),
            lines: hits
                .iter()
                .map(|h| LineEvidence {
                    text: h.data.text.clone(),
                    sha256: hex::encode(Sha256::digest(h.data.text.as_bytes())),
                    file: h.data.file.clone(),
                })
                .collect(),
            at: now,
            not_bannable: until.is_some() && ban.is_none(),
            ban,
            webhook: info.actions.webhook,
            webhook_urls: info.actions.webhook_urls.clone(),
            incident: info.actions.incident.clone(),
            runbooks: info.actions.runbooks.clone(),
            metric: None,
        };
        self.fresh.push((detection, applied));
    }

    /// A metric rule fired (a detection, acted on like any other once the
    /// batch is saved) or resolved (journaled and said).
    fn metric_event(&mut self, source: usize, event: MetricEvent) {
        let Some(run) = self.sources.get(source) else {
            return;
        };
        let Some(metrics) = &run.metrics else {
            return;
        };
        let source_name = run.name.clone();
        match event {
            MetricEvent::Fired {
                rule,
                at,
                fired,
                lines,
            } => {
                let rule = metrics.rule(rule).clone();
                let window = rule.expr.lookback();
                let now = Timestamp::now();
                let detection = Detection {
                    id: crate::detection::new_id(now),
                    rule: rule.name.clone(),
                    offender: source_name,
                    count: u32::try_from(fired.requests).unwrap_or(u32::MAX),
                    findtime_s: window.as_secs() as i64,
                    maxretry: 0,
                    severity: rule.severity.clone(),
                    first_seen: at
                        .checked_sub(SignedDuration::try_from(window).unwrap_or_default())
                        .unwrap_or(at),
                    last_seen: at,
                    lines: lines
                        .into_iter()
                        .map(|(text, file)| LineEvidence {
                            sha256: hex::encode(Sha256::digest(text.as_bytes())),
                            text,
                            file,
                        })
                        .collect(),
                    at: now,
                    ban: None,
                    not_bannable: false,
                    webhook: rule.actions.webhook,
                    webhook_urls: Vec::new(),
                    incident: rule.actions.incident.clone(),
                    runbooks: rule.actions.runbooks.clone(),
                    metric: Some(fired),
                };
                self.fresh.push((detection, None));
            }
            MetricEvent::Resolved {
                rule,
                at,
                since,
                key,
            } => {
                let rule = metrics.rule(rule).name.clone();
                let resolved = MetricResolved {
                    rule: rule.clone(),
                    source: source_name.clone(),
                    since,
                    key: key.clone(),
                };
                self.journal(&detect_stream(&rule), &[], METRIC_RESOLVED, &resolved, None);
                (self.report)(Report::Resolved {
                    rule,
                    source: source_name,
                    since,
                    at,
                    key,
                });
            }
        }
    }

    /// The backend a rule bans with: its own `ban: {backend}`, else
    /// watch.yaml's.
    fn backend_for(&self, info: &RuleInfo) -> &'static str {
        let wanted = info.actions.ban_backend.as_deref();
        self.backends
            .iter()
            .find(|b| {
                wanted.is_none_or(|w| b.name() == w || (w == "nft" && b.name() == "nftables"))
            })
            .or(self.backends.first())
            .map_or("none", |b| b.name())
    }

    fn backend_named(&self, name: &str) -> Option<&dyn Backend> {
        self.backends
            .iter()
            .find(|b| b.name() == name)
            .map(|b| b.as_ref())
    }

    /// Bans for what is left of the plan at `now`.
    fn apply_ban(&self, plan: &BanPlan, now: Timestamp) -> Result<(), String> {
        let remaining = plan.until.duration_since(now).as_secs().max(1);
        match self.backend_named(&plan.backend) {
            Some(backend) => backend.add(plan.net, remaining).map_err(|e| e.0),
            None => Err(format!("ban backend {} is not configured", plan.backend)),
        }
    }

    /// Carries out a saved detection's actions. On `replay` (a detection
    /// found pending at start) each action is first looked up in the
    /// journal by the detection's id, and skipped if it was done.
    fn execute(&mut self, mut d: Detection, applied: Option<Result<(), String>>, replay: bool) {
        let mut refs: Vec<String> = Vec::new();
        let mut incident_id = None;
        let recorded = if replay {
            self.recorded_detection(&d)
        } else {
            None
        };
        match recorded {
            Some(recorded_refs) => {
                incident_id = recorded_refs
                    .iter()
                    .find_map(|r| r.strip_prefix("incident/").map(str::to_string));
                refs = recorded_refs;
            }
            None => {
                if let (Some(action), Some(hook)) = (&d.incident, &mut self.opts.incident) {
                    let severity = Some(action.severity.clone()).or(d.severity.clone());
                    let request = IncidentRequest {
                        rule: d.rule.clone(),
                        offender: d.offender.clone(),
                        action: action.clone(),
                        severity,
                        title: action.title.clone().unwrap_or_else(|| match &d.metric {
                            Some(m) => format!("{}: {}", d.rule, m.describe(self.opts.lang)),
                            None => format!("{}: {} ({})", d.rule, d.offender, d.count),
                        }),
                        at: d.at,
                    };
                    match hook(&self.opts.journal, &request) {
                        Ok(id) if !id.is_empty() => {
                            refs.push(format!("incident/{id}"));
                            incident_id = Some(id);
                        }
                        Ok(_) => {}
                        Err(error) => (self.report)(Report::IncidentFailed {
                            rule: d.rule.clone(),
                            error,
                        }),
                    }
                }
                let triggered = DetectTriggered {
                    id: Some(d.id.clone()),
                    rule: d.rule.clone(),
                    offender: d.offender.clone(),
                    count: d.count,
                    findtime_s: d.findtime_s,
                    maxretry: d.maxretry,
                    severity: d.severity.clone(),
                    first_seen: d.first_seen,
                    last_seen: d.last_seen,
                    lines: std::mem::take(&mut d.lines),
                    metric: d.metric.clone(),
                };
                self.journal(
                    &detect_stream(&d.rule),
                    &refs,
                    DETECT_TRIGGERED,
                    &triggered,
                    Some(d.at),
                );
                (self.report)(Report::Triggered {
                    rule: d.rule.clone(),
                    offender: d.offender.clone(),
                    count: d.count,
                    severity: d.severity.clone(),
                    incident: incident_id.clone(),
                    metric: d.metric.clone(),
                });
                if d.not_bannable {
                    (self.report)(Report::NotBannable {
                        rule: d.rule.clone(),
                        offender: d.offender.clone(),
                    });
                }
            }
        }
        let mut ban_note = None;
        if let Some(plan) = d.ban.clone() {
            // A restart re-applies (the firewall may have lost it).
            let result = applied.unwrap_or_else(|| self.apply_ban(&plan, Timestamp::now()));
            let stream = ban_stream(&d.offender);
            let recorded = replay && self.recorded(&stream, "ban.", &d.id) > 0;
            match result {
                _ if recorded => ban_note = Some(plan.until),
                Ok(()) => {
                    let added = BanAdded {
                        offender: d.offender.clone(),
                        rule: d.rule.clone(),
                        until: plan.until,
                        bantime_s: plan.bantime_s,
                        backend: plan.backend.clone(),
                        detection: Some(d.id.clone()),
                    };
                    self.journal(&stream, &refs, BAN_ADDED, &added, Some(d.at));
                    let _ = self.refresh_ledger();
                    ban_note = Some(plan.until);
                    (self.report)(Report::Banned {
                        rule: d.rule.clone(),
                        offender: d.offender.clone(),
                        until: plan.until,
                        backend: plan.backend.clone(),
                    });
                }
                Err(error) => {
                    let failed = BanFailed {
                        offender: d.offender.clone(),
                        rule: d.rule.clone(),
                        backend: plan.backend.clone(),
                        error: error.clone(),
                        detection: Some(d.id.clone()),
                    };
                    self.journal(&stream, &refs, BAN_FAILED, &failed, None);
                    (self.report)(Report::BanFailed {
                        offender: d.offender.clone(),
                        error,
                    });
                }
            }
        }
        let mut waiting = 0;
        let targets = webhook::targets(&self.config.webhooks, d.webhook, &d.webhook_urls);
        let posted = replay && self.recorded(&detect_stream(&d.rule), "webhook.", &d.id) >= targets;
        if targets > 0 && !posted {
            let text = self.message_text(&d, ban_note);
            self.webhooks.send(webhook::Message {
                text,
                global: d.webhook,
                urls: d.webhook_urls.clone(),
                stream: detect_stream(&d.rule),
                refs: refs.clone(),
                detection: Some(d.id.clone()),
                done: Some(self.webhook_done.0.clone()),
            });
            waiting += 1;
        }
        for action in &d.runbooks {
            if replay && self.runbook_recorded(&d, action) {
                continue;
            }
            let launch = Launch {
                detection: d.id.clone(),
                rule: d.rule.clone(),
                offender: d.offender.clone(),
                count: d.count,
                incident: incident_id.clone(),
                refs: refs.clone(),
                action: action.clone(),
            };
            (self.report)(Report::RunbookStarted {
                rule: d.rule.clone(),
                offender: d.offender.clone(),
                runbook: action.path.display().to_string(),
                env: action.env.clone(),
            });
            let spawned = match &self.opts.runbooks {
                Some(launcher) => launcher
                    .spawn(
                        launch.clone(),
                        self.opts.journal.clone(),
                        self.opts.stop.clone(),
                        self.runbook_done.0.clone(),
                    )
                    .map_err(|e| e.to_string()),
                None => Err("no runbook launcher".to_string()),
            };
            match spawned {
                Ok(thread) => {
                    self.runbook_threads.push(thread);
                    waiting += 1;
                }
                Err(error) => self.runbook_not_started(&launch, error),
            }
        }
        if waiting == 0 {
            self.done.push(d.id);
        } else {
            self.outstanding.insert(d.id, waiting);
        }
    }

    /// A run that could not even start is its outcome: journaled, said,
    /// and done (starting it again would fail the same way).
    fn runbook_not_started(&mut self, launch: &Launch, error: String) {
        let event = RunbookFinished {
            detection: launch.detection.clone(),
            rule: launch.rule.clone(),
            offender: launch.offender.clone(),
            runbook: launch.action.path.display().to_string(),
            env: launch.action.env.clone(),
            run_id: None,
            state: "not_started".into(),
            exit_code: None,
            duration_ms: 0,
            error: Some(error),
        };
        self.journal(
            &detect_stream(&launch.rule),
            &launch.refs,
            RUNBOOK_FINISHED,
            &event,
            None,
        );
        self.report_runbook(&event);
    }

    fn report_runbook(&mut self, event: &RunbookFinished) {
        (self.report)(Report::RunbookFinished {
            rule: event.rule.clone(),
            offender: event.offender.clone(),
            runbook: event.runbook.clone(),
            run_id: event.run_id.clone(),
            state: event.state.clone(),
            exit_code: event.exit_code,
        });
    }

    /// The refs of this detection's `detect.triggered`, if it was written.
    fn recorded_detection(&self, d: &Detection) -> Option<Vec<String>> {
        let entries = self
            .opts
            .journal
            .query(&tejun_journal::Query {
                subject: Some(&detect_stream(&d.rule)),
                kind_prefix: Some(DETECT_TRIGGERED),
                ..tejun_journal::Query::default()
            })
            .ok()?;
        entries
            .into_iter()
            .find(|e| e.stream == detect_stream(&d.rule) && e.payload["id"] == d.id.as_str())
            .map(|e| e.refs)
    }

    /// How many events of `kind_prefix` on `stream` were written for
    /// detection `id`.
    fn recorded(&self, stream: &str, kind_prefix: &str, id: &str) -> usize {
        self.opts
            .journal
            .query(&tejun_journal::Query {
                subject: Some(stream),
                kind_prefix: Some(kind_prefix),
                ..tejun_journal::Query::default()
            })
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.stream == stream && e.payload["detection"] == id)
                    .count()
            })
            .unwrap_or(0)
    }

    /// True when this runbook ran to an end for this detection (an
    /// `interrupted` run, stopped with the watcher, runs again).
    fn runbook_recorded(&self, d: &Detection, action: &crate::runbook::RunbookAction) -> bool {
        let stream = detect_stream(&d.rule);
        let runbook = action.path.display().to_string();
        self.opts
            .journal
            .query(&tejun_journal::Query {
                subject: Some(&stream),
                kind_prefix: Some(RUNBOOK_FINISHED),
                ..tejun_journal::Query::default()
            })
            .map(|entries| {
                entries.iter().any(|e| {
                    e.payload["detection"] == d.id.as_str()
                        && e.payload["runbook"] == runbook.as_str()
                        && e.payload["state"] != "interrupted"
                })
            })
            .unwrap_or(false)
    }

    /// Finishes the detections a previous watcher left pending.
    fn resume_pending(&mut self) -> Result<(), WatchError> {
        let pending = self.state.pending()?;
        if pending.is_empty() {
            return Ok(());
        }
        (self.report)(Report::Resumed {
            detections: pending.len(),
        });
        for (id, json) in pending {
            match serde_json::from_str::<Detection>(&json) {
                Ok(detection) => self.execute(detection, None, true),
                Err(e) => {
                    (self.report)(Report::JournalFailed {
                        error: format!("pending detection {id} is unreadable: {e}"),
                    });
                    self.done.push(id);
                }
            }
        }
        Ok(())
    }

    /// Webhooks posted and runbooks ended: a detection whose last action
    /// ended is done.
    fn drain_done(&mut self) {
        let mut ended: Vec<(String, bool)> = Vec::new();
        while let Ok(id) = self.webhook_done.1.try_recv() {
            ended.push((id, true));
        }
        while let Ok(finished) = self.runbook_done.1.try_recv() {
            self.report_runbook(&finished.event);
            ended.push((finished.detection, finished.completed));
        }
        for (id, completed) in ended {
            let Some(left) = self.outstanding.get_mut(&id) else {
                continue;
            };
            if !completed {
                // Stays pending: the next start runs what was cut short.
                self.outstanding.remove(&id);
                continue;
            }
            *left -= 1;
            if *left == 0 {
                self.outstanding.remove(&id);
                self.done.push(id);
            }
        }
        self.runbook_threads.retain(|t| !t.is_finished());
    }

    fn message_text(&self, d: &Detection, until: Option<Timestamp>) -> String {
        let lang = self.opts.lang;
        let severity = d
            .severity
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        if let Some(metric) = &d.metric {
            return format!(
                "tejun{severity} {} ({}): {}",
                d.rule,
                d.offender,
                metric.describe(lang)
            );
        }
        let mut text = format!(
            "tejun{severity} {}: {} {} {} {} {}s",
            d.rule,
            d.offender,
            lang.pick("reached", "が"),
            d.count,
            lang.pick("matches within", "回一致 (期間"),
            d.findtime_s,
        );
        if lang == tejun_locale::Lang::Ja {
            text.push(')');
        }
        if let Some(until) = until {
            let when = tejun_locale::format_time(until, &self.opts.zone);
            text.push_str(&match lang {
                tejun_locale::Lang::En => format!("; banned until {when}"),
                tejun_locale::Lang::Ja => format!("。{when} まで遮断しました"),
            });
        }
        text
    }

    fn journal<T: serde::Serialize>(
        &mut self,
        stream: &str,
        refs: &[String],
        kind: &str,
        payload: &T,
        ts: Option<Timestamp>,
    ) {
        let result = serde_json::to_value(payload)
            .map_err(|e| e.to_string())
            .and_then(|payload| {
                self.opts
                    .journal
                    .append(NewEvent {
                        stream,
                        refs,
                        kind,
                        actor: ACTOR,
                        payload: &payload,
                        ts,
                    })
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = result {
            (self.report)(Report::JournalFailed { error });
        }
    }

    /// Re-applies bans in force (a reboot empties nftables) and expires the
    /// ones whose time ran out while no watcher was running.
    fn restore_bans(&mut self) {
        let now = Timestamp::now();
        let active: Vec<Ban> = self.ledger.active(now).into_iter().cloned().collect();
        for ban in active {
            let offender: Offender = ban
                .offender
                .parse()
                .unwrap_or(Offender::Name(ban.offender.clone()));
            self.windows.mark_banned(offender.clone(), ban.until);
            if let Some(backend) = self.backend_named(&ban.backend)
                && let Some(net) = offender.net()
            {
                let remaining = ban.until.duration_since(now).as_secs().max(1);
                if let Err(e) = backend.add(net, remaining) {
                    (self.report)(Report::BanFailed {
                        offender: ban.offender.clone(),
                        error: e.0,
                    });
                }
            }
        }
        self.expire(now);
    }

    /// Lifts bans whose time is up: from the firewall (nftables may have
    /// done it already), from the windows, and on record.
    fn expire(&mut self, now: Timestamp) {
        let overdue: Vec<Ban> = self.ledger.overdue(now).into_iter().cloned().collect();
        for ban in overdue {
            let offender: Offender = ban
                .offender
                .parse()
                .unwrap_or(Offender::Name(ban.offender.clone()));
            if let Some(net) = offender.net()
                && let Some(backend) = self.backend_named(&ban.backend)
                && let Err(e) = backend.remove(net)
            {
                if self.unban_failed.insert(ban.offender.clone()) {
                    (self.report)(Report::UnbanFailed {
                        offender: ban.offender.clone(),
                        error: e.0,
                    });
                }
                continue;
            }
            let removed = BanRemoved {
                offender: ban.offender.clone(),
                reason: RemoveReason::Expired,
            };
            self.journal(&ban_stream(&ban.offender), &[], BAN_REMOVED, &removed, None);
            self.unban_failed.remove(&ban.offender);
        }
        if let Err(e) = self.refresh_ledger() {
            (self.report)(Report::JournalFailed {
                error: e.to_string(),
            });
        }
    }

    /// Once a second: learn about bans made or lifted by other processes
    /// (`tejun unban`), expire bans, forget idle windows.
    /// Folds ban events written since the last look, by this watcher or
    /// another process (`tejun unban`), into the windows: a lifted ban
    /// makes the offender count afresh, a ban made elsewhere stops counting.
    fn refresh_ledger(&mut self) -> Result<(), WatchError> {
        let changes = self.ledger.refresh(&self.opts.journal)?;
        for (offender, reason) in changes.removed {
            let key: Offender = offender.parse().unwrap_or(Offender::Name(offender.clone()));
            self.windows.lift(&key);
            (self.report)(Report::Unbanned { offender, reason });
        }
        for ban in changes.added {
            let key: Offender = ban
                .offender
                .parse()
                .unwrap_or(Offender::Name(ban.offender.clone()));
            self.windows.mark_banned(key, ban.until);
        }
        Ok(())
    }

    fn housekeeping(&mut self) -> Result<(), WatchError> {
        self.refresh_ledger()?;
        for source in &mut self.sources {
            let total = source.rules.undated();
            if total > source.undated_said {
                source.undated_said = total;
                (self.report)(Report::Undated {
                    source: source.name.clone(),
                    total,
                });
            }
            let unreadable = source.metrics.as_ref().map_or(0, |m| m.unreadable);
            if unreadable > source.unreadable_said {
                source.unreadable_said = unreadable;
                (self.report)(Report::Unreadable {
                    source: source.name.clone(),
                    total: unreadable,
                });
            }
        }
        let now = Timestamp::now();
        self.expire(now);
        let findtimes: Vec<(String, SignedDuration)> = self
            .sources
            .iter()
            .flat_map(|s| s.rules.rules().iter().map(|r| (r.name.clone(), r.findtime)))
            .collect();
        self.windows.sweep(now, |rule| {
            findtimes.iter().find(|(n, _)| n == rule).map(|(_, f)| *f)
        });
        Ok(())
    }

    fn drain_webhook_results(&mut self) {
        while let Ok(outcome) = self.webhook_results.try_recv() {
            (self.report)(Report::Webhook { outcome });
        }
    }

    /// Saves offsets and changed windows in one transaction.
    pub fn save(&mut self) -> Result<(), WatchError> {
        let metrics: Vec<(String, crate::metrics::MetricSave)> = self
            .sources
            .iter_mut()
            .filter_map(|s| Some((s.name.clone(), s.metrics.as_mut()?.to_save())))
            .collect();
        let checkpoints: Vec<(&str, Vec<(&Path, crate::follow::Checkpoint)>)> = self
            .sources
            .iter()
            .map(|s| (s.name.as_str(), s.follower.checkpoints().collect()))
            .collect();
        let dirty = self.windows.take_dirty();
        let windows: Vec<_> = dirty
            .into_iter()
            .map(|key| {
                let hits = self
                    .windows
                    .window(&key)
                    .map(|w| w.iter().cloned().collect());
                (key, hits)
            })
            .collect();
        let fresh = std::mem::take(&mut self.fresh);
        let pending: Vec<(String, String)> = fresh
            .iter()
            .filter_map(|(d, _)| {
                serde_json::to_string(d)
                    .ok()
                    .map(|json| (d.id.clone(), json))
            })
            .collect();
        let done = std::mem::take(&mut self.done);
        if !done.is_empty() {
            crash_point("before-done");
        }
        let cursors: Vec<(&str, &str)> = self
            .sources
            .iter()
            .filter_map(|s| Some((s.name.as_str(), s.journal.as_ref()?.cursor()?)))
            .collect();
        self.state
            .save(checkpoints, &cursors, windows, &pending, &done, &metrics)?;
        if !pending.is_empty() {
            crash_point("after-pending");
        }
        for (detection, applied) in fresh {
            self.execute(detection, applied, false);
        }
        Ok(())
    }
}

/// The backends bans need: watch.yaml's (when any rule bans without naming
/// one) and every backend a rule names, each prepared once. The first is
/// watch.yaml's, the default.
fn prepare_backends(
    config: &Config,
    rules: &[Box<dyn LineRules>],
) -> Result<Vec<Box<dyn Backend>>, WatchError> {
    let source_bans = config
        .sources
        .iter()
        .any(|s| s.actions.as_ref().is_some_and(|a| a.ban));
    let mut wanted: BTreeMap<String, bool> = BTreeMap::new();
    let default = config.ban.backend();
    if source_bans {
        wanted.insert(default.name().to_string(), true);
    }
    for (source, rules) in config.sources.iter().zip(rules) {
        // A source's `actions:` replaces its rules' own.
        if source.actions.is_some() {
            continue;
        }
        for info in rules.rules().iter().filter(|i| i.actions.ban) {
            let name = info
                .actions
                .ban_backend
                .as_deref()
                .map_or(default.name(), |n| if n == "nft" { "nftables" } else { n });
            wanted.insert(name.to_string(), true);
        }
    }
    let mut backends: Vec<Box<dyn Backend>> = vec![default];
    for name in wanted.keys() {
        if backends.iter().all(|b| b.name() != name)
            && let Some(config) = config.ban.named(name)
        {
            backends.push(config.backend());
        }
    }
    for backend in &backends {
        if wanted.contains_key(backend.name()) {
            backend.prepare().map_err(|e| WatchError::Backend {
                backend: backend.name().into(),
                error: e.0,
            })?;
        }
    }
    Ok(backends)
}
