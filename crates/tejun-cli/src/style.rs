//! Colours every command shares, so a label or an environment looks the
//! same in `plan`, `run` and the banners. anstream strips them when
//! `NO_COLOR` is set or output is not a terminal.

use anstyle::{AnsiColor, Style};
use tejun_runbook::model::Safety;

/// Green for read-only, bold yellow for changes, bold red for destructive.
pub fn safety(safety: Safety) -> Style {
    match safety {
        Safety::ReadOnly => AnsiColor::Green.on_default(),
        Safety::Changes => AnsiColor::Yellow.on_default().bold(),
        Safety::Destructive => AnsiColor::Red.on_default().bold(),
    }
}

/// An inventory colour name (validated by the inventory parser).
pub fn env_color(name: &str) -> AnsiColor {
    match name {
        "red" => AnsiColor::Red,
        "yellow" => AnsiColor::Yellow,
        "green" => AnsiColor::Green,
        "blue" => AnsiColor::Blue,
        "magenta" => AnsiColor::Magenta,
        "cyan" => AnsiColor::Cyan,
        "gray" => AnsiColor::BrightBlack,
        _ => AnsiColor::White,
    }
}
