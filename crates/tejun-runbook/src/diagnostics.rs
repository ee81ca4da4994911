//! Errors in a runbook or inventory, as data that points at the source.
//!
//! An error is an [`ErrorKind`] (what is wrong, with the facts needed to say
//! it) plus a [`Span`] (where). Text is produced only when rendering, in one
//! `match` per language pair, so the compiler refuses an error kind without
//! its Japanese or English message. Rendering follows the compiler
//! convention editors understand, `file:line:col: error: message`, followed
//! by the source line with the offending part underlined.

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use tejun_locale::Lang;

use crate::model::Span;

/// One problem in a source file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub span: Span,
    pub kind: ErrorKind,
}

/// Every problem found in one file, in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// What a value should have been, for "expected X, found Y".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    String,
    Bool,
    Integer,
    PositiveInteger,
    List,
    Mapping,
    StringOrList,
    StepList,
    Duration,
    ExitCodes,
    VarDef,
    Backup,
}

impl Expected {
    fn describe(self, lang: Lang) -> &'static str {
        match self {
            Expected::String => lang.pick("a string", "文字列"),
            Expected::Bool => lang.pick("true or false", "true または false"),
            Expected::Integer => lang.pick("a non-negative integer", "0 以上の整数"),
            Expected::PositiveInteger => lang.pick("a positive integer", "1 以上の整数"),
            Expected::List => lang.pick("a list", "リスト"),
            Expected::Mapping => lang.pick("a mapping (key: value)", "マッピング (key: value)"),
            Expected::StringOrList => lang.pick(
                "a string or a list of strings",
                "文字列または文字列のリスト",
            ),
            Expected::StepList => lang.pick("a list of steps", "ステップのリスト"),
            Expected::Duration => lang.pick(
                "a duration such as 500ms, 30s, 5m or 1h",
                "500ms, 30s, 5m, 1h のような時間",
            ),
            Expected::ExitCodes => lang.pick(
                "an exit code (0-255) or a list of them",
                "終了コード (0-255) またはそのリスト",
            ),
            Expected::VarDef => lang.pick(
                "a string, or a mapping with value, from_env or required",
                "文字列、または value / from_env / required を持つマッピング",
            ),
            Expected::Backup => lang.pick(
                "a list of paths or a mapping with `paths`",
                "パスのリスト、または `paths` を持つマッピング",
            ),
        }
    }
}

/// Every kind of error the format crate reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// The YAML itself does not parse (message from the YAML parser).
    Syntax(String),
    /// The document is not a mapping at the top.
    NotAMapping,
    UnknownKey {
        key: String,
        suggestion: Option<String>,
        allowed: Vec<&'static str>,
    },
    WrongType {
        field: String,
        expected: Expected,
        found: &'static str,
    },
    MissingField {
        field: &'static str,
        within: &'static str,
    },
    EmptyValue {
        field: String,
    },
    UndefinedVariable {
        name: String,
        suggestion: Option<String>,
    },
    BadPlaceholder,
    NoStepKind,
    TwoStepKinds {
        first: &'static str,
        second: &'static str,
    },
    InvalidRegex {
        error: String,
    },
    DuplicateStepId {
        id: String,
        first_line: usize,
    },
    BadStepId {
        id: String,
    },
    BadDuration {
        value: String,
    },
    BadSafety {
        value: String,
    },
    CheckNotReadOnly {
        safety: String,
    },
    BadChoice {
        field: &'static str,
        value: String,
        allowed: &'static [&'static str],
    },
    RestoreFromUnknown {
        from: String,
    },
    /// A `notify:` target needs exactly one of `url` and `url_env`.
    NotifyNeedsOneUrl,
    DuplicateNotifyTarget {
        name: String,
    },
    /// `include:` names a file that could not be read.
    IncludeUnreadable {
        path: String,
        error: String,
    },
    /// `include:` names a file that is already being included.
    IncludeCycle {
        path: String,
    },
    /// `include:` nested deeper than [`crate::include::MAX_DEPTH`].
    IncludeTooDeep {
        path: String,
    },
    RestoreFromNotBackup {
        from: String,
        kind: &'static str,
    },
    RestoreBeforeBackup {
        from: String,
    },
    BadVarName {
        name: String,
    },
    VarShadowsBuiltin {
        name: String,
    },
    VarSources {
        count: usize,
    },
    BadEnvName {
        name: String,
    },
    BadExitCode {
        value: String,
    },
    UnknownEnvironment {
        name: String,
        known: Vec<String>,
    },
    BadColor {
        value: String,
    },
    BadGlob {
        error: String,
    },
    BadEscalation,
    UnknownSeverity {
        value: String,
    },
    DuplicateName {
        name: String,
    },
    BadWebhook {
        value: String,
    },
    PlaceholderInQuotes {
        name: String,
    },
    KeyNotForKind {
        key: String,
        kind: &'static str,
    },
    PathPinnedElsewhere {
        path: String,
        pinned: String,
        written_for: Vec<String>,
    },
    /// An inventory's `environments:` is written but defines none.
    NoEnvironments,
    /// An environment's name (not an environment *variable*) is not usable
    /// in `--env`, banners and file names.
    BadEnvironmentName {
        name: String,
    },
    /// An inventory path pin neither absolute nor starting with `**/`.
    RelativePathPin {
        pattern: String,
    },
    /// A fleet key (`groups`, `hosts:`, `on:`, `rollout:`) names something
    /// that does not exist or is malformed (docs/fleet.md).
    Fleet {
        code: &'static str,
        en: String,
        ja: String,
    },
    /// The engine's environment guard refuses the runbook for an
    /// environment (the engine words the refusal in both languages).
    EnvironmentGuard {
        en: String,
        ja: String,
    },
    /// A placeholder inside a quoted heredoc body (`<<'EOF'`), where the
    /// shell substitutes nothing.
    PlaceholderInQuotedHeredoc {
        name: String,
    },
    /// A value whose type does not constrain it, placed where a second
    /// interpreter (`sh -c`, `ssh`, `sed`, ...) reads it as program text.
    ValueBecomesCode {
        name: String,
        interpreter: &'static str,
    },
    /// `type:` names no known type.
    UnknownVarType {
        value: String,
    },
    /// `min`/`max`, `choices` or `pattern` given for a type they do not
    /// apply to, or `enum` without `choices`.
    VarOptionNotForType {
        key: &'static str,
        kind: &'static str,
    },
    /// A variable's value does not fit its type (written in the runbook).
    BadVarValue {
        name: String,
        reason: crate::vartype::BadValue,
    },
    /// A YAML tag (`!shell`): tejun has none and would silently drop it.
    YamlTag {
        tag: String,
    },
    /// More than one YAML document (`---`) in one file.
    MultipleDocuments,
    /// A key written twice in one mapping.
    DuplicateYamlKey {
        key: Option<String>,
    },
    /// The document exceeds the parser's limits (nodes, depth, aliases).
    YamlTooLarge,
    /// A NUL byte: YAML forbids it, and some tools would stop reading there.
    NulByte,
    /// Bytes that are not UTF-8.
    NotUtf8,
    /// A step `timeout` under one second.
    TimeoutTooShort {
        value: String,
    },
    /// The same environment twice in `env`.
    DuplicateEnvironment {
        name: String,
    },
    /// A probe, trigger or `wait_for` problem, worded in both languages
    /// by `probes.rs` (it reuses the probe crate's expression messages).
    Probe {
        en: String,
        ja: String,
    },
}

/// The YAML parser's common messages in Japanese (the parser speaks only
/// English); an unknown one is shown as it is.
fn syntax_ja(message: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("unclosed bracket", "括弧が閉じられていません"),
        ("mismatched bracket", "括弧の対応が取れていません"),
        ("misplaced bracket", "括弧の位置が正しくありません"),
        ("unclosed quote", "クォートが閉じられていません"),
        (
            "tab",
            "この位置ではタブは使えません (インデントはスペースで)",
        ),
        (
            "mapping values are not allowed",
            "ここでは `: ` を含む値は書けません",
        ),
        (
            "did not find expected key",
            "キーが見つかりません (インデントを確認してください)",
        ),
        ("unexpected EOF", "ファイルが途中で終わっています"),
        ("unexpected eof", "ファイルが途中で終わっています"),
        ("indent", "インデントが正しくありません"),
        ("unknown anchor", "定義されていないアンカーを参照しています"),
        ("duplicated anchor", "アンカーが重複しています"),
        ("did not find expected node content", "値が見つかりません"),
        ("expected ',' or ']'", "`,` か `]` が必要です"),
        (
            "block sequence entries are not allowed",
            "ここではリストの項目 (`- `) は書けません",
        ),
        (
            "comments must be separated",
            "コメント (`#`) の前には空白が必要です",
        ),
        ("escape", "不正なエスケープです"),
        (
            "did not find expected '-' indicator",
            "リストの項目 (`- `) が必要です",
        ),
        ("simple key", "キーの後に `:` が必要です"),
    ];
    TABLE
        .iter()
        .find(|(en, _)| message.contains(en))
        .map(|(_, ja)| *ja)
}

impl ErrorKind {
    /// A stable identifier for scripts (`tejun check --json`), e.g.
    /// `undefined-variable`.
    pub fn code(&self) -> &'static str {
        use ErrorKind as K;
        match self {
            K::Syntax(_) => "syntax",
            K::NotAMapping => "not-a-mapping",
            K::UnknownKey { .. } => "unknown-key",
            K::WrongType { .. } => "wrong-type",
            K::MissingField { .. } => "missing-field",
            K::EmptyValue { .. } => "empty-value",
            K::UndefinedVariable { .. } => "undefined-variable",
            K::BadPlaceholder => "bad-placeholder",
            K::NoStepKind => "no-step-kind",
            K::TwoStepKinds { .. } => "two-step-kinds",
            K::InvalidRegex { .. } => "invalid-regex",
            K::DuplicateStepId { .. } => "duplicate-step-id",
            K::BadStepId { .. } => "bad-step-id",
            K::BadDuration { .. } => "bad-duration",
            K::BadSafety { .. } => "bad-safety",
            K::CheckNotReadOnly { .. } => "check-not-read-only",
            K::BadChoice { .. } => "bad-choice",
            K::RestoreFromUnknown { .. } => "restore-from-unknown",
            K::IncludeUnreadable { .. } => "include-unreadable",
            K::NotifyNeedsOneUrl => "notify-needs-one-url",
            K::DuplicateNotifyTarget { .. } => "duplicate-notify-target",
            K::IncludeCycle { .. } => "include-cycle",
            K::IncludeTooDeep { .. } => "include-too-deep",
            K::RestoreFromNotBackup { .. } => "restore-from-not-backup",
            K::RestoreBeforeBackup { .. } => "restore-before-backup",
            K::BadVarName { .. } => "bad-var-name",
            K::VarShadowsBuiltin { .. } => "var-shadows-builtin",
            K::VarSources { .. } => "var-sources",
            K::BadEnvName { .. } => "bad-env-name",
            K::BadExitCode { .. } => "bad-exit-code",
            K::UnknownEnvironment { .. } => "unknown-environment",
            K::BadColor { .. } => "bad-color",
            K::BadGlob { .. } => "bad-glob",
            K::BadEscalation => "bad-escalation",
            K::UnknownSeverity { .. } => "unknown-severity",
            K::DuplicateName { .. } => "duplicate-name",
            K::BadWebhook { .. } => "bad-webhook",
            K::PlaceholderInQuotes { .. } => "placeholder-in-quotes",
            K::KeyNotForKind { .. } => "key-not-for-kind",
            K::PathPinnedElsewhere { .. } => "path-pinned-elsewhere",
            K::NoEnvironments => "no-environments",
            K::BadEnvironmentName { .. } => "bad-environment-name",
            K::RelativePathPin { .. } => "relative-path-pin",
            K::Fleet { code, .. } => code,
            K::EnvironmentGuard { .. } => "environment-guard",
            K::Probe { .. } => "probe",
            K::PlaceholderInQuotedHeredoc { .. } => "placeholder-in-quoted-heredoc",
            K::ValueBecomesCode { .. } => "value-becomes-code",
            K::UnknownVarType { .. } => "unknown-var-type",
            K::VarOptionNotForType { .. } => "var-option-not-for-type",
            K::BadVarValue { .. } => "bad-var-value",
            K::YamlTag { .. } => "yaml-tag",
            K::MultipleDocuments => "multiple-documents",
            K::DuplicateYamlKey { .. } => "duplicate-key",
            K::YamlTooLarge => "yaml-too-large",
            K::NulByte => "nul-byte",
            K::NotUtf8 => "not-utf8",
            K::TimeoutTooShort { .. } => "timeout-too-short",
            K::DuplicateEnvironment { .. } => "duplicate-environment",
        }
    }

    /// The headline, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        use ErrorKind as K;
        match self {
            K::Syntax(msg) => match lang {
                Lang::En => format!("invalid YAML: {msg}"),
                Lang::Ja => format!("YAML の構文エラー: {}", syntax_ja(msg).unwrap_or(msg)),
            },
            K::NotAMapping => lang
                .pick(
                    "the document must be a mapping (key: value) at the top level",
                    "文書の最上位はマッピング (key: value) でなければなりません",
                )
                .to_string(),
            K::UnknownKey { key, .. } => match lang {
                Lang::En => format!("unknown key `{key}`"),
                Lang::Ja => format!("不明なキー `{key}`"),
            },
            K::WrongType { field, expected, found } => match lang {
                Lang::En => format!("`{field}` must be {}, found {found}", expected.describe(lang)),
                Lang::Ja => format!(
                    "`{field}` は{}でなければなりません ({} が書かれています)",
                    expected.describe(lang),
                    type_name_ja(found)
                ),
            },
            K::MissingField { field, within } => match lang {
                Lang::En => format!("{within} is missing required key `{field}`"),
                Lang::Ja => format!("{} に必須のキー `{field}` がありません", within_ja(within)),
            },
            K::EmptyValue { field } => match lang {
                Lang::En => format!("`{field}` must not be empty"),
                Lang::Ja => format!("`{field}` を空にすることはできません"),
            },
            K::UndefinedVariable { name, .. } => match lang {
                Lang::En => format!("undefined variable `{name}`"),
                Lang::Ja => format!("未定義の変数 `{name}`"),
            },
            K::BadPlaceholder => lang
                .pick(
                    "malformed placeholder: write `{{name}}` with a name of letters, digits and _",
                    "プレースホルダーが不正です: `{{name}}` の形式で、名前は英数字と _ で書いてください",
                )
                .to_string(),
            K::NoStepKind => lang
                .pick(
                    "step has no kind: give one of run, check, confirm, backup, restore",
                    "ステップの種類がありません: run, check, confirm, backup, restore のいずれかを指定してください",
                )
                .to_string(),
            K::TwoStepKinds { first, second } => match lang {
                Lang::En => format!("step has two kinds, `{first}` and `{second}`; a step does one thing"),
                Lang::Ja => format!("ステップに種類が2つあります (`{first}` と `{second}`)。1ステップにつき1つにしてください"),
            },
            K::InvalidRegex { error } => match lang {
                Lang::En => format!("invalid regular expression: {error}"),
                Lang::Ja => format!("正規表現が不正です: {error}"),
            },
            K::DuplicateStepId { id, first_line } => match lang {
                Lang::En => format!("duplicate step id `{id}` (first used on line {first_line})"),
                Lang::Ja => format!("ステップ id `{id}` が重複しています ({first_line} 行目で使用済み)"),
            },
            K::BadStepId { id } => match lang {
                Lang::En => format!("invalid step id `{id}`: use letters, digits, `-` and `_`"),
                Lang::Ja => format!("ステップ id `{id}` が不正です: 英数字、`-`、`_` を使ってください"),
            },
            K::BadDuration { value } => match lang {
                Lang::En => format!("invalid duration `{value}`: write a number with a unit, e.g. 500ms, 30s, 5m, 1h"),
                Lang::Ja => format!("時間 `{value}` が不正です: 500ms, 30s, 5m, 1h のように単位を付けて書いてください"),
            },
            K::BadSafety { value } => match lang {
                Lang::En => format!("invalid safety label `{value}`: use read-only, changes or destructive"),
                Lang::Ja => format!("安全ラベル `{value}` が不正です: read-only, changes, destructive のいずれかです"),
            },
            K::CheckNotReadOnly { safety } => match lang {
                Lang::En => format!("a `check` step is always read-only, but this one says `{safety}`; use `run` for a step that changes state"),
                Lang::Ja => format!("`check` ステップは常に読み取り専用ですが `{safety}` が指定されています。状態を変えるなら `run` を使ってください"),
            },
            K::BadChoice { field, value, allowed } => match lang {
                Lang::En => format!("invalid `{field}` value `{value}`: use one of {}", allowed.join(", ")),
                Lang::Ja => format!("`{field}` の値 `{value}` が不正です: {} のいずれかです", allowed.join(", ")),
            },
            K::NotifyNeedsOneUrl => lang
                .pick(
                    "a notify target needs exactly one of `url` and `url_env`",
                    "notify の宛先には `url` と `url_env` のどちらか一方が必要です",
                )
                .to_string(),
            K::DuplicateNotifyTarget { name } => match lang {
                Lang::En => format!("notify target `{name}` is defined twice"),
                Lang::Ja => format!("notify の宛先 `{name}` が2回定義されています"),
            },
            K::IncludeUnreadable { path, error } => match lang {
                Lang::En => format!("cannot include `{path}`: {error}"),
                Lang::Ja => format!("`{path}` を include できません: {error}"),
            },
            K::IncludeCycle { path } => match lang {
                Lang::En => format!("`{path}` includes itself (through the files that include it)"),
                Lang::Ja => format!("`{path}` が (include 元を経由して) 自分自身を include しています"),
            },
            K::IncludeTooDeep { path } => match lang {
                Lang::En => format!(
                    "`{path}` is included more than {} levels deep",
                    crate::include::MAX_DEPTH
                ),
                Lang::Ja => format!(
                    "`{path}` の include が {} 段を超えています",
                    crate::include::MAX_DEPTH
                ),
            },
            K::RestoreFromUnknown { from } => match lang {
                Lang::En => format!("restore.from names `{from}`, but no step has that id"),
                Lang::Ja => format!("restore.from の `{from}` という id のステップがありません"),
            },
            K::RestoreFromNotBackup { from, kind } => match lang {
                Lang::En => format!("restore.from names `{from}`, which is a `{kind}` step, not a backup"),
                Lang::Ja => format!("restore.from の `{from}` は `{kind}` ステップで、backup ではありません"),
            },
            K::RestoreBeforeBackup { from } => match lang {
                Lang::En => format!("restore.from names `{from}`, which runs after this step"),
                Lang::Ja => format!("restore.from の `{from}` はこのステップより後に実行されます"),
            },
            K::BadVarName { name } => match lang {
                Lang::En => format!("invalid variable name `{name}`: use letters, digits and _, not starting with a digit"),
                Lang::Ja => format!("変数名 `{name}` が不正です: 英数字と _ を使い、数字で始めないでください"),
            },
            K::VarShadowsBuiltin { name } => match lang {
                Lang::En => format!("`{name}` is a built-in variable and cannot be redefined"),
                Lang::Ja => format!("`{name}` は組み込み変数のため再定義できません"),
            },
            K::VarSources { count } => match lang {
                Lang::En => format!("a variable needs exactly one of value, from_env, required (found {count})"),
                Lang::Ja => format!("変数には value, from_env, required のうちちょうど1つが必要です ({count} 個あります)"),
            },
            K::BadEnvName { name } => match lang {
                Lang::En => format!("invalid environment variable name `{name}`"),
                Lang::Ja => format!("環境変数名 `{name}` が不正です"),
            },
            K::BadExitCode { value } => match lang {
                Lang::En => format!("invalid exit code `{value}`: use 0-255"),
                Lang::Ja => format!("終了コード `{value}` が不正です: 0-255 で指定してください"),
            },
            K::UnknownEnvironment { name, known } => {
                let known = if known.is_empty() { "-".to_string() } else { known.join(", ") };
                match lang {
                    Lang::En => format!("environment `{name}` is not defined in the inventory (defined: {known})"),
                    Lang::Ja => format!("環境 `{name}` はインベントリに定義されていません (定義済み: {known})"),
                }
            }
            K::BadColor { value } => match lang {
                Lang::En => format!("invalid color `{value}`: use one of {}", crate::inventory::COLORS.join(", ")),
                Lang::Ja => format!("色 `{value}` が不正です: {} のいずれかです", crate::inventory::COLORS.join(", ")),
            },
            K::BadGlob { error } => match lang {
                Lang::En => format!("invalid path pattern: {error}"),
                Lang::Ja => format!("パスのパターンが不正です: {error}"),
            },
            K::BadEscalation => lang
                .pick(
                    "an escalation rule needs either `not_reached` with `within`, or `no_update_for`",
                    "エスカレーションには `not_reached` と `within`、または `no_update_for` のどちらかが必要です",
                )
                .to_string(),
            K::UnknownSeverity { value } => match lang {
                Lang::En => format!("unknown severity `{value}`"),
                Lang::Ja => format!("不明な重大度 `{value}`"),
            },
            K::DuplicateName { name } => match lang {
                Lang::En => format!("duplicate name `{name}`"),
                Lang::Ja => format!("名前 `{name}` が重複しています"),
            },
            K::BadWebhook { value } => match lang {
                Lang::En => format!("invalid webhook URL `{value}`: use http:// or https://"),
                Lang::Ja => format!("Webhook URL `{value}` が不正です: http:// か https:// で始めてください"),
            },
            K::PlaceholderInQuotes { name } => match lang {
                Lang::En => format!(
                    "`{{{{{name}}}}}` is inside single quotes, where the shell substitutes nothing; single-quoted text is usually another program's code"
                ),
                Lang::Ja => format!(
                    "`{{{{{name}}}}}` がシングルクォート内にあります。シェルはここでは何も置換しません。シングルクォート内は通常、別のプログラムのコードです"
                ),
            },
            K::PlaceholderInQuotedHeredoc { name } => match lang {
                Lang::En => format!("`{{{{{name}}}}}` is in a quoted heredoc (<<'EOF'), where the shell substitutes nothing"),
                Lang::Ja => format!("`{{{{{name}}}}}` がクォートされたヒアドキュメント (<<'EOF') 内にあります。シェルはここでは何も置換しません"),
            },
            K::ValueBecomesCode { name, interpreter } => match lang {
                Lang::En => format!(
                    "`{{{{{name}}}}}` is handed to {interpreter} as program text, where its value would run as code; its type does not constrain it"
                ),
                Lang::Ja => format!(
                    "`{{{{{name}}}}}` が {interpreter} にプログラムとして渡され、値がコードとして実行される恐れがあります。変数の型が値を制限していません"
                ),
            },
            K::UnknownVarType { value } => match lang {
                Lang::En => format!("unknown variable type `{value}`"),
                Lang::Ja => format!("不明な変数の型 `{value}`"),
            },
            K::VarOptionNotForType { key, kind } => match lang {
                Lang::En => format!("`{key}` does not apply to a variable of type `{kind}`"),
                Lang::Ja => format!("`{key}` は型 `{kind}` の変数には使えません"),
            },
            K::BadVarValue { name, reason } => {
                use tejun_locale::Localize;
                let reason = reason.localize(lang);
                match lang {
                    Lang::En => format!("variable `{name}`: the value {reason}"),
                    Lang::Ja => format!("変数 `{name}`: 値は{reason}"),
                }
            }
            K::YamlTag { tag } => match lang {
                Lang::En => format!("YAML tag `{tag}` is not supported: tejun would ignore it"),
                Lang::Ja => format!("YAML タグ `{tag}` には対応していません (tejun は無視してしまいます)"),
            },
            K::MultipleDocuments => lang
                .pick(
                    "a second YAML document (`---`): a runbook is one document",
                    "2つ目の YAML 文書 (`---`) があります。手順書は1つの文書です",
                )
                .to_string(),
            K::DuplicateYamlKey { key } => match (lang, key) {
                (Lang::En, Some(key)) => format!("duplicate mapping key `{key}`"),
                (Lang::En, None) => "duplicate mapping key".to_string(),
                (Lang::Ja, Some(key)) => format!("マッピングのキー `{key}` が重複しています"),
                (Lang::Ja, None) => "マッピングのキーが重複しています".to_string(),
            },
            K::YamlTooLarge => lang
                .pick(
                    "the document is too large or too deeply nested to read safely",
                    "文書が大きすぎるか入れ子が深すぎるため、安全に読めません",
                )
                .to_string(),
            K::NulByte => lang
                .pick("a NUL byte (\\0) is not allowed in YAML", "YAML に NUL バイト (\\0) は使えません")
                .to_string(),
            K::NotUtf8 => lang
                .pick("the file is not valid UTF-8 here", "ファイルのこの位置が正しい UTF-8 ではありません")
                .to_string(),
            K::TimeoutTooShort { value } => match lang {
                Lang::En => format!("timeout `{value}` is too short: at least 1s"),
                Lang::Ja => format!("timeout `{value}` は短すぎます (1s 以上)"),
            },
            K::DuplicateEnvironment { name } => match lang {
                Lang::En => format!("environment `{name}` is listed twice in `env`"),
                Lang::Ja => format!("環境 `{name}` が `env` に2回書かれています"),
            },
            K::KeyNotForKind { key, kind } => match lang {
                Lang::En => format!("`{key}` does not apply to a `{kind}` step"),
                Lang::Ja => format!("`{key}` は `{kind}` ステップには指定できません"),
            },
            K::PathPinnedElsewhere { path, pinned, written_for } => match lang {
                Lang::En => format!(
                    "path `{path}` belongs to environment `{pinned}`, but this runbook is written for {}",
                    written_for.join(", ")
                ),
                Lang::Ja => format!(
                    "パス `{path}` は環境 `{pinned}` のものですが、この手順書の対象は {} です",
                    written_for.join(", ")
                ),
            },
            K::NoEnvironments => lang
                .pick(
                    "`environments` defines no environment, so every run would be refused",
                    "`environments` に環境が1つも定義されていないため、すべての実行が拒否されます",
                )
                .to_string(),
            K::BadEnvironmentName { name } => match lang {
                Lang::En => format!("invalid environment name `{name}`: use letters, digits, `-` and `_` (at most 64)"),
                Lang::Ja => format!("環境名 `{name}` が不正です: 英数字、`-`、`_` を使ってください (64 文字以内)"),
            },
            K::RelativePathPin { pattern } => match lang {
                Lang::En => format!(
                    "path pin `{pattern}` is relative: it would match only paths spelled the same relative way, and miss the same file written as an absolute path"
                ),
                Lang::Ja => format!(
                    "パスの指定 `{pattern}` が相対パスです。同じ相対表記のパスにしか一致せず、絶対パスで書かれた同じファイルを見逃します"
                ),
            },
            K::EnvironmentGuard { en, ja } | K::Probe { en, ja } => lang.pick(en, ja).to_string(),
            K::Fleet { en, ja, .. } => lang.pick(en, ja).to_string(),
        }
    }

    /// A short label under the underlined source, in `lang`.
    pub fn label(&self, lang: Lang) -> String {
        use ErrorKind as K;
        match self {
            K::Syntax(_) => lang.pick("here", "ここ"),
            K::UnknownKey { .. } => lang.pick("not a known key here", "ここでは使えないキー"),
            K::UndefinedVariable { .. } => lang.pick("not defined in `vars`", "`vars` に未定義"),
            K::PlaceholderInQuotes { .. } => lang.pick("inside quotes", "クォート内"),
            K::DuplicateStepId { .. } => lang.pick("used again here", "ここで再使用"),
            K::UnknownEnvironment { .. } => lang.pick("not in the inventory", "インベントリに無い"),
            K::CheckNotReadOnly { .. } => lang.pick("check is read-only", "check は読み取り専用"),
            K::PathPinnedElsewhere { .. } => {
                lang.pick("pinned to another environment", "別の環境に属するパス")
            }
            K::TwoStepKinds { .. } => lang.pick("second kind", "2つ目の種類"),
            K::WrongType { .. } => lang.pick("wrong type", "型が違う"),
            K::NoEnvironments => lang.pick("no environment here", "環境が無い"),
            K::RelativePathPin { .. } => lang.pick("relative pattern", "相対パターン"),
            K::EnvironmentGuard { .. } => {
                lang.pick("refused by the environment guard", "環境ガードが拒否")
            }
            _ => lang.pick("here", "ここ"),
        }
        .to_string()
    }

    /// Extra advice, if any, in `lang`.
    pub fn help(&self, lang: Lang) -> Option<String> {
        use ErrorKind as K;
        match self {
            K::UnknownKey {
                suggestion: Some(s),
                ..
            }
            | K::UndefinedVariable {
                suggestion: Some(s),
                ..
            } => Some(match lang {
                Lang::En => format!("did you mean `{s}`?"),
                Lang::Ja => format!("`{s}` の間違いではありませんか?"),
            }),
            K::UnknownKey { allowed, .. } if !allowed.is_empty() => Some(match lang {
                Lang::En => format!("allowed keys: {}", allowed.join(", ")),
                Lang::Ja => format!("使えるキー: {}", allowed.join(", ")),
            }),
            K::Syntax(msg) if msg.contains("mapping values are not allowed") => Some(
                lang.pick(
                    "a plain value cannot contain `: `; quote the whole value, or write `run: >-` and the command on the next line",
                    "クォートなしの値には `: ` を含められません。値全体をクォートするか、`run: >-` と書いて次の行にコマンドを書いてください",
                )
                .to_string(),
            ),
            K::DuplicateYamlKey { .. } => Some(
                lang.pick(
                    "each key may appear once in a mapping: it is already written above; merge the two or rename one",
                    "マッピング内で同じキーは1回しか書けません。上で既に書かれています。1つにまとめるか名前を変えてください",
                )
                .to_string(),
            ),
            K::Syntax(msg) if msg.contains("tab") => Some(
                lang.pick("indent with spaces, not tabs", "インデントにはタブではなくスペースを使ってください").to_string(),
            ),
            K::PlaceholderInQuotes { name } => Some(match lang {
                Lang::En => format!("use double quotes (\"Bearer {{{{{name}}}}}\"), or pass it as an argument: sh -c 'echo \"$1\"' _ {{{{{name}}}}}"),
                Lang::Ja => format!("ダブルクォートを使う (\"Bearer {{{{{name}}}}}\") か、引数として渡してください: sh -c 'echo \"$1\"' _ {{{{{name}}}}}"),
            }),
            K::ValueBecomesCode { name, .. } => Some(match lang {
                Lang::En => format!("pass it as an argument (sh -c '... \"$1\"' _ {{{{{name}}}}}; sed/awk: awk -v v={{{{{name}}}}}), or give it a `type` (int, number, bool, enum, host, duration) or a `pattern`"),
                Lang::Ja => format!("引数として渡す (sh -c '... \"$1\"' _ {{{{{name}}}}}、awk なら awk -v v={{{{{name}}}}}) か、`type` (int, number, bool, enum, host, duration) または `pattern` を指定してください"),
            }),
            K::UnknownVarType { .. } => Some(match lang {
                Lang::En => format!("types: {}", crate::model::VarType::NAMES.join(", ")),
                Lang::Ja => format!("使える型: {}", crate::model::VarType::NAMES.join(", ")),
            }),
            K::BadPlaceholder => Some(
                lang.pick(
                    "to write a literal `{{` (e.g. a Go template), write `\\{{`",
                    "`{{` をそのまま書く場合 (Go テンプレートなど) は `\\{{` と書いてください",
                )
                .to_string(),
            ),
            K::UndefinedVariable { .. } => Some(
                lang.pick(
                    "define it under `vars:`; built-ins are env, run_id, now, runbook_dir",
                    "`vars:` に定義してください。組み込み変数は env, run_id, now, runbook_dir です",
                )
                .to_string(),
            ),
            K::NoEnvironments => Some(
                lang.pick(
                    "indent each environment under it, e.g. `environments:` then `  dev: {}` on the next line",
                    "環境名を `environments:` の下にインデントして書いてください (例: 次の行に `  dev: {}`)",
                )
                .to_string(),
            ),
            K::RelativePathPin { pattern } => {
                let rest = pattern.trim_start_matches("./");
                Some(match lang {
                    Lang::En => format!(
                        "write `/{rest}` for that place under the root, or `**/{rest}` for any directory"
                    ),
                    Lang::Ja => format!(
                        "ルートからの場所なら `/{rest}`、任意のディレクトリなら `**/{rest}` と書いてください"
                    ),
                })
            }
            _ => None,
        }
    }
}

/// The containers `MissingField` names, in Japanese.
fn within_ja(within: &str) -> &str {
    match within {
        "the runbook" => "手順書",
        "escalation rule" => "エスカレーションルール",
        other => other,
    }
}

fn type_name_ja(name: &str) -> &str {
    match name {
        "null" => "空の値",
        "boolean" => "真偽値",
        "integer" => "整数",
        "negative integer" => "負の整数",
        "integer too large" => "大きすぎる整数",
        "zero" => "0",
        "number" => "数値",
        "string" => "文字列",
        "list" => "リスト",
        "mapping" => "マッピング",
        other => other,
    }
}

impl Diagnostic {
    pub fn new(file: &str, span: Span, kind: ErrorKind) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            span,
            kind,
        }
    }

    /// `file:line:col`
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.span.line, self.span.col)
    }
}

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// `Ok(())` when empty, else these diagnostics sorted by position.
    pub fn into_result(mut self) -> Result<(), Diagnostics> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0
            .sort_by_key(|d| (d.span.offset, d.span.line, d.span.col));
        self.0.dedup();
        Err(self)
    }

    /// Renders every diagnostic as `file:line:col: error: message`, then
    /// the source with the span underlined, then help if any.
    pub fn render(&self, source: &str, lang: Lang, color: bool) -> String {
        self.render_with_included(source, &[], lang, color)
    }

    /// [`Diagnostics::render`] where some diagnostics point into files that
    /// `include:` brought in: each snippet is cut from its own file.
    pub fn render_with_included(
        &self,
        source: &str,
        included: &[crate::include::IncludedFile],
        lang: Lang,
        color: bool,
    ) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let bold = anstyle::Style::new().bold();
        let red = anstyle::AnsiColor::Red.on_default().bold();
        let mut out = String::new();
        for d in &self.0 {
            let headline = format!(
                "{}: {}: {}",
                d.location(),
                lang.pick("error", "エラー"),
                d.kind.message(lang)
            );
            if color {
                let _ = writeln!(
                    out,
                    "{bold}{}:{bold:#} {red}{}:{red:#} {bold}{}{bold:#}",
                    d.location(),
                    lang.pick("error", "エラー"),
                    d.kind.message(lang)
                );
            } else {
                let _ = writeln!(out, "{headline}");
            }
            let source = included
                .iter()
                .find(|f| f.name == d.file)
                .map_or(source, |f| f.text.as_str());
            let range = snippet_range(source, d.span);
            let label = d.kind.label(lang);
            let mut group = Group::with_level(Level::ERROR).element(
                Snippet::source(source)
                    .path(d.file.as_str())
                    .annotation(AnnotationKind::Primary.span(range).label(label.as_str())),
            );
            let help = d.kind.help(lang);
            if let Some(help) = &help {
                group = group.element(
                    Level::HELP
                        .with_name(lang.pick("help", "ヒント"))
                        .message(help.as_str()),
                );
            }
            let _ = writeln!(out, "{}\n", renderer.render(&[group]));
        }
        out
    }
}

/// The byte range to underline: the span, at least one character wide,
/// clamped to the source and to its first line so the snippet stays short.
fn snippet_range(source: &str, span: Span) -> std::ops::Range<usize> {
    let mut start = span.offset.min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let mut end = start.saturating_add(span.len).min(line_end);
    if end == start {
        end = source[start..line_end]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8());
    }
    start..end
}

/// The closest of `candidates` to `word`, when close enough to be a likely
/// typo (Jaro-Winkler similarity, as cargo and clap use for suggestions).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

/// Collects diagnostics for one file while a parser walks it.
pub(crate) struct Sink {
    /// The file diagnostics are reported against: the runbook's, or an
    /// included file's while its steps are read.
    pub file: String,
    pub diagnostics: Diagnostics,
}

impl Sink {
    pub fn new(file: &str) -> Self {
        Sink {
            file: file.to_string(),
            diagnostics: Diagnostics::default(),
        }
    }

    pub fn error(&mut self, span: Span, kind: ErrorKind) {
        self.diagnostics
            .0
            .push(Diagnostic::new(&self.file, span, kind));
    }

    /// An error in a file other than the one being read (a step brought
    /// in by `include:`, found by a check over the whole runbook).
    pub fn error_in(&mut self, file: Option<&str>, span: Span, kind: ErrorKind) {
        let file = file.unwrap_or(&self.file).to_string();
        self.diagnostics.0.push(Diagnostic::new(&file, span, kind));
    }
}
