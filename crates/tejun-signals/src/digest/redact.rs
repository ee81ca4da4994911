//! Samples with their literals replaced (`--redact`): the statement keeps
//! its shape and case, but no value a customer typed.

/// `query` with quoted strings and numbers (not digits inside a name)
/// replaced by `?`.
pub fn redact(query: &str) -> String {
    let s = query.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'\'' || b == b'"' {
            // To the closing quote; `\x` and a doubled quote stay inside.
            let mut j = i + 1;
            while j < s.len() {
                if s[j] == b'\\' {
                    j += 2;
                    continue;
                }
                if s[j] == b {
                    if s.get(j + 1) == Some(&b) {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            out.push(b'?');
            i = j + 1;
            continue;
        }
        let word_before = i > 0 && (s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_');
        if b.is_ascii_digit() && !word_before {
            let mut j = i + 1;
            while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'.') {
                j += 1;
            }
            out.push(b'?');
            i = j;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn literals_go_names_stay() {
        assert_eq!(
            redact(
                "SELECT * FROM t2 WHERE email = 'a\\'b@c' AND id IN (1, 2.5) AND x = \"y\"\"z\""
            ),
            "SELECT * FROM t2 WHERE email = ? AND id IN (?, ?) AND x = ?"
        );
        assert_eq!(redact("unterminated 'abc"), "unterminated ?");
    }
}
