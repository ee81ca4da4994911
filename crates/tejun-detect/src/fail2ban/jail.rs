//! Jail settings (findtime / maxretry / bantime / filter options) from
//! `jail.conf` / `jail.local`.

use std::collections::HashMap;
use std::path::Path;

use crate::fail2ban::config::{Config, ConfigError};
use crate::fail2ban::filter::parse_filter_spec;

/// What a jail contributes to a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailSettings {
    pub name: String,
    pub findtime: u64,
    pub maxretry: u32,
    pub bantime: i64,
    /// Options from the jail's `filter = name[...]` line.
    pub filter_options: HashMap<String, String>,
    /// `backend` (`systemd` reads the journal; `auto`, `polling`, ...
    /// read `logpath`).
    pub backend: Option<String>,
    /// The jail's own `journalmatch`, which replaces the filter's.
    pub journalmatch: Option<String>,
}

/// Reads jail `name` from `path`. `jail.local` is read together with its
/// `jail.conf` sibling (the `.local` overrides), as fail2ban does.
pub fn load_jail(path: &Path, name: &str) -> Result<JailSettings, ConfigError> {
    let conf = if path.extension().is_some_and(|e| e == "local")
        && path.with_extension("conf").is_file()
    {
        path.with_extension("conf")
    } else {
        path.to_path_buf()
    };
    let config = Config::load(&conf)?;
    jail_from_config(&config, &conf.display().to_string(), name)
}

pub fn jail_from_config(
    config: &Config,
    file: &str,
    name: &str,
) -> Result<JailSettings, ConfigError> {
    if !config.has_section(name) {
        return Err(ConfigError {
            file: file.to_string(),
            line: 0,
            message: format!("no jail [{name}]"),
        });
    }
    let none = HashMap::new();
    let mut vars = HashMap::new();
    vars.insert("__name__".to_string(), name.to_string());
    let get = |key: &str| config.get(name, key, &vars);
    let time = |key: &str, default: i64| -> Result<i64, ConfigError> {
        match get(key)? {
            Some(v) => parse_duration(&v).ok_or_else(|| {
                let line = config.raw(name, key).map_or(0, |(_, o)| o.line);
                ConfigError {
                    file: file.to_string(),
                    line,
                    message: format!("{key}: not a duration: {v:?}"),
                }
            }),
            None => Ok(default),
        }
    };
    let findtime = time("findtime", 600)?.max(0) as u64;
    let bantime = time("bantime", 600)?;
    let maxretry = match get("maxretry")? {
        Some(v) => v.trim().parse().map_err(|_| ConfigError {
            file: file.to_string(),
            line: config.raw(name, "maxretry").map_or(0, |(_, o)| o.line),
            message: format!("maxretry: not a number: {v:?}"),
        })?,
        None => 5,
    };
    let filter_options = match get("filter") {
        Ok(Some(spec)) => parse_filter_spec(&spec).1,
        _ => none,
    };
    Ok(JailSettings {
        name: name.to_string(),
        findtime,
        maxretry,
        bantime,
        filter_options,
        backend: get("backend")
            .ok()
            .flatten()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty()),
        journalmatch: get("journalmatch")
            .ok()
            .flatten()
            .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|m| !m.is_empty()),
    })
}

/// fail2ban durations: `600`, `10m`, `1h30m`, `1d`, `2w`, `-1` (forever).
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let mut total: i64 = 0;
    let mut rest = text;
    let mut any = false;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: f64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let seconds = match unit.to_ascii_lowercase().as_str() {
            "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "mi" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 604_800.0,
            "mo" | "month" | "months" => 2_592_000.0,
            "y" | "year" | "years" => 31_536_000.0,
            _ => return None,
        };
        total += (value * seconds) as i64;
        any = true;
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600"), Some(600));
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("1d"), Some(86400));
        assert_eq!(parse_duration("-1"), Some(-1));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn jail_sections_and_defaults() {
        let text = "[DEFAULT]\nbantime = 1h\nfindtime = 10m\nmaxretry = 5\nfilter = %(__name__)s[mode=%(mode)s]\nmode = normal\n[sshd]\nmaxretry = 3\nbantime = 1d\nmode = aggressive\n";
        let cfg = Config::from_text(Path::new("jail.local"), text).unwrap();
        let jail = jail_from_config(&cfg, "jail.local", "sshd").unwrap();
        assert_eq!(
            (jail.findtime, jail.maxretry, jail.bantime),
            (600, 3, 86400)
        );
        assert_eq!(
            jail.filter_options.get("mode").map(String::as_str),
            Some("aggressive")
        );
        assert!(jail_from_config(&cfg, "jail.local", "nope").is_err());
    }
}
