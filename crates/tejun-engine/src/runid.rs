//! Run ids: short enough to type (`tejun resume 0k3m9q2a`), sortable by
//! start time so `ls runs/` and the journal agree on order.
//!
//! Eight characters of lowercase Crockford base32: six for the seconds since
//! 2024-01-01 (good for 34 years) and two random ones, so runs started in
//! the same second differ. The caller creates the run folder exclusively and
//! draws again on the rare collision.

use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const EPOCH_2024: u64 = 1_704_067_200;

pub fn new_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs().saturating_sub(EPOCH_2024);
    // Sub-second time and pid are random enough for two characters: the
    // exclusive folder creation catches what they miss.
    let random = (now.subsec_nanos() >> 10) ^ std::process::id().wrapping_mul(2_654_435_761);
    encode(secs, (random & 0x3ff) as u16)
}

fn encode(secs: u64, random: u16) -> String {
    let value = ((secs & ((1 << 30) - 1)) << 10) | u64::from(random & 0x3ff);
    (0..8)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Whether `id` could be a run id; resume rejects anything else before it
/// becomes part of a path.
pub fn is_run_id(id: &str) -> bool {
    id.len() == 8 && id.bytes().all(|b| ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time() {
        let earlier = encode(1_000, 1023);
        let later = encode(1_001, 0);
        assert!(earlier < later);
        assert!(is_run_id(&earlier) && is_run_id(&new_run_id()));
        assert!(!is_run_id("../etc/x"));
    }
}
