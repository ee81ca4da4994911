//! The postmortem as one self-contained HTML page, rendered from the same
//! Markdown so both formats always carry the same content.
//!
//! Notes, hypotheses and log excerpts are written by people and attackers
//! alike (a matched log line can hold `<script>`), so raw HTML in the
//! Markdown is shown as text, never passed through.

use pulldown_cmark::{Event, Options, Parser, html};

pub fn render(markdown: &str, title: &str, lang: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut body = String::new();
    html::push_html(&mut body, parser);
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\nbody{{font-family:system-ui,\"Hiragino Sans\",\"Noto Sans JP\",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.6}}\ntable{{border-collapse:collapse;margin:1rem 0}}\nth,td{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}}\ncode{{font-size:.9em;word-break:break-all}}\nblockquote{{border-left:4px solid #ccc;margin:0;padding-left:1rem;color:#444}}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_from_notes_or_logs_is_shown_as_text() {
        let page = render(
            "| a | b |\n| --- | --- |\n| note | <script>alert(1)</script> |\n\n<img src=x onerror=alert(1)>\n",
            "<b>t</b>",
            "en",
        );
        assert!(
            !page.contains("<script>") && !page.contains("<img"),
            "{page}"
        );
        assert!(
            page.contains("&lt;script&gt;") && page.contains("<title>&lt;b&gt;t&lt;/b&gt;</title>"),
            "{page}"
        );
    }
}
