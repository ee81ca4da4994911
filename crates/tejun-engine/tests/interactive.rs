//! The engine's decisions where a person answers: confirm verdicts, typed
//! environment names, destructive steps and unknown steps on resume. The
//! CLI's terminal prompts are one implementation of [`Operator`]; here a
//! scripted one answers, so every branch is exercised without a TTY.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::Path;

use tejun_engine::events::Outcome;
use tejun_engine::operator::{ConfirmRequest, DestructiveChallenge, EnvChallenge, UnknownStep};
use tejun_engine::resume::{ResumeRequest, prepare, resume};
use tejun_engine::{
    AbortSignal, Answer, Engine, EngineError, Finish, LocalTarget, Operator, Refusal, RunEvent,
    RunRequest, UnknownChoice,
};
use tejun_journal::{Journal, Query};
use tejun_runbook::model::Verdict;
use tejun_runbook::{Inventory, parse_inventory, runbook::parse_runbook};

#[derive(Default)]
struct Scripted {
    answers: RefCell<VecDeque<Option<Answer>>>,
    typed: RefCell<VecDeque<Option<String>>>,
    unknown: RefCell<VecDeque<Option<UnknownChoice>>>,
    seen: RefCell<Vec<String>>,
}

impl Operator for Scripted {
    fn on_event(&self, event: &RunEvent) {
        self.seen.borrow_mut().push(event.kind().to_string());
    }
    fn confirm(&self, _request: &ConfirmRequest<'_>) -> Option<Answer> {
        self.answers.borrow_mut().pop_front().flatten()
    }
    fn type_env_name(&self, _challenge: &EnvChallenge<'_>) -> Option<String> {
        self.typed.borrow_mut().pop_front().flatten()
    }
    fn type_step_id(&self, _challenge: &DestructiveChallenge<'_>) -> Option<String> {
        self.typed.borrow_mut().pop_front().flatten()
    }
    fn choose_unknown(&self, _step: &UnknownStep<'_>) -> Option<UnknownChoice> {
        self.unknown.borrow_mut().pop_front().flatten()
    }
}

const INVENTORY: &str =
    "environments:\n  dev:\n    color: green\n  production:\n    color: red\n    protected: true\n";

fn inventory() -> Inventory {
    parse_inventory(INVENTORY, "tejun.yaml").unwrap()
}

struct Case {
    dir: tempfile::TempDir,
    journal: Journal,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("journal.db")).unwrap();
        Case { dir, journal }
    }

    fn run(&self, source: &str, env: &str, operator: &Scripted) -> Result<Finish, EngineError> {
        let path = self.dir.path().join("book.yaml");
        std::fs::write(&path, source).unwrap();
        let runbook = parse_runbook(source, "book.yaml").unwrap();
        let inventory = inventory();
        let engine = Engine {
            journal: &self.journal,
            operator,
            target: &LocalTarget,
            abort: AbortSignal::never(),
        };
        let request = RunRequest {
            runbook_path: &path,
            source,
            runbook: &runbook,
            inventory: Some(&inventory),
            env,
            overrides: Vec::new(),
            incident: None,
            interactive: true,
            confirm_env: None,
            confirm_destructive: false,
            runs_dir: self.dir.path().join("runs"),
        };
        tejun_engine::run(&engine, request).map(|report| report.finish)
    }

    fn confirmations(&self) -> Vec<serde_json::Value> {
        self.journal
            .query(&Query {
                kind_prefix: Some("step.confirmed"),
                ..Query::default()
            })
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect()
    }
}

fn marker(dir: &Path) -> String {
    dir.join("marker").display().to_string()
}

fn book_with_confirm(dir: &Path) -> String {
    format!(
        "name: c\nenv: dev\nexecute:\n  - id: change\n    run: 'true'\npost:\n  - id: verdict\n    confirm: Does it work?\n    evidence: required\n  - id: after\n    run: touch {}\nrollback:\n  steps:\n    - id: undo\n      run: 'true'\n",
        marker(dir)
    )
}

fn answer(verdict: Verdict, evidence: &str) -> Option<Answer> {
    Some(Answer {
        verdict,
        evidence: Some(evidence.to_string()),
    })
}

#[test]
fn ok_goes_on_and_records_who_and_evidence() {
    let case = Case::new();
    let op = Scripted::default();
    op.answers
        .borrow_mut()
        .push_back(answer(Verdict::Ok, "grafana: 0.1% errors"));
    let finish = case
        .run(&book_with_confirm(case.dir.path()), "dev", &op)
        .unwrap();
    assert_eq!(finish, Finish::Ended(Outcome::Succeeded));
    let confirmed = case.confirmations();
    assert_eq!(confirmed[0]["answer"], "ok");
    assert_eq!(confirmed[0]["evidence"], "grafana: 0.1% errors");
    assert_eq!(confirmed[0]["auto"], false);
    assert!(confirmed[0]["who"].as_str().unwrap().contains('@'));
    assert!(case.dir.path().join("marker").exists());
}

#[test]
fn abnormal_fails_the_phase_and_rolls_back() {
    let case = Case::new();
    let op = Scripted::default();
    op.answers
        .borrow_mut()
        .push_back(answer(Verdict::Abnormal, "502s"));
    let finish = case
        .run(&book_with_confirm(case.dir.path()), "dev", &op)
        .unwrap();
    assert_eq!(finish, Finish::Ended(Outcome::RolledBack));
    assert!(!case.dir.path().join("marker").exists());
    assert!(op.seen.borrow().contains(&"rollback.started".to_string()));
}

#[test]
fn pending_pauses_and_resume_asks_again() {
    let case = Case::new();
    let op = Scripted::default();
    op.answers
        .borrow_mut()
        .push_back(answer(Verdict::Pending, "waiting for the customer"));
    let finish = case
        .run(&book_with_confirm(case.dir.path()), "dev", &op)
        .unwrap();
    assert_eq!(
        finish,
        Finish::Paused {
            step_id: "verdict".to_string()
        }
    );
    assert!(!op.seen.borrow().contains(&"run.ended".to_string()));

    let run_id = case.journal.streams("run/").unwrap()[0]
        .trim_start_matches("run/")
        .to_string();
    let prepared = prepare(&case.journal, &run_id).unwrap();
    let runbook = parse_runbook(&prepared.source, "book.yaml").unwrap();
    let inventory = inventory();
    let op = Scripted::default();
    op.answers
        .borrow_mut()
        .push_back(answer(Verdict::Ok, "customer confirmed"));
    let engine = Engine {
        journal: &case.journal,
        operator: &op,
        target: &LocalTarget,
        abort: AbortSignal::never(),
    };
    let request = ResumeRequest {
        runbook: &runbook,
        inventory: Some(&inventory),
        overrides: Vec::new(),
        on_unknown: None,
        retry_failed: false,
        interactive: true,
        confirm_env: None,
        confirm_destructive: false,
    };
    let report = resume(&engine, prepared, request).unwrap();
    assert_eq!(report.finish, Finish::Ended(Outcome::Succeeded));
    let answers: Vec<_> = case
        .confirmations()
        .iter()
        .map(|c| c["answer"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(answers, ["pending", "ok"]);
    // The step before the confirm ran once.
    let changes = case
        .journal
        .query(&Query {
            kind_prefix: Some("step.started"),
            ..Query::default()
        })
        .unwrap()
        .into_iter()
        .filter(|e| e.payload["step_id"] == "change")
        .count();
    assert_eq!(changes, 1);
}

#[test]
fn no_answer_at_all_pauses() {
    let case = Case::new();
    let op = Scripted::default();
    op.answers.borrow_mut().push_back(None);
    let finish = case
        .run(&book_with_confirm(case.dir.path()), "dev", &op)
        .unwrap();
    assert!(matches!(finish, Finish::Paused { .. }));
}

#[test]
fn a_protected_environment_wants_its_name_typed_exactly() {
    let book = |dir: &Path| {
        format!(
            "name: p\nenv: production\nexecute:\n  - id: x\n    run: touch {}\n",
            marker(dir)
        )
    };
    let case = Case::new();
    let op = Scripted::default();
    op.typed.borrow_mut().push_back(Some("prod".to_string()));
    let err = case
        .run(&book(case.dir.path()), "production", &op)
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Refused(Refusal::ProtectedNotConfirmed { .. })
        ),
        "{err}"
    );
    assert!(!case.dir.path().join("marker").exists());

    let op = Scripted::default();
    op.typed
        .borrow_mut()
        .push_back(Some("production".to_string()));
    assert_eq!(
        case.run(&book(case.dir.path()), "production", &op).unwrap(),
        Finish::Ended(Outcome::Succeeded)
    );
    assert!(case.dir.path().join("marker").exists());
}

#[test]
fn a_destructive_step_wants_its_id_typed() {
    let book = |dir: &Path| {
        format!(
            "name: p\nenv: production\nexecute:\n  - id: drop-cache\n    run: touch {}\n    safety: destructive\n",
            marker(dir)
        )
    };
    let case = Case::new();
    let op = Scripted::default();
    op.typed
        .borrow_mut()
        .extend([Some("production".to_string()), Some("yes".to_string())]);
    let err = case
        .run(&book(case.dir.path()), "production", &op)
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Refused(Refusal::DestructiveNotConfirmed { .. })
        ),
        "{err}"
    );
    assert!(!case.dir.path().join("marker").exists());

    let op = Scripted::default();
    op.typed.borrow_mut().extend([
        Some("production".to_string()),
        Some("drop-cache".to_string()),
    ]);
    assert_eq!(
        case.run(&book(case.dir.path()), "production", &op).unwrap(),
        Finish::Ended(Outcome::Succeeded)
    );
}

#[test]
fn an_abort_before_the_first_step_ends_aborted_without_running_anything() {
    let case = Case::new();
    let source = format!(
        "name: a\nenv: dev\nexecute:\n  - id: x\n    run: touch {}\n",
        marker(case.dir.path())
    );
    let path = case.dir.path().join("book.yaml");
    std::fs::write(&path, &source).unwrap();
    let runbook = parse_runbook(&source, "book.yaml").unwrap();
    let inventory = inventory();
    let abort = AbortSignal::never();
    abort.raise();
    let op = Scripted::default();
    let engine = Engine {
        journal: &case.journal,
        operator: &op,
        target: &LocalTarget,
        abort,
    };
    let request = RunRequest {
        runbook_path: &path,
        source: &source,
        runbook: &runbook,
        inventory: Some(&inventory),
        env: "dev",
        overrides: Vec::new(),
        incident: None,
        interactive: false,
        confirm_env: None,
        confirm_destructive: false,
        runs_dir: case.dir.path().join("runs"),
    };
    let report = tejun_engine::run(&engine, request).unwrap();
    assert_eq!(report.finish, Finish::Ended(Outcome::Aborted));
    assert!(!case.dir.path().join("marker").exists());
}
