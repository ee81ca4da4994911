//! What a command line names: the paths it may touch and the hosts it may
//! reach, read the way the shell will act on them. `cd DIR`/`pushd DIR`
//! make later relative words relative to DIR; `sh -c '...'` (and bash,
//! dash, `su -c`, `runuser -c`) and command substitutions are read as
//! scripts of their own; `sudo`, `env`, `nice` and similar wrappers are
//! looked through (the tables are `tejun_runbook::command`'s, shared with
//! the value checker);
//! paths glued to options (`-o/x`, `--output=/x`, `of=/x`) and `file://`
//! URLs are taken apart.

use std::path::{Path, PathBuf};

use tejun_runbook::command;

use super::shell::{self, MAX_DEPTH, Script, Simple, Word};

/// A word that may be a path, as written and as the shell will resolve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathWord {
    /// As written (for messages).
    pub written: String,
    /// Absolute when the directory it is relative to is known.
    pub resolved: String,
    /// Unquoted glob characters: the shell expands it against files.
    pub glob: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Touches {
    pub paths: Vec<PathWord>,
    pub hosts: Vec<String>,
}

/// Reads `command` as the shell will, starting in `cwd` (the directory the
/// command runs in, when known).
pub fn touches(command: &str, cwd: Option<&Path>) -> Touches {
    let mut out = Touches::default();
    let mut cwd = cwd.map(Path::to_path_buf);
    walk(&shell::read(command), &mut cwd, &mut out, 0);
    out
}

fn walk(script: &Script, cwd: &mut Option<PathBuf>, out: &mut Touches, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    // `pushd` stack; `popd` returns to where the last `pushd` came from.
    let mut stack: Vec<Option<PathBuf>> = Vec::new();
    // Set by an explicit `cd`: then every argument is a possible name,
    // since `cd /srv && rm -rf production` touches /srv/production.
    let mut moved = false;
    for (k, simple) in script.commands.iter().enumerate() {
        // What a shell among its words would read from its standard input:
        // heredoc bodies, and the text an `echo`/`printf`/`cat <<EOF`
        // before it in the pipeline writes.
        let mut stdin = simple.heredocs.clone();
        if simple.piped
            && let Some(before) = k.checked_sub(1).map(|p| &script.commands[p])
        {
            stdin.extend(written(before));
        }
        command(simple, &stdin, cwd, &mut stack, &mut moved, out, depth);
    }
    for inner in &script.substitutions {
        let mut inner_cwd = cwd.clone();
        walk(&shell::read(inner), &mut inner_cwd, out, depth + 1);
    }
}

/// The text a command writes to its standard output when it is plain to
/// see: `echo`/`printf` arguments (read joined by spaces and by lines, since
/// `printf '%s\n' a b` writes lines) and `cat`'s heredocs.
fn written(simple: &Simple) -> Vec<String> {
    let texts: Vec<&str> = simple.words.iter().map(|w| w.text.as_str()).collect();
    let at = command::command_start(&texts);
    let Some(name) = texts.get(at).map(|t| command::program_name(t)) else {
        return Vec::new();
    };
    let args = &texts[at + 1..];
    match name {
        "echo" | "printf" => vec![args.join(" "), args.join("\n")],
        "cat" if args.is_empty() => simple.heredocs.clone(),
        _ => Vec::new(),
    }
}

fn command(
    simple: &Simple,
    stdin: &[String],
    cwd: &mut Option<PathBuf>,
    stack: &mut Vec<Option<PathBuf>>,
    moved: &mut bool,
    out: &mut Touches,
    depth: usize,
) {
    for target in &simple.redirects {
        add_path(&target.text, target.glob, cwd.as_deref(), out);
    }
    let words = &simple.words;
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let i = command::command_start(&texts);
    // What comes before the program: assignments (`f=/x cmd`), wrappers,
    // their options and operands (`sudo -D /x`, `flock /run/lock`); a
    // value may be a path.
    for word in &words[..i] {
        let text = word.text.as_str();
        if command::is_assignment(text) {
            let (_, value) = text.split_once('=').unwrap_or_default();
            add_word_value(value, word.glob, cwd.as_deref(), *moved, out);
        } else if text.starts_with('-') {
            add_argument(word, cwd.as_deref(), *moved, out);
        } else if !command::WRAPPERS.contains(&command::program_name(text))
            && !command::KEYWORDS.contains(&text)
            && !text.starts_with(|c: char| c.is_ascii_digit())
        {
            add_word_value(text, word.glob, cwd.as_deref(), *moved, out);
        }
    }
    let Some(program) = words.get(i) else {
        return;
    };
    let name = command::program_name(&program.text);
    let args = &words[i + 1..];
    match name {
        "cd" | "pushd" => {
            let target = args
                .iter()
                .find(|w| !w.text.starts_with('-') || w.text == "-");
            if name == "pushd" {
                stack.push(cwd.clone());
            }
            match target {
                Some(dir) if dir.text != "-" && !dir.dynamic => {
                    add_path(&dir.text, dir.glob, cwd.as_deref(), out);
                    *cwd = Some(join(cwd.as_deref(), &dir.text));
                    *moved = true;
                }
                Some(_) => {
                    *cwd = None;
                }
                None => {
                    *cwd = std::env::var_os("HOME").map(PathBuf::from);
                    *moved = true;
                }
            }
            return;
        }
        "popd" => {
            if let Some(previous) = stack.pop() {
                *cwd = previous;
            } else {
                *cwd = None;
            }
            return;
        }
        _ => {}
    }
    // Scripts a second shell reads: after `-c`, else its standard input
    // (a shell given no script operand, `su`/`runuser` given no `-c`); the
    // words of `eval`.
    let mut scripts: Vec<String> = Vec::new();
    if command::SHELLS.contains(&name) {
        match command::script_after_c(&texts[i + 1..]) {
            Some(script) => scripts.push(command::script_text(&args[script].text).to_string()),
            None if matches!(name, "su" | "runuser")
                || args.iter().all(|w| w.text.starts_with('-')) =>
            {
                scripts.extend(stdin.iter().cloned());
            }
            None => {}
        }
    }
    if name == "eval" {
        scripts.push(texts[i + 1..].join(" "));
    }
    for inner in &scripts {
        let mut inner_cwd = cwd.clone();
        walk(&shell::read(inner), &mut inner_cwd, out, depth + 1);
    }
    // The program itself may be a path (`/srv/production/bin/x`).
    if program.text.contains('/') {
        add_path(&program.text, program.glob, cwd.as_deref(), out);
    }
    for arg in args {
        add_argument(arg, cwd.as_deref(), *moved, out);
    }
}

/// An argument: the word itself, a value glued to an option or after `=`,
/// `file://` URLs, and the host of `user@host:path` and other URLs.
fn add_argument(arg: &Word, cwd: Option<&Path>, moved: bool, out: &mut Touches) {
    let text = arg.text.as_str();
    if let Some(rest) = text.strip_prefix("--") {
        if let Some((_, value)) = rest.split_once('=') {
            add_word_value(value, arg.glob, cwd, moved, out);
        }
        return;
    }
    if let Some(rest) = text.strip_prefix('-') {
        // `-o/path`, `-f./x`: a value glued to a one-letter option.
        let value: String = rest.chars().skip(1).collect();
        if value.contains('/') {
            add_path(value.trim_start_matches('='), arg.glob, cwd, out);
        }
        if let Some((_, v)) = rest.split_once('=') {
            add_word_value(v, arg.glob, cwd, moved, out);
        }
        add_host(&value, out);
        return;
    }
    add_word_value(text, arg.glob, cwd, moved, out);
    // `of=/dev/x`, `key=/path`.
    if let Some((_, value)) = text.split_once('=')
        && !value.is_empty()
    {
        add_word_value(value, arg.glob, cwd, moved, out);
    }
}

/// A word that may be a path or a host.
fn add_word_value(text: &str, glob: bool, cwd: Option<&Path>, moved: bool, out: &mut Touches) {
    if text.is_empty() {
        return;
    }
    if let Some((scheme, rest)) = text.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            // file:///x and file://localhost/x
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            add_path(path, glob, cwd, out);
        } else {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            add_host(authority, out);
        }
        return;
    }
    add_host(text, out);
    if looks_like_path(text) || moved {
        add_path(text, glob, cwd, out);
    }
    // `user@host:/path` (scp, rsync) names a remote path: only the host.
}

/// The host part of `user@host`, `host:port`, `user@host:path`, lower case,
/// without a trailing dot.
fn add_host(text: &str, out: &mut Touches) {
    let after_user = text.rsplit('@').next().unwrap_or(text);
    let host = after_user.split(':').next().unwrap_or(after_user);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !host.is_empty() && !host.starts_with('-') && !host.contains('/') {
        out.hosts.push(host.to_string());
    }
}

fn add_path(text: &str, glob: bool, cwd: Option<&Path>, out: &mut Touches) {
    if text.is_empty() {
        return;
    }
    let resolved = join(cwd, text).display().to_string();
    out.paths.push(PathWord {
        written: text.to_string(),
        resolved,
        glob,
    });
}

/// `text` relative to `cwd` when it is relative and `cwd` known; `~` is the
/// home directory. Words of commands and declared paths resolve alike.
pub(super) fn join(cwd: Option<&Path>, text: &str) -> PathBuf {
    let expanded = match text.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match std::env::var_os("HOME") {
            Some(home) => format!("{}{rest}", home.to_string_lossy()),
            None => text.to_string(),
        },
        _ => text.to_string(),
    };
    let path = Path::new(&expanded);
    match cwd {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Contains `/`, or is a `name.ext`.
pub fn looks_like_path(piece: &str) -> bool {
    if piece.is_empty() || piece.starts_with('-') {
        return false;
    }
    if piece.contains('/') {
        return true;
    }
    let has_extension = Path::new(piece).extension().is_some_and(|ext| {
        ext.to_string_lossy()
            .chars()
            .any(|c| c.is_ascii_alphabetic())
    });
    has_extension && piece.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(command: &str) -> Vec<String> {
        touches(command, None)
            .paths
            .into_iter()
            .map(|p| p.resolved)
            .collect()
    }

    #[test]
    fn cd_makes_later_words_relative_to_it() {
        let paths = resolved("cd /srv/production && sed -i s/a/b/ app.conf");
        assert!(
            paths.contains(&"/srv/production/app.conf".to_string()),
            "{paths:?}"
        );
        let paths = resolved("cd /srv && rm -rf production");
        assert!(paths.contains(&"/srv/production".to_string()), "{paths:?}");
        let paths = resolved("pushd /srv/p; touch x; popd; touch y.conf");
        assert!(paths.contains(&"/srv/p/x".to_string()), "{paths:?}");
        assert!(paths.contains(&"y.conf".to_string()), "{paths:?}");
    }

    #[test]
    fn options_inner_shells_and_urls_are_taken_apart() {
        let paths = resolved(
            "sort -o/srv/a x; cp --target-directory=/srv/b y; sh -c ' >> /srv/c'; curl file:///srv/d; dd of=/srv/e; sudo -u root bash -ec 'cd /srv && touch f'; sudo -s -E sh -c 'cd /srv && rm -rf g'",
        );
        for want in [
            "/srv/a", "/srv/b", "/srv/c", "/srv/d", "/srv/e", "/srv/f", "/srv/g",
        ] {
            assert!(paths.contains(&want.to_string()), "{want} in {paths:?}");
        }
    }

    /// Any text, however broken, is read without panicking (the guard runs
    /// on whatever an author wrote, with whatever values were given).
    #[test]
    fn arbitrary_text_never_panics() {
        let alphabet: Vec<char> = "ab/.*?[]{}()$`'\"\\ \n;&|<>=-#~@:012cdshé"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = touches(&text, Some(Path::new("/srv")));
            let _ = touches(&format!("sh -c '{text}'; cd {text} && x $({text}"), None);
        }
    }

    #[test]
    fn join_resolves_relative_words_and_the_home_directory() {
        assert_eq!(join(Some(Path::new("/srv")), "a/b"), Path::new("/srv/a/b"));
        assert_eq!(join(Some(Path::new("/srv")), "/etc/x"), Path::new("/etc/x"));
        assert_eq!(join(None, "a"), Path::new("a"));
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                join(Some(Path::new("/srv")), "~/x"),
                Path::new(&home).join("x")
            );
        }
    }

    #[test]
    fn scripts_fed_to_a_shell_are_read() {
        for command in [
            "sh <<EOF\ncd /srv && rm -rf g\nEOF",
            "cat <<'A' | sudo -u root bash -s\nrm -rf /srv/g\nA",
            "echo 'rm -rf /srv/g' | sh",
            "eval 'cd /srv &&' rm -rf g",
            "runuser -u app -- sh -c 'rm -rf /srv/g'",
        ] {
            let paths = resolved(command);
            assert!(
                paths.contains(&"/srv/g".to_string()),
                "{command}: {paths:?}"
            );
        }
        // A heredoc into a program that is not a shell is data.
        let paths = resolved("cat > /tmp/x.txt <<EOF\nrm -rf /srv/g\nEOF");
        assert!(!paths.contains(&"/srv/g".to_string()), "{paths:?}");
    }

    #[test]
    fn hosts_lose_users_ports_and_schemes() {
        let hosts = touches(
            "ssh -p 22 deploy@WEB1.example. ls; curl https://web2:8443/x",
            None,
        )
        .hosts;
        assert!(hosts.contains(&"WEB1.example.".to_string()), "{hosts:?}");
        assert!(hosts.contains(&"web2".to_string()), "{hosts:?}");
    }
}
