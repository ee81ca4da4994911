//! Whatever the input, every diagnostic points inside the source, on a
//! character boundary, and its line:col agree with its offset.

use proptest::prelude::*;
use tejun_runbook::{Diagnostics, Lang, parse_inventory, parse_runbook};

/// Pieces of runbooks and inventories, valid and broken, to build inputs
/// that reach deep into the parsers rather than failing at the first byte.
const FRAGMENTS: &[&str] = &[
    "name: x\n",
    "env: dev\n",
    "env: [dev, 本番]\n",
    "vars:\n  a: 1\n",
    "  b: {from_env: B, secret: true}\n",
    "execute:\n",
    "pre:\n",
    "rollback:\n  steps:\n",
    "  - run: echo {{a}}\n",
    "  - check: ls {{nope}}\n",
    "    timeout: 5 分\n",
    "    safety: destructive\n",
    "  - confirm: \"確認 {{a}}\"\n",
    "    auto: ok\n",
    "  - backup: [/tmp/x]\n",
    "  - restore: {from: x}\n",
    "    id: x\n",
    "    expect: {stdout: '(', exit: [0, 999]}\n",
    "environments:\n",
    "  prod: {protected: true, paths: ['a[']}\n",
    "incidents:\n  escalation:\n    - {name: a}\n",
    "\t",
    "{{",
    "}}",
    ": ",
    "- ",
    "'",
    "\"",
    "\u{feff}",
    "\r\n",
    "日本語",
    "&a ",
    "*a ",
    "!!str ",
    "[",
    "]",
];

fn assert_spans_sane(diags: &Diagnostics, source: &str) {
    for d in diags.iter() {
        let s = d.span;
        assert!(s.offset <= source.len(), "{d:?}");
        assert!(source.is_char_boundary(s.offset), "{d:?}");
        assert!(
            s.offset + s.len <= source.len() && source.is_char_boundary(s.offset + s.len),
            "{d:?}"
        );
        let before = &source[..s.offset];
        assert_eq!(s.line, before.matches('\n').count() + 1, "{d:?}");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        assert_eq!(
            s.col,
            source[line_start..s.offset].chars().count() + 1,
            "{d:?}"
        );
    }
    let _ = diags.render(source, Lang::Ja, true);
    let _ = diags.render(source, Lang::En, false);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn spans_are_inside_the_source(parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24)) {
        let source: String = parts.concat();
        if let Err(diags) = parse_runbook(&source, "p.yaml") {
            assert_spans_sane(&diags, &source);
        }
        if let Err(diags) = parse_inventory(&source, "p.yaml") {
            assert_spans_sane(&diags, &source);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(source in any::<String>()) {
        if let Err(diags) = parse_runbook(&source, "p.yaml") {
            assert_spans_sane(&diags, &source);
        }
        let _ = parse_inventory(&source, "p.yaml");
    }
}
