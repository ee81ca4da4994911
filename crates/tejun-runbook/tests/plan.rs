//! Variables resolved, templates rendered, secrets kept off the screen.

use proptest::prelude::*;
use tejun_runbook::model::{PhaseName, Template};
use tejun_runbook::parse_runbook;
use tejun_runbook::plan::{
    FailureOutcome, RunContext, VarError, describe_on_failure, plan, redact, resolve_vars,
};
use tejun_runbook::template::{Quoting, render};

const RUNBOOK: &str = r#"
name: deploy
env: staging
vars:
  dir: /srv/app
  current: "{{dir}}/current"
  msg: hello
  password: {value: "s3cr'et pass", secret: true}
  api: {from_env: API_URL}
  ticket: {required: true}
secret_env: [DB_TOKEN]
pre:
  - check: test -d {{dir}}
execute:
  - run: deploy --dir {{dir}} --msg {{msg}} --password {{password}} --env {{env}} --run {{run_id}}
  - confirm: "Is {{api}} healthy? ({{ticket}})"
    paths: ["{{current}}"]
exit:
  - run: echo done
    on_failure: continue
rollback:
  steps:
    - run: rollback {{dir}}
  checks:
    - check: test -d {{dir}}
"#;

fn ctx(overrides: &[(&str, &str)]) -> RunContext {
    RunContext {
        env: "staging".into(),
        run_id: "r-1".into(),
        now: "2026-11-22T02:00:00Z".into(),
        runbook_dir: "/work".into(),
        overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn env(name: &str) -> Option<String> {
    match name {
        "API_URL" => Some("http://127.0.0.1:8080".into()),
        "DB_TOKEN" => Some("tok-123".into()),
        _ => None,
    }
}

#[test]
fn resolves_and_plans_every_phase() {
    let rb = parse_runbook(RUNBOOK, "deploy.yaml").unwrap();
    let vars = resolve_vars(
        &rb,
        &ctx(&[("ticket", "INC-1"), ("msg", "a b; rm -rf /")]),
        &env,
    )
    .unwrap();
    assert_eq!(vars.values["env"], "staging");
    assert_eq!(vars.values["runbook_dir"], "/work");
    assert_eq!(
        vars.values["msg"], "a b; rm -rf /",
        "--var overrides the literal"
    );
    assert!(vars.secrets.contains(&"tok-123".to_string()));
    assert!(vars.secrets.contains(&"s3cr'et pass".to_string()));

    let plan = plan(&rb, &vars);
    assert_eq!(plan.env, "staging");
    let ordinals: Vec<_> = plan
        .main
        .iter()
        .chain(&plan.rollback)
        .map(|s| (s.ordinal, s.phase))
        .collect();
    assert_eq!(
        ordinals,
        [
            (1, PhaseName::Pre),
            (2, PhaseName::Execute),
            (3, PhaseName::Execute),
            (4, PhaseName::Exit),
            (5, PhaseName::Rollback),
            (6, PhaseName::Rollback)
        ]
    );
    let deploy = &plan.main[1];
    let command = deploy.command.as_deref().unwrap();
    assert_eq!(
        shlex::split(command).unwrap(),
        [
            "deploy",
            "--dir",
            "/srv/app",
            "--msg",
            "a b; rm -rf /",
            "--password",
            "s3cr'et pass",
            "--env",
            "staging",
            "--run",
            "r-1"
        ]
    );
    let display = deploy.display_command.as_deref().unwrap();
    assert!(!display.contains("s3cr"), "{display}");
    assert!(display.contains("--password '***'"), "{display}");
    let confirm = &plan.main[2];
    assert_eq!(
        confirm.prompt.as_deref(),
        Some("Is http://127.0.0.1:8080 healthy? (INC-1)")
    );
    assert_eq!(confirm.paths, ["/srv/app/current"]);
}

#[test]
fn variable_errors() {
    let rb = parse_runbook(RUNBOOK, "deploy.yaml").unwrap();
    assert_eq!(
        resolve_vars(&rb, &ctx(&[]), &env),
        Err(VarError::Required("ticket".into()))
    );
    assert_eq!(
        resolve_vars(&rb, &ctx(&[("ticket", "x"), ("tiket", "y")]), &env),
        Err(VarError::UnknownOverride("tiket".into()))
    );
    assert_eq!(
        resolve_vars(&rb, &ctx(&[("env", "production")]), &env),
        Err(VarError::BuiltinOverride("env".into()))
    );
    assert_eq!(
        resolve_vars(&rb, &ctx(&[("ticket", "x")]), &|_| None),
        Err(VarError::MissingEnv {
            var: "api".into(),
            env: "API_URL".into()
        })
    );
}

#[test]
fn failure_outcomes_by_phase() {
    let rb = parse_runbook(RUNBOOK, "deploy.yaml").unwrap();
    let pre = &rb.phases.pre[0];
    assert_eq!(
        FailureOutcome::of(PhaseName::Pre, pre),
        FailureOutcome::StopBeforeChange
    );
    assert_eq!(
        FailureOutcome::of(PhaseName::Execute, pre),
        FailureOutcome::Rollback
    );
    assert_eq!(
        FailureOutcome::of(PhaseName::Post, pre),
        FailureOutcome::Rollback
    );
    assert_eq!(
        FailureOutcome::of(PhaseName::Exit, pre),
        FailureOutcome::MarkFailed
    );
    assert_eq!(
        FailureOutcome::of(PhaseName::Rollback, pre),
        FailureOutcome::RollbackFailed
    );
    assert_eq!(
        FailureOutcome::of(PhaseName::Exit, &rb.phases.exit[0]),
        FailureOutcome::Continue
    );
    assert_eq!(
        describe_on_failure(PhaseName::Execute, pre),
        ("rollback runs", "ロールバックを実行")
    );
}

#[test]
fn redact_hides_longest_first() {
    let secrets = vec!["abc".to_string(), "abcdef".to_string(), String::new()];
    assert_eq!(redact("x abcdef y abc z", &secrets), "x *** y *** z");
    assert_eq!(redact("nothing here", &secrets), "nothing here");
}

proptest! {
    /// Whatever a variable holds, the rendered command splits back into the
    /// same words: the value is exactly one word and adds no command.
    #[test]
    fn shell_quoting_never_lets_a_value_escape(value in any::<String>()) {
        prop_assume!(!value.contains('\0'));
        let vars = [("v".to_string(), value.clone())].into_iter().collect();
        let template = Template { source: "echo {{v}} end".into(), span: Default::default() };
        let rendered = render(&template, &vars, Quoting::Shell);
        let words = shlex::split(&rendered).expect("valid shell words");
        prop_assert_eq!(words, vec!["echo".to_string(), value, "end".to_string()]);
    }

    /// Run by a real `/bin/sh`, the command the engine executes hands the
    /// value over exactly, in every context the shell substitutes it, and
    /// never runs any of it.
    #[test]
    fn a_value_reaches_the_command_exactly_and_never_runs(value in "[ -~\n]{0,24}") {
        let templates = [
            "printf '%s|' {{v}}",
            "printf '%s|' \"{{v}}\"",
            "printf '%s|' \"$(printf '%s' {{v}})\"",
            "cat <<EOF\n{{v}}|\nEOF",
            "printf '%s|' x # {{v}}\n",
        ];
        let expected = [
            format!("{value}|"),
            format!("{value}|"),
            format!("{}|", value.trim_end_matches('\n')),
            format!("{value}|\n"),
            "x|".to_string(),
        ];
        for (template, expected) in templates.iter().zip(expected) {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(tejun_runbook::shell::render_command(template))
                .env("TEJUN_VAR_v", &value)
                .output()
                .unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&out.stdout).into_owned(), expected, "{}", template);
        }
    }

    #[test]
    fn redacted_text_never_contains_a_secret(text in ".{0,40}", secret in "[a-z]{3,8}") {
        let text = format!("{text}{secret}{text}");
        let out = redact(&text, std::slice::from_ref(&secret));
        prop_assert!(!out.contains(&secret));
    }
}
