//! tejun's own rule files (YAML, documented in docs/rules.md).
//!
//! The patterns use the same syntax as fail2ban filters (Python `re`
//! spelling, `<HOST>`, `<F-USER>` tags, or a plain `(?P<host>…)` group) so a
//! rule can be moved between the two without rewriting it. Every error
//! names the file, line and column of the value at fault.

use std::fmt;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::date::DateDetector;
use crate::fail2ban::jail::parse_duration;
use crate::fail2ban::tags::resolve_regex_tags;
use crate::group::Group;
use crate::model::{Action, Decode, Origin, Rule, Severity, Unsupported};
use crate::pattern::Pattern;

/// A rule file problem at `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleYaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleYaml {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    regex: Vec<Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    prefregex: Option<Spanned<String>>,
    #[serde(default)]
    date: Option<Spanned<String>>,
    #[serde(default)]
    decode: Decode,
    #[serde(default)]
    findtime: Option<Spanned<DurationText>>,
    #[serde(default)]
    maxretry: Option<u32>,
    #[serde(default)]
    bantime: Option<Spanned<DurationText>>,
    #[serde(default)]
    severity: Severity,
    #[serde(default)]
    actions: Vec<Action>,
}

/// `600`, `10m`, `1h`, `1d`, `-1`.
#[derive(Deserialize)]
#[serde(untagged)]
enum DurationText {
    Seconds(i64),
    Text(String),
}

/// Parses a rule file. `file` is used in messages only.
pub fn parse_rules(src: &str, file: &str) -> Result<Vec<Rule>, YamlError> {
    let parsed: RuleFile = serde_saphyr::from_str(src).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        YamlError {
            file: file.to_string(),
            line,
            column,
            message: e.without_snippet().to_string(),
        }
    })?;
    let err = |loc: &Location, message: String| YamlError {
        file: file.to_string(),
        line: loc.line(),
        column: loc.column(),
        message,
    };
    let mut rules = Vec::new();
    let mut names = std::collections::HashSet::new();
    for r in parsed.rules {
        if r.name.value.trim().is_empty() {
            return Err(err(&r.name.referenced, "rule name is empty".into()));
        }
        if !names.insert(r.name.value.clone()) {
            return Err(err(
                &r.name.referenced,
                format!("duplicate rule name {:?}", r.name.value),
            ));
        }
        let mut rule = Rule::empty(
            &r.name.value,
            Origin::Yaml {
                file: file.to_string(),
            },
        );
        rule.description = r.description;
        rule.decode = r.decode;
        rule.params.severity = r.severity;
        rule.params.actions = r.actions;
        if let Some(m) = r.maxretry {
            if m == 0 {
                return Err(err(
                    &r.name.referenced,
                    "maxretry must be at least 1".into(),
                ));
            }
            rule.params.maxretry = m;
        }
        for (target, value) in [(&mut rule.params.bantime, &r.bantime)] {
            if let Some(v) = value {
                *target = duration(v).map_err(|m| err(&v.referenced, m))?;
            }
        }
        if let Some(v) = &r.findtime {
            let secs = duration(v).map_err(|m| err(&v.referenced, m))?;
            if secs <= 0 {
                return Err(err(&v.referenced, "findtime must be positive".into()));
            }
            rule.params.findtime = secs as u64;
        }
        if let Some(d) = &r.date {
            rule.dates = DateDetector::from_pattern(&d.value)
                .map_err(|e| err(&d.referenced, e.to_string()))?;
        }
        if let Some(p) = &r.prefregex {
            rule.prefregex = Some(compile(p).map_err(|m| err(&p.referenced, m))?);
        }
        if r.regex.is_empty() {
            return Err(err(
                &r.name.referenced,
                "a rule needs at least one regex".into(),
            ));
        }
        for re in r.regex {
            let pattern = compile(&re).map_err(|m| err(&re.referenced, m))?;
            let has_host = Group::OFFENDER.iter().any(|g| pattern.has_group(g.name()));
            if !has_host {
                return Err(err(
                    &re.referenced,
                    "the regex needs a host capture: <HOST>, <ADDR> or (?P<host>...)".into(),
                ));
            }
            rule.failregex.push(pattern);
        }
        for re in r.ignore {
            rule.ignoreregex
                .push(compile(&re).map_err(|m| err(&re.referenced, m))?);
        }
        rule.unsupported = Vec::<Unsupported>::new();
        rules.push(rule);
    }
    Ok(rules)
}

fn compile(re: &Spanned<String>) -> Result<Pattern, String> {
    Pattern::compile(&resolve_regex_tags(&re.value), false)
        .map_err(|e| format!("invalid regex: {e}"))
}

fn duration(v: &Spanned<DurationText>) -> Result<i64, String> {
    match &v.value {
        DurationText::Seconds(s) => Ok(*s),
        DurationText::Text(t) => {
            parse_duration(t).ok_or_else(|| format!("not a duration: {t:?} (use 600, 10m, 1h, 1d)"))
        }
    }
}
