//! How the shell will read each `{{name}}` of a command, and the command
//! the engine runs.
//!
//! Values are data, never code: a command runs with every value in its
//! environment (`TEJUN_VAR_<name>`) and the command text only references it
//! (`"${TEJUN_VAR_name}"`), so the shell expands a value but never parses
//! it, wherever the placeholder sits in the step's own command: a word, a
//! double-quoted string, an unquoted heredoc body, a comment. What stays
//! code is text handed to a *second* interpreter (`sh -c`, `ssh`, `eval`,
//! `sed`/`awk`/`perl`/`python` program text, a heredoc or pipe into a
//! shell): [`analyze`] finds those so the parser can refuse a variable
//! there unless its type constrains it. Finding them is a reading of the
//! command's text, not a proof: docs/runbook.md says what it covers.

use crate::command;
use crate::template::{Placeholder, placeholders};

/// The environment variable a command reads `name`'s value from.
pub fn env_name(name: &str) -> String {
    format!("TEJUN_VAR_{name}")
}

/// Where the shell meets a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A word of the command, unquoted.
    Plain,
    /// Inside `"..."`.
    Double,
    /// Inside `'...'`: the shell cannot substitute anything there.
    Single,
    /// After `#`: never read by the shell.
    Comment,
    /// A heredoc body; `quoted` (`<<'EOF'`) means no substitution.
    Heredoc { quoted: bool },
    /// Inside `$((...))` or `((...))`: the value is evaluated as an
    /// arithmetic expression (in bash, `a[$(cmd)]` there runs `cmd`).
    Arithmetic,
}

/// A placeholder, where the shell reads it, and the second interpreter its
/// value would be program text for, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site<'a> {
    pub placeholder: Placeholder<'a>,
    pub context: Context,
    pub interpreter: Option<&'static str>,
}

/// The command the engine runs: each placeholder replaced by a reference to
/// its environment variable, written for the context it sits in.
pub fn render_command(source: &str) -> String {
    let Ok(sites) = analyze(source) else {
        return source.to_string();
    };
    let mut out = String::with_capacity(source.len() + sites.len() * 16);
    let mut last = 0;
    for site in &sites {
        let p = &site.placeholder;
        out.push_str(&unescape(&source[last..p.start]));
        let var = env_name(p.name);
        match site.context {
            Context::Plain => {
                out.push_str("\"${");
                out.push_str(&var);
                out.push_str("}\"");
            }
            // Refused by the parser; should one get here, close the
            // quotes so the value is still a double-quoted expansion.
            Context::Single => {
                out.push_str("'\"${");
                out.push_str(&var);
                out.push_str("}\"'");
            }
            // Arithmetic takes no quotes (dash refuses them); the value is
            // constrained to a number by the parser.
            Context::Double | Context::Comment | Context::Heredoc { .. } | Context::Arithmetic => {
                out.push_str("${");
                out.push_str(&var);
                out.push('}');
            }
        }
        last = p.end;
    }
    out.push_str(&unescape(&source[last..]));
    out
}

fn unescape(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\\{{") {
        text.replace("\\{{", "{{").into()
    } else {
        text.into()
    }
}

/// One word of a simple command: its text as written (quotes kept) and
/// the sites inside it.
#[derive(Default)]
struct Word {
    text: String,
    sites: Vec<usize>,
}

#[derive(Default)]
struct Cmd {
    words: Vec<Word>,
    /// Pending heredocs this command opened (indices into `heredocs`).
    heredocs: Vec<usize>,
}

/// A level of shell code: the top, or inside `$(...)` / backticks.
#[derive(Default)]
struct Frame {
    pipeline: Vec<Cmd>,
    current: Cmd,
    word: Option<Word>,
    in_comment: bool,
    /// `(` subshells open inside this frame.
    parens: usize,
    backtick: bool,
    /// `$((...))`: `<<` is a shift there, not a heredoc.
    arithmetic: bool,
}

enum Level {
    Code(Frame),
    Double,
    Single,
}

struct Heredoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
    interpreter: Option<&'static str>,
}

/// Reads `source` as the shell will and places every placeholder. `Err`
/// carries the offset of a malformed placeholder.
pub fn analyze(source: &str) -> Result<Vec<Site<'_>>, usize> {
    let found = placeholders(source)?;
    let mut sites: Vec<Site> = Vec::with_capacity(found.len());
    if found.is_empty() {
        return Ok(sites);
    }
    let bytes = source.as_bytes();
    let mut next = found.into_iter().peekable();
    let mut stack = vec![Level::Code(Frame::default())];
    let mut heredocs: Vec<Heredoc> = Vec::new();
    // Heredocs whose bodies start at the next newline, in order.
    let mut queued: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(p) = next.peek()
            && p.start == i
        {
            let p = next.next().expect("peeked");
            i = p.end;
            let context = match stack.last() {
                Some(Level::Double) => Context::Double,
                Some(Level::Single) => Context::Single,
                Some(Level::Code(f)) if f.in_comment => Context::Comment,
                Some(Level::Code(f)) if f.arithmetic => Context::Arithmetic,
                _ => Context::Plain,
            };
            let index = sites.len();
            sites.push(Site {
                placeholder: p,
                context,
                interpreter: (context == Context::Arithmetic).then_some("shell arithmetic"),
            });
            if context != Context::Comment {
                let frame = code_frame(&mut stack);
                frame
                    .word
                    .get_or_insert_with(Word::default)
                    .sites
                    .push(index);
            }
            continue;
        }
        let b = bytes[i];
        match stack.last_mut().expect("never empty") {
            Level::Single => {
                if b == b'\'' {
                    stack.pop();
                }
                push_char(&mut stack, b);
                i += 1;
            }
            Level::Double => {
                match b {
                    b'\\' if i + 1 < bytes.len() => {
                        push_char(&mut stack, b);
                        push_char(&mut stack, bytes[i + 1]);
                        i += 2;
                        continue;
                    }
                    b'"' => {
                        stack.pop();
                    }
                    b'$' if bytes.get(i + 1) == Some(&b'(') => {
                        push_char(&mut stack, b'$');
                        stack.push(Level::Code(Frame {
                            arithmetic: bytes.get(i + 2) == Some(&b'('),
                            ..Frame::default()
                        }));
                        i += 2;
                        continue;
                    }
                    b'`' => {
                        stack.push(Level::Code(Frame {
                            backtick: true,
                            ..Frame::default()
                        }));
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
                push_char(&mut stack, b);
                i += 1;
            }
            Level::Code(frame) => {
                if frame.in_comment {
                    if b == b'\n' {
                        frame.in_comment = false;
                        end_pipeline(frame, &mut sites, &mut heredocs);
                        if stack.len() == 1 && !queued.is_empty() {
                            i = heredoc_bodies(
                                source,
                                i + 1,
                                &mut queued,
                                &heredocs,
                                &mut next,
                                &mut sites,
                            );
                            continue;
                        }
                    }
                    i += 1;
                    continue;
                }
                match b {
                    b'\\' => {
                        // A backslash-newline joins lines; any other escaped
                        // byte is part of the word.
                        if bytes.get(i + 1) != Some(&b'\n') {
                            push_char(&mut stack, b);
                            if let Some(&c) = bytes.get(i + 1) {
                                push_char(&mut stack, c);
                            }
                        }
                        i += 2;
                    }
                    b'\'' => {
                        push_char(&mut stack, b);
                        stack.push(Level::Single);
                        i += 1;
                    }
                    b'"' => {
                        push_char(&mut stack, b);
                        stack.push(Level::Double);
                        i += 1;
                    }
                    b'#' if frame.word.is_none() => {
                        frame.in_comment = true;
                        i += 1;
                    }
                    b'$' if bytes.get(i + 1) == Some(&b'(') => {
                        push_char(&mut stack, b'$');
                        stack.push(Level::Code(Frame {
                            arithmetic: bytes.get(i + 2) == Some(&b'('),
                            ..Frame::default()
                        }));
                        i += 2;
                    }
                    b'`' if frame.backtick => {
                        end_pipeline(frame, &mut sites, &mut heredocs);
                        stack.pop();
                        i += 1;
                    }
                    b'`' => {
                        stack.push(Level::Code(Frame {
                            backtick: true,
                            ..Frame::default()
                        }));
                        i += 1;
                    }
                    // `((` (adjacent) is arithmetic, up to its `))`; two
                    // subshells `( (` or `(cd x && (` are not.
                    b'(' if bytes.get(i + 1) == Some(&b'(') => {
                        end_pipeline(frame, &mut sites, &mut heredocs);
                        stack.push(Level::Code(Frame {
                            arithmetic: true,
                            parens: 1,
                            ..Frame::default()
                        }));
                        i += 2;
                    }
                    b'(' => {
                        end_pipeline(frame, &mut sites, &mut heredocs);
                        frame.parens += 1;
                        i += 1;
                    }
                    b')' => {
                        end_pipeline(frame, &mut sites, &mut heredocs);
                        if frame.parens > 0 {
                            frame.parens -= 1;
                        } else if stack.len() > 1 {
                            stack.pop();
                        }
                        i += 1;
                    }
                    // `((a << 2))` and `$((a << 2))` shift; `<<<` is a here-string.
                    b'<' if bytes.get(i + 1) == Some(&b'<')
                        && bytes.get(i + 2) != Some(&b'<')
                        && !frame.arithmetic =>
                    {
                        end_word(frame);
                        let (heredoc, after) = heredoc_operator(source, i + 2);
                        if let Some(heredoc) = heredoc {
                            frame.current.heredocs.push(heredocs.len());
                            queued.push(heredocs.len());
                            heredocs.push(heredoc);
                        }
                        i = after;
                    }
                    b'|' => {
                        end_word(frame);
                        if bytes.get(i + 1) == Some(&b'|') {
                            end_pipeline(frame, &mut sites, &mut heredocs);
                            i += 2;
                        } else {
                            let cmd = std::mem::take(&mut frame.current);
                            frame.pipeline.push(cmd);
                            i += 1;
                        }
                    }
                    b';' | b'&' => {
                        end_pipeline(frame, &mut sites, &mut heredocs);
                        i += 1;
                    }
                    b'\n' => {
                        end_pipeline(frame, &mut sites, &mut heredocs);
                        i += 1;
                        if stack.len() == 1 && !queued.is_empty() {
                            i = heredoc_bodies(
                                source,
                                i,
                                &mut queued,
                                &heredocs,
                                &mut next,
                                &mut sites,
                            );
                        }
                    }
                    b' ' | b'\t' => {
                        end_word(frame);
                        i += 1;
                    }
                    _ => {
                        push_char(&mut stack, b);
                        i += 1;
                    }
                }
            }
        }
    }
    for level in stack.iter_mut().rev() {
        if let Level::Code(frame) = level {
            end_pipeline(frame, &mut sites, &mut heredocs);
        }
    }
    // A heredoc never terminated still has its body read to the end.
    Ok(sites)
}

fn code_frame(stack: &mut [Level]) -> &mut Frame {
    stack
        .iter_mut()
        .rev()
        .find_map(|l| match l {
            Level::Code(f) => Some(f),
            _ => None,
        })
        .expect("the bottom level is code")
}

fn push_char(stack: &mut [Level], b: u8) {
    let frame = code_frame(stack);
    frame
        .word
        .get_or_insert_with(Word::default)
        .text
        .push(b as char);
}

fn end_word(frame: &mut Frame) {
    if let Some(word) = frame.word.take() {
        frame.current.words.push(word);
    }
}

/// Reads `<<[-] DELIM` from `at` (just after `<<`); returns the heredoc and
/// where the operator ends.
fn heredoc_operator(source: &str, mut at: usize) -> (Option<Heredoc>, usize) {
    let bytes = source.as_bytes();
    let strip_tabs = bytes.get(at) == Some(&b'-');
    if strip_tabs {
        at += 1;
    }
    while matches!(bytes.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    let start = at;
    let mut in_quote: Option<u8> = None;
    while let Some(&b) = bytes.get(at) {
        match in_quote {
            Some(q) if b == q => in_quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => in_quote = Some(b),
            None if b" \t\n;|&<>()".contains(&b) => break,
            None => {}
        }
        at += 1;
    }
    let raw = &source[start..at];
    if raw.is_empty() {
        return (None, at);
    }
    let quoted = raw.contains(['\'', '"', '\\']);
    let delimiter: String = raw.chars().filter(|c| !"'\"\\".contains(*c)).collect();
    (
        Some(Heredoc {
            delimiter,
            strip_tabs,
            quoted,
            interpreter: None,
        }),
        at,
    )
}

/// Reads the bodies of the queued heredocs starting at `at` (a line
/// start); places their placeholders; returns where the code resumes.
fn heredoc_bodies<'a>(
    source: &'a str,
    mut at: usize,
    queued: &mut Vec<usize>,
    heredocs: &[Heredoc],
    next: &mut std::iter::Peekable<std::vec::IntoIter<Placeholder<'a>>>,
    sites: &mut Vec<Site<'a>>,
) -> usize {
    for index in queued.drain(..) {
        let heredoc = &heredocs[index];
        loop {
            if at >= source.len() {
                return at;
            }
            let end = source[at..].find('\n').map_or(source.len(), |n| at + n);
            let line = &source[at..end];
            let line = if heredoc.strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            let body_line = line != heredoc.delimiter;
            while let Some(p) = next.peek()
                && p.start < end
            {
                let p = next.next().expect("peeked");
                if p.start >= at && body_line {
                    sites.push(Site {
                        placeholder: p,
                        context: Context::Heredoc {
                            quoted: heredoc.quoted,
                        },
                        interpreter: heredoc.interpreter,
                    });
                }
            }
            at = (end + 1).min(source.len().max(end));
            if !body_line {
                break;
            }
        }
    }
    at
}

/// Ends the frame's pipeline: classifies each command's words and marks
/// the sites its second interpreter would read as program text.
fn end_pipeline(frame: &mut Frame, sites: &mut [Site], heredocs: &mut [Heredoc]) {
    end_word(frame);
    let last = std::mem::take(&mut frame.current);
    let mut pipeline = std::mem::take(&mut frame.pipeline);
    if !last.words.is_empty() || !last.heredocs.is_empty() {
        pipeline.push(last);
    }
    // What a later stage reads from its stdin as code makes every value
    // written earlier in the pipeline program text.
    let mut downstream: Option<&'static str> = None;
    for cmd in pipeline.iter().rev() {
        let reading = classify(&cmd.words);
        for (word, interpreter) in cmd.words.iter().zip(&reading.words) {
            if let Some(name) = interpreter.or(downstream) {
                for &s in &word.sites {
                    sites[s].interpreter.get_or_insert(name);
                }
            }
        }
        for &h in &cmd.heredocs {
            heredocs[h].interpreter = reading.stdin_code.or(downstream);
        }
        if downstream.is_none() {
            downstream = reading.stdin_code;
        }
    }
}

struct Reading {
    /// Per word: the interpreter whose program text it is.
    words: Vec<Option<&'static str>>,
    /// The interpreter that runs its standard input as code.
    stdin_code: Option<&'static str>,
}

fn unquoted(text: &str) -> String {
    text.chars().filter(|c| !"'\"\\".contains(*c)).collect()
}

/// Which words of one simple command are program text for a second
/// interpreter.
fn classify(words: &[Word]) -> Reading {
    let mut reading = Reading {
        words: vec![None; words.len()],
        stdin_code: None,
    };
    let texts: Vec<String> = words.iter().map(|w| unquoted(&w.text)).collect();
    // The command name: past keywords, assignments and wrappers (with
    // their options and operands).
    let at = command::command_start(&texts);
    let Some(name_word) = words.get(at) else {
        return reading;
    };
    let name = command::program_name(&texts[at]);
    let args = at + 1..words.len();
    let mark_all = |reading: &mut Reading, label: &'static str| {
        for w in args.clone() {
            reading.words[w] = Some(label);
        }
    };
    // A value as the command name is code whatever follows.
    if !name_word.sites.is_empty() {
        reading.words[at] = Some("the command name");
    }
    match name {
        n if command::SHELLS.contains(&n) => {
            let label = if matches!(n, "su" | "runuser") {
                "su -c"
            } else {
                "sh -c"
            };
            match command::script_after_c(&texts[args.clone()]) {
                Some(w) => reading.words[args.start + w] = Some(label),
                None if args.clone().all(|w| texts[w].starts_with('-')) => {
                    reading.stdin_code = Some("sh");
                }
                None => {}
            }
        }
        "ssh" => {
            mark_all(&mut reading, "ssh");
            reading.stdin_code = Some("ssh");
        }
        "eval" | "source" | "." => mark_all(&mut reading, "eval"),
        "sed" | "gsed" => program_words(
            &mut reading,
            &texts,
            args,
            "sed",
            &['e'],
            &[],
            &["--expression"],
        ),
        "awk" | "gawk" | "mawk" | "nawk" if !args.clone().any(|w| texts[w] == "-f") => {
            program_words(&mut reading, &texts, args, "awk", &[], &['v', 'F'], &[]);
        }
        "perl" | "ruby" | "node" => {
            let inline = args.clone().find(|&w| {
                command::is_short_option_with(&texts[w], 'e')
                    || command::is_short_option_with(&texts[w], 'E')
            });
            match inline {
                Some(w) if w + 1 < words.len() => reading.words[w + 1] = Some("perl -e"),
                Some(_) => {}
                None if args.clone().all(|w| texts[w].starts_with('-')) => {
                    reading.stdin_code = Some("perl");
                }
                None => {}
            }
        }
        n if n.starts_with("python") => {
            let inline = args
                .clone()
                .find(|&w| command::is_short_option_with(&texts[w], 'c'));
            match inline {
                Some(w) if w + 1 < words.len() => reading.words[w + 1] = Some("python -c"),
                Some(_) => {}
                None if args.clone().all(|w| texts[w].starts_with('-')) => {
                    reading.stdin_code = Some("python");
                }
                None => {}
            }
        }
        _ => {}
    }
    reading
}

/// sed/awk: the program is the value of `-e`/`--expression` when given
/// (every one), else the first operand. `takes_value` options consume the
/// next word.
fn program_words(
    reading: &mut Reading,
    texts: &[String],
    args: std::ops::Range<usize>,
    label: &'static str,
    program_options: &[char],
    takes_value: &[char],
    long_program: &[&str],
) {
    let mut explicit = false;
    let mut w = args.start;
    let mut first_operand = None;
    while w < args.end {
        let text = &texts[w];
        if let Some(long) = long_program.iter().find(|l| text.starts_with(*l)) {
            explicit = true;
            if text.len() > long.len() {
                reading.words[w] = Some(label);
            } else if w + 1 < args.end {
                reading.words[w + 1] = Some(label);
                w += 1;
            }
        } else if text.starts_with('-') && text.len() >= 2 && !text.starts_with("--") {
            let letter = text.chars().nth(1).unwrap_or('-');
            if program_options.contains(&letter) {
                explicit = true;
                if text.len() > 2 {
                    reading.words[w] = Some(label);
                } else if w + 1 < args.end {
                    reading.words[w + 1] = Some(label);
                    w += 1;
                }
            } else if takes_value.contains(&letter) && text.len() == 2 {
                w += 1;
            }
        } else if !text.starts_with('-') && first_operand.is_none() {
            first_operand = Some(w);
        }
        w += 1;
    }
    if !explicit && let Some(w) = first_operand {
        reading.words[w] = Some(label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(source: &str) -> Vec<(&str, Context, Option<&'static str>)> {
        analyze(source)
            .unwrap()
            .into_iter()
            .map(|s| (s.placeholder.name, s.context, s.interpreter))
            .collect()
    }

    #[test]
    fn contexts() {
        use Context::*;
        assert_eq!(
            places("echo {{a}} \"x {{b}}\" '{{c}}' # don't {{d}}\necho {{e}}"),
            [
                ("a", Plain, None),
                ("b", Double, None),
                ("c", Single, None),
                ("d", Comment, None),
                ("e", Plain, None)
            ]
        );
    }

    #[test]
    fn heredocs() {
        use Context::*;
        let src =
            "cat > f <<EOF\nw={{a}}\nEOF\ncat <<'X'\n{{b}}\nX\necho {{c}}\nsh <<E\n{{d}}\nE\n";
        assert_eq!(
            places(src),
            [
                ("a", Heredoc { quoted: false }, None),
                ("b", Heredoc { quoted: true }, None),
                ("c", Plain, None),
                ("d", Heredoc { quoted: false }, Some("sh"))
            ]
        );
    }

    #[test]
    fn a_shift_is_not_a_heredoc() {
        use Context::*;
        assert_eq!(
            places("echo $((1 << 2)) \"$((3 << 1))\"\nrm {{f}}\n((x << 1))\nrm {{g}}"),
            [("f", Plain, None), ("g", Plain, None)]
        );
    }

    #[test]
    fn arithmetic_is_a_second_interpreter() {
        use Context::*;
        assert_eq!(
            places("echo $(( {{n}} + 1 ))\n(( x = {{m}} ))\necho \"$(({{k}}))\""),
            [
                ("n", Arithmetic, Some("shell arithmetic")),
                ("m", Arithmetic, Some("shell arithmetic")),
                ("k", Arithmetic, Some("shell arithmetic"))
            ]
        );
        assert_eq!(
            render_command("echo $(( {{n}} + 1 ))"),
            "echo $(( ${TEJUN_VAR_n} + 1 ))"
        );
    }

    /// Two open subshells are not arithmetic: only an adjacent `((` is.
    #[test]
    fn nested_subshells_are_not_arithmetic() {
        use Context::*;
        assert_eq!(
            places("(cd /d && (rm {{f}}))\n( (echo {{g}}) )\n((x = {{m}}))\necho $(((1 + {{k}})))"),
            [
                ("f", Plain, None),
                ("g", Plain, None),
                ("m", Arithmetic, Some("shell arithmetic")),
                ("k", Arithmetic, Some("shell arithmetic"))
            ]
        );
        assert_eq!(
            render_command("(cd /d && (rm {{f}}))"),
            "(cd /d && (rm \"${TEJUN_VAR_f}\"))"
        );
        assert_eq!(
            places("(cd /d && (cat <<E\n{{h}}\nE\n))"),
            [("h", Heredoc { quoted: false }, None)]
        );
    }

    #[test]
    fn second_interpreters() {
        let interp = |s: &str| places(s).into_iter().map(|p| p.2).collect::<Vec<_>>();
        assert_eq!(interp("sh -c \"echo \"{{x}}"), [Some("sh -c")]);
        assert_eq!(interp("sh -c 'echo \"$1\"' _ {{x}}"), [None]);
        assert_eq!(interp("ssh host \"cat {{x}}\""), [Some("ssh")]);
        assert_eq!(interp("sed -i s/a/{{x}}/ {{f}}"), [Some("sed"), None]);
        assert_eq!(interp("sed -e s/a/{{x}}/ -i {{f}}"), [Some("sed"), None]);
        assert_eq!(interp("awk -v w={{x}} '{print}' {{f}}"), [None, None]);
        assert_eq!(
            interp("perl -pi -e s/a/{{x}}/ {{f}}"),
            [Some("perl -e"), None]
        );
        assert_eq!(interp("python3 -c {{x}}"), [Some("python -c")]);
        assert_eq!(interp("sudo -u a eval {{x}}"), [Some("eval")]);
        assert_eq!(interp("echo {{x}} | sh"), [Some("sh")]);
        assert_eq!(interp("echo {{x}} | grep y"), [None]);
        assert_eq!(interp("X=1 timeout 5 bash -ec {{x}}"), [Some("sh -c")]);
        assert_eq!(interp("echo $(sh -c {{x}}) {{y}}"), [Some("sh -c"), None]);
        assert_eq!(interp("{{x}} --flag"), [Some("the command name")]);
    }

    /// The wrapper table is shared with the engine's guard: long options,
    /// option values and `builtin` are looked through.
    #[test]
    fn wrappers_with_long_options_and_values_are_looked_through() {
        let interp = |s: &str| places(s).into_iter().map(|p| p.2).collect::<Vec<_>>();
        for command in [
            "sudo --user root sh -c {{x}}",
            "timeout --signal KILL 5 sh -c {{x}}",
            "stdbuf -o L sh -c {{x}}",
            "sudo -T 5 sh -c {{x}}",
            "runuser -u app -- sh -c {{x}}",
            "flock /run/x.lock -c {{x}}",
        ] {
            assert!(interp(command)[0].is_some(), "{command}");
        }
        assert_eq!(interp("builtin eval {{x}}"), [Some("eval")]);
        assert_eq!(interp("su app -c {{x}}"), [Some("su -c")]);
        assert_eq!(interp("sudo --user root sh -c 'echo $1' _ {{x}}"), [None]);
    }

    #[test]
    fn rendered_commands_reference_the_environment() {
        assert_eq!(
            render_command("echo {{a}} \"p-{{b}}\" > '\\{{x}}'\ncat <<E\n{{c}}\nE"),
            "echo \"${TEJUN_VAR_a}\" \"p-${TEJUN_VAR_b}\" > '{{x}}'\ncat <<E\n${TEJUN_VAR_c}\nE"
        );
    }
}
