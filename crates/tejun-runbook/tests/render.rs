//! What an operator sees for a broken runbook, in both languages.

use tejun_locale::Lang;
use tejun_runbook::parse_runbook;

const BROKEN: &str = "name: restart web\nenv: staging\nexecute:\n  - run: systemctl restart {{servce}}\n    timeout: 30\n";

#[test]
fn english_diagnostic() {
    let diags = parse_runbook(BROKEN, "restart.yaml").unwrap_err();
    insta::assert_snapshot!("english", diags.render(BROKEN, Lang::En, false));
}

#[test]
fn japanese_diagnostic() {
    let diags = parse_runbook(BROKEN, "restart.yaml").unwrap_err();
    insta::assert_snapshot!("japanese", diags.render(BROKEN, Lang::Ja, false));
}

#[test]
fn color_only_when_asked() {
    let diags = parse_runbook(BROKEN, "restart.yaml").unwrap_err();
    assert!(!diags.render(BROKEN, Lang::En, false).contains('\x1b'));
    assert!(diags.render(BROKEN, Lang::En, true).contains('\x1b'));
}
