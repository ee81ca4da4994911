//! The runbook format as a spec: what parses, into what, and what each
//! mistake is reported as, where.

use std::time::Duration;

use tejun_locale::Lang;
use tejun_runbook::diagnostics::ErrorKind;
use tejun_runbook::model::{OnFailure, Safety, StepKind, VarValue, Verdict};
use tejun_runbook::{check_against_inventory, parse_inventory, parse_runbook};

const NGINX: &str = r#"
name: nginx upstream change
description: add a weighted upstream
env: staging
vars:
  conf: "{{runbook_dir}}/site.conf"
  weight: {value: "5", type: int, description: new weight}
  token: {from_env: API_TOKEN, secret: true}
  ticket: {required: true}
secret_env: [DB_PASSWORD]
defaults: {timeout: 30s}
pre:
  - id: backup-conf
    backup: {paths: ["{{conf}}"]}
  - check: test -f {{conf}}
execute:
  - id: apply
    run: sed -i 's/weight=1/weight='{{weight}}/ {{conf}}
    expect: {exit: [0], stdout: "^$"}
    retries: 2
    retry_delay: 500ms
post:
  - id: verify
    confirm: "Is {{conf}} serving? ticket {{ticket}}"
    auto: ok
    evidence: required
exit:
  - run: "true"
    on_failure: continue
    safety: read-only
rollback:
  steps:
    - id: restore-conf
      restore: {from: backup-conf}
  checks:
    - check: grep -q weight=1 {{conf}}
"#;

#[test]
fn parses_every_feature() {
    let rb = parse_runbook(NGINX, "nginx.yaml").unwrap();
    assert_eq!(rb.name, "nginx upstream change");
    assert_eq!(rb.environments, ["staging"]);
    assert_eq!(
        (rb.environment_spans[0].line, rb.environment_spans[0].col),
        (4, 6)
    );
    assert_eq!(
        rb.vars["token"].value,
        VarValue::FromEnv("API_TOKEN".into())
    );
    assert!(rb.vars["token"].secret);
    assert_eq!(rb.vars["ticket"].value, VarValue::Required);
    assert_eq!(rb.secret_env, ["DB_PASSWORD"]);

    let pre = &rb.phases.pre;
    assert_eq!(pre[0].id, "backup-conf");
    assert_eq!(pre[0].safety, Safety::ReadOnly);
    assert_eq!(pre[0].paths[0].source, "{{conf}}");
    assert_eq!(pre[1].id, "pre-2", "derived id");
    assert_eq!(
        pre[1].timeout,
        Duration::from_secs(30),
        "defaults.timeout applies"
    );

    let apply = &rb.phases.execute[0];
    assert_eq!(apply.safety, Safety::Changes);
    let StepKind::Run(cmd) = &apply.kind else {
        panic!("run")
    };
    assert_eq!(cmd.retries, 2);
    assert_eq!(cmd.retry_delay, Duration::from_millis(500));
    assert_eq!(cmd.expect_stdout.as_deref(), Some("^$"));

    let StepKind::Confirm(confirm) = &rb.phases.post[0].kind else {
        panic!("confirm")
    };
    assert_eq!(confirm.auto, Some(Verdict::Ok));
    assert!(confirm.evidence_required);

    assert_eq!(rb.phases.exit[0].on_failure, OnFailure::Continue);
    let restore = &rb.rollback.steps[0];
    assert_eq!(restore.safety, Safety::Changes);
    assert_eq!(
        restore.paths[0].source, "{{conf}}",
        "restore inherits the backup's paths"
    );
    assert_eq!(rb.rollback.checks[0].id, "rollback-check-1");
}

/// (line, col) and the kind of each error in `source`.
fn errors(source: &str) -> Vec<(usize, usize, ErrorKind)> {
    let diags = parse_runbook(source, "t.yaml").expect_err("should be invalid");
    diags
        .iter()
        .map(|d| (d.span.line, d.span.col, d.kind.clone()))
        .collect()
}

fn positions(source: &str) -> Vec<(usize, usize)> {
    errors(source).into_iter().map(|(l, c, _)| (l, c)).collect()
}

#[test]
fn collects_all_errors_in_source_order() {
    let src = "name: x\nenv: dev\nexecute:\n  - run: echo {{nope}}\n    timout: 5s\n  - check: ls\n    safety: destructive\n  - run: a\n    check: b\n";
    let found = errors(src);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(matches!(&found[0].2, ErrorKind::UndefinedVariable { name, .. } if name == "nope"));
    assert_eq!(
        (found[0].0, found[0].1),
        (4, 15),
        "points at the placeholder"
    );
    assert!(
        matches!(&found[1].2, ErrorKind::UnknownKey { suggestion: Some(s), .. } if s == "timeout")
    );
    assert_eq!((found[1].0, found[1].1), (5, 5));
    assert!(matches!(found[2].2, ErrorKind::CheckNotReadOnly { .. }));
    assert_eq!((found[2].0, found[2].1), (7, 13));
    assert!(matches!(
        found[3].2,
        ErrorKind::TwoStepKinds {
            first: "run",
            second: "check"
        }
    ));
    assert_eq!((found[3].0, found[3].1), (9, 5));
}

#[test]
fn placeholder_column_in_quoted_and_block_scalars() {
    assert_eq!(
        positions("name: x\nenv: dev\nexecute:\n  - run: \"echo {{ a }} {{b}}\"\nvars: {a: 1}\n"),
        [(4, 24)]
    );
    assert_eq!(
        positions("name: x\nenv: dev\nexecute:\n  - run: |\n      echo ok\n      echo {{zz}}\n"),
        [(6, 12)]
    );
    // The same placeholder twice: the second one is found, not the first.
    assert_eq!(
        positions("name: x\nenv: dev\nexecute:\n  - run: echo {{q}}; echo {{q}}\n"),
        [(4, 15), (4, 27)]
    );
}

#[test]
fn var_literals_may_use_builtins_and_earlier_vars_only() {
    let src =
        "name: x\nenv: dev\nvars:\n  a: '{{runbook_dir}}/a'\n  b: {value: '{{a}}/{{c}}'}\n  c: z\n";
    assert_eq!(positions(src), [(5, 21)]);
}

#[test]
fn placeholders_inside_single_quotes_are_refused() {
    let src = "name: x\nvars: {t: a}\nenv: dev\nexecute:\n  - run: curl -H 'Bearer {{t}}' -H \"Bearer {{t}}\"\n";
    let found = errors(src);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(matches!(&found[0].2, ErrorKind::PlaceholderInQuotes { name } if name == "t"));
    assert_eq!((found[0].0, found[0].1), (5, 26));
}

#[test]
fn escaped_braces_are_literal() {
    let src = "name: x\nenv: dev\nexecute:\n  - run: docker ps --format '\\{{.Names}}'\n  - run: echo {{.Names}}\n";
    let found = errors(src);
    assert_eq!(found.len(), 1);
    assert!(matches!(found[0].2, ErrorKind::BadPlaceholder));
    assert_eq!((found[0].0, found[0].1), (5, 15));
}

#[test]
fn restore_must_name_an_earlier_backup() {
    let src = "name: x\nenv: dev\nexecute:\n  - id: a\n    run: 'true'\n  - restore: {from: a}\n  - restore: {from: missing}\n  - restore: {from: b}\n  - id: b\n    backup: [/tmp/x]\n";
    let found = errors(src);
    assert!(matches!(
        &found[0].2,
        ErrorKind::RestoreFromNotBackup { kind: "run", .. }
    ));
    assert_eq!((found[0].0, found[0].1), (6, 21));
    assert!(matches!(&found[1].2, ErrorKind::RestoreFromUnknown { .. }));
    assert!(matches!(&found[2].2, ErrorKind::RestoreBeforeBackup { .. }));
}

#[test]
fn durations_regex_and_types() {
    let src = "name: x\nenv: dev\nexecute:\n  - run: a\n    timeout: 30\n  - run: b\n    timeout: 5 min\n  - run: c\n    expect: {stdout: '(unclosed'}\n  - run: d\n    retries: many\n  - run: e\n    expect: {exit: 300}\n";
    let kinds: Vec<_> = errors(src)
        .into_iter()
        .map(|(l, c, k)| (l, c, std::mem::discriminant(&k)))
        .collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert_eq!((kinds[0].0, kinds[0].1), (5, 14));
    assert_eq!((kinds[1].0, kinds[1].1), (7, 14));
    assert_eq!((kinds[2].0, kinds[2].1), (9, 22));
    assert_eq!((kinds[3].0, kinds[3].1), (11, 14));
    assert_eq!((kinds[4].0, kinds[4].1), (13, 20));
}

#[test]
fn duplicate_ids_point_at_the_second() {
    let src =
        "name: x\nenv: dev\npre:\n  - id: same\n    check: a\nexecute:\n  - id: same\n    run: b\n";
    let found = errors(src);
    assert_eq!(found.len(), 1);
    assert!(matches!(
        &found[0].2,
        ErrorKind::DuplicateStepId { first_line: 4, .. }
    ));
    assert_eq!((found[0].0, found[0].1), (7, 9));
}

#[test]
fn yaml_syntax_error_is_located() {
    let found = errors("name: x\nenv: dev\nexecute:\n  - run: [a, b\n");
    assert!(matches!(found[0].2, ErrorKind::Syntax(_)));
    assert!(found[0].0 >= 4, "{found:?}");
}

#[test]
fn env_is_required_and_checked_against_inventory() {
    assert!(
        errors("name: x\n")
            .iter()
            .any(|e| matches!(e.2, ErrorKind::MissingField { field: "env", .. }))
    );
    let inv = parse_inventory(
        "environments:\n  staging: {paths: ['/srv/staging/**']}\n  production: {protected: true, paths: ['**/production-*.conf']}\n",
        "tejun.yaml",
    )
    .unwrap();
    let src = "name: x\nenv: [staging, stagin]\nexecute:\n  - run: vi x\n    paths: [/etc/nginx/production-site.conf]\n";
    let rb = parse_runbook(src, "rb.yaml").unwrap();
    let diags = check_against_inventory(&rb, &inv, src, "rb.yaml").unwrap_err();
    let found: Vec<_> = diags.iter().map(|d| (d.span.line, d.span.col)).collect();
    assert_eq!(found, [(2, 16), (5, 13)]);
    let text = diags.render(src, Lang::En, false);
    assert!(
        text.contains("rb.yaml:2:16: error: environment `stagin` is not defined"),
        "{text}"
    );
    assert!(
        text.contains("belongs to environment `production`"),
        "{text}"
    );
}

#[test]
fn byte_order_mark_and_crlf_keep_columns_exact() {
    for src in [
        "\u{feff}name: x\nenv: dev\nexecute:\n  - run: echo {{nope}}\n",
        "\u{feff}name: x\r\nenv: dev\r\nexecute:\r\n  - run: echo {{nope}}\r\n",
        "name: x\r\nenv: dev\r\nexecute:\r\n  - run: echo {{nope}}\r\n",
    ] {
        assert_eq!(positions(src), [(4, 15)], "{src:?}");
    }
    assert!(parse_runbook("\u{feff}name: x\r\nenv: dev\r\n", "bom.yaml").is_ok());
}

#[test]
fn never_panics_on_odd_documents() {
    for src in [
        "",
        "~",
        "[]",
        "- a",
        "name: [",
        "\u{feff}name: x",
        "name: x\nenv: dev\nexecute: 5",
        "a: &x [*x]",
    ] {
        let _ = parse_runbook(src, "odd.yaml");
        let _ = parse_inventory(src, "odd.yaml");
    }
}

/// `from:` names a host by the host rule (dots allowed), not the probe-name
/// rule; an option-like or malformed host is still refused.
#[test]
fn a_probe_runs_from_a_dotted_host_name() {
    let book = |from: &str| {
        format!(
            "name: x\nenv: dev\nprobes:\n  db:\n    tcp: 127.0.0.1:5432\n    from: {from}\nexecute:\n  - id: a\n    run: 'true'\n"
        )
    };
    for host in ["web1.example.com", "web1", "10.0.0.7"] {
        let rb = parse_runbook(&book(host), "rb.yaml").unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(
            rb.probes["db"].from,
            tejun_probe::ProbeFrom::Host(host.to_string())
        );
    }
    // A host-variable selector is accepted too; an option-like one is not.
    assert_eq!(
        parse_runbook(&book("zone=a"), "rb.yaml").unwrap().probes["db"].from,
        tejun_probe::ProbeFrom::Host("zone=a".to_string())
    );
    for bad in ["\"-oProxyCommand=x\"", "web_1", "a..b", "zone=-x", "\"=a\""] {
        assert!(parse_runbook(&book(bad), "rb.yaml").is_err(), "{bad}");
    }
}
