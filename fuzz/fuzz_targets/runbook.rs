#![no_main]
//! Arbitrary text into the runbook and inventory parsers: they must return
//! a runbook or diagnostics, never panic, and diagnostics must render.

use libfuzzer_sys::fuzz_target;
use tejun_runbook::plan::{RunContext, plan, resolve_vars};
use tejun_runbook::{Lang, check_against_inventory, parse_inventory, parse_runbook};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        // Invalid UTF-8 is a located diagnostic that renders.
        let file = "fuzz.yaml";
        if let Err((text, diags)) = tejun_runbook::decode_source(data.to_vec(), file) {
            let _ = diags.render(&text, Lang::En, false);
        }
        return;
    };
    // Every command text: placing placeholders never panics, and the
    // command run never contains a value, only references.
    if let Ok(sites) = tejun_runbook::shell::analyze(source) {
        let rendered = tejun_runbook::shell::render_command(source);
        assert!(sites.is_empty() || rendered.contains("TEJUN_VAR_"));
    }
    let inventory = match parse_inventory(source, "fuzz.yaml") {
        Ok(inv) => {
            let _ = inv.pinned_environment(source);
            let _ = inv.host_environment(source);
            Some(inv)
        }
        Err(diags) => {
            let _ = diags.render(source, Lang::Ja, false);
            None
        }
    };
    match parse_runbook(source, "fuzz.yaml") {
        Ok(runbook) => {
            if let Some(inv) = &inventory {
                let _ = check_against_inventory(&runbook, inv, source, "fuzz.yaml");
            }
            let ctx = RunContext {
                env: runbook.environments.first().cloned().unwrap_or_default(),
                run_id: "fuzz".into(),
                now: "2026-01-01T00:00:00Z".into(),
                runbook_dir: "/tmp".into(),
                overrides: Vec::new(),
            };
            if let Ok(vars) = resolve_vars(&runbook, &ctx, &|_| Some("v".into())) {
                let _ = plan(&runbook, &vars);
            }
        }
        Err(diags) => {
            let _ = diags.render(source, Lang::En, true);
        }
    }
});
