//! `--help` and clap's argument errors in Japanese.
//!
//! clap handles `--help` and bad arguments before any tejun code runs, so
//! the language is decided from argv and the environment first. In English
//! clap's own output is used unchanged: the derive attributes stay the
//! source of the English text. In Japanese the built command tree is walked
//! once and every about, after-help and argument help is replaced from
//! [`catalogue::CATALOGUE`]; clap's own words (Usage, Options, Print help,
//! `[default: …]`) are replaced here, and errors are rendered by
//! [`errors::JaFormatter`] from the error's kind and context.

mod catalogue;
mod errors;

pub use errors::ValueError;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use clap::{Arg, ArgAction, Command, Parser};
use tejun_locale::Lang;

/// Which text of a command or argument a catalogue entry replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text<'a> {
    /// The one-line summary (a doc comment's first paragraph).
    About,
    /// The whole doc comment, shown by `--help` when it has more paragraphs.
    LongAbout,
    /// `after_help`: the Examples block and notes below the options.
    AfterHelp,
    /// `after_long_help`, shown by `--help` instead of `after_help`.
    AfterLongHelp,
    /// An argument's help, by its id (the field name: `confirm_env`).
    Help(&'a str),
    /// An argument's long help (a doc comment with more paragraphs).
    LongHelp(&'a str),
}

/// Parses the command line as `C::parse()` does, with help and errors in
/// the operator's language.
pub fn parse<C: Parser>() -> C {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if Lang::detect(explicit_lang(&args).as_deref()) == Lang::En {
        return C::parse_from(args);
    }
    let mut command = japanese(C::command(), &mut Gaps::default());
    let matches = command
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|e| e.apply::<errors::JaFormatter>().exit());
    C::from_arg_matches(&matches)
        .unwrap_or_else(|e| e.format(&mut command).apply::<errors::JaFormatter>().exit())
}

/// `--lang VALUE` or `--lang=VALUE` before any `--`, as clap will read it.
fn explicit_lang(args: &[std::ffi::OsString]) -> Option<String> {
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if word == "--lang" {
            return words.next().map(|v| v.into_owned());
        }
        if let Some(value) = word.strip_prefix("--lang=") {
            return Some(value.to_string());
        }
    }
    None
}

/// What the walk found without a Japanese text, in the catalogue's syntax,
/// and which catalogue entries it used.
#[derive(Default)]
pub struct Gaps {
    pub missing: Vec<String>,
    pub used: BTreeSet<usize>,
    globals_seen: BTreeSet<String>,
}

/// The command tree, built and rewritten in Japanese. Entries missing from
/// the catalogue keep their English text and are noted in `gaps`.
pub fn japanese(mut command: Command, gaps: &mut Gaps) -> Command {
    // Built first so that the help flags, the help subcommand and the
    // propagated global arguments exist and can be rewritten too.
    command.build();
    let root = command.get_name().to_string();
    translate_command(command, &root, gaps)
}

fn translate_command(mut cmd: Command, path: &str, gaps: &mut Gaps) -> Command {
    let texts = [
        (Text::About, cmd.get_about()),
        (Text::LongAbout, cmd.get_long_about()),
        (Text::AfterHelp, cmd.get_after_help()),
        (Text::AfterLongHelp, cmd.get_after_long_help()),
    ]
    .map(|(text, english)| (text, english.map(ToString::to_string)));
    for (text, english) in texts {
        let Some(english) = english else { continue };
        let Some(ja) = lookup(path, text, gaps) else {
            gaps.missing.push(entry_line(path, text, &english));
            continue;
        };
        cmd = match text {
            Text::About => cmd.about(ja),
            Text::LongAbout => cmd.long_about(ja),
            Text::AfterHelp => cmd.after_help(ja),
            _ => cmd.after_long_help(ja),
        };
    }

    cmd = cmd.mut_args(|arg| translate_arg(arg, path, gaps));
    let template = template(&cmd);
    cmd = cmd.help_template(template);
    cmd = cmd.subcommand_help_heading("コマンド");
    cmd.mut_subcommands(|sub| {
        if sub.get_name() == "help" {
            // clap's own help subcommand: only its summary is ever shown
            // (the copy of the tree under it serves completion).
            return sub.about("このメッセージ、または指定したサブコマンドのヘルプを表示します");
        }
        let sub_path = format!("{path} {}", sub.get_name());
        translate_command(sub, &sub_path, gaps)
    })
}

fn translate_arg(mut arg: Arg, path: &str, gaps: &mut Gaps) -> Arg {
    let id = arg.get_id().as_str().to_string();
    match arg.get_action() {
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong => {
            return if arg.get_long_help().is_some() {
                arg.help("ヘルプを表示します (詳しくは '--help')")
                    .long_help("ヘルプを表示します (要約は '-h')")
            } else {
                arg.help("ヘルプを表示します")
            };
        }
        ArgAction::Version => return arg.help("バージョンを表示します"),
        _ => {}
    }
    // A global argument is copied into every subcommand: its entry is the
    // one of the command that declares it (the nearest ancestor that has
    // one), and it is reported missing once.
    let global = arg.is_global_set();
    let report = !global || gaps.globals_seen.insert(id.clone());
    let specs = specs(&arg);
    let mut english_left = false;
    for long in [false, true] {
        let english = if long {
            arg.get_long_help()
        } else {
            arg.get_help()
        };
        let Some(english) = english.map(|s| s.to_string()) else {
            continue;
        };
        let text = if long {
            Text::LongHelp(&id)
        } else {
            Text::Help(&id)
        };
        let found = if global {
            ancestors(path).find_map(|p| lookup(p, text, gaps))
        } else {
            lookup(path, text, gaps)
        };
        match found {
            Some(ja) => {
                let ja = format!("{ja}{specs}");
                arg = if long {
                    arg.long_help(ja)
                } else {
                    arg.help(ja)
                };
            }
            None => {
                english_left = true;
                if report {
                    gaps.missing.push(entry_line(path, text, &english));
                }
            }
        }
    }
    if english_left {
        // Untranslated help keeps clap's English `[default: …]` with it.
        return arg;
    }
    if arg.get_help().is_none() && arg.get_long_help().is_none() && !specs.is_empty() {
        // No help of its own: the specs alone, as clap would show them.
        arg = arg.help(specs.trim_start().to_string());
    }
    arg.hide_env(true)
        .hide_default_value(true)
        .hide_possible_values(true)
}

/// clap's `[env: …] [default: …] [possible values: …]`, in Japanese.
fn specs(arg: &Arg) -> String {
    let mut out = String::new();
    if let Some(env) = arg.get_env().filter(|_| !arg.is_hide_env_set()) {
        let value = std::env::var_os(env).unwrap_or_default();
        let _ = write!(
            out,
            " [環境変数: {}={}]",
            env.to_string_lossy(),
            value.to_string_lossy()
        );
    }
    let takes_values = arg.get_action().takes_values();
    let defaults: Vec<_> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy())
        .collect();
    if takes_values && !defaults.is_empty() && !arg.is_hide_default_value_set() {
        let _ = write!(out, " [既定値: {}]", defaults.join(" "));
    }
    let values: Vec<_> = arg
        .get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if takes_values && !values.is_empty() && !arg.is_hide_possible_values_set() {
        let _ = write!(out, " [指定可能な値: {}]", values.join(", "));
    }
    out
}

/// The default help template with clap's headings in Japanese, styled as
/// clap styles them (the styling is dropped when not on a terminal).
fn template(cmd: &Command) -> String {
    let styles = cmd.get_styles();
    let header = styles.get_header();
    let usage = styles.get_usage();
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let has_positionals = cmd.get_positionals().any(|a| !a.is_hide_set());
    let has_options = cmd
        .get_arguments()
        .any(|a| !a.is_positional() && !a.is_hide_set());
    let mut out =
        format!("{{before-help}}{{about-with-newline}}\n{usage}使い方:{usage:#} {{usage}}");
    for (present, heading, tag) in [
        (has_subcommands, "コマンド", "{subcommands}"),
        (has_positionals, "引数", "{positionals}"),
        (has_options, "オプション", "{options}"),
    ] {
        if present {
            let _ = write!(out, "\n\n{header}{heading}:{header:#}\n{tag}");
        }
    }
    out.push_str("{after-help}");
    out
}

/// `tejun incident open`, then `tejun incident`, then `tejun`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| p.rsplit_once(' ').map(|(head, _)| head))
}

fn lookup(path: &str, text: Text<'_>, gaps: &mut Gaps) -> Option<&'static str> {
    let (index, (_, _, ja)) = catalogue::CATALOGUE
        .iter()
        .enumerate()
        .find(|(_, (p, t, _))| *p == path && *t == text)?;
    gaps.used.insert(index);
    Some(ja)
}

/// A catalogue line for a missing entry, with the English text to
/// translate in place of the Japanese.
fn entry_line(path: &str, text: Text<'_>, english: &str) -> String {
    // Newlines kept as they are, so an Examples block reads as it prints.
    let english = english.replace('\\', "\\\\").replace('"', "\\\"");
    format!("    ({path:?}, {text:?}, \"{english}\"),")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> Gaps {
        let mut gaps = Gaps::default();
        japanese(<crate::Cli as clap::CommandFactory>::command(), &mut gaps);
        gaps
    }

    /// Every command and argument of the tree has its Japanese text. A new
    /// subcommand or argument fails here with the lines to paste into
    /// `help_ja/catalogue.rs` (English in place of the translation).
    #[test]
    fn every_command_and_argument_has_japanese_help() {
        let gaps = walk();
        assert!(
            gaps.missing.is_empty(),
            "{} help texts have no Japanese; add to help_ja/catalogue.rs and translate:\n{}",
            gaps.missing.len(),
            gaps.missing.join("\n")
        );
    }

    /// An entry that names no command or argument (renamed, removed or
    /// mistyped) would silently never be shown.
    #[test]
    fn every_catalogue_entry_names_something_that_exists() {
        let gaps = walk();
        let stale: Vec<String> = catalogue::CATALOGUE
            .iter()
            .enumerate()
            .filter(|(i, _)| !gaps.used.contains(i))
            .map(|(_, (path, text, _))| format!("({path:?}, {text:?})"))
            .collect();
        assert!(
            stale.is_empty(),
            "stale catalogue entries:\n{}",
            stale.join("\n")
        );
    }

    #[test]
    fn no_entry_is_left_in_english() {
        for (path, text, ja) in catalogue::CATALOGUE {
            assert!(
                !ja.is_empty() && !ja.is_ascii(),
                "({path:?}, {text:?}) is not translated: {ja:?}"
            );
        }
    }

    #[test]
    fn an_argument_without_help_keeps_its_default_and_values() {
        let command = Command::new("t").arg(
            clap::Arg::new("mode")
                .long("mode")
                .default_value("fast")
                .value_parser(["fast", "slow"]),
        );
        let mut gaps = Gaps::default();
        let help = japanese(command, &mut gaps).render_help().to_string();
        assert!(
            help.contains("[既定値: fast] [指定可能な値: fast, slow]"),
            "{help}"
        );
        assert!(!help.contains("default"), "{help}");
    }

    #[test]
    fn the_language_is_read_before_clap_parses() {
        let args =
            |words: &[&str]| -> Vec<std::ffi::OsString> { words.iter().map(Into::into).collect() };
        assert_eq!(
            explicit_lang(&args(&["tejun", "--lang", "ja", "run"])).as_deref(),
            Some("ja")
        );
        assert_eq!(
            explicit_lang(&args(&["tejun", "run", "--lang=en"])).as_deref(),
            Some("en")
        );
        assert_eq!(
            explicit_lang(&args(&["tejun", "run", "--", "--lang", "ja"])),
            None
        );
    }
}
