//! The postmortem as one self-contained HTML page, rendered from the same
//! Markdown so both formats always carry the same content.

use pulldown_cmark::{Options, Parser, html};

pub fn render(markdown: &str, title: &str, lang: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES);
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
