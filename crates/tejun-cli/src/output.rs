//! Everything a command prints on stdout goes through here, for two reasons
//! an operator notices: columns line up although Japanese labels are two
//! cells wide, and `tejun runs | head -3` stops quietly instead of panicking
//! on the broken pipe. Colour goes through anstream, so NO_COLOR and pipes
//! get plain text.

use anstyle::Style;
use unicode_width::UnicodeWidthStr;

use crate::context::Exit;

/// `println!` through anstream (colour only on a terminal, NO_COLOR
/// respected) that stops quietly when stdout is closed, as in
/// `tejun runs | head -3`: the reader left, so there is no one to tell.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(anstream::stdout(), $($arg)*);
    }};
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(anstream::stdout(), $($arg)*);
    }};
}

pub(crate) use {out, outln};

/// Pretty JSON on stdout for `--json`, broken-pipe safe like [`outln!`].
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Exit {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            outln!("{text}");
            Exit::Ok
        }
        // Plain data: cannot fail, but never panic over it.
        Err(err) => {
            eprintln!("error: {err}");
            Exit::Failed
        }
    }
}

/// One table cell: its text and how to colour it.
pub(crate) struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    pub(crate) fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::new(),
        }
    }

    pub(crate) fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }
}

/// Left-aligned columns sized by display width (CJK is two cells), two
/// spaces apart; the last column is not padded. Colour goes through
/// anstream, so NO_COLOR and pipes get plain text.
pub(crate) struct Table {
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub(crate) fn new(header: Vec<Cell>) -> Table {
        let header = header
            .into_iter()
            .map(|cell| Cell {
                style: cell.style.bold(),
                ..cell
            })
            .collect();
        Table { rows: vec![header] }
    }

    /// A table whose header is plain column names.
    pub(crate) fn with_header<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Table {
        Table::new(names.into_iter().map(Cell::plain).collect())
    }

    pub(crate) fn headless() -> Table {
        Table { rows: Vec::new() }
    }

    pub(crate) fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub(crate) fn print(&self) {
        for line in self.lines() {
            outln!("{line}");
        }
    }

    /// The rendered lines, colour codes included.
    fn lines(&self) -> Vec<String> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| single_line(&cell.text).width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        self.rows
            .iter()
            .map(|row| {
                let mut line = String::new();
                for (c, cell) in row.iter().enumerate() {
                    let text = single_line(&cell.text);
                    line.push_str(&format!(
                        "{}{}{}",
                        cell.style.render(),
                        text,
                        cell.style.render_reset()
                    ));
                    if c + 1 < row.len() {
                        line.push_str(&" ".repeat(widths[c].saturating_sub(text.width()) + 2));
                    }
                }
                line.trim_end().to_string()
            })
            .collect()
    }
}

/// `text` followed by spaces up to `width` display cells: `{:<width$}`
/// counts characters, and a Japanese label is two cells a character.
pub(crate) fn pad_end(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// `text` after spaces up to `width` display cells (right-aligned).
pub(crate) fn pad_start(text: &str, width: usize) -> String {
    format!("{}{text}", " ".repeat(width.saturating_sub(text.width())))
}

/// Newlines and tabs in recorded text would break the table's lines.
pub(crate) fn single_line(text: &str) -> String {
    text.replace(['\n', '\r', '\t'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_columns_line_up_by_display_width() {
        let mut table = Table::headless();
        table.row(vec![
            Cell::plain("重大度"),
            Cell::plain("状態"),
            Cell::plain("x"),
        ]);
        table.row(vec![
            Cell::plain("P1"),
            Cell::plain("open"),
            Cell::plain("y"),
        ]);
        // 重大度 is six cells wide, 状態 four: the next column starts two
        // cells after the widest entry.
        assert_eq!(table.lines(), ["重大度  状態  x", "P1      open  y"]);
    }

    #[test]
    fn padding_counts_display_cells() {
        assert_eq!(pad_end("件数", 7), "件数   ");
        assert_eq!(pad_start("件数", 7), "   件数");
        assert_eq!(pad_end("COUNT", 7), format!("{:<7}", "COUNT"));
        assert_eq!(pad_end("toolong", 3), "toolong");
    }

    #[test]
    fn the_last_column_is_not_padded_and_newlines_are_flattened() {
        let mut table = Table::headless();
        table.row(vec![Cell::plain("a"), Cell::plain("")]);
        table.row(vec![Cell::plain("bb"), Cell::plain("two\nlines")]);
        assert_eq!(table.lines(), ["a", "bb  two lines"]);
    }
}
