//! `tejun watch` appends bans and detections: it must not start on a
//! journal whose head does not verify (observation 10).

mod watch_common;

use watch_common::*;

#[test]
fn watch_refuses_to_start_on_a_journal_that_does_not_verify() {
    let setup = Setup::sshd(3, 600, "");
    // One ban, then the attacker edits it.
    let mut watch = setup.watch();
    append(&setup.path("auth.log"), &fail("192.0.2.7").repeat(3));
    watch.wait_for("banned", is("banned", "192.0.2.7"));
    watch.stop();
    rusqlite::Connection::open(setup.db())
        .unwrap()
        .execute(
            "UPDATE events SET actor = 'nobody' WHERE seq = (SELECT max(seq) FROM events)",
            [],
        )
        .unwrap();
    let before = setup.journal().head().unwrap();

    let out = std::process::Command::new(tejun())
        .arg("--db")
        .arg(setup.db())
        .args(["watch", "--json", "--config"])
        .arg(setup.path("watch.yaml"))
        .current_dir(setup.dir.path())
        .env("LANG", "C")
        .env("TEJUN_AUDIT_KEY", setup.path("audit.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not verify"), "{stderr}");
    assert!(stderr.contains("(edited)"), "{stderr}");
    assert_eq!(setup.journal().head().unwrap(), before, "nothing appended");
}
