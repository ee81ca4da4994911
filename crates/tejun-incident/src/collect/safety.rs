//! The second line of defence behind `safety: read-only`: a catalogue entry
//! that declares itself read-only but names a program that changes state
//! (or a read-only program with a writing verb) is refused before anything
//! runs. A denylist cannot prove a command harmless; it catches mistakes
//! and copy-paste accidents, while the declaration makes the intent
//! reviewable.

use regex::Regex;
use std::sync::LazyLock;

use crate::error::Message;

/// Programs that change state, or that run arbitrary code (a shell or an
/// interpreter would hide what really runs).
const DENIED: &[&str] = &[
    "rm",
    "rmdir",
    "mv",
    "cp",
    "dd",
    "shred",
    "truncate",
    "tee",
    "touch",
    "mkdir",
    "ln",
    "install",
    "chmod",
    "chown",
    "chgrp",
    "chattr",
    "fdisk",
    "sfdisk",
    "gdisk",
    "parted",
    "wipefs",
    "mkswap",
    "swapoff",
    "swapon",
    "mount",
    "umount",
    "kill",
    "killall",
    "pkill",
    "shutdown",
    "reboot",
    "poweroff",
    "halt",
    "init",
    "telinit",
    "sudo",
    "su",
    "doas",
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "fish",
    "csh",
    "env",
    "xargs",
    "nohup",
    "perl",
    "python",
    "python3",
    "ruby",
    "node",
    "php",
    "lua",
    "wget",
    "scp",
    "rsync",
    "useradd",
    "userdel",
    "usermod",
    "passwd",
    "crontab",
    "apt",
    "apt-get",
    "dpkg",
    "yum",
    "dnf",
    "rpm",
    "pip",
    "docker",
    "kubectl",
    "sysctl",
    "modprobe",
    "rmmod",
    "insmod",
    "iptables-restore",
    "nft-restore",
    "fail2ban-client",
    "ufw",
    "firewall-cmd",
];

/// Words meaning "write" to tools that otherwise read.
const IP_WRITES: &[&str] = &[
    "add", "del", "delete", "change", "replace", "set", "flush", "append", "prepend", "save",
    "restore",
];
const SYSTEMCTL_READS: &[&str] = &[
    "status",
    "show",
    "cat",
    "list-units",
    "list-unit-files",
    "list-timers",
    "list-sockets",
    "list-jobs",
    "list-dependencies",
    "is-active",
    "is-enabled",
    "is-failed",
    "is-system-running",
];
const IPTABLES_WRITES: &[&str] = &[
    "-A",
    "-D",
    "-I",
    "-R",
    "-F",
    "-X",
    "-N",
    "-P",
    "-Z",
    "-E",
    "--append",
    "--delete",
    "--insert",
    "--replace",
    "--flush",
    "--delete-chain",
    "--new-chain",
    "--policy",
    "--zero",
    "--rename-chain",
];
const JOURNALCTL_WRITES: &[&str] = &[
    "--rotate",
    "--flush",
    "--sync",
    "--relinquish-var",
    "--smart-relinquish-var",
    "--setup-keys",
    "--update-catalog",
];
const APACHECTL_READS: &[&str] = &[
    "-t",
    "-S",
    "-M",
    "-V",
    "-v",
    "-l",
    "-L",
    "configtest",
    "-D",
    "DUMP_VHOSTS",
    "DUMP_MODULES",
];
const CURL_WRITES: &[&str] = &[
    "-o",
    "--output",
    "-O",
    "--remote-name",
    "-T",
    "--upload-file",
    "-d",
    "--data",
    "-F",
    "--form",
    "-X",
    "--request",
];
const SHELL_SYNTAX: &[&str] = &["|", "||", "&&", ";", ">", ">>", "<", "&"];

static SQL_WRITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(insert|update|delete|drop|alter|create|truncate|grant|revoke|kill|replace|rename|call|load|lock|flush|shutdown|copy|vacuum|reindex|cluster|pg_terminate_backend|pg_cancel_backend|set\s+global)\b",
    )
    .expect("static regex")
});

/// Refuses commands that would change state.
pub fn check(argv: &[String]) -> Result<(), Message> {
    let Some(program) = argv.first() else {
        return Err(Message::new("the command is empty", "コマンドが空です"));
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    let args = &argv[1..];
    let refuse = |why_en: String, why_ja: String| Err(Message::new(why_en, why_ja));
    if let Some(token) = args.iter().find(|a| SHELL_SYNTAX.contains(&a.as_str())) {
        return refuse(
            format!(
                "{token:?} is shell syntax; commands run without a shell, so pipes and redirections are not available"
            ),
            format!(
                "{token:?} はシェルの構文です。コマンドはシェルを介さずに実行されるため、パイプやリダイレクトは使えません"
            ),
        );
    }
    if DENIED.contains(&name) || name.starts_with("mkfs") {
        return refuse(
            format!("`{name}` changes state or runs arbitrary code"),
            format!("`{name}` は状態を変更するか任意のコードを実行します"),
        );
    }
    let has = |words: &[&str]| {
        args.iter().find(|a| {
            words.contains(&a.as_str()) || words.iter().any(|w| a.starts_with(&format!("{w}=")))
        })
    };
    let first_word = args.iter().find(|a| !a.starts_with('-'));
    let verb_refused = match name {
        "ip" => has(IP_WRITES).cloned(),
        "systemctl" => first_word
            .filter(|w| !SYSTEMCTL_READS.contains(&w.as_str()))
            .cloned(),
        "service" => args.iter().find(|a| *a != "--status-all").cloned(),
        "nft" => first_word.filter(|w| *w != "list").cloned(),
        "iptables" | "ip6tables" => has(IPTABLES_WRITES).cloned(),
        "journalctl" => args
            .iter()
            .find(|a| JOURNALCTL_WRITES.contains(&a.as_str()) || a.starts_with("--vacuum"))
            .cloned(),
        "nginx" => has(&["-s"]).cloned(),
        "apachectl" | "apache2ctl" | "httpd" => args
            .iter()
            .find(|a| !APACHECTL_READS.contains(&a.as_str()))
            .cloned(),
        "curl" => has(CURL_WRITES).cloned(),
        "find" => has(&[
            "-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprintf", "-fls",
        ])
        .cloned(),
        "sed" => args
            .iter()
            .find(|a| a.starts_with("-i") || a.starts_with("--in-place"))
            .cloned(),
        "mysql" | "psql" | "mariadb" => args.iter().find(|a| SQL_WRITE.is_match(a)).cloned(),
        _ => None,
    };
    if let Some(word) = verb_refused {
        return refuse(
            format!("`{name} {word}` is not a read-only use of {name}"),
            format!("`{name} {word}` は {name} の読み取り専用の使い方ではありません"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn reads_pass_and_writes_are_refused() {
        for ok in [
            "uptime",
            "systemctl --failed --no-pager",
            "ip route",
            "nginx -t",
            "journalctl -p err -n 200",
            "apachectl -t",
            "last -x -n 50",
        ] {
            assert!(check(&argv(ok)).is_ok(), "{ok}");
        }
        assert!(check(&["mysql".into(), "-e".into(), "SHOW FULL PROCESSLIST".into()]).is_ok());
        for bad in [
            "rm -rf /",
            "/sbin/mkfs.ext4 /dev/sda",
            "systemctl restart nginx",
            "ip route add default via 10.0.0.1",
            "nginx -s reload",
            "journalctl --vacuum-size=1M",
            "iptables -F",
            "nft flush ruleset",
            "apachectl graceful",
            "bash -c uptime",
            "uptime | tee x",
            "curl -o /etc/passwd http://x",
        ] {
            assert!(check(&argv(bad)).is_err(), "{bad}");
        }
        assert!(check(&["mysql".into(), "-e".into(), "DROP TABLE users".into()]).is_err());
        assert!(
            check(&[
                "psql".into(),
                "-c".into(),
                "select pg_terminate_backend(1)".into()
            ])
            .is_err()
        );
    }
}
