//! The watch loop: follow → match → count → act, then checkpoint.
//!
//! One thread does the reading, counting and banning, in log order, so the
//! state machine needs no locks and a checkpoint is always a consistent cut.
//! It sleeps until inotify reports a change in a watched directory (or the
//! poll interval passes, as a fallback), then polls every followed path.
//!
//! Order of effects for a trigger: the firewall ban (first, because every
//! journal write costs an fsync the attacker should not get), the incident
//! (if the rule opens or attaches one, so the detection can refer to it),
//! `detect.triggered`, `ban.added`, then the webhook (queued to its own
//! thread). Offsets and
//! windows are saved after the batch. A crash between acting and saving
//! re-reads that batch on restart: actions are at-least-once, and a ban is
//! not repeated because the journal already says the offender is banned.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use notify::{RecursiveMode, Watcher as _};
use sha2::{Digest, Sha256};
use tejun_journal::{Journal, NewEvent};

use crate::ban::Backend;
use crate::config::{Config, IncidentAction};
use crate::events::*;
use crate::follow::{Event, Follower, Notice};
use crate::ledger::{Ban, Ledger};
use crate::offender::{IgnoreList, Offender};
use crate::rules::{LineRules, RuleInfo};
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
        inotify: bool,
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
}

struct SourceRun {
    name: String,
    follower: Follower,
    rules: Box<dyn LineRules>,
    /// Undated hits already reported.
    undated_said: u64,
}

/// The running watcher.
pub struct Watcher<'r> {
    config: Config,
    sources: Vec<SourceRun>,
    windows: Windows<LineRef>,
    ledger: Ledger,
    backend: Box<dyn Backend>,
    state: State,
    ignore: IgnoreList,
    webhooks: Webhooks,
    webhook_results: Receiver<webhook::Outcome>,
    /// Offenders whose expiry the firewall refused: retried every second,
    /// said once.
    unban_failed: BTreeSet<String>,
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
        let backend = config.ban.backend();
        let bans_needed = rules
            .iter()
            .any(|r| r.rules().iter().any(|i| i.actions.ban))
            || config
                .sources
                .iter()
                .any(|s| s.actions.as_ref().is_some_and(|a| a.ban));
        if bans_needed {
            backend.prepare().map_err(|e| WatchError::Backend {
                backend: backend.name().into(),
                error: e.0,
            })?;
        }
        let (result_tx, webhook_results) = channel();
        let webhooks = webhook::start(config.webhooks.clone(), opts.journal.clone(), result_tx);
        let mut windows = Windows::new();
        for (rule, offender, hits) in state.windows()? {
            let offender: Offender = offender.parse().unwrap_or(Offender::Name(offender));
            windows.restore((rule, offender), hits);
        }
        let ledger = Ledger::load(&opts.journal)?;
        let ignore = IgnoreList::new(config.ignoreip.clone());
        let mut watcher = Watcher {
            sources: Vec::new(),
            windows,
            ledger,
            backend,
            state,
            ignore,
            webhooks,
            webhook_results,
            unban_failed: BTreeSet::new(),
            opts,
            report,
            config,
        };
        watcher.restore_bans();
        let mut pending: Vec<(usize, String, Event)> = Vec::new();
        for (index, (source, rules)) in watcher.config.sources.iter().zip(rules).enumerate() {
            let checkpoints = watcher.state.checkpoints(&source.name)?;
            let follower = Follower::start(
                source.patterns.clone(),
                checkpoints,
                watcher.config.start_at,
                &mut |path, event| pending.push((index, path.to_string(), event)),
            );
            watcher.sources.push(SourceRun {
                name: source.name.clone(),
                follower,
                rules,
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
        let (tx, rx) = channel::<()>();
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
            let behind = self.sources.iter().any(|s| s.follower.is_behind());
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
        let Watcher {
            webhooks,
            webhook_results,
            report,
            ..
        } = self;
        drop(webhooks); // lets queued webhooks finish
        for outcome in webhook_results.try_iter() {
            report(Report::Webhook { outcome });
        }
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
            Event::Line(line) => self.line(source, path, &line),
        }
    }

    fn line(&mut self, source: usize, path: &str, line: &str) {
        let Some(run) = self.sources.get_mut(source) else {
            return;
        };
        let hits = run.rules.match_line(line);
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
            let offender = Offender::from_host(&hit.host, self.config.ipv6_prefix);
            let at = hit.time.unwrap_or(now);
            let data = LineRef {
                text: line.to_string(),
                file: path.to_string(),
            };
            let outcome =
                self.windows
                    .record(&info.name, &info.params(), &offender, Hit { at, data }, now);
            if let Outcome::Triggered { hits, banned_until } = outcome {
                self.act(&info, &offender, hits, banned_until, now);
            }
        }
    }

    fn act(
        &mut self,
        info: &RuleInfo,
        offender: &Offender,
        hits: Vec<Hit<LineRef>>,
        until: Option<Timestamp>,
        now: Timestamp,
    ) {
        let offender_text = offender.to_string();
        // The firewall first: every durable write below costs an fsync,
        // and the attacker should not get those milliseconds. The record
        // follows in causal order (detection, then ban).
        let ban = until.and_then(|until| {
            offender.net().map(|net| {
                let bantime_s = until.duration_since(now).as_secs();
                (until, bantime_s, self.backend.add(net, bantime_s))
            })
        });
        let mut refs: Vec<String> = Vec::new();
        let mut incident_id = None;
        if let (Some(action), Some(hook)) = (&info.actions.incident, &mut self.opts.incident) {
            let severity = Some(action.severity.clone()).or(info.severity.clone());
            let request = IncidentRequest {
                rule: info.name.clone(),
                offender: offender_text.clone(),
                action: action.clone(),
                severity,
                title: action.title.clone().unwrap_or_else(|| {
                    format!("{}: {} ({})", info.name, offender_text, hits.len())
                }),
                at: now,
            };
            match hook(&self.opts.journal, &request) {
                Ok(id) if !id.is_empty() => {
                    refs.push(format!("incident/{id}"));
                    incident_id = Some(id);
                }
                Ok(_) => {}
                Err(error) => (self.report)(Report::IncidentFailed {
                    rule: info.name.clone(),
                    error,
                }),
            }
        }
        let count = u32::try_from(hits.len()).unwrap_or(u32::MAX);
        let triggered = DetectTriggered {
            rule: info.name.clone(),
            offender: offender_text.clone(),
            count,
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
        };
        self.journal(
            &detect_stream(&info.name),
            &refs,
            DETECT_TRIGGERED,
            &triggered,
            None,
        );
        (self.report)(Report::Triggered {
            rule: info.name.clone(),
            offender: offender_text.clone(),
            count,
            severity: info.severity.clone(),
            incident: incident_id,
        });
        let mut ban_note = None;
        if until.is_some() && ban.is_none() {
            (self.report)(Report::NotBannable {
                rule: info.name.clone(),
                offender: offender_text.clone(),
            });
        }
        match ban {
            None => {}
            Some((until, bantime_s, Ok(()))) => {
                let added = BanAdded {
                    offender: offender_text.clone(),
                    rule: info.name.clone(),
                    until,
                    bantime_s,
                    backend: self.backend.name().to_string(),
                };
                self.journal(
                    &ban_stream(&offender_text),
                    &refs,
                    BAN_ADDED,
                    &added,
                    Some(now),
                );
                let _ = self.refresh_ledger();
                ban_note = Some(until);
                (self.report)(Report::Banned {
                    rule: info.name.clone(),
                    offender: offender_text.clone(),
                    until,
                    backend: self.backend.name().to_string(),
                });
            }
            Some((_, _, Err(e))) => {
                let failed = BanFailed {
                    offender: offender_text.clone(),
                    rule: info.name.clone(),
                    backend: self.backend.name().to_string(),
                    error: e.0.clone(),
                };
                self.journal(
                    &ban_stream(&offender_text),
                    &refs,
                    BAN_FAILED,
                    &failed,
                    None,
                );
                (self.report)(Report::BanFailed {
                    offender: offender_text.clone(),
                    error: e.0,
                });
            }
        }
        if info.actions.webhook || !info.actions.webhook_urls.is_empty() {
            let text = self.message_text(info, &offender_text, count, ban_note);
            self.webhooks.send(webhook::Message {
                text,
                global: info.actions.webhook,
                urls: info.actions.webhook_urls.clone(),
                stream: detect_stream(&info.name),
                refs: refs.clone(),
            });
        }
    }

    fn message_text(
        &self,
        info: &RuleInfo,
        offender: &str,
        count: u32,
        until: Option<Timestamp>,
    ) -> String {
        let lang = self.opts.lang;
        let severity = info
            .severity
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        let mut text = format!(
            "tejun{severity} {}: {offender} {} {count} {} {}s",
            info.name,
            lang.pick("reached", "が"),
            lang.pick("matches within", "回一致 (期間"),
            info.findtime.as_secs(),
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
            if ban.backend == self.backend.name()
                && let Some(net) = offender.net()
            {
                let remaining = ban.until.duration_since(now).as_secs().max(1);
                if let Err(e) = self.backend.add(net, remaining) {
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
                && ban.backend == self.backend.name()
                && let Err(e) = self.backend.remove(net)
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
        self.state.save(checkpoints, windows)?;
        Ok(())
    }
}
