//! fail2ban's configuration files: Python `configparser` with includes.
//!
//! A filter is read the way fail2ban reads it, so an unmodified
//! `/etc/fail2ban/filter.d/*.conf` means the same here: `name.conf` then
//! `name.local`, each preceded by its `[INCLUDES] before` files and followed
//! by its `after` files (resolved next to the including file; missing
//! includes are skipped as fail2ban does), `[DEFAULT]` visible from every
//! section, continuation lines, `#`/`;` comments, and `%(name)s` /
//! `%(section/name)s` interpolation with `%%` for a literal percent.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem, with the file and line where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

/// Where an option was set, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

/// Sections → options → (raw value, where it was set).
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub sections: BTreeMap<String, BTreeMap<String, (String, Origin)>>,
    /// Files read, in order.
    pub files: Vec<PathBuf>,
}

const MAX_INCLUDE_DEPTH: usize = 10;
const MAX_INTERPOLATION_DEPTH: usize = 20;

impl Config {
    /// Reads `path` (a `.conf`) and its `.local` sibling with all includes.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let text = std::fs::read(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        config.read_with_includes(path, &String::from_utf8_lossy(&text), 0)?;
        let local = path.with_extension("local");
        if local != path
            && let Ok(text) = std::fs::read(&local)
        {
            config.read_with_includes(&local, &String::from_utf8_lossy(&text), 0)?;
        }
        Ok(config)
    }

    /// Parses text as if read from `path` (includes resolve next to it).
    pub fn from_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.read_with_includes(path, text, 0)?;
        Ok(config)
    }

    fn read_with_includes(
        &mut self,
        path: &Path,
        text: &str,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if depth > MAX_INCLUDE_DEPTH {
            return Err(ConfigError {
                file: path.display().to_string(),
                line: 0,
                message: "includes nested too deeply (a cycle?)".into(),
            });
        }
        let parsed = parse(path, text)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let includes = |key: &str| -> Vec<PathBuf> {
            parsed
                .get("INCLUDES")
                .and_then(|s| s.get(key))
                .map(|(v, _)| v.split_whitespace().map(|f| dir.join(f)).collect())
                .unwrap_or_default()
        };
        for before in includes("before") {
            self.include(&before, depth)?;
        }
        self.files.push(path.to_path_buf());
        for (section, options) in &parsed {
            if section == "INCLUDES" {
                continue;
            }
            let target = self.sections.entry(section.clone()).or_default();
            for (key, value) in options {
                // fail2ban keeps the overridden value as `known/<name>`.
                if let Some(old) = target.insert(key.clone(), value.clone()) {
                    target.insert(format!("known/{key}"), old);
                }
            }
        }
        for after in includes("after") {
            self.include(&after, depth)?;
        }
        Ok(())
    }

    /// An included file and its `.local`; missing files are skipped (fail2ban
    /// includes `common.local` and friends that usually do not exist).
    fn include(&mut self, path: &Path, depth: usize) -> Result<(), ConfigError> {
        let mut candidates = vec![path.to_path_buf()];
        if path.extension().is_some_and(|e| e == "conf") {
            candidates.push(path.with_extension("local"));
        }
        for candidate in candidates {
            if let Ok(bytes) = std::fs::read(&candidate) {
                self.read_with_includes(&candidate, &String::from_utf8_lossy(&bytes), depth + 1)?;
            }
        }
        Ok(())
    }

    /// Sets an option (used for `filter[name=value]` options and tests).
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        let origin = Origin {
            file: "<option>".into(),
            line: 0,
        };
        self.sections
            .entry(section.into())
            .or_default()
            .insert(key.into(), (value.into(), origin));
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    /// The raw value: the section's own, else `[DEFAULT]`'s.
    pub fn raw(&self, section: &str, key: &str) -> Option<&(String, Origin)> {
        self.sections
            .get(section)
            .and_then(|s| s.get(key))
            .or_else(|| self.sections.get("DEFAULT").and_then(|s| s.get(key)))
    }

    /// The interpolated value of `section/key`; `overrides` win over every
    /// file value (filter options like `sshd[mode=aggressive]`).
    pub fn get(
        &self,
        section: &str,
        key: &str,
        overrides: &HashMap<String, String>,
    ) -> Result<Option<String>, ConfigError> {
        if let Some(v) = overrides.get(key) {
            return Ok(Some(v.clone()));
        }
        match self.raw(section, key) {
            Some((raw, origin)) => self
                .interpolate(section, raw, origin, overrides, 0)
                .map(Some),
            None => Ok(None),
        }
    }

    fn interpolate(
        &self,
        section: &str,
        raw: &str,
        origin: &Origin,
        overrides: &HashMap<String, String>,
        depth: usize,
    ) -> Result<String, ConfigError> {
        let err = |message: String| ConfigError {
            file: origin.file.clone(),
            line: origin.line,
            message,
        };
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(err("interpolation nested too deeply (a cycle?)".into()));
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            rest = &rest[pos..];
            if let Some(r) = rest.strip_prefix("%%") {
                out.push('%');
                rest = r;
            } else if let Some(r) = rest.strip_prefix("%(") {
                let Some(end) = r.find(")s") else {
                    return Err(err(format!(
                        "bad interpolation syntax in {raw:?}: '%(' without ')s'"
                    )));
                };
                let name = &r[..end];
                rest = &r[end + 2..];
                let (sec, key) = match name.split_once('/') {
                    Some((s, k)) if self.has_section(s) => (s, k),
                    _ => (section, name),
                };
                let value = if let Some(v) = overrides.get(key) {
                    v.clone()
                } else if let Some(base) = key.strip_prefix("known/")
                    && self.sections.get(sec).is_none_or(|s| !s.contains_key(key))
                    && sec != "DEFAULT"
                    && let Some((v, o)) = self.sections.get("DEFAULT").and_then(|d| d.get(base))
                {
                    // `known/x` in a section that overrides x: the inherited
                    // ([DEFAULT]) value.
                    self.interpolate("DEFAULT", v, o, overrides, depth + 1)?
                } else if let Some((v, o)) = self.raw(sec, key) {
                    self.interpolate(sec, v, o, overrides, depth + 1)?
                } else if key == "__name__" {
                    sec.to_string()
                } else {
                    return Err(err(format!("unknown option %({name})s in [{section}]")));
                };
                out.push_str(&value);
            } else {
                // Python rejects a lone '%'; fail2ban files never contain one.
                return Err(err(format!("'%' must be written '%%' in {raw:?}")));
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Cuts an inline `;` comment the way fail2ban's parser does (Python's
/// `configparser` with `inline_comment_prefixes=(";",)`): a `;` at the
/// start of the line or after whitespace starts a comment; one glued to a
/// word (`a;b`) is kept. `#` is a comment only at the start of a line.
/// Returns the line before the comment and whether one was cut.
fn strip_inline_comment(line: &str) -> (&str, bool) {
    // Python's str.isspace also counts the separators \x1c..\x1f.
    let space = |c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c);
    let mut previous: Option<char> = None;
    for (index, c) in line.char_indices() {
        if c == ';' && previous.is_none_or(space) {
            return (&line[..index], true);
        }
        previous = Some(c);
    }
    (line, false)
}

type Sections = BTreeMap<String, BTreeMap<String, (String, Origin)>>;

/// Parses one file in `configparser` syntax.
fn parse(path: &Path, text: &str) -> Result<Sections, ConfigError> {
    let file = path.display().to_string();
    let mut sections: Sections = BTreeMap::new();
    let mut section: Option<String> = None;
    let mut current: Option<String> = None;
    let mut pending_blank = 0usize;
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let whole = raw_line.trim_end_matches('\r');
        if whole.trim().starts_with('#') || whole.trim().starts_with(';') {
            continue;
        }
        let (line, had_comment) = strip_inline_comment(whole);
        let stripped = line.trim();
        if stripped.is_empty() && had_comment {
            // configparser: a line that held only a comment adds no blank
            // line to a value.
            continue;
        }
        if stripped.is_empty() {
            if current.is_some() {
                pending_blank += 1;
            }
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented && let (Some(sec), Some(key)) = (&section, &current) {
            let value = &mut sections
                .get_mut(sec)
                .and_then(|s| s.get_mut(key))
                .expect("current option exists")
                .0;
            for _ in 0..pending_blank {
                value.push('\n');
            }
            pending_blank = 0;
            value.push('\n');
            value.push_str(stripped);
            continue;
        }
        pending_blank = 0;
        if stripped.starts_with('[') {
            let Some(name) = stripped.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
                return Err(ConfigError {
                    file,
                    line: line_no,
                    message: format!("bad section header {stripped:?}"),
                });
            };
            section = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
            current = None;
            continue;
        }
        let Some(sec) = &section else {
            return Err(ConfigError {
                file,
                line: line_no,
                message: "option outside any [section]".into(),
            });
        };
        let Some(delim) = stripped.find(['=', ':']) else {
            return Err(ConfigError {
                file,
                line: line_no,
                message: format!("expected 'name = value', found {stripped:?}"),
            });
        };
        let key = stripped[..delim].trim().to_string();
        let value = stripped[delim + 1..].trim().to_string();
        sections.get_mut(sec).expect("section exists").insert(
            key.clone(),
            (
                value,
                Origin {
                    file: file.clone(),
                    line: line_no,
                },
            ),
        );
        current = Some(key);
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_semicolon_comments_are_cut_as_configparser_does() {
        assert_eq!(strip_inline_comment("a = b ; note"), ("a = b ", true));
        assert_eq!(strip_inline_comment("a = b\t; note"), ("a = b\t", true));
        assert_eq!(strip_inline_comment("a = b;c"), ("a = b;c", false));
        assert_eq!(
            strip_inline_comment("a = b # not a comment"),
            ("a = b # not a comment", false)
        );
        assert_eq!(strip_inline_comment("  ; only"), ("  ", true));
        assert_eq!(strip_inline_comment("a = x;y ;z"), ("a = x;y ", true));
    }

    #[test]
    fn continuation_comments_and_interpolation() {
        let text = "[DEFAULT]\n_daemon = sshd\n[Definition]\nfailregex = ^a %(_daemon)s\n   # comment\n   ^b 100%%\nx = %(missing)s\n";
        let cfg = Config::from_text(Path::new("/nonexistent/f.conf"), text).unwrap();
        let none = HashMap::new();
        assert_eq!(
            cfg.get("Definition", "failregex", &none).unwrap().unwrap(),
            "^a sshd\n^b 100%"
        );
        let err = cfg.get("Definition", "x", &none).unwrap_err();
        assert!(err.to_string().contains("f.conf:7"), "{err}");
        let mut opts = HashMap::new();
        opts.insert("_daemon".to_string(), "dovecot".to_string());
        assert_eq!(
            cfg.get("Definition", "failregex", &opts).unwrap().unwrap(),
            "^a dovecot\n^b 100%"
        );
    }

    #[test]
    fn bad_lines_name_their_location() {
        let err = Config::from_text(Path::new("f.conf"), "[A]\nnonsense\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.conf:2: expected 'name = value', found \"nonsense\""
        );
        let err = Config::from_text(Path::new("f.conf"), "x = 1\n").unwrap_err();
        assert_eq!(err.line, 1);
    }
}
