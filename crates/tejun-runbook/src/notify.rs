//! `notify:` in the inventory: who hears about runs and incidents.
//!
//! A team's chat wants "a change started in production" and "it rolled
//! back" without anyone remembering to post it, and stakeholders want
//! incident status changes and updates. Each target is a Slack/Teams-
//! compatible incoming webhook, limited to some events and environments.
//! The URL carries its secret in the path, and inventories are committed,
//! so `url_env` (the name of an environment variable holding it) is the
//! form to use; a literal `url` is accepted for local endpoints.

use crate::diagnostics::{ErrorKind, Expected, Sink};
use crate::inventory::Inventory;
use crate::model::Span;
use crate::walk::{Fields, non_empty_string, wrong_type};
use crate::yaml::{Node, Value};

/// What a target can be told about.
pub const NOTIFY_EVENTS: &[&str] = &["run.started", "run.finished", "incident"];
const TARGET_KEYS: &[&str] = &["name", "url", "url_env", "on", "environments", "lang"];
const LANGS: &[&str] = &["en", "ja"];

/// One webhook and what it hears about.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyTarget {
    pub name: String,
    pub url: NotifyUrl,
    /// Subset of [`NOTIFY_EVENTS`]; all of them when not written.
    pub events: Vec<String>,
    /// Environments whose runs and incidents it hears about; all when empty.
    pub environments: Vec<String>,
    /// `en` or `ja`; the operator's language when not written.
    pub lang: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NotifyUrl {
    Literal(String),
    /// Read from this environment variable when a message is sent.
    FromEnv(String),
}

impl NotifyTarget {
    /// Whether this target hears about `event` in `env` (`None`: an
    /// incident opened without an environment, heard by every target).
    pub fn wants(&self, event: &str, env: Option<&str>) -> bool {
        self.events.iter().any(|e| e == event)
            && (self.environments.is_empty()
                || env.is_none_or(|env| self.environments.iter().any(|e| e == env)))
    }
}

/// Reads `notify:` (a list of targets); environments are checked against
/// the inventory's once it is read.
pub(crate) fn read_notify(sink: &mut Sink, node: &Node) -> Vec<(NotifyTarget, Vec<Span>)> {
    let Value::Seq(items) = &node.value else {
        wrong_type(sink, node, "notify", Expected::List);
        return Vec::new();
    };
    let mut targets: Vec<(NotifyTarget, Vec<Span>)> = Vec::new();
    for item in items {
        let Some(fields) = Fields::of(sink, item, "notify", TARGET_KEYS) else {
            continue;
        };
        let name = fields
            .get("name")
            .and_then(|n| non_empty_string(sink, n, "name"));
        let url = match (fields.get("url"), fields.get("url_env")) {
            (Some(node), None) => non_empty_string(sink, node, "url").and_then(|(url, span)| {
                let ok = (url.starts_with("http://") || url.starts_with("https://"))
                    && !url.contains(char::is_whitespace);
                if !ok {
                    sink.error(span, ErrorKind::BadWebhook { value: url.clone() });
                }
                ok.then_some(NotifyUrl::Literal(url))
            }),
            (None, Some(node)) => {
                non_empty_string(sink, node, "url_env").map(|(var, _)| NotifyUrl::FromEnv(var))
            }
            _ => {
                sink.error(fields.span, ErrorKind::NotifyNeedsOneUrl);
                None
            }
        };
        let events = match fields.string_list(sink, "on") {
            None => NOTIFY_EVENTS.iter().map(|e| e.to_string()).collect(),
            Some(list) => list
                .into_iter()
                .filter_map(|(event, span)| {
                    if NOTIFY_EVENTS.contains(&event.as_str()) {
                        Some(event)
                    } else {
                        sink.error(
                            span,
                            ErrorKind::BadChoice {
                                field: "on",
                                value: event,
                                allowed: NOTIFY_EVENTS,
                            },
                        );
                        None
                    }
                })
                .collect(),
        };
        let (environments, env_spans): (Vec<String>, Vec<Span>) = fields
            .string_list(sink, "environments")
            .unwrap_or_default()
            .into_iter()
            .unzip();
        let lang = fields.string(sink, "lang").and_then(|(lang, span)| {
            if LANGS.contains(&lang.as_str()) {
                Some(lang)
            } else {
                sink.error(
                    span,
                    ErrorKind::BadChoice {
                        field: "lang",
                        value: lang,
                        allowed: LANGS,
                    },
                );
                None
            }
        });
        let (Some((name, name_span)), Some(url)) = (name, url) else {
            if fields.get("name").is_none() {
                sink.error(
                    fields.span,
                    ErrorKind::MissingField {
                        field: "name",
                        within: "a notify target",
                    },
                );
            }
            continue;
        };
        if targets.iter().any(|(t, _)| t.name == name) {
            sink.error(name_span, ErrorKind::DuplicateNotifyTarget { name });
            continue;
        }
        targets.push((
            NotifyTarget {
                name,
                url,
                events,
                environments,
                lang,
            },
            env_spans,
        ));
    }
    targets
}

/// Every environment a target names must exist.
pub(crate) fn check_environments(
    sink: &mut Sink,
    inventory: &Inventory,
    targets: &[(NotifyTarget, Vec<Span>)],
) {
    let known: Vec<String> = inventory.environments.keys().cloned().collect();
    for (target, spans) in targets {
        for (env, span) in target.environments.iter().zip(spans) {
            if inventory.environment(env).is_none() {
                sink.error(
                    *span,
                    ErrorKind::UnknownEnvironment {
                        name: env.clone(),
                        known: known.clone(),
                    },
                );
            }
        }
    }
}
