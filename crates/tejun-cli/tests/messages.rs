//! Every message exists in Japanese as well as English. Messages are
//! `lang.pick(en, ja)` / `ctx.error(en, ja)` pairs spread through the
//! sources, so this test reads the sources of every crate and fails when a
//! pair's Japanese is empty or the same text as its English (a message
//! someone forgot to translate), except for the few listed below, which
//! read the same in both languages.

use std::path::Path;

/// Texts that are the same in both languages on purpose.
const SAME_IN_BOTH: &[&str] = &["ID", "DB", "SHA-256", "TODO", "#", "—", "-", "", "[auto]"];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_message_pair_has_a_japanese_text_that_differs_from_the_english() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    // `pick("en", "ja")`, `error("en", "ja")`, `l("en", "ja")`, with either
    // side possibly `&format!("…", …)`.
    let pair = regex::Regex::new(
        r#"\b(?:pick|error|l)\(\s*(?:&format!\()?\s*"((?:[^"\\]|\\.)*)"[^"]*?,\s*(?:&format!\()?\s*"((?:[^"\\]|\\.)*)""#,
    )
    .unwrap();
    let mut seen = 0;
    let mut untranslated = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for m in pair.captures_iter(&text) {
            seen += 1;
            let (en, ja) = (&m[1], &m[2]);
            if en == ja && !SAME_IN_BOTH.contains(&en) {
                let line = text[..m.get(0).unwrap().start()].lines().count() + 1;
                untranslated.push(format!("{}:{line}: {en:?}", file.display()));
            }
        }
    }
    assert!(
        seen > 300,
        "the scan found only {seen} message pairs: is the pattern stale?"
    );
    assert!(
        untranslated.is_empty(),
        "messages whose Japanese equals the English (translate them, or list them in SAME_IN_BOTH):\n{}",
        untranslated.join("\n")
    );
}
