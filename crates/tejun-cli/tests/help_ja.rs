//! `--help`, clap's argument errors and "runbook" in Japanese (#22,
//! "Japanese throughout"), through the real binary.

use std::process::Output;

mod common;

use common::Lab;

/// `tejun ARGS` with the language from `LANG` only (`LC_ALL` and
/// `LC_MESSAGES` would win over it).
fn tejun_with_lang(lab: &Lab, lang: &str, args: &[&str]) -> Output {
    lab.tejun()
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", lang)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// clap's English words that must not be left in Japanese help.
const CLAP_ENGLISH: &[&str] = &[
    "Usage:",
    "Options:",
    "Arguments:",
    "Commands:",
    "Print help",
    "Print version",
    "[possible values",
    "[default:",
    "[env:",
    "Examples:",
];

fn assert_japanese_help(help: &str, what: &str) {
    assert!(help.contains("使い方:"), "{what}:\n{help}");
    assert!(help.contains("オプション:"), "{what}:\n{help}");
    for english in CLAP_ENGLISH {
        assert!(!help.contains(english), "{what} says {english:?}:\n{help}");
    }
    let about = help.lines().next().unwrap_or_default();
    assert!(!about.is_ascii(), "{what}: the summary is English:\n{help}");
}

#[test]
fn run_help_reads_in_japanese_with_lang_ja() {
    let lab = Lab::new();
    let out = tejun_with_lang(&lab, "C", &["--lang", "ja", "run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out);
    assert_japanese_help(&help, "tejun --lang ja run --help");
    for ja in [
        "手順書を実行します",
        "引数:",
        "<FILE>  手順書のファイル",
        "ヘルプを表示します",
        "[指定可能な値: ja, en]",
        "[環境変数: TEJUN_DB=",
        "例:",
        "終了コード:",
    ] {
        assert!(help.contains(ja), "missing {ja:?}:\n{help}");
    }
    // The Examples' commands stay exactly as written.
    assert!(
        help.contains("  tejun run change.yaml --env production --confirm-env production --yes"),
        "{help}"
    );
}

#[test]
fn help_follows_the_locale_and_stays_english_in_c() {
    let lab = Lab::new();
    let ja = text(&tejun_with_lang(&lab, "ja_JP.UTF-8", &["--help"]));
    assert_japanese_help(&ja, "LANG=ja_JP.UTF-8 tejun --help");
    assert!(ja.contains("コマンド:"), "{ja}");

    let en = text(&tejun_with_lang(&lab, "C", &["--help"]));
    assert!(en.contains("Usage: tejun"), "{en}");
    assert!(
        en.contains("Commands:") && en.contains("Print help"),
        "{en}"
    );
    assert!(!en.contains("使い方"), "{en}");

    // --lang wins over the locale, wherever it is on the line.
    let en = text(&tejun_with_lang(
        &lab,
        "ja_JP.UTF-8",
        &["runs", "--help", "--lang=en"],
    ));
    assert!(en.contains("Usage: tejun runs"), "{en}");
}

#[test]
fn default_values_are_shown_in_japanese() {
    let lab = Lab::new();
    let help = text(&tejun_with_lang(&lab, "ja_JP.UTF-8", &["runs", "--help"]));
    assert!(help.contains("[既定値: 20]"), "{help}");
    assert!(!help.contains("[default"), "{help}");
}

/// Every command's `--help`, found by walking the English help's command
/// lists, reads in Japanese: nothing the catalogue misses slips through.
#[test]
fn every_command_help_reads_in_japanese() {
    let lab = Lab::new();
    let mut queue = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let en = text(&tejun_with_lang(&lab, "C", &args));
        let ja_out = tejun_with_lang(&lab, "ja_JP.UTF-8", &args);
        assert_eq!(ja_out.status.code(), Some(0), "{args:?}");
        assert_japanese_help(&text(&ja_out), &format!("tejun {}", args.join(" ")));
        seen += 1;
        if let Some((_, commands)) = en.split_once("Commands:\n") {
            for line in commands.lines().take_while(|l| l.starts_with("  ")) {
                let name = line.split_whitespace().next().unwrap();
                if name != "help" {
                    let mut sub = path.clone();
                    sub.push(name.to_string());
                    queue.push(sub);
                }
            }
        }
    }
    assert!(seen > 30, "walked only {seen} commands");
}

#[test]
fn an_unknown_argument_is_reported_in_japanese_with_exit_2() {
    let lab = Lab::new();
    let out = tejun_with_lang(&lab, "ja_JP.UTF-8", &["run", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("エラー: 想定外の引数 '--bogus' があります"),
        "{err}"
    );
    assert!(
        err.contains("ヒント: '--bogus' を値として渡すには '-- --bogus' と書きます"),
        "{err}"
    );
    assert!(
        err.contains("使い方: tejun run [OPTIONS] --env <ENV> <FILE>"),
        "{err}"
    );
    assert!(err.contains("詳しくは '--help' を見てください。"), "{err}");
    for english in [
        "error:",
        "unexpected argument",
        "tip:",
        "Usage:",
        "For more",
    ] {
        assert!(!err.contains(english), "{english:?} in:\n{err}");
    }

    // With its suggestion.
    let out = tejun_with_lang(&lab, "ja_JP.UTF-8", &["run", "x", "--confim-env", "dev"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ヒント: 似た引数があります: '--confirm-env'"),
        "{err}"
    );
}

#[test]
fn a_missing_required_argument_is_reported_in_japanese() {
    let lab = Lab::new();
    let out = tejun_with_lang(&lab, "C", &["--lang", "ja", "run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("エラー: 必須の引数が指定されていません:\n  --env <ENV>\n  <FILE>"),
        "{err}"
    );
    assert!(
        !err.contains("required arguments were not provided"),
        "{err}"
    );
}

#[test]
fn an_invalid_value_is_reported_in_japanese_with_the_possible_values() {
    let lab = Lab::new();
    let out = tejun_with_lang(&lab, "ja_JP.UTF-8", &["report", "7k", "--format", "pdf"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "'pdf' は '--format <FORMAT>' の値として使えません\n  [指定可能な値: md, html]"
        ),
        "{err}"
    );
    assert!(!err.contains("possible values"), "{err}");

    // A value its parser refuses: the parser's reason in Japanese.
    let out = tejun_with_lang(&lab, "ja_JP.UTF-8", &["runs", "--limit", "many"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'many' は '--limit <N>' の値として不正です: 数字以外の文字があります"),
        "{err}"
    );
    let out = tejun_with_lang(
        &lab,
        "ja_JP.UTF-8",
        &["resume", "x", "--on-unknown", "maybe"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("retry、skip、rollback のいずれかを指定してください"),
        "{err}"
    );
    assert!(!err.contains("expected retry"), "{err}");
}

#[test]
fn an_unknown_subcommand_is_reported_in_japanese_with_did_you_mean() {
    let lab = Lab::new();
    let out = tejun_with_lang(&lab, "ja_JP.UTF-8", &["runn"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("エラー: サブコマンド 'runn' はありません"),
        "{err}"
    );
    assert!(err.contains("ヒント: 似たサブコマンドがあります:"), "{err}");
    assert!(err.contains("'run'"), "{err}");
    assert!(!err.contains("unrecognized subcommand"), "{err}");
}

#[test]
fn too_many_values_are_reported_in_japanese() {
    let lab = Lab::new();
    // A flag takes no value.
    let out = tejun_with_lang(&lab, "ja_JP.UTF-8", &["runs", "--json=yes"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("エラー: '--json' に余分な値 'yes' があります"),
        "{err}"
    );
    assert!(!err.contains("no more were expected"), "{err}");
    // One positional too many.
    let out = tejun_with_lang(&lab, "ja_JP.UTF-8", &["completions", "bash", "zsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("エラー: 想定外の引数 'zsh' があります"),
        "{err}"
    );
}

#[test]
fn argument_errors_stay_clap_english_in_english() {
    let lab = Lab::new();
    let out = tejun_with_lang(&lab, "C", &["run", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: unexpected argument '--bogus' found"),
        "{err}"
    );
}

#[test]
fn japanese_messages_call_a_runbook_手順書() {
    // Nothing to check: no file and no inventory.
    let bare = Lab::bare();
    let out = text(&tejun_with_lang(&bare, "C", &["--lang", "ja", "check"]));
    assert!(out.contains("手順書かインベントリのファイル"), "{out}");

    let lab = Lab::with_inventory(
        "environments:\n  dev:\n    color: green\n  staging:\n    color: yellow\n",
    );
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: a\n    run: \"true\"\n",
    );
    let checked = text(&tejun_with_lang(
        &lab,
        "C",
        &["--lang", "ja", "check", "book.yaml"],
    ));
    assert!(checked.contains("手順書として問題なし"), "{checked}");
    let refused = text(&tejun_with_lang(
        &lab,
        "C",
        &[
            "--lang",
            "ja",
            "run",
            "book.yaml",
            "--env",
            "staging",
            "--yes",
        ],
    ));
    assert!(refused.contains("この手順書の対象環境"), "{refused}");
    for out in [&checked, &refused] {
        assert!(
            !out.contains("runbook") && !out.contains("ランブック"),
            "{out}"
        );
    }
}

#[test]
fn the_runs_table_calls_the_steps_column_ステップ() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: a\n    run: \"true\"\n",
    );
    lab.run().code(0);
    let out = text(&tejun_with_lang(&lab, "C", &["--lang", "ja", "runs"]));
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert!(header.contains(&"ステップ"), "{out}");
    assert!(!header.contains(&"手順"), "{out}");
}
