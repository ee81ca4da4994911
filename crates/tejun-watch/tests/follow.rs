//! `tail -F` semantics of a single followed path, on real files.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use tejun_watch::follow::{Checkpoint, Event, Notice, StartAt, Tail};

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Polls once; returns (lines, notices).
fn poll(tail: &mut Tail) -> (Vec<String>, Vec<Notice>) {
    let mut lines = Vec::new();
    let mut notices = Vec::new();
    tail.poll(&mut |e| match e {
        Event::Line(l) => lines.push(l),
        Event::Notice(n) => notices.push(n),
    });
    (lines, notices)
}

fn start(path: &Path, cp: Option<Checkpoint>, at: StartAt) -> (Tail, Vec<String>) {
    let mut lines = Vec::new();
    let tail = Tail::start(path.to_path_buf(), cp, at, &mut |e| {
        if let Event::Line(l) = e {
            lines.push(l)
        }
    });
    (tail, lines)
}

#[test]
fn starts_at_the_end_and_reads_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "old 1\nold 2\n");
    let (mut tail, initial) = start(&log, None, StartAt::End);
    assert!(initial.is_empty());
    append(&log, "new 1\nnew 2\n");
    assert_eq!(poll(&mut tail).0, ["new 1", "new 2"]);
    assert_eq!(poll(&mut tail).0, Vec::<String>::new());
}

#[test]
fn a_partial_last_line_waits_for_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    let (mut tail, _) = start(&log, None, StartAt::End);
    append(&log, "complete\nhalf a li");
    assert_eq!(poll(&mut tail).0, ["complete"]);
    // A restart now resumes at the start of the partial line.
    let cp = tail.checkpoint().unwrap();
    assert_eq!(cp.offset, "complete\n".len() as u64);
    append(&log, "ne\r\n");
    assert_eq!(poll(&mut tail).0, ["half a line"]);
    let (_, resumed) = start(&log, Some(cp), StartAt::End);
    assert_eq!(resumed, ["half a line"]);
}

#[test]
fn rename_rotation_drains_the_old_file_then_reads_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    let (mut tail, _) = start(&log, None, StartAt::End);
    append(&log, "before\n");
    assert_eq!(poll(&mut tail).0, ["before"]);
    // Written just before and after the rename, to the old file.
    append(&log, "late 1\n");
    fs::rename(&log, dir.path().join("a.log.1")).unwrap();
    append(&dir.path().join("a.log.1"), "late 2 without newline");
    append(&log, "fresh\n");
    let (lines, notices) = poll(&mut tail);
    assert_eq!(lines, ["late 1", "late 2 without newline", "fresh"]);
    assert_eq!(notices, [Notice::Rotated]);
}

#[test]
fn copytruncate_and_truncation_restart_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    let (mut tail, _) = start(&log, None, StartAt::End);
    append(&log, "one\ntwo\n");
    assert_eq!(poll(&mut tail).0, ["one", "two"]);
    fs::copy(&log, dir.path().join("a.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, "3\n");
    let (lines, notices) = poll(&mut tail);
    assert_eq!(notices, [Notice::Truncated]);
    assert_eq!(lines, ["3"]);
    // Truncated and rewritten longer than before, between two polls: the
    // first bytes changed, so it is still seen as a new file.
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, "a much longer first line\nsecond\n");
    let (lines, notices) = poll(&mut tail);
    assert_eq!(notices, [Notice::Truncated]);
    assert_eq!(lines, ["a much longer first line", "second"]);
}

#[test]
fn a_deleted_file_is_reported_once_and_picked_up_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    let (mut tail, _) = start(&log, None, StartAt::End);
    append(&log, "last words\n");
    fs::remove_file(&log).unwrap();
    let (lines, notices) = poll(&mut tail);
    assert_eq!(lines, ["last words"]);
    assert_eq!(notices, [Notice::Disappeared]);
    assert_eq!(poll(&mut tail), (vec![], vec![]));
    append(&log, "back\n");
    let (lines, notices) = poll(&mut tail);
    assert_eq!(notices, [Notice::Appeared]);
    assert_eq!(lines, ["back"]);
}

#[test]
fn a_restart_resumes_from_the_checkpoint_even_after_rotation_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    let (mut tail, _) = start(&log, None, StartAt::End);
    append(&log, "seen\n");
    assert_eq!(poll(&mut tail).0, ["seen"]);
    let cp = tail.checkpoint().unwrap();
    drop(tail);
    // While no one watches: more lines, then rotation, then a new file.
    append(&log, "unseen 1\n");
    fs::rename(&log, dir.path().join("a.log.1")).unwrap();
    append(&log, "unseen 2\n");
    let mut notices = Vec::new();
    let mut lines = Vec::new();
    let _tail = Tail::start(log.clone(), Some(cp), StartAt::End, &mut |e| match e {
        Event::Line(l) => lines.push(l),
        Event::Notice(n) => notices.push(n),
    });
    assert_eq!(lines, ["unseen 1", "unseen 2"]);
    assert!(
        matches!(&notices[..], [Notice::ResumedRotated { .. }]),
        "{notices:?}"
    );
}

#[test]
fn bad_bytes_and_huge_lines_do_not_stop_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    let (mut tail, _) = start(&log, None, StartAt::End);
    let mut bytes = b"bad \xff\xfe utf8\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 10 << 20));
    bytes.extend(b"\nafter\n\0\0binary\x01\n");
    OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let (lines, notices) = poll(&mut tail);
    assert_eq!(lines[0], "bad \u{fffd}\u{fffd} utf8");
    assert_eq!(lines[1].len(), tejun_watch::follow::tail::MAX_LINE);
    assert_eq!(&lines[2..], ["after", "\0\0binary\x01"]);
    assert!(matches!(notices[..], [Notice::LongLine { .. }]));
    assert_eq!(tail.checkpoint().unwrap().offset, bytes.len() as u64);
}

#[test]
fn an_unreadable_path_is_reported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    fs::create_dir(&log).unwrap();
    let mut notices = Vec::new();
    let mut tail = Tail::start(log.clone(), None, StartAt::End, &mut |e| {
        if let Event::Notice(n) = e {
            notices.push(n)
        }
    });
    assert_eq!(
        notices,
        [Notice::Unreadable {
            error: "not a regular file".into()
        }]
    );
    assert_eq!(poll(&mut tail), (vec![], vec![]), "said once");
    fs::remove_dir(&log).unwrap();
    append(&log, "now a file\n");
    let (lines, _) = poll(&mut tail);
    assert_eq!(lines, ["now a file"]);
}
