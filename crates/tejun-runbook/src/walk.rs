//! Typed reads from a located YAML tree that report, rather than stop at,
//! each problem.
//!
//! The runbook and inventory parsers describe each mapping as a list of
//! allowed keys and then pull typed values out of it. Unknown keys, wrong
//! types and bad scalars become diagnostics at the exact node, and the
//! getter returns `None` so parsing carries on and finds the next problem.

use std::time::Duration;

use crate::diagnostics::{ErrorKind, Expected, Sink, suggest};
use crate::duration::parse_duration;
use crate::model::Span;
use crate::yaml::{Key, Node, Value};

/// A mapping being read, with its allowed keys already checked.
pub(crate) struct Fields<'n> {
    entries: &'n [(Key, Node)],
    pub span: Span,
}

impl<'n> Fields<'n> {
    /// Reads `node` as a mapping whose keys must be among `allowed`.
    /// Reports a wrong type or each unknown key; `None` when not a mapping.
    pub fn of(
        sink: &mut Sink,
        node: &'n Node,
        field: &str,
        allowed: &[&'static str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            sink.error(
                node.span,
                ErrorKind::WrongType {
                    field: field.to_string(),
                    expected: Expected::Mapping,
                    found: node.value.type_name(),
                },
            );
            return None;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                sink.error(
                    key.span,
                    ErrorKind::UnknownKey {
                        key: key.name.clone(),
                        suggestion: suggest(&key.name, allowed.iter().copied()),
                        allowed: allowed.to_vec(),
                    },
                );
            }
        }
        Some(Fields {
            entries,
            span: node.span,
        })
    }

    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn entries(&self) -> &'n [(Key, Node)] {
        self.entries
    }

    pub fn string(&self, sink: &mut Sink, key: &str) -> Option<(String, Span)> {
        self.get(key).and_then(|n| string(sink, n, key))
    }

    /// A required, non-empty string; reports its absence at the mapping.
    pub fn required_string(
        &self,
        sink: &mut Sink,
        key: &'static str,
        within: &'static str,
    ) -> Option<(String, Span)> {
        match self.get(key) {
            None => {
                sink.error(self.span, ErrorKind::MissingField { field: key, within });
                None
            }
            Some(node) => non_empty_string(sink, node, key),
        }
    }

    pub fn bool(&self, sink: &mut Sink, key: &str) -> Option<bool> {
        let node = self.get(key)?;
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                wrong_type(sink, node, key, Expected::Bool);
                None
            }
        }
    }

    pub fn duration(&self, sink: &mut Sink, key: &str) -> Option<Duration> {
        self.get(key).and_then(|n| duration(sink, n, key))
    }

    pub fn u32(&self, sink: &mut Sink, key: &str) -> Option<u32> {
        let node = self.get(key)?;
        match node.value {
            Value::Int(i) if (0..=i64::from(u32::MAX)).contains(&i) => Some(i as u32),
            _ => {
                wrong_type(sink, node, key, Expected::Integer);
                None
            }
        }
    }

    /// A string or a list of strings, each with its span.
    pub fn string_list(&self, sink: &mut Sink, key: &str) -> Option<Vec<(String, Span)>> {
        self.get(key).and_then(|n| string_list(sink, n, key))
    }
}

/// `approval: {count: N}`, N ≥ 1, in a runbook or an inventory
/// environment: N, or 0 (after reporting) when it is malformed.
pub(crate) fn approval_count(sink: &mut Sink, node: &Node) -> u32 {
    const APPROVAL_KEYS: &[&str] = &["count"];
    let Some(approval) = Fields::of(sink, node, "approval", APPROVAL_KEYS) else {
        return 0;
    };
    let Some(count) = approval.get("count") else {
        sink.error(
            approval.span,
            ErrorKind::MissingField {
                field: "count",
                within: "approval",
            },
        );
        return 0;
    };
    match approval.u32(sink, "count") {
        Some(0) => {
            wrong_type(sink, count, "count", Expected::PositiveInteger);
            0
        }
        Some(n) => n,
        None => 0,
    }
}

pub(crate) fn wrong_type(sink: &mut Sink, node: &Node, field: &str, expected: Expected) {
    sink.error(
        node.span,
        ErrorKind::WrongType {
            field: field.to_string(),
            expected,
            found: match (&expected, &node.value) {
                // `retries: -1` is an integer, just not one that fits.
                (Expected::Integer | Expected::PositiveInteger, Value::Int(i)) if *i < 0 => {
                    "negative integer"
                }
                (Expected::PositiveInteger, Value::Int(0)) => "zero",
                (Expected::Integer | Expected::PositiveInteger, Value::Int(_)) => {
                    "integer too large"
                }
                _ => node.value.type_name(),
            },
        },
    );
}

/// A scalar read as a string. Numbers and booleans are accepted as the
/// text written (`port: 8080`, `version: 1.10`); lists, mappings and null
/// are not.
pub(crate) fn string(sink: &mut Sink, node: &Node, field: &str) -> Option<(String, Span)> {
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) if node.literal.is_some() => {
            node.literal.clone().unwrap_or_default()
        }
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            wrong_type(sink, node, field, Expected::String);
            return None;
        }
    };
    Some((text, node.span))
}

pub(crate) fn non_empty_string(
    sink: &mut Sink,
    node: &Node,
    field: &str,
) -> Option<(String, Span)> {
    let (text, span) = string(sink, node, field)?;
    if text.trim().is_empty() {
        sink.error(
            span,
            ErrorKind::EmptyValue {
                field: field.to_string(),
            },
        );
        return None;
    }
    Some((text, span))
}

pub(crate) fn string_list(
    sink: &mut Sink,
    node: &Node,
    field: &str,
) -> Option<Vec<(String, Span)>> {
    match &node.value {
        Value::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for item in items {
                match non_empty_string(sink, item, field) {
                    Some(s) => out.push(s),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        Value::Str(_) => non_empty_string(sink, node, field).map(|s| vec![s]),
        _ => {
            wrong_type(sink, node, field, Expected::StringOrList);
            None
        }
    }
}

pub(crate) fn duration(sink: &mut Sink, node: &Node, field: &str) -> Option<Duration> {
    match &node.value {
        Value::Str(s) => match parse_duration(s) {
            Some(d) => Some(d),
            None => {
                sink.error(node.span, ErrorKind::BadDuration { value: s.clone() });
                None
            }
        },
        // A bare number has no unit; say so rather than guess seconds.
        Value::Int(i) => {
            sink.error(
                node.span,
                ErrorKind::BadDuration {
                    value: i.to_string(),
                },
            );
            None
        }
        _ => {
            wrong_type(sink, node, field, Expected::Duration);
            None
        }
    }
}
