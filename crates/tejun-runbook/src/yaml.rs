//! A YAML document as a tree of nodes that remember where they were written.
//!
//! Why not deserialize straight into the model with serde? Because serde
//! stops at the first error, and an operator fixing a runbook wants every
//! problem at once, each at its own line:col. So serde-saphyr parses into
//! this small tree (every node wrapped in its [`Spanned`] location), and the
//! format modules walk it, collecting diagnostics as they go. YAML syntax
//! errors, duplicate keys and budget breaches still come from serde-saphyr,
//! with its location.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::diagnostics::ErrorKind;
use crate::model::Span;

/// One YAML node and its position in the source (byte-based [`Span`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// A number or boolean exactly as written (`1.10`, `0o755`, `yes`):
    /// where tejun wants text, it takes this, not the parsed value.
    pub literal: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; keys are strings with their own spans.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Value {
    /// The YAML type name, as the operator would say it, for "expected X,
    /// found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}

impl Node {
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A YAML error, in tejun's words, with where it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub kind: ErrorKind,
    pub span: Span,
}

/// Where `bytes` stop being UTF-8, as a span in their lossy decoding (the
/// text before it is the same in both).
pub fn utf8_error(bytes: &[u8]) -> Option<(String, Span)> {
    let valid = std::str::from_utf8(bytes).err()?.valid_up_to();
    let text = String::from_utf8_lossy(bytes).into_owned();
    let span = LineIndex::new(&text).at(valid, 1);
    Some((text, span))
}

/// Parses `source` into a located tree. An empty document is `Null`.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    // Editors on Windows may save a byte-order mark. The parser skips it and
    // counts offsets from after it; spans here count from the file's start.
    let (text, bom) = match source.strip_prefix('\u{feff}') {
        Some(rest) => (rest, '\u{feff}'.len_utf8()),
        None => (source, 0),
    };
    let mut index = LineIndex::new(source);
    index.parser_shift = bom;
    // YAML forbids NUL; say so in our words, before any tool truncates.
    if let Some(at) = source.find('\0') {
        return Err(SyntaxError {
            kind: ErrorKind::NulByte,
            span: index.at(at, 1),
        });
    }
    let options = serde_saphyr::options! {
        with_snippet: false,
        // A tag such as `!shell` means something to its author that tejun
        // would silently ignore: refuse it where it is written.
        reject_unsupported_tags: true,
    };
    let raw: Option<Raw> = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let span = e
            .location()
            .map(|l| index.span(&l))
            .unwrap_or_else(|| index.start());
        SyntaxError {
            kind: error_kind(&e),
            span,
        }
    })?;
    Ok(match raw {
        Some(raw) => raw.into_node(&index),
        None => Node {
            value: Value::Null,
            span: index.start(),
            literal: None,
        },
    })
}

/// What went wrong, in tejun's words where the parser's would be its own
/// internals (budget structs, API names).
fn error_kind(error: &serde_saphyr::Error) -> ErrorKind {
    use serde_saphyr::Error as E;
    match error.without_snippet() {
        E::UnsupportedTag { tag, .. } => ErrorKind::YamlTag { tag: tag.clone() },
        E::MultipleDocuments { .. } => ErrorKind::MultipleDocuments,
        E::Budget { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => ErrorKind::YamlTooLarge,
        E::InvalidUtf8Input => ErrorKind::NotUtf8,
        E::DuplicateMappingKey { key, .. } => ErrorKind::DuplicateYamlKey { key: key.clone() },
        other => {
            let message = bare_message(other);
            // Limits reached while replaying aliases or recursing come
            // back as plain messages carrying the parser's internals.
            if message.contains("budget breached") || message.contains("recursion limit") {
                ErrorKind::YamlTooLarge
            } else {
                ErrorKind::Syntax(message)
            }
        }
    }
}

/// serde-saphyr's message without its own "at line X column Y" suffix: we
/// print the location ourselves, in the operator's language.
fn bare_message(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match error {
        E::Message { msg, .. } | E::HookError { msg, .. } => msg.clone(),
        E::WithSnippet { error, .. } => bare_message(error),
        other => {
            let text = other.to_string();
            match text.find(" at line ") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            }
        }
    }
}

/// The tree as serde-saphyr hands it over: values wrapped in [`Spanned`].
#[derive(Debug)]
struct RawNode(Spanned<RawValue>);

#[derive(Debug)]
enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<RawNode>),
    Map(Vec<(Spanned<KeyString>, RawNode)>),
}

type Raw = RawNode;

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::<RawValue>::deserialize(d).map(RawNode)
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
        i64::try_from(v)
            .map(RawValue::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawValue, E> {
        i64::try_from(v)
            .map(RawValue::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawValue, E> {
        i64::try_from(v)
            .map(RawValue::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RawValue, E> {
        String::from_utf8(v.to_vec())
            .map(RawValue::Str)
            .map_err(|_| E::custom("binary data is not valid here"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<RawNode>()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyString>>()? {
            let value = map.next_value::<RawNode>()?;
            let key = Spanned::new(key.value, key.referenced, key.defined);
            entries.push((key, value));
        }
        Ok(RawValue::Map(entries))
    }
}

/// A mapping key: any scalar, as text (`1: x` has key "1"). `true` when
/// the parser read it as a number or boolean: its name is then taken from
/// the source as written (`n:` is the key `n`, not YAML 1.1's `false`).
#[derive(Debug)]
struct KeyString(String, bool);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string(), false))
            }
            fn visit_string<E>(self, v: String) -> Result<KeyString, E> {
                Ok(KeyString(v, false))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string(), true))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string(), true))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string(), true))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string(), true))
            }
            fn visit_unit<E>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".to_string(), true))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

impl RawNode {
    fn into_node(self, index: &LineIndex) -> Node {
        let span = index.span(&self.0.referenced);
        let value = match self.0.value {
            RawValue::Null => Value::Null,
            RawValue::Bool(b) => Value::Bool(b),
            RawValue::Int(i) => Value::Int(i),
            RawValue::Float(f) => Value::Float(f),
            RawValue::Str(s) => Value::Str(s),
            RawValue::Seq(items) => {
                Value::Seq(items.into_iter().map(|n| n.into_node(index)).collect())
            }
            RawValue::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let span = index.span(&k.referenced);
                        let KeyString(parsed, typed) = k.value;
                        let written = index
                            .source
                            .get(span.offset..span.offset + span.len)
                            .map(str::trim_end)
                            .filter(|text| typed && !text.is_empty());
                        let key = Key {
                            span,
                            name: written.map_or(parsed, str::to_string),
                        };
                        (key, v.into_node(index))
                    })
                    .collect(),
            ),
        };
        let literal = match value {
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => index
                .source
                .get(span.offset..span.offset + span.len)
                .map(|text| text.trim_end().to_string())
                .filter(|text| !text.is_empty()),
            _ => None,
        };
        Node {
            value,
            span,
            literal,
        }
    }
}

/// Converts serde-saphyr's character-based line/column into byte offsets
/// (which annotate-snippets and slicing need) and back.
pub struct LineIndex<'a> {
    source: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
    /// Added to parser offsets: they start after a byte-order mark.
    parser_shift: usize,
}

impl<'a> LineIndex<'a> {
    pub fn new(source: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            source,
            starts,
            parser_shift: 0,
        }
    }

    pub fn start(&self) -> Span {
        Span {
            offset: 0,
            len: 0,
            line: 1,
            col: 1,
        }
    }

    /// serde-saphyr 2 reports character offsets plus, when it knows them,
    /// byte offsets; the byte offset is used when present, else the
    /// line and (character) column.
    fn span(&self, loc: &Location) -> Span {
        let raw = loc.span();
        if let (Some(offset), Some(len)) = (raw.byte_offset(), raw.byte_len()) {
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            let len = usize::try_from(len).unwrap_or(0);
            return self.at(offset.saturating_add(self.parser_shift), len);
        }
        let line = (loc.line() as usize).max(1);
        let Some(&line_start) = self.starts.get(line - 1) else {
            return self.at(self.source.len(), 0);
        };
        let column = (loc.column() as usize).saturating_sub(1);
        let line_text = &self.source[line_start..];
        let byte = line_text
            .char_indices()
            .nth(column)
            .map_or(line_text.len(), |(i, _)| i);
        self.at(line_start + byte, 0)
    }

    /// The span of `len` bytes at byte `offset` (clamped to the source and
    /// to char boundaries), with its line and character column.
    pub fn at(&self, offset: usize, len: usize) -> Span {
        let mut span = self.at_offset(offset);
        let mut end = span.offset.saturating_add(len).min(self.source.len());
        while !self.source.is_char_boundary(end) {
            end += 1;
        }
        span.len = end - span.offset;
        span
    }

    fn at_offset(&self, offset: usize) -> Span {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let line_start = self.starts[line - 1];
        let col = self.source[line_start..offset].chars().count() + 1;
        Span {
            offset,
            len: 0,
            line,
            col,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_byte_spans() {
        let src = "name: 手順\nsteps:\n  - run: echo hi\n";
        let root = parse(src).unwrap();
        let map = root.as_map().unwrap();
        assert_eq!(map[0].0.name, "name");
        assert_eq!((map[0].0.span.line, map[0].0.span.col), (1, 1));
        let name = &map[0].1;
        assert_eq!(
            &src[name.span.offset..name.span.offset + name.span.len],
            "手順"
        );
        let Value::Seq(items) = &map[1].1.value else {
            panic!()
        };
        let step = items[0].as_map().unwrap();
        assert_eq!((step[0].1.span.line, step[0].1.span.col), (3, 10));
        assert_eq!(step[0].1.as_str(), Some("echo hi"));
    }

    #[test]
    fn syntax_error_has_location() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.span.line >= 1, "{err:?}");
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.span.line, 2, "{err:?}");
    }

    #[test]
    fn scalar_types() {
        let root = parse("a: 1\nb: true\nc: ~\nd: 1.5\ne: '1'\n").unwrap();
        let types: Vec<_> = root
            .as_map()
            .unwrap()
            .iter()
            .map(|(_, v)| v.value.type_name())
            .collect();
        assert_eq!(types, ["integer", "boolean", "null", "number", "string"]);
        let root = parse("a: 1.10\nb: 0o755\nc: yes\nd: 1e3\ne: [0x1F, 007]\n").unwrap();
        let map = root.as_map().unwrap();
        let literals: Vec<_> = map[..4]
            .iter()
            .map(|(_, v)| v.literal.clone().unwrap())
            .collect();
        assert_eq!(literals, ["1.10", "0o755", "yes", "1e3"]);
        let root = parse("n: 1\nyes: 2\n010: 3\n").unwrap();
        let keys: Vec<_> = root
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.name.clone())
            .collect();
        assert_eq!(keys, ["n", "yes", "010"]);
    }
}
