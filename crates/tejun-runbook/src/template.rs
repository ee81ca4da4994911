//! `{{name}}` placeholders and their substitution.
//!
//! Commands run with values referenced through the environment (see
//! [`crate::shell`]); the shell-quoted rendering here is the readable form
//! `tejun plan`, the terminal, the journal and the guard see. Prompts and
//! paths are substituted raw, because they never reach a shell.

use indexmap::IndexMap;

use crate::model::Template;

/// How a substituted value is written into the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// POSIX-shell single-quoted, for command lines.
    Shell,
    /// As is, for prompts and file paths.
    Raw,
}

/// A placeholder found in a template: the variable name and its byte range
/// (the whole `{{ name }}`) within the template source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder<'a> {
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
}

/// Finds every `{{ name }}` in `source`. Names are `[A-Za-z_][A-Za-z0-9_]*`;
/// whitespace inside the braces is allowed. `{{` that does not form a valid
/// placeholder is returned as an error with its byte offset. `\{{` is a
/// literal `{{` (for Go templates such as `docker inspect --format
/// '\{{.State.Status}}'`) and is not a placeholder.
pub fn placeholders(source: &str) -> Result<Vec<Placeholder<'_>>, usize> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(open) = source[rest..].find("{{") {
        let start = rest + open;
        if source[..start].ends_with('\\') {
            rest = start + 2;
            continue;
        }
        let inner_start = start + 2;
        let Some(close) = source[inner_start..].find("}}") else {
            return Err(start);
        };
        let inner_end = inner_start + close;
        let name = source[inner_start..inner_end].trim();
        if !is_identifier(name) {
            return Err(start);
        }
        found.push(Placeholder {
            name,
            start,
            end: inner_end + 2,
        });
        rest = inner_end + 2;
    }
    Ok(found)
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Substitutes every placeholder. Templates are validated at parse time, so
/// an unknown name here is a bug in the caller; it renders as empty (quoted
/// `''` under [`Quoting::Shell`]) rather than panicking.
pub fn render(template: &Template, vars: &IndexMap<String, String>, quoting: Quoting) -> String {
    render_str(&template.source, vars, quoting)
}

pub fn render_str(source: &str, vars: &IndexMap<String, String>, quoting: Quoting) -> String {
    let Ok(found) = placeholders(source) else {
        return unescape(source).into_owned();
    };
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for p in found {
        out.push_str(&unescape(&source[last..p.start]));
        let value = vars.get(p.name).map(String::as_str).unwrap_or("");
        match quoting {
            Quoting::Raw => out.push_str(value),
            Quoting::Shell => out.push_str(&shell_quote(value)),
        }
        last = p.end;
    }
    out.push_str(&unescape(&source[last..]));
    out
}

/// Literal text between placeholders: `\{{` stands for `{{`.
fn unescape(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\\{{") {
        text.replace("\\{{", "{{").into()
    } else {
        text.into()
    }
}

/// Quotes `value` as one POSIX shell word. Plain words stay readable
/// (`/etc/nginx/site.conf`); anything else is single-quoted with embedded
/// quotes written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn finds_placeholders_with_spaces() {
        let found = placeholders("cp {{ src }} {{dst}}").unwrap();
        let names: Vec<_> = found.iter().map(|p| p.name).collect();
        assert_eq!(names, ["src", "dst"]);
    }

    #[test]
    fn rejects_unterminated_and_bad_names() {
        assert_eq!(placeholders("echo {{ x"), Err(5));
        assert_eq!(placeholders("echo {{ 1x }}"), Err(5));
    }

    #[test]
    fn shell_quoting_keeps_injection_in_one_word() {
        let out = render_str(
            "echo {{v}}",
            &vars(&[("v", "x'; rm -rf / #")]),
            Quoting::Shell,
        );
        assert_eq!(out, r#"echo 'x'\''; rm -rf / #'"#);
        let out = render_str("echo {{v}}", &vars(&[("v", "$(id)`id`")]), Quoting::Shell);
        assert_eq!(out, "echo '$(id)`id`'");
        let out = render_str("echo {{v}}", &vars(&[("v", "")]), Quoting::Shell);
        assert_eq!(out, "echo ''");
    }

    #[test]
    fn backslash_escapes_literal_braces() {
        let src = r"docker inspect --format '\{{.State.Status}}' {{name}}";
        let found = placeholders(src).unwrap();
        assert_eq!(found.len(), 1);
        let out = render_str(src, &vars(&[("name", "web")]), Quoting::Shell);
        assert_eq!(out, "docker inspect --format '{{.State.Status}}' web");
    }

    #[test]
    fn raw_substitution_for_paths() {
        let out = render_str(
            "{{dir}}/site.conf",
            &vars(&[("dir", "/tmp/a b")]),
            Quoting::Raw,
        );
        assert_eq!(out, "/tmp/a b/site.conf");
    }
}
