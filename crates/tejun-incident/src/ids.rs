//! Short incident ids (`INC-7K3Q`) that an operator can type, and lookup by
//! unique prefix (`7k`, `inc-7k3`), like git's abbreviated hashes.
//!
//! Ids are four Crockford base32 characters (no I, L, O, U, so nothing is
//! misread on a call), lengthened only when the short form is taken.

use sha2::{Digest, Sha256};

use crate::error::Error;

pub const PREFIX: &str = "INC-";
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh id not in `existing`, derived from `seed` (time, pid, title).
pub fn generate(seed: &[u8], existing: &[String]) -> String {
    let digest = Sha256::digest(seed);
    let chars: String = digest
        .iter()
        .map(|b| ALPHABET[(*b as usize) % 32] as char)
        .collect();
    for len in 4..chars.len() {
        let id = format!("{PREFIX}{}", &chars[..len]);
        if !existing.iter().any(|e| e == &id) {
            return id;
        }
    }
    format!("{PREFIX}{chars}")
}

/// Finds the one id in `known` that `input` names: exactly, or as the only
/// id starting with it (case-insensitive, `INC-` optional).
pub fn resolve(input: &str, known: &[String]) -> Result<String, Error> {
    let wanted = normalise(input);
    if wanted.is_empty() {
        return Err(Error::input(
            "empty incident id",
            "インシデント ID が空です",
        ));
    }
    if let Some(exact) = known.iter().find(|id| normalise(id) == wanted) {
        return Ok(exact.clone());
    }
    let matches: Vec<&String> = known
        .iter()
        .filter(|id| normalise(id).starts_with(&wanted))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::input(
            format!("no incident {input:?} (see `tejun incident list`)"),
            format!(
                "インシデント {input:?} はありません (`tejun incident list` で確認してください)"
            ),
        )),
        many => {
            let list = many
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            Err(Error::input(
                format!("incident id {input:?} is ambiguous: {list}"),
                format!("インシデント ID {input:?} が複数に一致します: {list}"),
            ))
        }
    }
}

fn normalise(id: &str) -> String {
    let upper = id.trim().to_ascii_uppercase();
    upper.strip_prefix(PREFIX).unwrap_or(&upper).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_prefix_lookup() {
        let known = vec![
            "INC-7K3Q".to_string(),
            "INC-7KZZ".to_string(),
            "INC-A000".to_string(),
        ];
        assert_eq!(resolve("a", &known).unwrap(), "INC-A000");
        assert_eq!(resolve("inc-7k3", &known).unwrap(), "INC-7K3Q");
        assert!(
            resolve("7K", &known)
                .unwrap_err()
                .to_string()
                .contains("ambiguous")
        );
        assert!(
            resolve("X", &known)
                .unwrap_err()
                .to_string()
                .contains("no incident")
        );
    }

    #[test]
    fn generation_avoids_taken_ids() {
        let first = generate(b"seed", &[]);
        let second = generate(b"seed", std::slice::from_ref(&first));
        assert_eq!(first.len(), 8);
        assert_ne!(first, second);
        assert!(second.starts_with(&first));
    }
}
