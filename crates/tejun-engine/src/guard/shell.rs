//! A small POSIX-shell reader for the guard: enough of the grammar to know
//! which words a command line hands to which program. Quotes, escapes,
//! operators (`&&`, `||`, `;`, `|`, `&`, newlines, parentheses),
//! redirections with their targets, heredoc bodies, comments, and the text
//! of command substitutions (`$(...)`, backticks, `<(...)`), which is read
//! as a script of its own. `shlex` splits words but not operators, so it
//! cannot tell `a;b` from `a; b` or see a redirection glued to a word.
//!
//! It never fails: unbalanced quotes take the rest of the line, which errs
//! towards finding more words, not fewer.

/// One word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    pub text: String,
    /// An unquoted `*`, `?` or `[` the shell would expand against files.
    pub glob: bool,
    /// Contains an expansion (`$x`, `$(...)`) whose value is unknown here.
    pub dynamic: bool,
}

/// One simple command: its words, and the targets of its redirections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simple {
    pub words: Vec<Word>,
    pub redirects: Vec<Word>,
    /// Bodies of the heredocs fed to its standard input, as written.
    pub heredocs: Vec<String>,
    /// Its standard input is the output of the command before it (`a | b`).
    pub piped: bool,
}

/// A script read into simple commands (in order), plus the texts of its
/// command substitutions, each a script of its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    pub commands: Vec<Simple>,
    pub substitutions: Vec<String>,
}

/// Nesting bound for substitutions inside substitutions (and `sh -c`
/// inside those): deeper text is not analysed, which the callers treat as
/// "nothing more found".
pub const MAX_DEPTH: usize = 16;

pub fn read(text: &str) -> Script {
    let mut reader = Reader {
        chars: text.chars().collect(),
        at: 0,
        script: Script::default(),
        current: Simple::default(),
        word: Word::default(),
        in_word: false,
        redirect_next: false,
        heredocs: Vec::new(),
    };
    reader.run();
    reader.script
}

struct Reader {
    chars: Vec<char>,
    at: usize,
    script: Script,
    current: Simple,
    word: Word,
    in_word: bool,
    /// The next word is a redirection's target.
    redirect_next: bool,
    /// Heredocs waiting for the end of the line: the delimiter, and the
    /// command (index into `script.commands`) and slot its body goes to.
    heredocs: Vec<(String, usize, usize)>,
}

impl Reader {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' => {
                    self.end_word();
                    self.at += 1;
                }
                '\n' => {
                    self.end_word();
                    self.end_command();
                    self.at += 1;
                    self.skip_heredoc_bodies();
                }
                '#' if !self.in_word => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.at += 1;
                    }
                }
                '\'' => {
                    self.in_word = true;
                    self.at += 1;
                    while let Some(c) = self.peek(0) {
                        self.at += 1;
                        if c == '\'' {
                            break;
                        }
                        self.word.text.push(c);
                    }
                }
                '"' => {
                    self.in_word = true;
                    self.at += 1;
                    self.double_quoted();
                }
                '\\' => {
                    self.at += 1;
                    match self.peek(0) {
                        Some('\n') => self.at += 1,
                        Some(c) => {
                            self.in_word = true;
                            self.word.text.push(c);
                            self.at += 1;
                        }
                        None => {}
                    }
                }
                '$' => self.dollar(),
                '`' => {
                    self.at += 1;
                    let inner = self.until_backtick();
                    self.substitution(inner);
                }
                ';' | '&' | '|' | '(' | ')' => {
                    // `>&2`, `&>` and `|&` are handled where they start.
                    if c == '&' && self.peek(1) == Some('>') {
                        self.end_word();
                        self.at += 1;
                        self.redirection();
                        continue;
                    }
                    self.end_word();
                    self.end_command();
                    let start = self.at;
                    self.at += 1;
                    while self
                        .peek(0)
                        .is_some_and(|n| n == c || (c == '|' && n == '&'))
                    {
                        self.at += 1;
                    }
                    // `|` and `|&` pipe; `||` does not.
                    let operator: String = self.chars[start..self.at].iter().collect();
                    self.current.piped = operator == "|" || operator == "|&";
                }
                '<' | '>' => {
                    if self.peek(1) == Some('(') {
                        // Process substitution: a script, and a file name.
                        self.at += 2;
                        let inner = self.until_close_paren();
                        self.substitution(inner);
                        continue;
                    }
                    // `2>file`: the digits were a descriptor, not a word.
                    if self.in_word
                        && !self.word.text.is_empty()
                        && self.word.text.chars().all(|d| d.is_ascii_digit())
                    {
                        self.word = Word::default();
                        self.in_word = false;
                    } else {
                        self.end_word();
                    }
                    self.redirection();
                }
                '*' | '?' | '[' => {
                    self.in_word = true;
                    self.word.glob = true;
                    self.word.text.push(c);
                    self.at += 1;
                }
                _ => {
                    self.in_word = true;
                    self.word.text.push(c);
                    self.at += 1;
                }
            }
        }
        self.end_word();
        self.end_command();
    }

    /// At `<` or `>` (after any `&`): reads the operator and marks the next
    /// word as its target, except for descriptor duplication (`>&2`).
    fn redirection(&mut self) {
        let mut op = String::new();
        while let Some(c) = self.peek(0) {
            if matches!(c, '<' | '>' | '|' | '&' | '-') && op.len() < 3 {
                // `<<-` (heredoc) and `>&-` end with `-`; `-` only after `<<` or `&`.
                if c == '-' && !(op == "<<" || op.ends_with('&')) {
                    break;
                }
                if c == '|' && op != ">" {
                    break;
                }
                op.push(c);
                self.at += 1;
            } else {
                break;
            }
        }
        if op.starts_with("<<") && !op.starts_with("<<<") {
            self.heredoc_delimiter();
            return;
        }
        if op.ends_with('&') && self.peek(0).is_some_and(|c| c.is_ascii_digit() || c == '-') {
            while self.peek(0).is_some_and(|c| c.is_ascii_digit() || c == '-') {
                self.at += 1;
            }
            return;
        }
        if op.ends_with('-') {
            return;
        }
        self.redirect_next = true;
    }

    fn heredoc_delimiter(&mut self) {
        while self.peek(0).is_some_and(|c| c == ' ' || c == '\t') {
            self.at += 1;
        }
        let mut delimiter = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() || ";&|<>()".contains(c) {
                break;
            }
            if c != '\'' && c != '"' && c != '\\' {
                delimiter.push(c);
            }
            self.at += 1;
        }
        // The current command is pushed next (it has a heredoc, so it is
        // not empty): its body goes there.
        let slot = self.current.heredocs.len();
        self.current.heredocs.push(String::new());
        self.heredocs
            .push((delimiter, self.script.commands.len(), slot));
    }

    /// After a newline: the bodies of pending heredocs are not commands of
    /// this script; each is kept with the command it is fed to (a shell
    /// reads it as a script).
    fn skip_heredoc_bodies(&mut self) {
        for (delimiter, command, slot) in std::mem::take(&mut self.heredocs) {
            let mut body = String::new();
            loop {
                let start = self.at;
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.at += 1;
                }
                let line: String = self.chars[start..self.at].iter().collect();
                if self.peek(0).is_some() {
                    self.at += 1;
                }
                let end = line.trim_start_matches('\t') == delimiter;
                if !end {
                    body.push_str(&line);
                    body.push('\n');
                }
                if end || self.peek(0).is_none() {
                    break;
                }
            }
            if let Some(text) = self
                .script
                .commands
                .get_mut(command)
                .and_then(|c| c.heredocs.get_mut(slot))
            {
                *text = body;
            }
        }
    }

    fn double_quoted(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                '"' => {
                    self.at += 1;
                    return;
                }
                '\\' => {
                    self.at += 1;
                    if let Some(n) = self.peek(0) {
                        if !matches!(n, '"' | '\\' | '$' | '`' | '\n') {
                            self.word.text.push('\\');
                        }
                        if n != '\n' {
                            self.word.text.push(n);
                        }
                        self.at += 1;
                    }
                }
                '$' => self.dollar(),
                '`' => {
                    self.at += 1;
                    let inner = self.until_backtick();
                    self.substitution(inner);
                }
                _ => {
                    self.word.text.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// At `$`: a substitution, arithmetic, an ANSI-C string or a parameter.
    fn dollar(&mut self) {
        self.in_word = true;
        match self.peek(1) {
            Some('(') if self.peek(2) == Some('(') => {
                // Arithmetic: a number, never a file name.
                self.at += 3;
                let _ = self.until_close_paren();
                if self.peek(0) == Some(')') {
                    self.at += 1;
                }
                self.word.dynamic = true;
                self.word.text.push_str("$((…))");
            }
            Some('(') => {
                self.at += 2;
                let inner = self.until_close_paren();
                self.substitution(inner);
            }
            Some('\'') => {
                self.at += 2;
                while let Some(c) = self.peek(0) {
                    self.at += 1;
                    match c {
                        '\'' => break,
                        '\\' => {
                            if let Some(n) = self.peek(0) {
                                self.at += 1;
                                self.word.text.push(match n {
                                    'n' => '\n',
                                    't' => '\t',
                                    other => other,
                                });
                            }
                        }
                        other => self.word.text.push(other),
                    }
                }
            }
            Some('{') => {
                self.word.dynamic = true;
                let start = self.at;
                while let Some(c) = self.peek(0) {
                    self.at += 1;
                    if c == '}' {
                        break;
                    }
                }
                let text: String = self.chars[start..self.at].iter().collect();
                self.word.text.push_str(&text);
            }
            Some(c) if c.is_ascii_alphanumeric() || "_@*#?$!-".contains(c) => {
                self.word.dynamic = true;
                self.word.text.push('$');
                self.at += 1;
                if c.is_ascii_alphabetic() || c == '_' {
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        self.word.text.push(self.chars[self.at]);
                        self.at += 1;
                    }
                } else {
                    self.word.text.push(c);
                    self.at += 1;
                }
            }
            _ => {
                self.word.text.push('$');
                self.at += 1;
            }
        }
    }

    fn substitution(&mut self, inner: String) {
        self.in_word = true;
        self.word.dynamic = true;
        self.word.text.push_str("$(…)");
        self.script.substitutions.push(inner);
    }

    /// Text up to the `)` that closes the one just passed, quotes honoured.
    fn until_close_paren(&mut self) -> String {
        let start = self.at;
        let mut depth = 1;
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => self.at += 1,
                '\'' => {
                    self.at += 1;
                    while self.peek(0).is_some_and(|c| c != '\'') {
                        self.at += 1;
                    }
                }
                '"' => {
                    self.at += 1;
                    while let Some(c) = self.peek(0) {
                        if c == '\\' {
                            self.at += 1;
                        } else if c == '"' {
                            break;
                        }
                        self.at += 1;
                    }
                }
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = self.chars[start..self.at].iter().collect();
                        self.at += 1;
                        return inner;
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
        self.chars[start.min(self.chars.len())..].iter().collect()
    }

    fn until_backtick(&mut self) -> String {
        let mut inner = String::new();
        while let Some(c) = self.peek(0) {
            self.at += 1;
            match c {
                '`' => break,
                '\\' => {
                    if let Some(n) = self.peek(0) {
                        self.at += 1;
                        if !matches!(n, '`' | '\\' | '$') {
                            inner.push('\\');
                        }
                        inner.push(n);
                    }
                }
                other => inner.push(other),
            }
        }
        inner
    }

    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        let word = std::mem::take(&mut self.word);
        self.in_word = false;
        if self.redirect_next {
            self.redirect_next = false;
            self.current.redirects.push(word);
        } else {
            self.current.words.push(word);
        }
    }

    fn end_command(&mut self) {
        self.redirect_next = false;
        let command = std::mem::take(&mut self.current);
        if !command.words.is_empty()
            || !command.redirects.is_empty()
            || !command.heredocs.is_empty()
        {
            self.script.commands.push(command);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(script: &Script) -> Vec<Vec<String>> {
        script
            .commands
            .iter()
            .map(|c| c.words.iter().map(|w| w.text.clone()).collect())
            .collect()
    }

    #[test]
    fn operators_split_commands_even_when_glued() {
        let s = read("cd /srv/x&&sed -i s/a/b/ app.conf;echo 'a;b'|tee -a out");
        assert_eq!(
            words(&s),
            [
                vec!["cd", "/srv/x"],
                vec!["sed", "-i", "s/a/b/", "app.conf"],
                vec!["echo", "a;b"],
                vec!["tee", "-a", "out"],
            ]
        );
    }

    #[test]
    fn redirection_targets_are_kept_apart() {
        let s = read("echo hi >>/srv/p/x 2>/dev/null >&2 <in; cat<<EOF >o\nbody /etc/x\nEOF\nls");
        assert_eq!(s.commands[0].redirects.len(), 3);
        assert_eq!(s.commands[0].redirects[0].text, "/srv/p/x");
        assert_eq!(s.commands[0].redirects[2].text, "in");
        assert_eq!(s.commands[1].redirects[0].text, "o");
        assert_eq!(words(&s)[2], ["ls"]);
    }

    #[test]
    fn substitutions_are_scripts_of_their_own() {
        let s = read("f=$(printf /srv; echo `cat x`); echo \"$f\" <(ls /a)");
        assert_eq!(s.substitutions.len(), 2);
        assert!(s.substitutions[0].contains("`cat x`"));
        assert!(s.commands[0].words[0].dynamic);
    }

    #[test]
    fn globs_only_when_unquoted() {
        let s = read("rm /srv/prod* '/srv/a*' \"b?\"");
        let globs: Vec<bool> = s.commands[0].words.iter().map(|w| w.glob).collect();
        assert_eq!(globs, [false, true, false, false]);
    }
}
