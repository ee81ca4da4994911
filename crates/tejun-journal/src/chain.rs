//! What an event's hash covers, and how it is encoded.
//!
//! The hash must change whenever *any* stored field changes, and two
//! different events must never encode to the same bytes. So every field is
//! written length-prefixed (no separator a value could contain), the refs
//! are counted, and the payload is hashed as the exact canonical JSON text
//! that is stored. Hashing the stored text (rather than re-serialising the
//! parsed payload at verify time) means verification never depends on how a
//! JSON library formats floats or orders keys: a changed byte is a changed
//! event.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Bumped if the encoding ever changes, so old and new chains can't collide.
const DOMAIN: &[u8] = b"tejun-journal/v1\0";

/// The stored fields of one event, as text exactly as they are in the store.
pub struct Fields<'a> {
    pub seq: i64,
    pub ts: &'a str,
    pub recorded_at: &'a str,
    pub stream: &'a str,
    pub refs: &'a [String],
    pub kind: &'a str,
    pub actor: &'a str,
    pub payload: &'a str,
    pub prev_hash: &'a str,
}

/// SHA-256 (lowercase hex) over the unambiguous encoding of `fields`.
pub fn hash(fields: &Fields<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(fields.seq.to_be_bytes());
    for text in [fields.ts, fields.recorded_at, fields.stream] {
        put(&mut hasher, text);
    }
    hasher.update((fields.refs.len() as u64).to_be_bytes());
    for subject in fields.refs {
        put(&mut hasher, subject);
    }
    for text in [fields.kind, fields.actor, fields.payload, fields.prev_hash] {
        put(&mut hasher, text);
    }
    hex::encode(hasher.finalize())
}

fn put(hasher: &mut Sha256, text: &str) {
    hasher.update((text.len() as u64).to_be_bytes());
    hasher.update(text.as_bytes());
}

/// JSON with object keys sorted bytewise and no whitespace.
///
/// serde_json keeps insertion order when its `preserve_order` feature is on
/// (another crate in the build may turn it on), so the order is imposed here
/// rather than trusted to the map type.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            out.push_str(&value.to_string());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields<'a>(refs: &'a [String], stream: &'a str, kind: &'a str) -> Fields<'a> {
        Fields {
            seq: 1,
            ts: "2026-01-01T00:00:00.000000000Z",
            recorded_at: "2026-01-01T00:00:00.000000000Z",
            stream,
            refs,
            kind,
            actor: "a",
            payload: "{}",
            prev_hash: GENESIS,
        }
    }

    #[test]
    fn keys_are_sorted_whatever_the_insertion_order() {
        let a = json!({"b": 1, "a": [true, null, {"z": "x", "y": 1.5}]});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":[true,null,{"y":1.5,"z":"x"}],"b":1}"#
        );
    }

    #[test]
    fn moving_bytes_between_fields_changes_the_hash() {
        // "ab"+"c" and "a"+"bc" must not collide.
        let none: Vec<String> = vec![];
        assert_ne!(
            hash(&fields(&none, "ab", "c")),
            hash(&fields(&none, "a", "bc"))
        );
    }

    #[test]
    fn refs_are_covered() {
        let none: Vec<String> = vec![];
        let one = vec!["incident/1".to_string()];
        let split = vec!["incident/".to_string(), "1".to_string()];
        let h0 = hash(&fields(&none, "run/1", "k"));
        let h1 = hash(&fields(&one, "run/1", "k"));
        let h2 = hash(&fields(&split, "run/1", "k"));
        assert_ne!(h0, h1);
        assert_ne!(h1, h2);
    }
}
