//! `probes:`, `triggers:` and the `probe:`/`wait_for:` steps.
//!
//! Probe fields are literal (no `{{…}}`): a probe is asked many times a
//! second by a background watcher, and its target must be the same one
//! `tejun check` saw.

use std::time::Duration;

use indexmap::IndexMap;
use tejun_locale::Lang;
use tejun_probe::model::{DEFAULT_PROBE_INTERVAL, DEFAULT_PROBE_TIMEOUT};
use tejun_probe::{Comparison, HealthyIf, ProbeFrom, ProbeKind, ProbeSpec, parse_expr};

use super::Reader;
use crate::diagnostics::{ErrorKind, Expected};
use crate::model::{Gate, Logoff, PhaseName, ProbeStep, Runbook, Span, StepKind, Trigger};
use crate::walk::{Fields, non_empty_string, wrong_type};
use crate::yaml::{Node, Value};

const PROBE_KINDS: &[&str] = &["http", "tcp", "cmd", "prometheus"];
const PROBE_KEYS: &[&str] = &[
    "http",
    "tcp",
    "cmd",
    "prometheus",
    "timeout",
    "interval",
    "from",
    "healthy_if",
    "description",
];
const HTTP_KEYS: &[&str] = &["url", "method", "status", "body", "insecure"];
const PROMETHEUS_KEYS: &[&str] = &["url", "query", "healthy", "insecure"];
const WAIT_KEYS: &[&str] = &["probe", "until", "timeout", "interval"];
const LOGOFF_KEYS: &[&str] = &["user", "then_probe"];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE"];
/// `wait_for` without `timeout`.
const DEFAULT_GATE_TIMEOUT: Duration = Duration::from_secs(120);

fn probe_error(en: String, ja: String) -> ErrorKind {
    ErrorKind::Probe { en, ja }
}

impl Reader<'_> {
    pub(super) fn probes(&mut self, top: &Fields) -> IndexMap<String, ProbeSpec> {
        let mut probes = IndexMap::new();
        let Some(node) = top.get("probes") else {
            return probes;
        };
        let Value::Map(entries) = &node.value else {
            if !matches!(node.value, Value::Null) {
                wrong_type(self.sink, node, "probes", Expected::Mapping);
            }
            return probes;
        };
        for (key, body) in entries {
            if !is_probe_name(&key.name) {
                self.sink.error(
                    key.span,
                    probe_error(
                        format!(
                            "probe name `{}` must be letters, digits, `_` or `-`",
                            key.name
                        ),
                        format!(
                            "プローブ名 `{}` には英数字・`_`・`-` だけを使えます",
                            key.name
                        ),
                    ),
                );
                continue;
            }
            if let Some(spec) = self.probe(&key.name, body) {
                probes.insert(key.name.clone(), spec);
            }
        }
        probes
    }

    fn probe(&mut self, name: &str, node: &Node) -> Option<ProbeSpec> {
        let fields = Fields::of(self.sink, node, "probe", PROBE_KEYS)?;
        let kinds: Vec<_> = fields
            .entries()
            .iter()
            .filter(|(k, _)| PROBE_KINDS.contains(&k.name.as_str()))
            .collect();
        let Some((kind_key, body)) = kinds.first() else {
            self.sink.error(
                fields.span,
                probe_error(
                    format!("probe `{name}` needs one of http, tcp, cmd or prometheus"),
                    format!(
                        "プローブ `{name}` には http, tcp, cmd, prometheus のどれか一つが必要です"
                    ),
                ),
            );
            return None;
        };
        if let Some((second, _)) = kinds.get(1) {
            self.sink.error(
                second.span,
                probe_error(
                    format!(
                        "a probe does one thing: `{}` and `{}`",
                        kind_key.name, second.name
                    ),
                    format!(
                        "プローブは一つのことだけを行います: `{}` と `{}`",
                        kind_key.name, second.name
                    ),
                ),
            );
            return None;
        }
        let kind = match kind_key.name.as_str() {
            "http" => self.http_probe(body),
            "tcp" => self.tcp_probe(body),
            "cmd" => {
                let (command, _) = non_empty_string(self.sink, body, "cmd")?;
                self.no_template(body, &command)?;
                Some(ProbeKind::Cmd { command })
            }
            _ => self.prometheus_probe(body),
        };
        let timeout = self.positive_duration(&fields, "timeout");
        let interval = self.positive_duration(&fields, "interval");
        let from = match fields.string(self.sink, "from") {
            None => Some(ProbeFrom::Controller),
            Some((value, span)) => match value.as_str() {
                "controller" | "local" => Some(ProbeFrom::Controller),
                "each" => Some(ProbeFrom::Each),
                host if crate::vartype::is_host(host) || crate::fleet::is_var_selector(host) => {
                    Some(ProbeFrom::Host(host.to_string()))
                }
                _ => {
                    self.sink.error(
                        span,
                        probe_error(
                            format!("`from: {value}`: expected controller, each, a host or group name, or var=value"),
                            format!(
                                "`from: {value}`: controller, each、ホスト名・グループ名、または 変数=値 を指定してください"
                            ),
                        ),
                    );
                    None
                }
            },
        };
        let healthy_if = match fields.string(self.sink, "healthy_if") {
            None => Some(HealthyIf::All),
            Some((value, span)) => match value.as_str() {
                "all" => Some(HealthyIf::All),
                "any" => Some(HealthyIf::Any),
                _ => {
                    self.sink.error(
                        span,
                        probe_error(
                            format!("`healthy_if: {value}`: expected all or any"),
                            format!("`healthy_if: {value}`: all または any を指定してください"),
                        ),
                    );
                    None
                }
            },
        };
        let (kind, from, healthy_if) = (kind?, from?, healthy_if?);
        Some(ProbeSpec {
            name: name.to_string(),
            kind,
            from,
            timeout: timeout?.unwrap_or(DEFAULT_PROBE_TIMEOUT),
            interval: interval?.unwrap_or(DEFAULT_PROBE_INTERVAL),
            healthy_if,
        })
    }

    /// `Some(None)` when absent, `None` after reporting a bad value.
    fn positive_duration(&mut self, fields: &Fields, key: &str) -> Option<Option<Duration>> {
        let Some(node) = fields.get(key) else {
            return Some(None);
        };
        let d = crate::walk::duration(self.sink, node, key)?;
        if d.is_zero() {
            self.sink.error(
                node.span,
                probe_error(
                    format!("`{key}` must be longer than zero"),
                    format!("`{key}` には 0 より長い時間を指定してください"),
                ),
            );
            return None;
        }
        Some(Some(d))
    }

    fn no_template(&mut self, node: &Node, text: &str) -> Option<()> {
        if text.contains("{{") {
            self.sink.error(
                node.span,
                probe_error(
                    "probe fields are literal: `{{…}}` is not substituted here".to_string(),
                    "プローブの値はそのまま使われます: `{{…}}` は置換されません".to_string(),
                ),
            );
            return None;
        }
        Some(())
    }

    fn url(&mut self, node: &Node, field: &str) -> Option<String> {
        let (url, _) = non_empty_string(self.sink, node, field)?;
        self.no_template(node, &url)?;
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
            self.sink.error(
                node.span,
                probe_error(
                    format!("`{url}` is not an http:// or https:// URL with a host"),
                    format!("`{url}` はホストを含む http:// または https:// の URL ではありません"),
                ),
            );
            return None;
        }
        Some(url)
    }

    fn http_probe(&mut self, body: &Node) -> Option<ProbeKind> {
        if matches!(body.value, Value::Str(_)) {
            return Some(ProbeKind::Http {
                method: "GET".to_string(),
                url: self.url(body, "http")?,
                expect_status: Vec::new(),
                body: None,
                insecure: false,
            });
        }
        let fields = Fields::of(self.sink, body, "http", HTTP_KEYS)?;
        let url = match fields.get("url") {
            Some(node) => self.url(node, "url"),
            None => {
                self.sink.error(
                    fields.span,
                    ErrorKind::MissingField {
                        field: "url",
                        within: "http",
                    },
                );
                None
            }
        };
        let method = match fields.string(self.sink, "method") {
            None => Some("GET".to_string()),
            Some((m, span)) => {
                let upper = m.to_ascii_uppercase();
                if METHODS.contains(&upper.as_str()) {
                    Some(upper)
                } else {
                    self.sink.error(
                        span,
                        ErrorKind::BadChoice {
                            field: "method",
                            value: m,
                            allowed: METHODS,
                        },
                    );
                    None
                }
            }
        };
        let status = match fields.get("status") {
            None => Some(Vec::new()),
            Some(node) => self.statuses(node),
        };
        let regex = match fields.string(self.sink, "body") {
            None => Some(None),
            Some((pattern, span)) => match regex::Regex::new(&pattern) {
                Ok(_) => Some(Some(pattern)),
                Err(e) => {
                    self.sink.error(
                        span,
                        ErrorKind::InvalidRegex {
                            error: super::regex_error(&e),
                        },
                    );
                    None
                }
            },
        };
        Some(ProbeKind::Http {
            method: method?,
            url: url?,
            expect_status: status?,
            body: regex?,
            insecure: fields.bool(self.sink, "insecure").unwrap_or(false),
        })
    }

    fn statuses(&mut self, node: &Node) -> Option<Vec<u16>> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) if !items.is_empty() => items.iter().collect(),
            _ => vec![node],
        };
        let mut codes = Vec::new();
        for item in items {
            match item.value {
                Value::Int(code @ 100..=599) => codes.push(code as u16),
                _ => {
                    self.sink.error(
                        item.span,
                        probe_error(
                            "expected an HTTP status code (100–599) or a list of them".to_string(),
                            "HTTP ステータスコード (100〜599) またはそのリストを指定してください"
                                .to_string(),
                        ),
                    );
                    return None;
                }
            }
        }
        Some(codes)
    }

    fn tcp_probe(&mut self, body: &Node) -> Option<ProbeKind> {
        let (address, _) = non_empty_string(self.sink, body, "tcp")?;
        self.no_template(body, &address)?;
        let port_ok = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !port_ok {
            self.sink.error(
                body.span,
                probe_error(
                    format!("`{address}` is not HOST:PORT"),
                    format!("`{address}` は HOST:PORT の形ではありません"),
                ),
            );
            return None;
        }
        Some(ProbeKind::Tcp { address })
    }

    fn prometheus_probe(&mut self, body: &Node) -> Option<ProbeKind> {
        let fields = Fields::of(self.sink, body, "prometheus", PROMETHEUS_KEYS)?;
        let url = fields.get("url").and_then(|n| self.url(n, "url"));
        let query = fields
            .required_string(self.sink, "query", "prometheus")
            .map(|(q, _)| q);
        let healthy = match fields.get("healthy") {
            None => {
                self.sink.error(
                    fields.span,
                    ErrorKind::MissingField {
                        field: "healthy",
                        within: "prometheus",
                    },
                );
                None
            }
            Some(node) => self.threshold(node),
        };
        if fields.get("url").is_none() {
            self.sink.error(
                fields.span,
                ErrorKind::MissingField {
                    field: "url",
                    within: "prometheus",
                },
            );
        }
        let (comparison, threshold) = healthy?;
        Some(ProbeKind::Prometheus {
            base_url: url?,
            query: query?,
            comparison,
            threshold,
            insecure: fields.bool(self.sink, "insecure").unwrap_or(false),
        })
    }

    /// `healthy: "< 0.5"`.
    fn threshold(&mut self, node: &Node) -> Option<(Comparison, f64)> {
        let text = node.as_str().unwrap_or_default().trim();
        let op_len = text
            .chars()
            .take_while(|c| matches!(c, '<' | '>' | '=' | '!'))
            .count();
        let parsed = Comparison::parse(&text[..op_len]).zip(
            text[op_len..]
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite()),
        );
        if parsed.is_none() {
            self.sink.error(
                node.span,
                probe_error(
                    "`healthy` is a comparison with a number, such as \"< 0.5\"".to_string(),
                    "`healthy` には \"< 0.5\" のような比較と数値を書きます".to_string(),
                ),
            );
        }
        parsed
    }

    pub(super) fn triggers(
        &mut self,
        top: &Fields,
        probes: &IndexMap<String, ProbeSpec>,
    ) -> Vec<crate::model::Trigger> {
        let Some(node) = top.get("triggers") else {
            return Vec::new();
        };
        let items = match &node.value {
            Value::Null => return Vec::new(),
            Value::Seq(items) => items,
            _ => {
                wrong_type(self.sink, node, "triggers", Expected::List);
                return Vec::new();
            }
        };
        let mut triggers = Vec::new();
        for item in items {
            let Some((text, span)) = non_empty_string(self.sink, item, "triggers") else {
                continue;
            };
            match parse_expr(&text) {
                Ok(expr) => {
                    let (at, len) = expr.probe_at;
                    if !probes.contains_key(&expr.probe) {
                        let span = self.locate(item, &text, at, len);
                        self.unknown_probe(span, &expr.probe, probes);
                        continue;
                    }
                    // The rollout watch is stateless and has no history:
                    // these two forms are for `tejun watch` metric rules.
                    if expr.baseline || expr.sustain.is_some() {
                        let span = self.locate(item, &text, 0, text.len());
                        self.sink.error(
                            span,
                            probe_error(
                                "a trigger fires on its window alone: `x baseline` and `for` are for `tejun watch` metric rules (docs/watch.md)".into(),
                                "トリガーは窓だけで判定します: `x baseline` と `for` は `tejun watch` のメトリクスルール用です (docs/watch.md)".into(),
                            ),
                        );
                        continue;
                    }
                    // A probe measures one duration: fields are a slow
                    // log's, read by `tejun watch` metric rules.
                    if let Some((at, len)) = expr.field_at {
                        let span = self.locate(item, &text, at, len);
                        self.sink.error(
                            span,
                            probe_error(
                                "a probe measures latency only: `query_time`, `rows_examined`… are for `tejun watch` rules on slow logs (docs/watch.md)".into(),
                                "プローブが測るのはレイテンシだけです: `query_time`・`rows_examined` などはスローログに対する `tejun watch` のルール用です (docs/watch.md)".into(),
                            ),
                        );
                        continue;
                    }
                    triggers.push(Trigger { text, expr, span });
                }
                Err(e) => {
                    // At the end of the text: point at its last character.
                    let (at, len) = if e.at < text.len() {
                        (e.at, e.len.clamp(1, text.len() - e.at))
                    } else {
                        (text.len().saturating_sub(1), 1.min(text.len()))
                    };
                    let span = self.locate(item, &text, at, len);
                    self.sink
                        .error(span, probe_error(e.message(Lang::En), e.message(Lang::Ja)));
                }
            }
        }
        triggers
    }

    fn unknown_probe(&mut self, span: Span, name: &str, probes: &IndexMap<String, ProbeSpec>) {
        let known: Vec<&str> = probes.keys().map(String::as_str).collect();
        let hint = crate::diagnostics::suggest(name, known.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        let hint_ja = crate::diagnostics::suggest(name, known.iter().copied())
            .map(|s| format!(" (`{s}` のことですか?)"))
            .unwrap_or_default();
        self.sink.error(
            span,
            probe_error(
                format!("no probe named `{name}` under `probes:`{hint}"),
                format!("`probes:` に `{name}` という名前のプローブはありません{hint_ja}"),
            ),
        );
    }

    /// `probe: NAME` or `wait_for: {probe: NAME, until, timeout, interval}`.
    pub(super) fn probe_step(&mut self, body: &Node, kind: &str) -> Option<ProbeStep> {
        if kind == "probe" {
            let (probe, span) = non_empty_string(self.sink, body, "probe")?;
            return Some(ProbeStep {
                probe,
                probe_span: span,
                gate: None,
            });
        }
        let fields = Fields::of(self.sink, body, "wait_for", WAIT_KEYS)?;
        let probe = fields.required_string(self.sink, "probe", "wait_for");
        let healthy = match fields.string(self.sink, "until") {
            None => Some(true),
            Some((until, span)) => match until.as_str() {
                "healthy" => Some(true),
                "unhealthy" => Some(false),
                _ => {
                    self.sink.error(
                        span,
                        ErrorKind::BadChoice {
                            field: "until",
                            value: until,
                            allowed: &["healthy", "unhealthy"],
                        },
                    );
                    None
                }
            },
        };
        let timeout = self.positive_duration(&fields, "timeout");
        let interval = self.positive_duration(&fields, "interval");
        let (probe, probe_span) = probe?;
        Some(ProbeStep {
            probe,
            probe_span,
            gate: Some(Gate {
                healthy: healthy?,
                timeout: timeout?.unwrap_or(DEFAULT_GATE_TIMEOUT),
                interval: interval?.unwrap_or(DEFAULT_PROBE_INTERVAL),
            }),
        })
    }

    /// `logoff:` (nothing), or `logoff: {user: NAME, then_probe: PROBE}`.
    pub(super) fn logoff_step(&mut self, body: &Node) -> Option<Logoff> {
        if matches!(body.value, Value::Null) {
            return Some(Logoff::default());
        }
        let fields = Fields::of(self.sink, body, "logoff", LOGOFF_KEYS)?;
        let user = fields.string(self.sink, "user").map(|(u, _)| u);
        if let Some(user) = &user
            && !is_user_name(user)
        {
            let span = fields.get("user").map_or(body.span, |n| n.span);
            self.sink.error(
                span,
                probe_error(
                    format!("`{user}` is not a user name (letters, digits, `.`, `_`, `-`)"),
                    format!("`{user}` はユーザー名ではありません (英数字、`.`、`_`、`-`)"),
                ),
            );
            return None;
        }
        Some(Logoff {
            user,
            then_probe: fields.string(self.sink, "then_probe"),
        })
    }

    /// A `logoff:` step belongs to the exit phase of a runbook with
    /// `hosts:` (it logs off from those hosts), not `on: local`.
    fn logoff_in_place(&mut self, runbook: &Runbook) {
        let p = &runbook.phases;
        let phases = [
            (PhaseName::Pre, &p.pre),
            (PhaseName::Execute, &p.execute),
            (PhaseName::Post, &p.post),
            (PhaseName::Exit, &p.exit),
            (PhaseName::Rollback, &runbook.rollback.steps),
            (PhaseName::Rollback, &runbook.rollback.checks),
        ];
        for (phase, steps) in phases {
            for step in steps {
                if !matches!(step.kind, StepKind::Logoff(_)) {
                    continue;
                }
                let why = if phase != PhaseName::Exit {
                    Some((
                        "`logoff:` belongs in `exit:` (it ends the run's connections to the hosts)",
                        "`logoff:` は `exit:` に書きます (実行の接続をホストから切ります)",
                    ))
                } else if runbook.hosts.is_none() {
                    Some((
                        "`logoff:` needs `hosts:`: it logs off from the run's hosts",
                        "`logoff:` には `hosts:` が必要です: 実行のホストからログオフします",
                    ))
                } else if step.on != crate::fleet::On::Each {
                    Some((
                        "`logoff:` runs on every host; drop `on:`",
                        "`logoff:` はすべてのホストで実行します。`on:` を外してください",
                    ))
                } else {
                    None
                };
                if let Some((en, ja)) = why {
                    self.sink.error_in(
                        step.file.as_deref(),
                        step.span,
                        probe_error(en.to_string(), ja.to_string()),
                    );
                }
            }
        }
    }

    /// Every `probe:`/`wait_for:` step names a declared probe.
    pub(super) fn probe_steps_name_probes(&mut self, runbook: &Runbook) {
        self.logoff_in_place(runbook);
        let p = &runbook.phases;
        let steps = p
            .pre
            .iter()
            .chain(&p.execute)
            .chain(&p.post)
            .chain(&p.exit)
            .chain(&runbook.rollback.steps)
            .chain(&runbook.rollback.checks);
        for step in steps {
            if let StepKind::Probe(ps) = &step.kind
                && !runbook.probes.contains_key(&ps.probe)
            {
                self.unknown_probe(ps.probe_span, &ps.probe, &runbook.probes);
            }
            if let StepKind::Logoff(Logoff {
                then_probe: Some((name, span)),
                ..
            }) = &step.kind
                && !runbook.probes.contains_key(name)
            {
                self.unknown_probe(*span, name, &runbook.probes);
            }
            // "Another client" is not the hosts just logged off (asking
            // from them would also log in to them again).
            if let StepKind::Logoff(Logoff {
                then_probe: Some((name, span)),
                ..
            }) = &step.kind
                && runbook
                    .probes
                    .get(name)
                    .is_some_and(|p| p.from == ProbeFrom::Each)
            {
                self.sink.error_in(
                    step.file.as_deref(),
                    *span,
                    probe_error(
                        format!("`then_probe: {name}` is asked `from: each`, from the hosts just logged off: that is not another client; ask it from a host outside `hosts:` or from this machine"),
                        format!("`then_probe: {name}` は `from: each` (ログオフしたばかりのホスト) から実行されます。別のクライアントではありません。`hosts:` 外のホストかこのマシンから実行してください"),
                    ),
                );
            }
        }
        // `rollout.gate:` names probes too.
        for (name, span) in runbook.rollout.iter().flat_map(|r| &r.gate) {
            if !runbook.probes.contains_key(name) {
                self.unknown_probe(*span, name, &runbook.probes);
            }
        }
    }
}

fn is_user_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn is_probe_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
