//! Notifications to the inventory's `notify:` webhooks: runs starting and
//! finishing, incident status changes and updates.
//!
//! A chat endpoint can be slow or down; a change must not wait for it. So
//! messages go through a channel to one worker thread that posts each to
//! every target that wants it, retrying a failed post twice (after 1 s and
//! 3 s), and journals every result (`notify.sent` / `notify.failed`, with
//! the URL cut to scheme and host: Slack-style URLs carry their secret in
//! the path). At the end the command waits a bounded time for what is
//! queued. Texts carry names, ids and outcomes, never variable values.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use tejun_engine::events::{Outcome, RunEnded, RunStarted};
use tejun_engine::operator::{
    Answer, ConfirmRequest, DestructiveChallenge, EnvChallenge, Operator, RunEvent, UnknownChoice,
    UnknownStep,
};
use tejun_journal::{Journal, NewEvent};
use tejun_locale::Lang;
use tejun_runbook::Inventory;
use tejun_runbook::notify::{NotifyTarget, NotifyUrl};
use tejun_watch::config::Webhook;
use tejun_watch::webhook::{post, redact};

const SENT: &str = "notify.sent";
const FAILED: &str = "notify.failed";
/// Waits before the second and third attempt.
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// The longest a command waits at its end for queued notifications.
const DRAIN_LIMIT: Duration = Duration::from_secs(15);
const POST_TIMEOUT_S: u64 = 5;

/// One thing to tell.
pub struct Notice {
    /// One of `tejun_runbook::notify::NOTIFY_EVENTS`.
    pub event: &'static str,
    pub env: Option<String>,
    /// The journal stream it is about (`run/ID`, `incident/ID`).
    pub about: String,
    pub en: String,
    pub ja: String,
}

/// The worker; `None` targets means nothing is started at all.
pub struct Notifier {
    tx: Option<Sender<Notice>>,
    done: Receiver<()>,
}

impl Notifier {
    /// Starts the worker when the inventory names any target.
    pub fn start(inventory: Option<&Inventory>, journal: PathBuf, lang: Lang) -> Option<Notifier> {
        let targets = inventory?.notify.clone();
        if targets.is_empty() {
            return None;
        }
        let (tx, rx) = channel::<Notice>();
        let (done_tx, done) = channel();
        std::thread::Builder::new()
            .name("tejun-notify".into())
            .spawn(move || {
                work(rx, &targets, &journal, lang);
                let _ = done_tx.send(());
            })
            .ok()?;
        Some(Notifier { tx: Some(tx), done })
    }

    pub fn send(&self, notice: Notice) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(notice);
        }
    }

    /// Lets the worker post what is queued, waiting at most
    /// [`DRAIN_LIMIT`]; says so when something was left unsent.
    pub fn finish(mut self, lang: Lang) {
        self.tx.take();
        if self.done.recv_timeout(DRAIN_LIMIT).is_err() {
            anstream::eprintln!(
                "{}",
                lang.pick(
                    "tejun: notifications still unsent after 15s were dropped (the webhook did not answer)",
                    "tejun: 15 秒以内に送れなかった通知は破棄しました (webhook が応答しません)",
                )
            );
        }
    }
}

fn work(rx: Receiver<Notice>, targets: &[NotifyTarget], journal: &std::path::Path, lang: Lang) {
    let journal = Journal::open(journal).ok();
    for notice in rx {
        for target in targets
            .iter()
            .filter(|t| t.wants(notice.event, notice.env.as_deref()))
        {
            let text = match target.lang.as_deref().unwrap_or(lang.code()) {
                "ja" => &notice.ja,
                _ => &notice.en,
            };
            let (kind, payload) = deliver(target, text);
            let mut payload = payload;
            payload["target"] = target.name.clone().into();
            payload["event"] = notice.event.into();
            payload["about"] = notice.about.clone().into();
            if let Some(journal) = &journal {
                let _ = journal.append(NewEvent {
                    stream: "notify",
                    refs: std::slice::from_ref(&notice.about),
                    kind,
                    actor: "tejun-notify",
                    payload: &payload,
                    ts: None,
                });
            }
        }
    }
}

/// Posts with retries; the event kind and payload to journal.
fn deliver(target: &NotifyTarget, text: &str) -> (&'static str, serde_json::Value) {
    let url = match &target.url {
        NotifyUrl::Literal(url) => url.clone(),
        NotifyUrl::FromEnv(var) => match std::env::var(var) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let error = format!("environment variable {var} (url_env) is not set");
                return (FAILED, serde_json::json!({ "error": error, "attempts": 0 }));
            }
        },
    };
    let hook = Webhook {
        url,
        timeout_s: POST_TIMEOUT_S,
    };
    let mut error = String::new();
    for attempt in 0..=RETRY_AFTER.len() {
        if attempt > 0 {
            std::thread::sleep(RETRY_AFTER[attempt - 1]);
        }
        match post(&hook, text) {
            Ok(status) if (200..300).contains(&status) => {
                return (
                    SENT,
                    serde_json::json!({
                        "url": redact(&hook.url),
                        "status": status,
                        "attempts": attempt + 1,
                        "text": text,
                    }),
                );
            }
            Ok(status) => error = format!("HTTP {status}"),
            Err(e) => error = e,
        }
    }
    (
        FAILED,
        serde_json::json!({
            "url": redact(&hook.url),
            "error": error,
            "attempts": RETRY_AFTER.len() + 1,
        }),
    )
}

/// An [`Operator`] that also tells the notify targets when a run starts
/// and ends; everything else goes to the operator it wraps.
pub struct Notifying<'a> {
    pub inner: &'a dyn Operator,
    pub notifier: &'a Notifier,
    pub runbook: String,
    pub env: String,
}

impl Notifying<'_> {
    fn started(&self, started: &RunStarted) {
        let id = &started.run_id;
        let (runbook, env, who) = (&self.runbook, &self.env, &started.operator);
        self.notifier.send(Notice {
            event: "run.started",
            env: Some(env.clone()),
            about: format!("run/{id}"),
            en: format!("▶ tejun run {id} started: {runbook} in {env} by {who}"),
            ja: format!("▶ tejun 実行 {id} 開始: {runbook} (環境 {env}、作業者 {who})"),
        });
    }

    fn ended(&self, ended: &RunEnded) {
        let id = &ended.run_id;
        let (runbook, env) = (&self.runbook, &self.env);
        let (en, ja) = match ended.outcome {
            Outcome::Succeeded => ("SUCCEEDED", "成功"),
            Outcome::Failed => ("FAILED", "失敗"),
            Outcome::RolledBack => ("ROLLED BACK", "ロールバック済み"),
            Outcome::RollbackFailed => ("ROLLBACK FAILED", "ロールバック失敗"),
            Outcome::Aborted => ("ABORTED", "中断"),
        };
        let took = crate::cmd::runs::format_duration(ended.duration_ms);
        self.notifier.send(Notice {
            event: "run.finished",
            env: Some(env.clone()),
            about: format!("run/{id}"),
            en: format!("■ tejun run {id} {en}: {runbook} in {env} ({took})"),
            ja: format!("■ tejun 実行 {id} {ja}: {runbook} (環境 {env}、{took})"),
        });
    }
}

impl Operator for Notifying<'_> {
    fn on_event(&self, event: &RunEvent) {
        self.inner.on_event(event);
        match event {
            RunEvent::RunStarted(started) => self.started(started),
            RunEvent::RunEnded(ended) => self.ended(ended),
            _ => {}
        }
    }
    fn notice(&self, text: &str) {
        self.inner.notice(text);
    }
    fn on_abort(&self) {
        self.inner.on_abort();
    }
    fn on_abort_noted(&self, phase: &str) {
        self.inner.on_abort_noted(phase);
    }
    fn on_leftover_stopped(&self, step_id: &str, group: u32) {
        self.inner.on_leftover_stopped(step_id, group);
    }
    fn on_output(&self, line: &str) {
        self.inner.on_output(line);
    }
    fn host_view(&self) -> Option<&dyn tejun_engine::operator::HostView> {
        self.inner.host_view()
    }
    fn confirm(&self, request: &ConfirmRequest<'_>) -> Option<Answer> {
        self.inner.confirm(request)
    }
    fn type_env_name(&self, challenge: &EnvChallenge<'_>) -> Option<String> {
        self.inner.type_env_name(challenge)
    }
    fn type_step_id(&self, challenge: &DestructiveChallenge<'_>) -> Option<String> {
        self.inner.type_step_id(challenge)
    }
    fn choose_unknown(&self, step: &UnknownStep<'_>) -> Option<UnknownChoice> {
        self.inner.choose_unknown(step)
    }
}
