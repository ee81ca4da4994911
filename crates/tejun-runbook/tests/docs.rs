//! The format references in docs/ are checked against the parser, so an
//! example in the documentation cannot drift from what tejun accepts.

use std::path::Path;

use tejun_runbook::{Lang, parse_inventory, parse_runbook};

fn doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The contents of every ```yaml fenced block.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```yaml") => current = Some(String::new()),
            (Some(block), l) if l.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn complete_runbook_examples_parse() {
    let blocks: Vec<String> = yaml_blocks(&doc("runbook.md"))
        .into_iter()
        .filter(|b| b.starts_with("name:"))
        .collect();
    assert!(
        !blocks.is_empty(),
        "docs/runbook.md has no complete example"
    );
    for block in blocks {
        if let Err(diags) = parse_runbook(&block, "docs/runbook.md") {
            panic!("{}", diags.render(&block, Lang::En, false));
        }
    }
}

#[test]
fn inventory_example_parses() {
    let blocks: Vec<String> = yaml_blocks(&doc("inventory.md"))
        .into_iter()
        .filter(|b| b.starts_with("environments:"))
        .collect();
    assert!(!blocks.is_empty(), "docs/inventory.md has no example");
    for block in blocks {
        let inv = match parse_inventory(&block, "docs/inventory.md") {
            Ok(inv) => inv,
            Err(diags) => panic!("{}", diags.render(&block, Lang::En, false)),
        };
        assert_eq!(
            inv.pinned_environment("/srv/staging/../../etc/nginx/site.conf"),
            Some("production")
        );
    }
}

#[test]
fn shown_diagnostics_are_what_tejun_prints() {
    let runbook = "name: restart web\nenv: staging\nexecute:\n  - run: systemctl restart {{servce}}\nvars: {service: nginx}\n";
    let diags = parse_runbook(runbook, "restart.yaml").unwrap_err();
    let text = doc("runbook.md");
    for lang in [Lang::En, Lang::Ja] {
        let shown = diags.render(runbook, lang, false);
        assert!(
            text.contains(shown.trim_end()),
            "docs/runbook.md should show:\n{shown}"
        );
    }
    let inventory = "environments:\n  production:\n    colour: red\n";
    let diags = parse_inventory(inventory, "tejun.yaml").unwrap_err();
    let shown = diags.render(inventory, Lang::En, false);
    assert!(
        doc("inventory.md").contains(shown.trim_end()),
        "docs/inventory.md should show:\n{shown}"
    );
}
