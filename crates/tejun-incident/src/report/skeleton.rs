//! The editable Markdown skeleton: `tejun report ID --skeleton > pm.md`,
//! edit, then `tejun report ID --from pm.md`.
//!
//! Only three sections are read back, each found by the first word of its
//! `##` heading (so the translated words after it may be anything):
//!
//! ```markdown
//! ## causes — 根本原因
//! ### technical — 技術的
//! - the cause, one bullet each
//!   - why: first why
//!   - why: second why
//! ### process — プロセス
//! ### organisational — 組織的
//! ## lessons — 学んだ教訓
//! - one lesson per bullet
//! ## actions — 改善アクション
//! - [short] owner: what will be done
//! ```
//!
//! Bullets that are just `TODO` are ignored, as are blank lines, HTML
//! comments and any other `##` section. Anything else inside the three
//! sections is an error reported at its line and column.

use std::fmt::Write;

use tejun_locale::Lang;

use super::Postmortem;
use crate::error::{Error, Result};
use crate::events::{Action, Cause, Lesson};
use crate::model::{Layer, Term};

/// Writes the skeleton with what the journal already holds.
pub fn render(pm: &Postmortem, lang: Lang) -> String {
    let inc = &pm.incident;
    let l = |en: &'static str, ja: &'static str| lang.pick(en, ja);
    let mut w = String::new();
    let _ = writeln!(
        w,
        "<!-- {} -->\n",
        lang.pick(
            &format!(
                "tejun postmortem skeleton for {id}. Edit the causes, lessons and actions below, then run: tejun report {id} --from THIS_FILE. Format: docs/incidents.md",
                id = inc.id
            ),
            &format!(
                "{id} のポストモーテム雛形です。以下の原因・教訓・改善アクションを編集し、tejun report {id} --from このファイル で取り込みます。書式: docs/incidents.md",
                id = inc.id
            ),
        )
    );
    let _ = writeln!(
        w,
        "# {} {}: {}\n",
        inc.id,
        l("postmortem", "ポストモーテム"),
        inc.title.replace('\n', " ")
    );
    let _ = writeln!(
        w,
        "## causes — {}\n",
        l("Root cause (5 whys)", "根本原因 (なぜなぜ分析)")
    );
    for layer in Layer::ALL {
        let _ = writeln!(w, "### {} — {}\n", layer.as_str(), layer.label(lang));
        let causes: Vec<_> = inc.causes.iter().filter(|c| c.layer == *layer).collect();
        if causes.is_empty() {
            let _ = writeln!(w, "- TODO");
        }
        for cause in causes {
            let _ = writeln!(w, "- {}", one_line(&cause.text));
            for why in &cause.whys {
                let _ = writeln!(w, "  - why: {}", one_line(why));
            }
        }
        w.push('\n');
    }
    let _ = writeln!(w, "## lessons — {}\n", l("Lessons learned", "学んだ教訓"));
    if inc.lessons.is_empty() {
        let _ = writeln!(w, "- TODO");
    }
    for lesson in &inc.lessons {
        let _ = writeln!(w, "- {}", one_line(&lesson.text));
    }
    let _ = writeln!(
        w,
        "\n## actions — {}\n",
        l("Improvement actions", "改善アクション")
    );
    let _ = writeln!(
        w,
        "<!-- - [short|mid|long] owner: {} -->",
        l("what will be done", "実施内容")
    );
    if inc.actions.is_empty() {
        let _ = writeln!(w, "- TODO");
    }
    for action in &inc.actions {
        let _ = writeln!(
            w,
            "- [{}] {}: {}",
            action.term,
            one_line(&action.owner),
            one_line(&action.text)
        );
    }
    w
}

/// What an edited skeleton says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// The incident the skeleton was written for (its `# INC-… ` title),
    /// so a file is not read into the wrong incident.
    pub incident: Option<String>,
    pub causes: Vec<Cause>,
    pub lessons: Vec<Lesson>,
    pub actions: Vec<Action>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Other,
    Causes(Option<Layer>),
    Lessons,
    Actions,
}

/// Reads an edited skeleton; errors name `file:line:col`.
pub fn parse(text: &str, file: &str) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    let mut section = Section::Other;
    let mut in_comment = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let at = |col: usize, en: String, ja: String| {
            Error::input(
                format!("{file}:{line_no}:{col}: {en}"),
                format!("{file}:{line_no}:{col}: {ja}"),
            )
        };
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        let col = line.len() - trimmed.len() + 1;
        if in_comment {
            in_comment = !trimmed.contains("-->");
            continue;
        }
        if trimmed.starts_with("<!--") {
            in_comment = !trimmed.contains("-->");
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            section = match first_word(heading).as_str() {
                "causes" => Section::Causes(None),
                "lessons" => Section::Lessons,
                "actions" => Section::Actions,
                _ => Section::Other,
            };
            continue;
        }
        if let Some(title) = line.strip_prefix("# ") {
            let word = title.split_whitespace().next().unwrap_or("");
            if parsed.incident.is_none()
                && word.to_ascii_uppercase().starts_with(crate::ids::PREFIX)
            {
                parsed.incident = Some(word.to_string());
            }
            section = Section::Other;
            continue;
        }
        if let Some(heading) = line.strip_prefix("### ") {
            if let Section::Causes(_) = section {
                let word = first_word(heading);
                let layer = Layer::parse(&word).map_err(|_| {
                    at(
                        5,
                        format!("unknown cause layer {word:?}; use technical, process or organisational"),
                        format!("不明な原因の層 {word:?} です。technical / process / organisational を使ってください"),
                    )
                })?;
                section = Section::Causes(Some(layer));
            }
            continue;
        }
        if section == Section::Other {
            continue;
        }
        let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| (trimmed == "-").then_some(""))
        else {
            return Err(at(
                col,
                format!("expected a \"- \" bullet, found {trimmed:?}"),
                format!("\"- \" で始まる箇条書きが必要ですが {trimmed:?} があります"),
            ));
        };
        let item = item.trim();
        if item.is_empty() || item.eq_ignore_ascii_case("todo") {
            continue;
        }
        let nested = col > 1;
        match section {
            Section::Other => {}
            Section::Causes(None) => {
                return Err(at(
                    col,
                    "a cause must be under a \"### technical|process|organisational\" heading"
                        .into(),
                    "原因は \"### technical|process|organisational\" 見出しの下に書いてください"
                        .into(),
                ));
            }
            Section::Causes(Some(layer)) => {
                if nested {
                    let why = item
                        .strip_prefix("why:")
                        .or_else(|| item.strip_prefix("なぜ:"))
                        .or_else(|| item.strip_prefix("なぜ?"))
                        .unwrap_or(item)
                        .trim();
                    let Some(cause) = parsed.causes.last_mut().filter(|c| c.layer == layer) else {
                        return Err(at(
                            col,
                            "a why must be indented under a cause".into(),
                            "「なぜ」は原因の下に字下げして書いてください".into(),
                        ));
                    };
                    if !why.is_empty() {
                        cause.whys.push(why.to_string());
                    }
                } else {
                    parsed.causes.push(Cause {
                        layer,
                        text: item.to_string(),
                        whys: Vec::new(),
                    });
                }
            }
            Section::Lessons => parsed.lessons.push(Lesson {
                text: item.to_string(),
            }),
            Section::Actions => parsed
                .actions
                .push(parse_action(item).map_err(|(en, ja)| at(col + 2, en, ja))?),
        }
    }
    Ok(parsed)
}

fn parse_action(item: &str) -> std::result::Result<Action, (String, String)> {
    let bad = || {
        (
            format!("expected \"[short|mid|long] owner: action\", found {item:?}"),
            format!("\"[short|mid|long] 担当者: 内容\" の形式が必要ですが {item:?} があります"),
        )
    };
    let rest = item.strip_prefix('[').ok_or_else(bad)?;
    let (term, rest) = rest.split_once(']').ok_or_else(bad)?;
    let term = Term::parse(term).map_err(|e| {
        (
            e.to_string(),
            tejun_locale::Localize::localize(&e, Lang::Ja),
        )
    })?;
    let (owner, text) = rest.split_once(':').ok_or_else(bad)?;
    let (owner, text) = (owner.trim(), text.trim());
    if owner.is_empty()
        || text.is_empty()
        || owner.eq_ignore_ascii_case("todo")
        || text.eq_ignore_ascii_case("todo")
    {
        return Err(bad());
    }
    Ok(Action {
        term,
        owner: owner.to_string(),
        text: text.to_string(),
        due: None,
        status: Default::default(),
    })
}

fn first_word(heading: &str) -> String {
    heading
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDITED: &str = "<!-- comment\nspanning -->\n# INC-1 postmortem: x\n\n## causes — 根本原因\n### technical — 技術的\n- no index on activity_date\n  - why: nobody reviewed the plan\n  - なぜ: no slow-query alert\n### process — プロセス\n- TODO\n### organizational\n- no owner for DB health\n## lessons — 学んだ教訓\n- watch trends\n## actions\n- [short] alice: add the index\n- [long] sre team: partition the table\n## notes\nanything here is ignored\n";

    #[test]
    fn reads_an_edited_skeleton() {
        let parsed = parse(EDITED, "pm.md").unwrap();
        assert_eq!(parsed.causes.len(), 2);
        assert_eq!(
            parsed.causes[0].whys,
            vec!["nobody reviewed the plan", "no slow-query alert"]
        );
        assert_eq!(parsed.causes[1].layer, Layer::Organisational);
        assert_eq!(parsed.lessons[0].text, "watch trends");
        assert_eq!(parsed.actions[1].owner, "sre team");
        assert_eq!(parsed.actions[1].term, Term::Long);
        assert_eq!(parsed.incident.as_deref(), Some("INC-1"));
    }

    mod round_trip {
        use super::super::*;
        use crate::fold::fold;
        use crate::ops::{Incidents, OpenRequest};
        use proptest::prelude::*;
        use tejun_journal::Journal;

        /// Text an operator could type on one line (no TODO placeholder).
        fn words() -> impl Strategy<Value = String> {
            "[A-Za-z0-9ぁ-んァ-ン漢字 .,:'%()/-]{1,24}"
                .prop_map(|s| s.trim().to_string())
                .prop_filter("non-empty, not a placeholder", |s| {
                    !s.is_empty() && !s.eq_ignore_ascii_case("todo")
                })
        }

        fn layer() -> impl Strategy<Value = Layer> {
            proptest::sample::select(Layer::ALL.to_vec())
        }

        fn term() -> impl Strategy<Value = Term> {
            proptest::sample::select(Term::ALL.to_vec())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            /// Whatever was entered from the CLI comes back unchanged
            /// from the skeleton it renders into.
            #[test]
            fn what_the_cli_entered_reads_back_unchanged(
                causes in proptest::collection::vec((layer(), words(), proptest::collection::vec(words(), 0..5)), 0..6),
                lessons in proptest::collection::vec(words(), 0..4),
                actions in proptest::collection::vec((term(), words().prop_filter("no colon", |o| !o.contains(':')), words()), 0..4),
            ) {
                let journal = Journal::open_in_memory().unwrap();
                let ops = Incidents::new(&journal, "t@h");
                let id = ops.open(&OpenRequest {
                    title: "t".into(), severity: "P2".into(), impact: None,
                    started_at: None, detected_at: None, source: "cli".into(), env: None,
                }).unwrap();
                for (layer, text, whys) in &causes {
                    ops.cause(&id, *layer, text, whys).unwrap();
                }
                for text in &lessons {
                    ops.lesson(&id, text).unwrap();
                }
                for (term, owner, text) in &actions {
                    ops.action(&id, *term, owner, text).unwrap();
                }
                let entries = crate::timeline::entries(&journal, &id).unwrap();
                let incident = fold(&id, &entries).unwrap();
                let pm = super::super::super::Postmortem::load(&journal, &id).unwrap();
                let parsed = parse(&render(&pm, Lang::Ja), "pm.md").unwrap();
                // The skeleton groups causes by layer, in the book's order.
                let mut expected = incident.causes.clone();
                expected.sort_by_key(|c| c.layer);
                prop_assert_eq!(parsed.causes, expected);
                prop_assert_eq!(parsed.lessons, incident.lessons);
                prop_assert_eq!(parsed.actions, incident.actions);
                prop_assert_eq!(parsed.incident, Some(id));
            }
        }
    }

    #[test]
    fn errors_point_at_the_line() {
        let err = parse("## actions\n- [soon] bob: x\n", "pm.md").unwrap_err();
        assert!(err.to_string().starts_with("pm.md:2:3:"), "{err}");
        let err = parse("## causes\n### technical\nfree text\n", "pm.md").unwrap_err();
        assert!(err.to_string().starts_with("pm.md:3:1:"), "{err}");
        let err = parse("## causes\n### human\n", "pm.md").unwrap_err();
        assert!(err.to_string().starts_with("pm.md:2:5:"), "{err}");
    }
}
