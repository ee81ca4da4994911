//! Which word of a simple command is the program, and which word a shell
//! runs as its script: the one table of wrappers and interpreters that both
//! readers of commands use, the value checker (`shell.rs`, which refuses a
//! value that would become code) and the engine's environment guard (which
//! reads `sh -c '...'` scripts for the paths they touch). Two copies had
//! drifted apart, so each reader missed what the other knew; keep every
//! program here.
//!
//! Words are given as their text after quote removal.

/// Programs that run a script given after `-c` (`su -c`, `runuser -c`,
/// `flock FILE -c`), or their standard input when given none.
pub const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "su", "runuser", "flock",
];

/// Programs that run the rest of their words as a command (after their
/// own options and, for some, operands: [`operands`]).
pub const WRAPPERS: &[&str] = &[
    "sudo", "doas", "run0", "env", "nice", "ionice", "nohup", "time", "exec", "command", "builtin",
    "stdbuf", "timeout", "setsid", "chrt", "taskset", "xargs", "unbuffer", "flock", "runuser",
];

/// Shell words that come before a command's program.
pub const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "fi", "done",
];

/// Whether `option` of `wrapper` takes the next word as its value (the
/// others are flags: `sudo -s sh -c ...` must still find `sh`).
pub fn takes_value(wrapper: &str, option: &str) -> bool {
    let options: &[&str] = match wrapper {
        "sudo" | "doas" | "run0" => &[
            "-u",
            "-g",
            "-C",
            "-D",
            "-h",
            "-p",
            "-r",
            "-R",
            "-t",
            "-T",
            "-U",
            "--user",
            "--group",
            "--close-from",
            "--chdir",
            "--chroot",
            "--host",
            "--prompt",
            "--role",
            "--type",
            "--command-timeout",
            "--other-user",
            "--setenv",
            "--unit",
            "--property",
            "--description",
            "--slice",
            "--nice",
            "--machine",
        ],
        "env" => &["-u", "-C", "-S", "--unset", "--chdir", "--split-string"],
        "nice" => &["-n", "--adjustment"],
        "ionice" => &["-c", "-n", "-p", "-P", "-u", "--class", "--classdata"],
        "timeout" => &["-s", "-k", "--signal", "--kill-after"],
        "stdbuf" => &["-i", "-o", "-e", "--input", "--output", "--error"],
        "flock" => &["-w", "-E", "--wait", "--timeout", "--conflict-exit-code"],
        "xargs" => &[
            "-I",
            "-L",
            "-n",
            "-P",
            "-d",
            "-E",
            "-a",
            "-s",
            "--arg-file",
            "--delimiter",
            "--max-args",
            "--max-procs",
            "--max-chars",
            "--max-lines",
            "--process-slot-var",
        ],
        "exec" => &["-a"],
        "time" => &["-f", "-o", "--format", "--output"],
        "unbuffer" => &["-p"],
        "runuser" => &[
            "-u",
            "-g",
            "-G",
            "-s",
            "-w",
            "--user",
            "--group",
            "--supp-group",
            "--shell",
            "--whitelist-environment",
        ],
        _ => &[],
    };
    options.contains(&option)
}

/// Operands a wrapper takes before the command: `timeout 5 cmd`,
/// `chrt 10 cmd`, `taskset 0x3 cmd`, `flock /run/lock cmd`.
pub fn operands(wrapper: &str) -> usize {
    match wrapper {
        "timeout" | "chrt" | "taskset" | "flock" => 1,
        _ => 0,
    }
}

/// The program's name without its directory (`/usr/bin/sudo` is `sudo`).
pub fn program_name(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `NAME=value`, `NAME+=value`, `NAME[i]=value` before a command.
pub fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let name = name.strip_suffix('+').unwrap_or(name);
    let name = match name.split_once('[') {
        Some((base, index)) if index.ends_with(']') => base,
        _ => name,
    };
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// The index of the program word of a simple command: past keywords,
/// assignments, and wrappers with their options, option values and
/// operands. `words.len()` when there is none. A shell-running wrapper
/// given a script (`runuser -u app -c ...`, `flock /l -c ...`) is itself
/// the program: its script is found by [`script_after_c`].
pub fn command_start<S: AsRef<str>>(words: &[S]) -> usize {
    let text = |i: usize| words[i].as_ref();
    let mut at = 0;
    while at < words.len() {
        let name = program_name(text(at));
        if KEYWORDS.contains(&name) || is_assignment(text(at)) {
            at += 1;
            continue;
        }
        if !WRAPPERS.contains(&name) {
            break;
        }
        if SHELLS.contains(&name) && script_after_c(&words[at + 1..]).is_some() {
            break;
        }
        at += 1;
        while at < words.len() {
            let word = text(at);
            if word == "--" {
                at += 1;
                break;
            }
            if is_assignment(word) {
                at += 1;
            } else if word.starts_with('-') && word.len() > 1 {
                at += 1;
                if takes_value(name, word) {
                    at += 1;
                }
            } else {
                break;
            }
        }
        at = (at + operands(name)).min(words.len());
    }
    at.min(words.len())
}

/// The index, among a shell's arguments `args`, of the word it runs as a
/// script: after `-c`, an option cluster ending in `c` (`-ec`), or
/// `--command`; or the `--command=...` word itself (its text after `=`).
pub fn script_after_c<S: AsRef<str>>(args: &[S]) -> Option<usize> {
    for (i, arg) in args.iter().enumerate() {
        let t = arg.as_ref();
        if t.starts_with("--command=") {
            return Some(i);
        }
        if t == "--command" || is_short_option_with(t, 'c') {
            return (i + 1 < args.len()).then_some(i + 1);
        }
    }
    None
}

/// The script text of the word [`script_after_c`] found.
pub fn script_text(word: &str) -> &str {
    word.strip_prefix("--command=").unwrap_or(word)
}

/// `-c`, `-ec`, `-xc`: a short-option cluster ending in `letter`.
pub fn is_short_option_with(text: &str, letter: char) -> bool {
    text.len() >= 2
        && text.starts_with('-')
        && !text.starts_with("--")
        && text.ends_with(letter)
        && text[1..].chars().all(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(command: &str) -> Option<String> {
        let words: Vec<&str> = command.split(' ').collect();
        words.get(command_start(&words)).map(|w| w.to_string())
    }

    #[test]
    fn wrappers_options_and_operands_are_looked_through() {
        for (command, program) in [
            ("sudo --user root sh -c x", "sh"),
            ("sudo -T 5 sh -c x", "sh"),
            ("timeout --signal KILL 5 sh -c x", "sh"),
            ("stdbuf -o L sh -c x", "sh"),
            ("builtin eval x", "eval"),
            ("X=1 nice -n 5 env A=b B=c bash", "bash"),
            ("if ! sudo -u a eval x", "eval"),
            ("flock /run/l sh -c x", "flock"),
            ("flock /run/l sed x", "sed"),
            ("chrt 10 taskset 0x3 /bin/sh -c x", "/bin/sh"),
            ("runuser -u app -- sh -c x", "runuser"),
            ("runuser -u app -- sed x", "sed"),
            ("xargs -I {} sh -c x", "sh"),
            ("sudo", "sudo"),
        ] {
            let got = start(command);
            let want = if command == "sudo" {
                None
            } else {
                Some(program.to_string())
            };
            assert_eq!(got, want, "{command}");
        }
    }

    #[test]
    fn the_script_follows_c() {
        assert_eq!(script_after_c(&["-ec", "x"]), Some(1));
        assert_eq!(
            script_after_c(&["-u", "app", "--", "sh", "-c", "x"]),
            Some(5)
        );
        assert_eq!(script_after_c(&["--command=x"]), Some(0));
        assert_eq!(script_after_c(&["--command", "x"]), Some(1));
        assert_eq!(script_after_c(&["-c"]), None);
        assert_eq!(script_after_c(&["x.sh"]), None);
    }
}
