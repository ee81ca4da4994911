//! fail2ban's tags: `<HOST>`, `<ADDR>`, `<F-USER>…</F-USER>` and friends.
//!
//! Two kinds of `<…>` exist in a filter. Option tags (`<mode>`,
//! `<mdre-<mode>>`, `<lt_file/__prefix_line>`) are replaced by option values,
//! innermost first, until nothing changes. Regex tags (`<HOST>`, `<F-*>`)
//! then become named groups, exactly as fail2ban's `Regex._resolveHostTag`
//! writes them, so captures mean the same here as there.

use std::collections::HashMap;

const IP4: &str = r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})";
// fail2ban ends with `(?<=:):`; every repetition before it ends in ':', so
// the look-behind always holds and a plain ':' is equivalent (and linear).
const IP6: &str = r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:))";
// ASCII word characters: host names are ASCII (IDNs appear as punycode),
// and the Unicode class would multiply the automaton size of every pattern.
const DNS: &str = r"(?P<dns>[0-9A-Za-z_\-.^]*[0-9A-Za-z_])";
const CIDR: &str = r"(?P<cidr>\d+)";

fn addr() -> String {
    format!(r"\[?(?:{IP4}|{IP6})\]?")
}

/// Replaces option tags from `lookup`, innermost first, at most 64 rounds.
pub fn substitute_option_tags(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut current = value.to_string();
    for _ in 0..64 {
        let mut changed = false;
        let mut out = String::with_capacity(current.len());
        let mut rest = current.as_str();
        while let Some(open) = rest.find('<') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let end = after.find(['<', '>']);
            match end {
                Some(e)
                    if after.as_bytes()[e] == b'>'
                        && e > 0
                        && !after[..e].contains(char::is_whitespace) =>
                {
                    let name = &after[..e];
                    match lookup(name) {
                        Some(v) => {
                            out.push_str(&v);
                            changed = true;
                        }
                        None => {
                            out.push('<');
                            out.push_str(name);
                            out.push('>');
                        }
                    }
                    rest = &after[e + 1..];
                }
                _ => {
                    out.push('<');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        current = out;
        if !changed {
            break;
        }
    }
    current
}

/// Replaces regex tags by groups (fail2ban's `_resolveHostTag`).
pub fn resolve_regex_tags(regex: &str) -> String {
    let mut open: HashMap<String, bool> = HashMap::new();
    let mut skiplines = 0;
    let mut out = String::with_capacity(regex.len() + 64);
    let bytes = regex.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<'
            && let Some(len) = tag_len(&regex[i..])
        {
            let tag = &regex[i..i + len];
            let inner = &tag[1..len - 1];
            out.push_str(&replace_tag(tag, inner, &mut open, &mut skiplines));
            i += len;
            continue;
        }
        let ch = regex[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Length of a `</?[\w\-]+/?>` tag at the start of `s`.
fn tag_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut j = 1;
    if b.get(j) == Some(&b'/') {
        j += 1;
    }
    let start = j;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
        j += 1;
    }
    if j == start {
        return None;
    }
    if b.get(j) == Some(&b'/') {
        j += 1;
    }
    (b.get(j) == Some(&b'>')).then_some(j + 1)
}

fn replace_tag(
    tag: &str,
    inner: &str,
    open: &mut HashMap<String, bool>,
    skiplines: &mut usize,
) -> String {
    match inner {
        "HOST" => return format!("(?:{}|{DNS})", addr()),
        "ADDR" | "F-ADDR/" => return addr(),
        "IP4" | "F-IP4/" => return IP4.to_string(),
        "IP6" | "F-IP6/" => return IP6.to_string(),
        "DNS" | "F-DNS/" => return DNS.to_string(),
        "CIDR" | "F-CIDR/" => return CIDR.to_string(),
        "SUBNET" | "F-SUBNET/" => return format!(r"\[?(?:{IP4}|{IP6})(?:/{CIDR})?\]?"),
        "F-ID/" => return r"(?P<fid>\S+)".to_string(),
        "F-PORT/" => return r"(?P<fport>\w+)".to_string(),
        "SKIPLINES" => {
            let n = *skiplines;
            *skiplines += 1;
            return format!(r"\n(?P<skiplines{n}>(?:(?:.*\n)*?))");
        }
        _ => {}
    }
    let (closing, name) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let Some(custom) = name.strip_prefix("F-") else {
        return tag.to_string();
    };
    if custom.is_empty()
        || !custom
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return tag.to_string();
    }
    if closing {
        return if open.get(custom).copied().unwrap_or(false) {
            ")".into()
        } else {
            tag.to_string()
        };
    }
    open.insert(custom.to_string(), true);
    let group = match custom.to_ascii_lowercase().as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        other => other.replace('-', "_"),
    };
    format!("(?P<{group}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_option_tags_resolve_innermost_first() {
        let lookup = |name: &str| match name {
            "mode" => Some("normal".to_string()),
            "mdre-normal" => Some("^x <HOST>".to_string()),
            _ => None,
        };
        assert_eq!(
            substitute_option_tags("a <mdre-<mode>> b", &lookup),
            "a ^x <HOST> b"
        );
        assert_eq!(
            substitute_option_tags("<unknown> <", &lookup),
            "<unknown> <"
        );
    }

    #[test]
    fn f_tags_become_named_groups() {
        let re = resolve_regex_tags("user <F-USER>\\S+</F-USER> from <HOST></F-NOT>");
        assert!(re.starts_with(r"user (?P<user>\S+) from (?:"), "{re}");
        assert!(re.ends_with("</F-NOT>"));
        assert_eq!(
            resolve_regex_tags("<F-ALT_USER>x</F-ALT_USER>"),
            "(?P<alt_user>x)"
        );
    }
}
