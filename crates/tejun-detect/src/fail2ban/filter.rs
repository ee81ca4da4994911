//! A fail2ban filter file → a compiled [`Rule`].
//!
//! Option lookup follows fail2ban: filter options (`sshd[mode=ddos]`) win,
//! then `[Init]`, then `[Definition]`, then `[DEFAULT]`. Each pattern is
//! compiled on its own: one that cannot be compiled is reported as
//! unsupported with the reason and the rest of the filter still runs.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::date::DateDetector;
use crate::fail2ban::config::{Config, ConfigError};
use crate::fail2ban::tags::{resolve_regex_tags, substitute_option_tags};
use crate::model::{Origin, Rule, Unsupported};
use crate::pattern::Pattern;

/// Groups that identify an offender in a fail2ban regex.
const FAILURE_ID_GROUPS: &[&str] = &["fid", "ip4", "ip6", "dns", "mlfid"];

/// A filter that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    Config(ConfigError),
    Invalid { file: String, message: String },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Config(e) => e.fmt(f),
            FilterError::Invalid { file, message } => write!(f, "{file}: {message}"),
        }
    }
}

impl From<ConfigError> for FilterError {
    fn from(e: ConfigError) -> Self {
        FilterError::Config(e)
    }
}

/// Splits `sshd[mode=aggressive, publickey="any"]` into the name and options.
pub fn parse_filter_spec(spec: &str) -> (String, HashMap<String, String>) {
    let spec = spec.trim();
    let Some(open) = spec.find('[') else {
        return (spec.to_string(), HashMap::new());
    };
    let name = spec[..open].trim().to_string();
    let inner = spec[open + 1..].trim_end().trim_end_matches(']');
    let mut options = HashMap::new();
    for part in split_options(inner) {
        if let Some((k, v)) = part.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            options.insert(k.trim().to_string(), v.to_string());
        }
    }
    (name, options)
}

/// Splits on commas outside quotes.
fn split_options(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (c, quote) {
            ('"' | '\'', None) => {
                quote = Some(c);
                current.push(c);
            }
            (c, Some(q)) if c == q => {
                quote = None;
                current.push(c);
            }
            (',', None) => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

/// Reads and compiles a filter file with filter options.
pub fn load_filter(path: &Path, options: &HashMap<String, String>) -> Result<Rule, FilterError> {
    let config = Config::load(path)?;
    compile_filter(path, &config, options)
}

/// Compiles an already read filter configuration.
pub fn compile_filter(
    path: &Path,
    config: &Config,
    options: &HashMap<String, String>,
) -> Result<Rule, FilterError> {
    let file = path.display().to_string();
    if !config.has_section("Definition") {
        return Err(FilterError::Invalid {
            file,
            message: "no [Definition] section: not a fail2ban filter".into(),
        });
    }
    let get = |key: &str| -> Result<Option<String>, ConfigError> {
        if let Some(v) = options.get(key) {
            return Ok(Some(v.clone()));
        }
        if config
            .sections
            .get("Init")
            .is_some_and(|s| s.contains_key(key))
        {
            return config.get("Init", key, options);
        }
        config.get("Definition", key, options)
    };
    // Tag lookups must not fail the whole filter: an unknown name simply
    // stays a tag (like <HOST>).
    let lookup = |name: &str| -> Option<String> {
        if let Some((section, key)) = name.split_once('/')
            && config.has_section(section)
        {
            return config.get(section, key, options).ok().flatten();
        }
        get(name).ok().flatten()
    };
    let option = |key: &str| -> Result<Option<String>, FilterError> {
        Ok(get(key)?.map(|v| substitute_option_tags(&v, &lookup)))
    };

    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| file.clone());
    let mut rule = Rule::empty(
        &stem,
        Origin::Fail2ban {
            filter: file.clone(),
        },
    );
    rule.cut_date = true;
    rule.params.journalmatch = option("journalmatch")?
        .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|m| !m.is_empty());
    rule.maxlines = match option("maxlines")? {
        Some(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| FilterError::Invalid {
                file: file.clone(),
                message: format!("maxlines must be a positive integer, not {v:?}"),
            })?,
        _ => 1,
    };
    let multi_line = rule.maxlines > 1;
    if let Some(dp) = option("datepattern")?
        && !dp.trim().is_empty()
    {
        rule.dates = DateDetector::from_pattern(&dp).map_err(|e| FilterError::Invalid {
            file: file.clone(),
            message: e.to_string(),
        })?;
    }
    // Every pattern of the filter, compiled at once on all cores.
    let lines = |key: &str| -> Result<Vec<String>, FilterError> {
        Ok(option(key)?
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    };
    let prefregex = option("prefregex")?
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    let failregex = lines("failregex")?;
    let ignoreregex = lines("ignoreregex")?;
    let sources: Vec<&String> = prefregex
        .iter()
        .chain(&failregex)
        .chain(&ignoreregex)
        .collect();
    let mut compiled = crate::parallel::map(&sources, |source| {
        Pattern::compile(&resolve_regex_tags(source), multi_line)
    })
    .into_iter();
    if prefregex.is_some() {
        match compiled.next().expect("one result per source") {
            Ok(p) => rule.prefregex = Some(p),
            Err(e) => {
                return Err(FilterError::Invalid {
                    file,
                    message: format!("prefregex cannot be compiled: {e}"),
                });
            }
        }
    }
    let pref_has_id = rule
        .prefregex
        .as_ref()
        .is_some_and(|p| FAILURE_ID_GROUPS.iter().any(|g| p.has_group(g)));
    for (line, result) in failregex.iter().zip(compiled.by_ref()) {
        match result {
            Ok(p) if pref_has_id || FAILURE_ID_GROUPS.iter().any(|g| p.has_group(g)) => {
                rule.failregex.push(p)
            }
            Ok(_) => rule.unsupported.push(Unsupported {
                pattern: line.clone(),
                reason: "no <HOST>, <ADDR> or <F-ID> group: no offender to count".into(),
            }),
            Err(e) => rule.unsupported.push(Unsupported {
                pattern: line.clone(),
                reason: e.message,
            }),
        }
    }
    for (line, result) in ignoreregex.iter().zip(compiled) {
        match result {
            Ok(mut p) => {
                p.source = line.clone();
                rule.ignoreregex.push(p)
            }
            Err(e) => rule.unsupported.push(Unsupported {
                pattern: line.clone(),
                reason: e.message,
            }),
        }
    }
    if rule.failregex.is_empty() && rule.unsupported.is_empty() {
        return Err(FilterError::Invalid {
            file,
            message: "no failregex".into(),
        });
    }
    Ok(rule)
}
