//! Typed variables: what a value must look like, checked before anything
//! runs, and which types keep a value from becoming program text.

use tejun_locale::{Lang, Localize};

use crate::duration::parse_duration;
use crate::model::{VarSpec, VarType};

impl VarType {
    pub const NAMES: [&'static str; 10] = [
        "string", "int", "number", "bool", "enum", "regex", "path", "host", "duration", "command",
    ];

    pub fn parse(name: &str) -> Option<VarType> {
        Some(match name {
            "string" => VarType::String,
            "int" => VarType::Int,
            "number" => VarType::Number,
            "bool" => VarType::Bool,
            "enum" => VarType::Enum,
            "regex" => VarType::Regex,
            "path" => VarType::Path,
            "host" => VarType::Host,
            "duration" => VarType::Duration,
            "command" => VarType::Command,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Int => "int",
            VarType::Number => "number",
            VarType::Bool => "bool",
            VarType::Enum => "enum",
            VarType::Regex => "regex",
            VarType::Path => "path",
            VarType::Host => "host",
            VarType::Duration => "duration",
            VarType::Command => "command",
        }
    }
}

impl VarSpec {
    /// Whether every value this spec accepts is harmless as another
    /// interpreter's program text: numbers, booleans, the author's own
    /// choices, host names, durations, anything held to a `pattern`, and
    /// `command`, which is code by declaration.
    pub fn constrains_code(&self) -> bool {
        self.pattern.is_some()
            || matches!(
                self.kind,
                VarType::Int
                    | VarType::Number
                    | VarType::Bool
                    | VarType::Enum
                    | VarType::Host
                    | VarType::Duration
                    | VarType::Command
            )
    }

    /// Checks `value` against the type and its limits.
    pub fn check(&self, value: &str) -> Result<(), BadValue> {
        let bad = |reason| Err(BadValue { reason });
        match self.kind {
            VarType::String | VarType::Command => {}
            VarType::Int => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return bad(Reason::NotInt);
                }
                let Ok(n) = value.parse::<i64>() else {
                    return bad(Reason::NotInt);
                };
                self.range(n as f64)?;
            }
            VarType::Number => {
                let plain = value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
                match value.parse::<f64>() {
                    Ok(n) if plain && n.is_finite() => self.range(n)?,
                    _ => return bad(Reason::NotNumber),
                }
            }
            VarType::Bool => {
                if value != "true" && value != "false" {
                    return bad(Reason::NotBool);
                }
            }
            VarType::Enum => {
                if !self.choices.iter().any(|c| c == value) {
                    return bad(Reason::NotAChoice(self.choices.clone()));
                }
            }
            VarType::Regex => {
                if regex::Regex::new(value).is_err() {
                    return bad(Reason::NotRegex);
                }
            }
            VarType::Path => {
                if value.is_empty() || value.starts_with('-') || value.chars().any(char::is_control)
                {
                    return bad(Reason::NotPath);
                }
            }
            VarType::Host => {
                if !is_host(value) {
                    return bad(Reason::NotHost);
                }
            }
            VarType::Duration => {
                if parse_duration(value).is_none() {
                    return bad(Reason::NotDuration);
                }
            }
        }
        if let Some(pattern) = &self.pattern {
            let whole = format!("^(?:{pattern})$");
            if !regex::Regex::new(&whole).is_ok_and(|re| re.is_match(value)) {
                return bad(Reason::NoMatch(pattern.clone()));
            }
        }
        Ok(())
    }

    fn range(&self, n: f64) -> Result<(), BadValue> {
        if self.min.is_some_and(|min| n < min) || self.max.is_some_and(|max| n > max) {
            return Err(BadValue {
                reason: Reason::OutOfRange {
                    min: self.min.map(|b| b.to_string()),
                    max: self.max.map(|b| b.to_string()),
                },
            });
        }
        Ok(())
    }
}

/// A host name (letters, digits, `-`, dots between labels) or an IP
/// address literal; never an option (`-oProxyCommand=...`).
pub fn is_host(value: &str) -> bool {
    if value.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Why a value does not fit its variable's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NotInt,
    NotNumber,
    NotBool,
    NotAChoice(Vec<String>),
    NotRegex,
    NotPath,
    NotHost,
    NotDuration,
    NoMatch(String),
    OutOfRange {
        min: Option<String>,
        max: Option<String>,
    },
}

impl Localize for BadValue {
    fn localize(&self, lang: Lang) -> String {
        match &self.reason {
            Reason::NotInt => lang
                .pick("must be an integer", "整数でなければなりません")
                .into(),
            Reason::NotNumber => lang
                .pick("must be a number", "数値でなければなりません")
                .into(),
            Reason::NotBool => lang
                .pick(
                    "must be `true` or `false`",
                    "`true` か `false` でなければなりません",
                )
                .into(),
            Reason::NotAChoice(choices) => match lang {
                Lang::En => format!("must be one of: {}", choices.join(", ")),
                Lang::Ja => format!("次のいずれかでなければなりません: {}", choices.join(", ")),
            },
            Reason::NotRegex => lang
                .pick(
                    "must be a valid regular expression",
                    "正しい正規表現でなければなりません",
                )
                .into(),
            Reason::NotPath => lang
                .pick(
                    "must be a path (not empty, no control characters, not starting with `-`)",
                    "パスでなければなりません (空でなく、制御文字を含まず、`-` で始まらない)",
                )
                .into(),
            Reason::NotHost => lang
                .pick(
                    "must be a host name or an IP address",
                    "ホスト名か IP アドレスでなければなりません",
                )
                .into(),
            Reason::NotDuration => lang
                .pick(
                    "must be a duration such as 30s, 5m or 1h",
                    "30s, 5m, 1h のような時間でなければなりません",
                )
                .into(),
            Reason::NoMatch(pattern) => match lang {
                Lang::En => format!("must match the pattern `{pattern}`"),
                Lang::Ja => format!("パターン `{pattern}` に一致しなければなりません"),
            },
            Reason::OutOfRange { min, max } => {
                let bound = |b: &Option<String>| b.clone().unwrap_or_else(|| "-".to_string());
                match lang {
                    Lang::En => format!("must be between {} and {}", bound(min), bound(max)),
                    Lang::Ja => format!(
                        "{} 以上 {} 以下でなければなりません",
                        bound(min),
                        bound(max)
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: VarType) -> VarSpec {
        VarSpec {
            kind,
            ..VarSpec::default()
        }
    }

    #[test]
    fn types_accept_and_refuse() {
        let int = VarSpec {
            min: Some(1.0),
            max: Some(10.0),
            ..spec(VarType::Int)
        };
        assert!(int.check("5").is_ok());
        assert!(int.check("11").is_err());
        assert!(int.check("5/;1e touch /tmp/x;#").is_err());
        assert!(spec(VarType::Number).check("1.5e3").is_ok());
        assert!(spec(VarType::Number).check("nan").is_err());
        assert!(spec(VarType::Bool).check("yes").is_err());
        assert!(spec(VarType::Host).check("web-1.example.com").is_ok());
        assert!(spec(VarType::Host).check("::1").is_ok());
        assert!(spec(VarType::Host).check("-oProxyCommand=x").is_err());
        assert!(spec(VarType::Host).check("a;b").is_err());
        assert!(spec(VarType::Duration).check("30s").is_ok());
        assert!(spec(VarType::Path).check("-rf").is_err());
        let pattern = VarSpec {
            pattern: Some("[a-z]+".into()),
            ..spec(VarType::String)
        };
        assert!(pattern.check("abc").is_ok());
        assert!(pattern.check("abc;").is_err());
    }
}
