//! The guard matches what a command will touch (issue #19, observation 7):
//! every class of path and host that used to slip through, each against
//! real files in a temporary directory, through the real binary. For every
//! case `check`, `plan` and `run` refuse (exit 2), the run journals
//! `run.refused`, and the pinned file is unchanged. Control cases that
//! touch only staging are accepted by all three.

use std::path::Path;

use assert_cmd::Command;

mod common;

use common::Lab;

const ORIGINAL: &str = "production original\n";

/// A lab with staging and production trees, a production file with a
/// symlink and a hardlink to it elsewhere, and an inventory pinning them.
fn lab() -> (Lab, String) {
    let lab = Lab::bare();
    let t = std::fs::canonicalize(lab.dir.path())
        .unwrap()
        .display()
        .to_string();
    for dir in ["srv/production/sub", "srv/staging", "etc", "links"] {
        std::fs::create_dir_all(lab.path(dir)).unwrap();
    }
    lab.write("srv/production/app.conf", ORIGINAL);
    lab.write("srv/production/sub/deep.conf", ORIGINAL);
    lab.write("srv/staging/app.conf", "staging\n");
    lab.write("etc/production-site.conf", ORIGINAL);
    lab.write("etc/staging-site.conf", "staging\n");
    std::os::unix::fs::symlink(lab.path("srv/production"), lab.path("links/prod-link")).unwrap();
    std::os::unix::fs::symlink(
        lab.path("srv/production/app.conf"),
        lab.path("links/app-link.conf"),
    )
    .unwrap();
    std::fs::hard_link(
        lab.path("srv/production/app.conf"),
        lab.path("links/hard.conf"),
    )
    .unwrap();
    lab.write(
        "tejun.yaml",
        &format!(
            "environments:
  staging:
    color: yellow
    hosts: [stg-1.example.com]
    paths: ['{t}/srv/staging/**', '**/staging-*.conf']
  production:
    color: red
    protected: true
    hosts: [web-1.example.com, db-1]
    paths: ['{t}/srv/production/**', '**/production-*.conf']
"
        ),
    );
    (lab, t)
}

/// A staging runbook whose one step runs `command`, with variables a
/// command may build paths and host names from.
fn book(lab: &Lab, t: &str, command: &str) {
    let yaml = format!(
        "name: touch\nenv: staging\nvars:\n  dir: {t}/srv\n  h: {{value: web-1, type: host}}\n  domain: {{value: example.com, type: host}}\nexecute:\n  - id: the-step\n    run: {}\n",
        serde_json::to_string(command).unwrap()
    );
    lab.write("book.yaml", &yaml);
}

fn exit_of(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit codes of check, plan and run for the lab's book in staging.
fn verdicts(lab: &Lab) -> [(Option<i32>, String); 3] {
    [
        exit_of(lab.tejun().args(["check", "book.yaml", "--env", "staging"])),
        exit_of(lab.tejun().args(["plan", "book.yaml", "--env", "staging"])),
        exit_of(
            lab.tejun()
                .args(["run", "book.yaml", "--env", "staging", "--yes"]),
        ),
    ]
}

fn unchanged(lab: &Lab) -> bool {
    [
        "srv/production/app.conf",
        "srv/production/sub/deep.conf",
        "etc/production-site.conf",
    ]
    .iter()
    .all(|f| std::fs::read_to_string(lab.path(f)).unwrap_or_default() == ORIGINAL)
        && Path::new(&lab.path("srv/production")).is_dir()
}

const PATH_CASES: &[&str] = &[
    "echo x >> T/srv/production/app.conf",
    "cd T/srv/production && sed -i s/a/b/ app.conf",
    "cd T/srv && rm -rf production",
    "cd T/srv/production/sub && rm ../app.conf",
    "pushd T/srv/production && touch new.txt",
    "(cd T/srv/production; rm app.conf)",
    "rm -rf T/srv/production",
    "rm -rf T/srv/production/",
    "chmod -R 777 T/srv/production",
    "rm -rf T/srv/prod*",
    "rm -rf T/srv/prod?ction",
    "echo x | tee T/srv/*/app.conf",
    "echo x >> T/etc/prod*-site.conf",
    "echo x > T/links/app-link.conf",
    "echo x > T/links/prod-link/app.conf",
    "echo x >> T/links/hard.conf",
    "echo x >> T/srv/staging/../production/app.conf",
    "echo x >> T/srv//production/./app.conf",
    "echo x >> /proc/self/root/T/srv/production/app.conf",
    "sort -oT/srv/production/app.conf T/srv/staging/app.conf",
    "sort --output=T/srv/production/app.conf T/srv/staging/app.conf",
    "sh -c ' >> T/srv/production/app.conf'",
    "bash -c \"echo x >> T/srv/production/app.conf\"",
    "sudo -u root sh -ec 'cd T/srv && rm -rf production'",
    "curl -s -o /dev/null file://T/srv/production/app.conf",
    "dd if=/dev/zero of=T/srv/production/app.conf count=1",
    "sed -i s/a/b/ {{dir}}/production/app.conf",
    "echo x >> T/etc/production-site.conf",
    "cd T/etc && echo x > production-site.conf",
    "env X=1 tee T/srv/production/app.conf < /dev/null",
    "x=$(cat T/srv/production/app.conf); echo \"$x\"",
    "echo x 2>>T/srv/production/app.conf >&2",
    "tar -C T/srv/production -xf /dev/null",
    "rsync -a --delete T/srv/staging/ T/srv/production",
    "ln -sf /dev/null T/srv/production/app.conf",
    "printf x > \"T/srv/production/sub/deep.conf\"",
    "runuser -u root -- sh -c 'cd T/srv && rm -rf production'",
    "runuser root -c 'echo x >> T/srv/production/app.conf'",
    "flock /tmp/tejun-guard.lock -c 'rm -rf T/srv/production'",
    "timeout --signal KILL 5 sh -c 'rm -rf T/srv/production'",
    "stdbuf -o L sh -c 'rm -rf T/srv/production'",
    "sh <<EOF\nrm -rf T/srv/production\nEOF",
    "sudo bash -s <<'EOF'\ncd T/srv && rm -rf production\nEOF",
    "cat <<A; su root <<B\nA\nrm -rf T/srv/production\nB",
    "echo 'rm -rf T/srv/production' | sh",
    "printf '%s\\n' 'cd T/srv && rm -rf production' | sudo bash",
    "eval \"rm -rf T/srv/production\"",
    "eval 'cd T/srv && rm -rf' production",
];

const HOST_CASES: &[&str] = &[
    "ssh web-1.example.com uptime",
    "ssh WEB-1.Example.com uptime",
    "ssh web-1.example.com. uptime",
    "ssh deploy@web-1.example.com. uptime",
    "scp x web-1.example.com:/tmp/",
    "curl -s https://web-1.example.com/health",
    "curl -s http://WEB-1.example.com.:8080/",
    "ssh {{h}}.{{domain}} uptime",
    "ssh -p 22 -l root db-1 true",
    "rsync -e ssh x deploy@DB-1.:/tmp/",
    "ssh -oProxyJump=db-1 stg-1.example.com true",
    "mysql -h db-1 -e 'select 1'",
    "bash -c 'ssh web-1.example.com true'",
];

const CONTROL_CASES: &[&str] = &[
    "cd T/srv/staging && echo x >> app.conf",
    "echo x >> T/srv/staging/app.conf",
    "ls T/srv > /dev/null && echo production",
    "cd T/etc && cat staging-site.conf",
    "sh <<EOF\necho x >> T/srv/staging/app.conf\nEOF",
    "echo 'cd T/srv/staging && cat app.conf' | sh > /dev/null",
];

fn refused_everywhere(cases: &[&str]) {
    let mut failures = Vec::new();
    for case in cases {
        let (lab, t) = lab();
        book(&lab, &t, &case.replace("T/", &format!("{t}/")));
        let results = verdicts(&lab);
        let all_refused = results.iter().all(|(code, _)| *code == Some(2));
        let journaled = !lab.events("run.refused").is_empty();
        if !all_refused || !journaled || !unchanged(&lab) {
            failures.push(format!(
                "`{case}`: check/plan/run exit {:?}, journaled {journaled}, unchanged {}\n{}",
                results.iter().map(|r| r.0).collect::<Vec<_>>(),
                unchanged(&lab),
                results[2].1
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} got through:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_path_class_that_reaches_a_pinned_file_is_refused_by_check_plan_and_run() {
    assert!(PATH_CASES.len() >= 32);
    refused_everywhere(PATH_CASES);
}

#[test]
fn every_host_class_that_names_a_pinned_host_is_refused_by_check_plan_and_run() {
    assert!(HOST_CASES.len() >= 11);
    refused_everywhere(HOST_CASES);
}

#[test]
fn commands_that_touch_only_their_own_environment_are_accepted_by_all_three() {
    let mut failures = Vec::new();
    for case in CONTROL_CASES {
        let (lab, t) = lab();
        book(&lab, &t, &case.replace("T/", &format!("{t}/")));
        let results = verdicts(&lab);
        if results.iter().any(|(code, _)| *code != Some(0)) {
            failures.push(format!(
                "`{case}`: {:?}\n{}{}",
                results.iter().map(|r| r.0).collect::<Vec<_>>(),
                results[0].1,
                results[2].1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
