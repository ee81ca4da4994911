//! Undoing URL encoding before web-attack patterns run.
//!
//! Attackers encode payloads (`%27%20OR%20%271%27%3D%271`), sometimes twice
//! (`%2527`), and forms encode spaces as `+`. Patterns are written against
//! the decoded text, so one pattern catches every spelling.

use std::borrow::Cow;

/// Percent-decodes up to twice and turns `+` into a space. Invalid escapes
/// stay as written; invalid UTF-8 after decoding is replaced (lossy).
pub fn url_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let once = percent_decode(&text.replace('+', " "));
    if once.contains('%') {
        Cow::Owned(percent_decode(&once))
    } else {
        Cow::Owned(once)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_single_double_and_plus() {
        assert_eq!(
            url_decode("id=1%27%20OR%20%271%27%3D%271"),
            "id=1' OR '1'='1"
        );
        assert_eq!(url_decode("q=%252e%252e%252f"), "q=../");
        assert_eq!(url_decode("q=union+select"), "q=union select");
        assert_eq!(url_decode("plain"), "plain");
        assert_eq!(url_decode("bad%zz%"), "bad%zz%");
    }
}
