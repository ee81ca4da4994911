//! Redaction of secrets (always) and of IP addresses and user names (on
//! request) in command lines and output, before anything is written to the
//! bundle or the journal.
//!
//! IPs and users are replaced by stable pseudonyms (`[ip-1]`, `[user-2]`)
//! within one bundle, so the evidence still shows that two lines name the
//! same address without showing which.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

pub const MASK: &str = "***";

static SECRETS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // PEM private keys, whole block.
        (
            r"(?s)-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END ([A-Z0-9 ]*)PRIVATE KEY-----|\z)",
            "-----BEGIN ${1}PRIVATE KEY----- *** -----END ${1}PRIVATE KEY-----",
        ),
        // Authorization / proxy-authorization headers.
        (r"(?i)\b((?:proxy-)?authorization)(\s*[:=]\s*)[^\r\n]*", "${1}${2}***"),
        (r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", "${1} ***"),
        // AWS access key ids.
        (r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", "${1}****************"),
        // key=value and key: value for secret-looking keys.
        (
            r#"(?i)\b([A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s"',;&]+)"#,
            "${1}${2}***",
        ),
        // --password SECRET (space-separated option values).
        (r"(?i)(--(?:password|passwd|token|secret|api-key|access-key)\s+)[^\s]+", "${1}***"),
        // URLs with credentials: scheme://user:pass@host
        (r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+):[^/\s@]+@", "${1}:***@"),
        // mysql -pSECRET (the password glued to -p).
        (r"(^|\s)-p[^\s]+", "${1}-p***"),
    ]
    .into_iter()
    .map(|(re, rep)| (Regex::new(re).expect("static regex"), rep))
    .collect()
});

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
    )
    .expect("static regex")
});
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:[0-9a-f]{1,4}:){2,7}(?::|[0-9a-f]{1,4})(?:/\d{1,3})?|(?i)\b(?:[0-9a-f]{1,4}:){1,6}:[0-9a-f]{1,4}\b")
        .expect("static regex")
});
static USER_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(invalid user|user|for|login|usename|logname)([ =:]+)([A-Za-z_][A-Za-z0-9_.-]{0,31})\b").expect("static regex")
});

/// Words after "for"/"user" that are not user names.
const NOT_USERS: &[&str] = &[
    "invalid", "user", "the", "a", "an", "root", "from", "port", "unknown",
];

#[derive(Debug, Default)]
pub struct Redactor {
    pub ips: bool,
    pub users: bool,
    /// Known account names to redact wherever they appear as words.
    pub user_names: Vec<String>,
    pseudonyms: HashMap<String, String>,
    counts: (usize, usize),
}

impl Redactor {
    pub fn new(ips: bool, users: bool) -> Redactor {
        let user_names = if users { local_users() } else { Vec::new() };
        Redactor {
            ips,
            users,
            user_names,
            ..Redactor::default()
        }
    }

    /// Redacts secrets, then IPs and users if asked.
    pub fn redact(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for (re, replacement) in SECRETS.iter() {
            out = re.replace_all(&out, *replacement).into_owned();
        }
        if self.ips {
            out = self.pseudonymise(&IPV4, &out, true);
            out = self.pseudonymise(&IPV6, &out, true);
        }
        if self.users {
            let names = self.user_names.clone();
            for name in names {
                let re =
                    Regex::new(&format!(r"\b{}\b", regex::escape(&name))).expect("escaped name");
                out = self.pseudonymise(&re, &out, false);
            }
            let mut pending: Vec<String> = Vec::new();
            for caps in USER_CONTEXT.captures_iter(&out) {
                let name = caps[3].to_string();
                if !NOT_USERS.contains(&name.to_ascii_lowercase().as_str())
                    && !name.starts_with("[user-")
                {
                    pending.push(name);
                }
            }
            out = USER_CONTEXT
                .replace_all(&out, |caps: &Captures| {
                    let name = &caps[3];
                    if pending.iter().any(|p| p == name) {
                        format!("{}{}{}", &caps[1], &caps[2], self.name_for(name, false))
                    } else {
                        caps[0].to_string()
                    }
                })
                .into_owned();
        }
        out
    }

    /// Redacts each word of a command line.
    pub fn redact_argv(&mut self, argv: &[String]) -> String {
        let joined = argv
            .iter()
            .map(|a| {
                // One line per command, whatever its arguments hold.
                let one_line = a
                    .replace('\n', "\\n")
                    .replace('\r', "\\r")
                    .replace('\t', "\\t");
                if a.is_empty() || a.contains(char::is_whitespace) {
                    format!("'{one_line}'")
                } else {
                    one_line
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        self.redact(&joined)
    }

    fn pseudonymise(&mut self, re: &Regex, text: &str, ip: bool) -> String {
        re.replace_all(text, |caps: &Captures| self.name_for(&caps[0], ip))
            .into_owned()
    }

    fn name_for(&mut self, original: &str, ip: bool) -> String {
        if let Some(known) = self.pseudonyms.get(original) {
            return known.clone();
        }
        let name = if ip {
            self.counts.0 += 1;
            format!("[ip-{}]", self.counts.0)
        } else {
            self.counts.1 += 1;
            format!("[user-{}]", self.counts.1)
        };
        self.pseudonyms.insert(original.to_string(), name.clone());
        name
    }
}

/// People's accounts from /etc/passwd (uid ≥ 1000, not nobody).
fn local_users() -> Vec<String> {
    let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else {
        return Vec::new();
    };
    passwd
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let uid: u32 = fields.get(2)?.parse().ok()?;
            let name = fields.first()?;
            ((1000..60000).contains(&uid) && name.len() >= 2).then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_always_redacted() {
        let mut r = Redactor::default();
        let text = "mysql -uroot -pHunter2 -h db\nDB_PASSWORD=s3cret\napi_key: abcdef\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y\nkey AKIAIOSFODNN7EXAMPLE\nurl postgres://app:pw@db/x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY-----\ntoken=\"quoted value\"";
        let out = r.redact(text);
        for secret in [
            "Hunter2",
            "s3cret",
            "abcdef",
            "eyJhbGci",
            "IOSFODNN7EXAMPLE",
            ":pw@",
            "MIIE",
            "quoted value",
        ] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(out.contains("-p***"), "{out}");
        assert!(out.contains("DB_PASSWORD=***"), "{out}");
        assert!(out.contains("-----BEGIN RSA PRIVATE KEY----- ***"), "{out}");
        assert!(out.contains("-h db"), "ordinary words stay: {out}");
    }

    #[test]
    fn ips_and_users_get_stable_pseudonyms_when_asked() {
        let line = "Failed password for invalid user admin from 203.0.113.7 port 22\nAccepted for alice from 203.0.113.7 and 2001:db8::1";
        let mut plain = Redactor::default();
        assert_eq!(
            plain.redact(line),
            line,
            "evidence is not redacted beyond secrets"
        );
        let mut r = Redactor {
            ips: true,
            users: true,
            user_names: vec!["alice".into()],
            ..Redactor::default()
        };
        let out = r.redact(line);
        assert!(
            !out.contains("203.0.113.7") && !out.contains("2001:db8::1"),
            "{out}"
        );
        assert_eq!(out.matches("[ip-1]").count(), 2, "{out}");
        assert!(!out.contains("admin") && !out.contains("alice"), "{out}");
    }
}
