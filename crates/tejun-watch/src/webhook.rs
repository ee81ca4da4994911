//! Slack-compatible webhooks, sent off the detection path.
//!
//! A webhook endpoint can take seconds to answer or not answer at all; the
//! watcher must keep reading logs and banning meanwhile. So messages go to
//! one worker thread through a channel; every attempt is journaled as
//! `webhook.sent` or `webhook.failed` (never fatal). Only the scheme and
//! host of the URL are recorded: Slack-style URLs carry their secret in
//! the path.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use tejun_journal::{Journal, NewEvent};

use crate::config::Webhook;
use crate::events::{ACTOR, WEBHOOK_FAILED, WEBHOOK_SENT, WebhookFailed, WebhookSent};

/// One message to post.
#[derive(Debug, Clone)]
pub struct Message {
    pub text: String,
    /// Also post to the config's `webhooks`.
    pub global: bool,
    /// Extra URLs for this message (a rule's own webhook).
    pub urls: Vec<String>,
    /// Journal stream and refs the result is recorded under.
    pub stream: String,
    pub refs: Vec<String>,
    /// The detection this message reports, recorded with the result.
    pub detection: Option<String>,
    /// Told the detection once every target was tried and journaled, so
    /// the watcher can mark the action done.
    pub done: Option<Sender<String>>,
}

/// The result of one POST, for the operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Sent { url: String, status: u16 },
    Failed { url: String, error: String },
}

/// Handle to the worker; dropping it lets the worker finish what is queued.
pub struct Webhooks {
    tx: Option<Sender<Message>>,
    worker: Option<JoinHandle<()>>,
}

/// Starts the worker. `report` receives every outcome.
pub fn start(hooks: Vec<Webhook>, journal: Arc<Journal>, report: Sender<Outcome>) -> Webhooks {
    let (tx, rx) = channel::<Message>();
    let worker = std::thread::Builder::new()
        .name("tejun-webhook".into())
        .spawn(move || work(rx, &hooks, &journal, &report))
        .ok();
    Webhooks {
        tx: Some(tx),
        worker,
    }
}

impl Webhooks {
    pub fn send(&self, message: Message) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(message);
        }
    }
}

impl Webhooks {
    /// Lets the worker post what is queued, and waits for it. Messages
    /// sent afterwards are dropped.
    pub fn finish(&mut self) {
        self.tx.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.finish();
    }
}

fn work(rx: Receiver<Message>, hooks: &[Webhook], journal: &Journal, report: &Sender<Outcome>) {
    for message in rx {
        let global = if message.global { hooks } else { &[] };
        let targets = global
            .iter()
            .cloned()
            .chain(message.urls.iter().map(|url| Webhook {
                url: url.clone(),
                timeout_s: 5,
            }));
        for hook in targets {
            let outcome = match post(&hook, &message.text) {
                Ok(status) if (200..300).contains(&status) => Outcome::Sent {
                    url: redact(&hook.url),
                    status,
                },
                Ok(status) => Outcome::Failed {
                    url: redact(&hook.url),
                    error: format!("HTTP {status}"),
                },
                Err(error) => Outcome::Failed {
                    url: redact(&hook.url),
                    error,
                },
            };
            let (kind, payload) = match &outcome {
                Outcome::Sent { url, status } => (
                    WEBHOOK_SENT,
                    serde_json::to_value(WebhookSent {
                        url: url.clone(),
                        status: *status,
                        text: message.text.clone(),
                        detection: message.detection.clone(),
                    }),
                ),
                Outcome::Failed { url, error } => (
                    WEBHOOK_FAILED,
                    serde_json::to_value(WebhookFailed {
                        url: url.clone(),
                        error: error.clone(),
                        text: message.text.clone(),
                        detection: message.detection.clone(),
                    }),
                ),
            };
            if let Ok(payload) = payload {
                let _ = journal.append(NewEvent {
                    stream: &message.stream,
                    refs: &message.refs,
                    kind,
                    actor: ACTOR,
                    payload: &payload,
                    ts: None,
                });
            }
            let _ = report.send(outcome);
        }
        if let (Some(detection), Some(done)) = (&message.detection, &message.done) {
            let _ = done.send(detection.clone());
        }
    }
}

/// How many posts a message makes.
pub fn targets(hooks: &[Webhook], global: bool, urls: &[String]) -> usize {
    let global = if global { hooks.len() } else { 0 };
    global + urls.len()
}

/// POSTs `{"text": ...}`; returns the HTTP status.
pub fn post(hook: &Webhook, text: &str) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(hook.timeout_s)))
        .http_status_as_error(false)
        .build()
        .into();
    let body = serde_json::json!({ "text": text }).to_string();
    agent
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .send(body)
        .map(|response| response.status().as_u16())
        .map_err(|e| e.to_string())
}

/// `https://hooks.slack.com/services/T/B/secret` → `https://hooks.slack.com/…`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if rest.len() > authority.len() {
        format!("{scheme}://{host}/…")
    } else {
        format!("{scheme}://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_scheme_and_host() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
