//! clap's argument errors in Japanese, rendered from the error's kind and
//! context (what clap's own `RichFormatter` reads), so the exit code and
//! the stream stay clap's: 2 on stderr.

use std::fmt::Write as _;

use clap::builder::{StyledStr, Styles};
use clap::error::{ContextKind, ContextValue, Error, ErrorFormatter, ErrorKind};

pub struct JaFormatter;

/// Why a value parser refused a value, in both languages: clap shows the
/// English, [`JaFormatter`] the Japanese.
#[derive(Debug)]
pub struct ValueError {
    en: String,
    ja: String,
}

impl ValueError {
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> ValueError {
        ValueError {
            en: en.into(),
            ja: ja.into(),
        }
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}

impl std::error::Error for ValueError {}

impl ErrorFormatter for JaFormatter {
    fn format_error(error: &Error<Self>) -> StyledStr {
        let styles = Styles::default();
        let error_style = styles.get_error();
        let valid = styles.get_valid();
        let literal = styles.get_literal();

        let mut out = String::new();
        let _ = write!(out, "{error_style}エラー:{error_style:#} ");
        out.push_str(&message(error, &styles));

        let mut suggested = false;
        for (kind, what) in [
            (ContextKind::SuggestedSubcommand, "サブコマンド"),
            (ContextKind::SuggestedArg, "引数"),
            (ContextKind::SuggestedValue, "値"),
        ] {
            let names = match error.get(kind) {
                Some(ContextValue::String(name)) => vec![name.clone()],
                Some(ContextValue::Strings(names)) => names.clone(),
                _ => continue,
            };
            if names.is_empty() {
                continue;
            }
            out.push_str(if suggested { "\n" } else { "\n\n" });
            suggested = true;
            let names: Vec<String> = names
                .iter()
                .map(|n| format!("'{valid}{n}{valid:#}'"))
                .collect();
            let _ = write!(
                out,
                "  {valid}ヒント:{valid:#} 似た{what}があります: {}",
                names.join(", ")
            );
        }
        if let Some(ContextValue::StyledStrs(tips)) = error.get(ContextKind::Suggested) {
            if !suggested && !tips.is_empty() {
                out.push('\n');
            }
            for tip in tips {
                let _ = write!(out, "\n  {valid}ヒント:{valid:#} {}", tip_ja(tip));
            }
        }
        if let Some(ContextValue::StyledStr(usage)) = error.get(ContextKind::Usage) {
            let usage = usage.ansi().to_string().replacen("Usage:", "使い方:", 1);
            let _ = write!(out, "\n\n{usage}");
        }
        let _ = write!(
            out,
            "\n\n詳しくは '{literal}--help{literal:#}' を見てください。\n"
        );
        // StyledStr keeps ANSI styling inline; clap strips it off a terminal.
        StyledStr::from(out)
    }
}

/// The first line: what is wrong, in the words of the error's kind.
fn message(error: &Error<JaFormatter>, styles: &Styles) -> String {
    let invalid = styles.get_invalid();
    let literal = styles.get_literal();
    let valid = styles.get_valid();
    let string = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let strings = |kind| match error.get(kind) {
        Some(ContextValue::Strings(s)) => Some(s.clone()),
        _ => None,
    };
    let number = |kind| match error.get(kind) {
        Some(ContextValue::Number(n)) => Some(*n),
        _ => None,
    };
    let list = |values: &[String]| {
        values
            .iter()
            .map(|v| format!("{valid}{v}{valid:#}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let arg = string(ContextKind::InvalidArg);
    let value = string(ContextKind::InvalidValue);
    match (error.kind(), arg, value) {
        (ErrorKind::UnknownArgument, Some(arg), _) => {
            format!("想定外の引数 '{invalid}{arg}{invalid:#}' があります")
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            let mut text = if value.is_empty() {
                format!("'{literal}{arg}{literal:#}' には値が必要ですが、指定されていません")
            } else {
                format!(
                    "'{invalid}{value}{invalid:#}' は '{literal}{arg}{literal:#}' の値として使えません"
                )
            };
            if let Some(values) = strings(ContextKind::ValidValue).filter(|v| !v.is_empty()) {
                let _ = write!(text, "\n  [指定可能な値: {}]", list(&values));
            }
            text
        }
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let mut text = format!(
                "'{invalid}{value}{invalid:#}' は '{literal}{arg}{literal:#}' の値として不正です"
            );
            if let Some(source) = std::error::Error::source(error) {
                let _ = write!(text, ": {}", reason_ja(source));
            }
            text
        }
        (ErrorKind::TooManyValues, Some(arg), Some(value)) => format!(
            "'{literal}{arg}{literal:#}' に余分な値 '{invalid}{value}{invalid:#}' があります (これ以上の値は受け付けません)"
        ),
        (ErrorKind::TooFewValues, Some(arg), _) => format!(
            "'{literal}{arg}{literal:#}' には値が {valid}{}{valid:#} 個必要ですが、{invalid}{}{invalid:#} 個しか指定されていません",
            number(ContextKind::MinValues).unwrap_or_default(),
            number(ContextKind::ActualNumValues).unwrap_or_default()
        ),
        (ErrorKind::WrongNumberOfValues, Some(arg), _) => format!(
            "'{literal}{arg}{literal:#}' には値が {valid}{}{valid:#} 個必要ですが、{invalid}{}{invalid:#} 個指定されました",
            number(ContextKind::ExpectedNumValues).unwrap_or_default(),
            number(ContextKind::ActualNumValues).unwrap_or_default()
        ),
        (ErrorKind::NoEquals, Some(arg), _) => {
            format!("'{invalid}{arg}{invalid:#}' に値を渡すには等号 (=) が必要です")
        }
        (ErrorKind::ArgumentConflict, Some(arg), _) => match error.get(ContextKind::PriorArg) {
            Some(ContextValue::String(prior)) if *prior == arg => {
                format!("引数 '{invalid}{arg}{invalid:#}' は一度しか指定できません")
            }
            Some(ContextValue::String(prior)) => format!(
                "引数 '{invalid}{arg}{invalid:#}' は '{invalid}{prior}{invalid:#}' と一緒に使えません"
            ),
            Some(ContextValue::Strings(priors)) => {
                let mut text = format!("引数 '{invalid}{arg}{invalid:#}' は次と一緒に使えません:");
                for prior in priors {
                    let _ = write!(text, "\n  {invalid}{prior}{invalid:#}");
                }
                text
            }
            _ => format!("引数 '{invalid}{arg}{invalid:#}' は指定したほかの引数と一緒に使えません"),
        },
        (ErrorKind::MissingRequiredArgument, _, _) => {
            let mut text = String::from("必須の引数が指定されていません:");
            for name in strings(ContextKind::InvalidArg).unwrap_or_default() {
                let _ = write!(text, "\n  {valid}{name}{valid:#}");
            }
            text
        }
        (ErrorKind::InvalidSubcommand, _, _) => format!(
            "サブコマンド '{invalid}{}{invalid:#}' はありません",
            string(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        (ErrorKind::MissingSubcommand, _, _) => {
            let mut text = format!(
                "'{invalid}{}{invalid:#}' にはサブコマンドが必要ですが、指定されていません",
                string(ContextKind::InvalidSubcommand).unwrap_or_default()
            );
            if let Some(values) = strings(ContextKind::ValidSubcommand).filter(|v| !v.is_empty()) {
                let _ = write!(text, "\n  [サブコマンド: {}]", list(&values));
            }
            text
        }
        (ErrorKind::InvalidUtf8, _, _) => "引数が UTF-8 として正しくありません".to_string(),
        (kind, _, _) => kind_text(kind).to_string(),
    }
}

/// A kind's message when its context is incomplete (as clap falls back to
/// `ErrorKind::as_str`).
fn kind_text(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidValue => "値が不正です",
        ErrorKind::UnknownArgument => "想定外の引数があります",
        ErrorKind::InvalidSubcommand => "そのサブコマンドはありません",
        ErrorKind::NoEquals => "値を渡すには等号 (=) が必要です",
        ErrorKind::ValueValidation => "値が不正です",
        ErrorKind::TooManyValues => "値が多すぎます",
        ErrorKind::TooFewValues => "値が足りません",
        ErrorKind::WrongNumberOfValues => "値の個数が違います",
        ErrorKind::ArgumentConflict => "一緒に使えない引数が指定されています",
        ErrorKind::MissingRequiredArgument => "必須の引数が指定されていません",
        ErrorKind::MissingSubcommand => "サブコマンドが必要です",
        ErrorKind::InvalidUtf8 => "引数が UTF-8 として正しくありません",
        ErrorKind::Io => "入出力エラーです",
        ErrorKind::Format => "書式のエラーです",
        _ => "引数が正しくありません",
    }
}

/// clap's tips are written in English; the ones it writes are recognised
/// and said in Japanese, anything else is kept as it is.
fn tip_ja(tip: &StyledStr) -> String {
    let plain = tip.to_string();
    if let Some(rest) = plain.strip_prefix("to pass '")
        && let Some((value, rest)) = rest.split_once("' as a value, use '")
        && let Some(command) = rest.strip_suffix('\'')
    {
        return format!("'{value}' を値として渡すには '{command}' と書きます");
    }
    if let Some(rest) = plain.strip_prefix("subcommand '")
        && let Some(name) = rest.strip_suffix("' exists; to use it, remove the '--' before it")
    {
        return format!("サブコマンド '{name}' があります。使うには前の '--' を外します");
    }
    if let Some(rest) = plain.strip_prefix('\'')
        && let Some(command) = rest.strip_suffix("' exists")
    {
        return format!("'{command}' があります");
    }
    tip.ansi().to_string()
}

/// A value parser's reason: tejun's own in Japanese, the standard
/// library's number errors translated, anything else as it is.
fn reason_ja(source: &(dyn std::error::Error + 'static)) -> String {
    use std::num::IntErrorKind;
    if let Some(e) = source.downcast_ref::<ValueError>() {
        return e.ja.clone();
    }
    if let Some(e) = source.downcast_ref::<std::num::ParseIntError>() {
        return match e.kind() {
            IntErrorKind::Empty => "空です",
            IntErrorKind::InvalidDigit => "数字以外の文字があります",
            IntErrorKind::PosOverflow => "大きすぎます",
            IntErrorKind::NegOverflow => "小さすぎます",
            IntErrorKind::Zero => "0 は指定できません",
            _ => "整数として読めません",
        }
        .to_string();
    }
    if source.is::<std::num::ParseFloatError>() {
        return "数値として読めません".to_string();
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use clap::{Arg, Command};

    use super::*;

    fn japanese(command: Command, args: &[&str]) -> String {
        let error = command.try_get_matches_from(args).unwrap_err();
        error.apply::<JaFormatter>().render().to_string()
    }

    /// No tejun argument takes a fixed number of values yet; the message
    /// is ready for one.
    #[test]
    fn a_wrong_number_of_values_reads_in_japanese() {
        let command = Command::new("t").arg(Arg::new("pair").long("pair").num_args(2));
        let text = japanese(command, &["t", "--pair", "a"]);
        assert!(
            text.starts_with("エラー: '--pair <pair> <pair>' には値が 2 個必要ですが、1 個"),
            "{text}"
        );
    }
}
