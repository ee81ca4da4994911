//! Reading a runbook: YAML text in, a validated [`Runbook`] or every
//! problem found out.
//!
//! The rules here are the ones `tejun check` promises: every key is known,
//! every value has its type, every `{{name}}` is defined, every step does
//! exactly one thing, ids are unique, `check` steps are read-only, and a
//! `restore` names a `backup` that runs before it. Each violation becomes a
//! diagnostic at its own line:col and parsing goes on, so one `tejun check`
//! shows them all. See docs/runbook.md for the format.

use std::collections::HashMap;
use std::time::Duration;

use indexmap::IndexMap;

use crate::diagnostics::{Diagnostics, ErrorKind, Expected, Sink, suggest};
use crate::include::{IncludedFile, Includes, NoIncludes};
use crate::inventory::{Inventory, is_env_name};
use crate::model::{
    Backup, Command, Confirm, OnFailure, PhaseName, Phases, Restore, Rollback, Runbook, Safety,
    Span, Step, StepKind, Template, VarDef, VarSpec, VarType, VarValue, Verdict,
};
use crate::plan::BUILTINS;
use crate::shell::{Context, analyze};
use crate::template::{is_identifier, placeholders};
use crate::walk::{Fields, approval_count, non_empty_string, string_list, wrong_type};
use crate::yaml::{self, Node, Value};

mod probes;

/// Timeout of a step when neither the step nor `defaults` gives one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "env",
    "vars",
    "secret_env",
    "defaults",
    "pre",
    "execute",
    "post",
    "exit",
    "rollback",
    "approval",
    "probes",
    "triggers",
    // Fleet (docs/fleet.md).
    "hosts",
    "rollout",
];
const VAR_KEYS: &[&str] = &[
    "value",
    "from_env",
    "required",
    "secret",
    "description",
    "type",
    "min",
    "max",
    "choices",
    "pattern",
];
const DEFAULTS_KEYS: &[&str] = &["timeout", "retries", "retry_delay"];
const ROLLBACK_KEYS: &[&str] = &["steps", "checks"];
const STEP_KINDS: [&str; 8] = [
    "run", "check", "confirm", "backup", "restore", "probe", "wait_for", "logoff",
];
const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "run",
    "check",
    "confirm",
    "backup",
    "restore",
    "probe",
    "wait_for",
    "logoff",
    "expect",
    "timeout",
    "retries",
    "retry_delay",
    "safety",
    "on_failure",
    "paths",
    "auto",
    "evidence",
    "on",
];
const EXPECT_KEYS: &[&str] = &["exit", "stdout", "stderr"];
const COMMAND_ONLY: &[&str] = &["expect", "retries", "retry_delay"];
const CONFIRM_ONLY: &[&str] = &["auto", "evidence"];

/// A runbook or inventory file's bytes as text, or a diagnostic at the
/// line:col where they stop being UTF-8 (with the lossy text to render it
/// against).
pub fn decode_source(bytes: Vec<u8>, file: &str) -> Result<String, (String, Diagnostics)> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let (text, span) =
                yaml::utf8_error(e.as_bytes()).expect("from_utf8 failed, so there is an error");
            let mut sink = Sink::new(file);
            sink.error(span, ErrorKind::NotUtf8);
            Err((text, sink.diagnostics))
        }
    }
}

/// Parses and validates a runbook. `file` is used only in messages. An
/// `include:` is an error here; see [`parse_runbook_with`].
pub fn parse_runbook(source: &str, file: &str) -> Result<Runbook, Diagnostics> {
    parse_runbook_with(source, file, &NoIncludes)
}

/// [`parse_runbook`], reading `include:` files through `includes`.
pub fn parse_runbook_with(
    source: &str,
    file: &str,
    includes: &dyn Includes,
) -> Result<Runbook, Diagnostics> {
    let read = read_runbook(source, file, includes);
    read.diagnostics.into_result()?;
    read.runbook.ok_or_else(Diagnostics::default)
}

/// Everything the reader made of a runbook; see [`read_runbook`].
pub struct Read {
    pub runbook: Option<Runbook>,
    pub diagnostics: Diagnostics,
    /// Every file `include:` brought in, also when there were errors, so
    /// diagnostics that point into them can be shown with their text.
    pub included: Vec<IncludedFile>,
}

/// Everything the reader could make of a runbook, with every problem it
/// found. `tejun check` uses the partial runbook to run the inventory and
/// guard checks too, so an author sees all independent mistakes in one
/// round; nothing may run a runbook that came with errors.
pub fn read_runbook(source: &str, file: &str, includes: &dyn Includes) -> Read {
    let mut sink = Sink::new(file);
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(e) => {
            sink.error(e.span, e.kind);
            return Read {
                runbook: None,
                diagnostics: sink.diagnostics,
                included: Vec::new(),
            };
        }
    };
    let mut reader = Reader {
        sink: &mut sink,
        source: source.to_string(),
        includes,
        including: Vec::new(),
        included: Vec::new(),
        defined: Vec::new(),
        defaults: Defaults::default(),
        id_spans: HashMap::new(),
        from_spans: HashMap::new(),
        broken_ids: Vec::new(),
        specs: HashMap::new(),
    };
    let runbook = reader.read(&root);
    let included = std::mem::take(&mut reader.included);
    Read {
        runbook,
        diagnostics: sink.diagnostics,
        included,
    }
}

/// Checks `--var NAME=VALUE` values against their variables' types, as
/// `tejun check --var` does before anything could run; each problem is
/// reported at the variable's definition.
pub fn check_overrides(
    runbook: &Runbook,
    overrides: &[(String, String)],
    file: &str,
) -> Result<(), Diagnostics> {
    let mut sink = Sink::new(file);
    for (name, value) in overrides {
        match runbook.vars.get(name) {
            Some(def) => {
                if let Err(reason) = def.spec.check(value) {
                    sink.error(
                        def.span,
                        ErrorKind::BadVarValue {
                            name: name.clone(),
                            reason,
                        },
                    );
                }
            }
            None => sink.error(
                Span {
                    line: 1,
                    col: 1,
                    ..Span::default()
                },
                ErrorKind::UndefinedVariable {
                    name: name.clone(),
                    suggestion: suggest(name, runbook.vars.keys().map(String::as_str)),
                },
            ),
        }
    }
    sink.diagnostics.into_result()
}

/// Checks a parsed runbook against the inventory: every environment it was
/// written for exists, and no literal path it names is pinned to an
/// environment it was not written for.
pub fn check_against_inventory(
    runbook: &Runbook,
    inv: &Inventory,
    _source: &str,
    file: &str,
) -> Result<(), Diagnostics> {
    let mut sink = Sink::new(file);
    let known: Vec<String> = inv.environments.keys().cloned().collect();
    for (i, name) in runbook.environments.iter().enumerate() {
        if inv.environment(name).is_none() {
            let span = runbook
                .environment_spans
                .get(i)
                .copied()
                .unwrap_or_default();
            sink.error(
                span,
                ErrorKind::UnknownEnvironment {
                    name: name.clone(),
                    known: known.clone(),
                },
            );
        }
    }
    let all = runbook
        .phases
        .pre
        .iter()
        .chain(&runbook.phases.execute)
        .chain(&runbook.phases.post);
    let all = all
        .chain(&runbook.phases.exit)
        .chain(&runbook.rollback.steps)
        .chain(&runbook.rollback.checks);
    for step in all {
        for path in &step.paths {
            // Paths with placeholders are only known at run time; the
            // engine's guard checks them after rendering.
            if path.source.contains("{{") {
                continue;
            }
            if let Some(pinned) = inv.pinned_environment(&path.source)
                && !runbook.environments.iter().any(|e| e == pinned)
            {
                sink.error_in(
                    step.file.as_deref(),
                    path.span,
                    ErrorKind::PathPinnedElsewhere {
                        path: path.source.clone(),
                        pinned: pinned.to_string(),
                        written_for: runbook.environments.clone(),
                    },
                );
            }
        }
    }
    sink.diagnostics.into_result()
}

#[derive(Default, Clone, Copy)]
struct Defaults {
    timeout: Option<Duration>,
    retries: Option<u32>,
    retry_delay: Option<Duration>,
}

struct Reader<'a> {
    sink: &'a mut Sink,
    /// The text being read: the runbook's, or an included file's.
    source: String,
    includes: &'a dyn Includes,
    /// Files being included, outermost first (cycles, depth, and the file
    /// a step is written in).
    including: Vec<String>,
    included: Vec<IncludedFile>,
    /// Variable names templates may use: built-ins and `vars`.
    defined: Vec<String>,
    defaults: Defaults,
    /// Where each step's `id` and `restore.from` are written, keyed by the
    /// step's offset, for errors found only once all steps are read.
    id_spans: HashMap<(Option<String>, usize), Span>,
    from_spans: HashMap<(Option<String>, usize), Span>,
    /// Ids of steps that had errors and were left out.
    broken_ids: Vec<String>,
    /// Each variable's type, for placing its values in commands.
    specs: HashMap<String, VarSpec>,
}

impl Reader<'_> {
    fn read(&mut self, root: &Node) -> Option<Runbook> {
        if !matches!(root.value, Value::Map(_)) {
            self.sink.error(root.span, ErrorKind::NotAMapping);
            return None;
        }
        let top = Fields::of(self.sink, root, "runbook", TOP_KEYS)?;
        let name = top
            .required_string(self.sink, "name", "the runbook")
            .map(|(s, _)| s);
        let description = top.string(self.sink, "description").map(|(s, _)| s);
        let (environments, environment_spans) = self.environments(&top);
        let vars = top.get("vars").map(|n| self.vars(n)).unwrap_or_default();
        self.specs = vars
            .iter()
            .map(|(name, def)| (name.clone(), def.spec.clone()))
            .collect();
        self.defined = BUILTINS
            .iter()
            .map(|s| s.to_string())
            .chain(vars.keys().cloned())
            .collect();
        let secret_env = self.secret_env(&top);
        if let Some(node) = top.get("defaults") {
            self.defaults = self.defaults(node);
        }
        let phases = Phases {
            pre: self.steps(&top, "pre", PhaseName::Pre),
            execute: self.steps(&top, "execute", PhaseName::Execute),
            post: self.steps(&top, "post", PhaseName::Post),
            exit: self.steps(&top, "exit", PhaseName::Exit),
        };
        let rollback = self.rollback(&top);
        let approvals = self.approvals(&top);
        let probes = self.probes(&top);
        let triggers = self.triggers(&top, &probes);
        let hosts = crate::fleet::read_hosts(self.sink, &top);
        let rollout = crate::fleet::read_rollout(self.sink, &top);
        let mut runbook = Runbook {
            name: name?,
            description,
            environments,
            environment_spans,
            vars,
            secret_env,
            phases,
            rollback,
            approvals,
            probes,
            triggers,
            hosts,
            rollout,
            included: self.included.clone(),
        };
        self.probe_steps_name_probes(&runbook);
        self.cross_check(&mut runbook);
        Some(runbook)
    }

    /// `approval: {count: N}` with N ≥ 1, read as the inventory reads
    /// it; 0 when absent.
    fn approvals(&mut self, top: &Fields) -> u32 {
        top.get("approval")
            .map_or(0, |node| approval_count(self.sink, node))
    }

    fn environments(&mut self, top: &Fields) -> (Vec<String>, Vec<Span>) {
        let Some(node) = top.get("env") else {
            self.sink.error(
                top.span,
                ErrorKind::MissingField {
                    field: "env",
                    within: "the runbook",
                },
            );
            return (Vec::new(), Vec::new());
        };
        let list = string_list(self.sink, node, "env").unwrap_or_default();
        if list.is_empty() && matches!(node.value, Value::Seq(_)) {
            self.sink.error(
                node.span,
                ErrorKind::EmptyValue {
                    field: "env".into(),
                },
            );
        }
        let mut names = Vec::new();
        let mut spans = Vec::new();
        for (name, span) in list {
            if !is_env_name(&name) {
                self.sink
                    .error(span, ErrorKind::BadEnvironmentName { name });
                continue;
            }
            if names.contains(&name) {
                self.sink
                    .error(span, ErrorKind::DuplicateEnvironment { name });
                continue;
            }
            names.push(name);
            spans.push(span);
        }
        (names, spans)
    }

    fn vars(&mut self, node: &Node) -> IndexMap<String, VarDef> {
        let mut vars = IndexMap::new();
        if matches!(node.value, Value::Null) {
            return vars;
        }
        let Value::Map(entries) = &node.value else {
            wrong_type(self.sink, node, "vars", Expected::Mapping);
            return vars;
        };
        for (key, value) in entries {
            if !is_identifier(&key.name) {
                self.sink.error(
                    key.span,
                    ErrorKind::BadVarName {
                        name: key.name.clone(),
                    },
                );
                continue;
            }
            if BUILTINS.contains(&key.name.as_str()) {
                self.sink.error(
                    key.span,
                    ErrorKind::VarShadowsBuiltin {
                        name: key.name.clone(),
                    },
                );
                continue;
            }
            // A literal may use built-ins and the variables defined above it.
            self.defined = BUILTINS
                .iter()
                .map(|s| s.to_string())
                .chain(vars.keys().cloned())
                .collect();
            // Keep the name even when its definition is bad, so templates
            // using it do not also report "undefined".
            let mut def = self.var_def(&key.name, value).unwrap_or(VarDef {
                value: VarValue::Required,
                secret: false,
                description: None,
                spec: VarSpec::default(),
                span: key.span,
            });
            def.span = key.span;
            vars.insert(key.name.clone(), def);
        }
        vars
    }

    fn var_def(&mut self, name: &str, node: &Node) -> Option<VarDef> {
        let literal = |value| VarDef {
            value: VarValue::Literal(value),
            secret: false,
            description: None,
            spec: VarSpec::default(),
            span: node.span,
        };
        match &node.value {
            Value::Str(_) => return self.template(node, name).map(|t| literal(t.source)),
            // As written: `1.10` stays `1.10`, `yes` stays `yes`.
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                return crate::walk::string(self.sink, node, name).map(|(s, _)| literal(s));
            }
            Value::Map(_) => {}
            _ => {
                wrong_type(self.sink, node, name, Expected::VarDef);
                return None;
            }
        }
        let fields = Fields::of(self.sink, node, name, VAR_KEYS)?;
        let secret = fields.bool(self.sink, "secret").unwrap_or(false);
        let description = fields.string(self.sink, "description").map(|(s, _)| s);
        let required = fields.bool(self.sink, "required").unwrap_or(false);
        let sources = usize::from(fields.has("value"))
            + usize::from(fields.has("from_env"))
            + usize::from(required);
        if sources != 1 {
            self.sink
                .error(fields.span, ErrorKind::VarSources { count: sources });
            return None;
        }
        let spec = self.var_spec(&fields)?;
        let value = if required {
            VarValue::Required
        } else if let Some(value) = fields.get("value") {
            let literal = self.template(value, name)?.source;
            // A literal without placeholders is known now: check it here,
            // at its line, rather than at run time.
            if !literal.contains("{{")
                && let Err(bad) = spec.check(&literal)
            {
                self.sink.error(
                    value.span,
                    ErrorKind::BadVarValue {
                        name: name.to_string(),
                        reason: bad,
                    },
                );
                return None;
            }
            VarValue::Literal(literal)
        } else {
            let (env, span) = fields.string(self.sink, "from_env")?;
            if !is_env_var_name(&env) {
                self.sink.error(span, ErrorKind::BadEnvName { name: env });
                return None;
            }
            VarValue::FromEnv(env)
        };
        Some(VarDef {
            value,
            secret,
            description,
            spec,
            span: node.span,
        })
    }

    /// `type` and its limits; each limit only where its type has it.
    fn var_spec(&mut self, fields: &Fields) -> Option<VarSpec> {
        let mut spec = VarSpec::default();
        let mut ok = true;
        if let Some((name, span)) = fields.string(self.sink, "type") {
            match VarType::parse(&name) {
                Some(kind) => spec.kind = kind,
                None => {
                    self.sink
                        .error(span, ErrorKind::UnknownVarType { value: name });
                    return None;
                }
            }
        }
        let kind = spec.kind.as_str();
        let numeric = matches!(spec.kind, VarType::Int | VarType::Number);
        for key in ["min", "max"] {
            let Some(node) = fields.get(key) else {
                continue;
            };
            if !numeric {
                self.sink
                    .error(node.span, ErrorKind::VarOptionNotForType { key, kind });
                ok = false;
                continue;
            }
            let bound = match node.value {
                Value::Int(i) => Some(i as f64),
                Value::Float(f) if f.is_finite() => Some(f),
                _ => None,
            };
            match bound {
                Some(b) if key == "min" => spec.min = Some(b),
                Some(b) => spec.max = Some(b),
                None => {
                    wrong_type(self.sink, node, key, Expected::Integer);
                    ok = false;
                }
            }
        }
        match fields.get("choices") {
            Some(node) if spec.kind != VarType::Enum => {
                self.sink.error(
                    node.span,
                    ErrorKind::VarOptionNotForType {
                        key: "choices",
                        kind,
                    },
                );
                ok = false;
            }
            Some(node) => {
                spec.choices = string_list(self.sink, node, "choices")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
            }
            None if spec.kind == VarType::Enum => {
                self.sink.error(
                    fields.span,
                    ErrorKind::MissingField {
                        field: "choices",
                        within: "an enum variable",
                    },
                );
                ok = false;
            }
            None => {}
        }
        if let Some((pattern, span)) = fields.string(self.sink, "pattern") {
            match regex::Regex::new(&format!("^(?:{pattern})$")) {
                Ok(_) => spec.pattern = Some(pattern),
                Err(e) => {
                    self.sink.error(
                        span,
                        ErrorKind::InvalidRegex {
                            error: regex_error(&e),
                        },
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(spec)
    }

    fn secret_env(&mut self, top: &Fields) -> Vec<String> {
        let mut names = Vec::new();
        for (name, span) in top.string_list(self.sink, "secret_env").unwrap_or_default() {
            if is_env_var_name(&name) {
                names.push(name);
            } else {
                self.sink.error(span, ErrorKind::BadEnvName { name });
            }
        }
        names
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        let Some(fields) = Fields::of(self.sink, node, "defaults", DEFAULTS_KEYS) else {
            return Defaults::default();
        };
        Defaults {
            timeout: fields.get("timeout").and_then(|node| self.timeout(node)),
            retries: fields.u32(self.sink, "retries"),
            retry_delay: fields.duration(self.sink, "retry_delay"),
        }
    }

    /// A step timeout: a duration of at least one second (`0s` would kill
    /// every command at once; `500ms` is a typo more often than a plan).
    fn timeout(&mut self, node: &Node) -> Option<Duration> {
        let timeout = crate::walk::duration(self.sink, node, "timeout")?;
        if timeout < Duration::from_secs(1) {
            let value = node.as_str().unwrap_or_default().to_string();
            self.sink
                .error(node.span, ErrorKind::TimeoutTooShort { value });
            return None;
        }
        Some(timeout)
    }

    fn rollback(&mut self, top: &Fields) -> Rollback {
        let Some(node) = top.get("rollback") else {
            return Rollback::default();
        };
        if matches!(node.value, Value::Null) {
            return Rollback::default();
        }
        let Some(fields) = Fields::of(self.sink, node, "rollback", ROLLBACK_KEYS) else {
            return Rollback::default();
        };
        Rollback {
            steps: self.steps(&fields, "steps", PhaseName::Rollback),
            checks: self.steps(&fields, "checks", PhaseName::Rollback),
        }
    }

    fn steps(&mut self, parent: &Fields, key: &str, phase: PhaseName) -> Vec<Step> {
        let Some(node) = parent.get(key) else {
            return Vec::new();
        };
        let items = match &node.value {
            Value::Null => return Vec::new(),
            Value::Seq(items) => items,
            _ => {
                wrong_type(self.sink, node, key, Expected::StepList);
                return Vec::new();
            }
        };
        // Derived ids say where the step is: `execute-3`, `rollback-check-1`.
        let prefix = match (phase, key) {
            (PhaseName::Rollback, "checks") => "rollback-check".to_string(),
            (PhaseName::Rollback, _) => "rollback".to_string(),
            (phase, _) => phase.as_str().to_string(),
        };
        self.step_items(items, &format!("{prefix}-"))
    }

    /// Steps of a list, `include:` items expanded in place. Derived ids
    /// number the list (`execute-3`); an included file's steps number
    /// below its include item (`exit-2.1`).
    fn step_items(&mut self, items: &[Node], id_prefix: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let derived = format!("{id_prefix}{}", i + 1);
            match include_path(item) {
                Some(path_node) => steps.extend(self.include(item, path_node, &derived)),
                None => steps.extend(self.step(item, &derived)),
            }
        }
        steps
    }

    /// The file an `include:` item names, its steps read in its own file.
    fn include(&mut self, item: &Node, path_node: &Node, derived: &str) -> Vec<Step> {
        Fields::of(self.sink, item, "include", &["include"]);
        let Some((path, _)) = non_empty_string(self.sink, path_node, "include") else {
            return Vec::new();
        };
        let from = self.sink.file.clone();
        let file = match self.includes.read(&from, &path) {
            Ok(file) => file,
            Err(error) => {
                let kind = ErrorKind::IncludeUnreadable { path, error };
                self.sink.error(path_node.span, kind);
                return Vec::new();
            }
        };
        // A runbook that includes itself is caught one level later, when
        // its first include comes round again.
        let refusal = if self.including.contains(&file.name) {
            Some(ErrorKind::IncludeCycle { path })
        } else if self.including.len() >= crate::include::MAX_DEPTH {
            Some(ErrorKind::IncludeTooDeep { path })
        } else {
            None
        };
        if let Some(kind) = refusal {
            self.sink.error(path_node.span, kind);
            return Vec::new();
        }
        if !self.included.iter().any(|f| f.name == file.name) {
            self.included.push(file.clone());
        }
        let outer_source = std::mem::replace(&mut self.source, file.text.clone());
        let outer_file = std::mem::replace(&mut self.sink.file, file.name.clone());
        self.including.push(file.name.clone());
        let steps = match yaml::parse(&file.text) {
            Err(e) => {
                self.sink.error(e.span, e.kind);
                Vec::new()
            }
            Ok(root) => match &root.value {
                Value::Seq(items) => self.step_items(items, &format!("{derived}.")),
                _ => {
                    wrong_type(self.sink, &root, "include", Expected::StepList);
                    Vec::new()
                }
            },
        };
        self.including.pop();
        self.sink.file = outer_file;
        self.source = outer_source;
        steps
    }

    /// The included file being read, or `None` in the runbook itself.
    fn current_file(&self) -> Option<String> {
        self.including.last().cloned()
    }

    fn step(&mut self, node: &Node, derived_id: &str) -> Option<Step> {
        let fields = Fields::of(self.sink, node, "step", STEP_KEYS)?;
        let mut kinds = fields.entries().iter().filter_map(|(k, _)| {
            STEP_KINDS
                .iter()
                .find(|kind| **kind == k.name)
                .map(|kind| (*kind, k.span))
        });
        let Some((kind_name, _)) = kinds.next() else {
            self.sink.error(fields.span, ErrorKind::NoStepKind);
            return None;
        };
        if let Some((second, span)) = kinds.next() {
            self.sink.error(
                span,
                ErrorKind::TwoStepKinds {
                    first: kind_name,
                    second,
                },
            );
            return None;
        }
        let id = match fields.get("id") {
            Some(id_node) => non_empty_string(self.sink, id_node, "id").and_then(|(id, span)| {
                if is_step_id(&id) {
                    self.id_spans
                        .insert((self.current_file(), fields.span.offset), span);
                    Some(id)
                } else {
                    self.sink.error(span, ErrorKind::BadStepId { id });
                    None
                }
            }),
            None => Some(derived_id.to_string()),
        };
        let step = self.step_body(&fields, kind_name, id.clone());
        if step.is_none()
            && let Some(id) = id
        {
            // Already reported; keep restores naming it from adding noise.
            self.broken_ids.push(id);
        }
        step
    }

    fn step_body(
        &mut self,
        fields: &Fields,
        kind_name: &'static str,
        id: Option<String>,
    ) -> Option<Step> {
        let is_command = matches!(kind_name, "run" | "check");
        for (key, _) in fields.entries() {
            let misplaced = (!is_command && COMMAND_ONLY.contains(&key.name.as_str()))
                || (kind_name != "confirm" && CONFIRM_ONLY.contains(&key.name.as_str()));
            if misplaced {
                self.sink.error(
                    key.span,
                    ErrorKind::KeyNotForKind {
                        key: key.name.clone(),
                        kind: kind_name,
                    },
                );
            }
        }
        // Every part is read even when an earlier one failed, so one
        // `tejun check` reports all of a step's problems.
        let name = fields.string(self.sink, "name").map(|(s, _)| s);
        let body = fields.get(kind_name)?;
        let kind = match kind_name {
            "run" => self.command(fields, body, kind_name).map(StepKind::Run),
            "check" => self.command(fields, body, kind_name).map(StepKind::Check),
            "confirm" => self.confirm(fields, body).map(StepKind::Confirm),
            "backup" => self.backup(body).map(StepKind::Backup),
            "probe" | "wait_for" => self.probe_step(body, kind_name).map(StepKind::Probe),
            "logoff" => self.logoff_step(body).map(StepKind::Logoff),
            _ => self.restore(body).map(|(restore, span)| {
                self.from_spans
                    .insert((self.current_file(), fields.span.offset), span);
                StepKind::Restore(restore)
            }),
        };
        let safety = self.safety(fields, kind_name);
        let timeout = match fields.get("timeout") {
            Some(node) => self.timeout(node).map(Some),
            None => Some(None),
        };
        let on_failure = match fields.string(self.sink, "on_failure") {
            None => Some(OnFailure::Fail),
            Some((value, span)) => match value.as_str() {
                "fail" => Some(OnFailure::Fail),
                "continue" => Some(OnFailure::Continue),
                _ => {
                    self.sink.error(
                        span,
                        ErrorKind::BadChoice {
                            field: "on_failure",
                            value,
                            allowed: &["fail", "continue"],
                        },
                    );
                    None
                }
            },
        };
        let declared = match fields.get("paths") {
            Some(node) => self.path_list(node, "paths"),
            None => Some(Vec::new()),
        };
        let kind = kind?;
        let mut paths = declared?;
        if let StepKind::Backup(backup) = &kind {
            paths.extend(backup.paths.iter().cloned());
        }
        Some(Step {
            id: id?,
            name,
            kind,
            safety: safety?,
            timeout: timeout?
                .or(self.defaults.timeout)
                .unwrap_or(DEFAULT_TIMEOUT),
            on_failure: on_failure?,
            paths,
            on: crate::fleet::read_on(self.sink, fields),
            span: fields.span,
            file: self.current_file(),
        })
    }

    fn command(&mut self, fields: &Fields, body: &Node, kind: &str) -> Option<Command> {
        non_empty_string(self.sink, body, kind)?;
        let command = self.template(body, kind)?;
        let mut ok = self.values_stay_data(body, &command.source);
        let mut expect_exit = vec![0];
        let mut expect_stdout = None;
        let mut expect_stderr = None;
        if let Some(node) = fields.get("expect") {
            let expect = Fields::of(self.sink, node, "expect", EXPECT_KEYS)?;
            if let Some(exit) = expect.get("exit") {
                match self.exit_codes(exit) {
                    Some(codes) => expect_exit = codes,
                    None => ok = false,
                }
            }
            for (key, slot) in [
                ("stdout", &mut expect_stdout),
                ("stderr", &mut expect_stderr),
            ] {
                if let Some((pattern, span)) = expect.string(self.sink, key) {
                    match regex::Regex::new(&pattern) {
                        Ok(_) => *slot = Some(pattern),
                        Err(e) => {
                            self.sink.error(
                                span,
                                ErrorKind::InvalidRegex {
                                    error: regex_error(&e),
                                },
                            );
                            ok = false;
                        }
                    }
                }
            }
        }
        let retries = fields
            .u32(self.sink, "retries")
            .or(self.defaults.retries)
            .unwrap_or(0);
        let retry_delay = fields
            .duration(self.sink, "retry_delay")
            .or(self.defaults.retry_delay)
            .unwrap_or(Duration::from_secs(1));
        ok.then_some(Command {
            command,
            expect_exit,
            expect_stdout,
            expect_stderr,
            retries,
            retry_delay,
        })
    }

    fn exit_codes(&mut self, node: &Node) -> Option<Vec<i32>> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) if !items.is_empty() => items.iter().collect(),
            Value::Int(_) => vec![node],
            _ => {
                wrong_type(self.sink, node, "exit", Expected::ExitCodes);
                return None;
            }
        };
        let mut codes = Vec::new();
        for item in items {
            match item.value {
                Value::Int(code) if (0..=255).contains(&code) => codes.push(code as i32),
                Value::Int(code) => {
                    self.sink.error(
                        item.span,
                        ErrorKind::BadExitCode {
                            value: code.to_string(),
                        },
                    );
                    return None;
                }
                _ => {
                    wrong_type(self.sink, item, "exit", Expected::ExitCodes);
                    return None;
                }
            }
        }
        Some(codes)
    }

    fn confirm(&mut self, fields: &Fields, body: &Node) -> Option<Confirm> {
        non_empty_string(self.sink, body, "confirm")?;
        let prompt = self.template(body, "confirm")?;
        let auto = match fields.string(self.sink, "auto") {
            None => None,
            Some((value, span)) => Some(match value.as_str() {
                "ok" => Verdict::Ok,
                "abnormal" => Verdict::Abnormal,
                "pending" => Verdict::Pending,
                _ => {
                    self.sink.error(
                        span,
                        ErrorKind::BadChoice {
                            field: "auto",
                            value,
                            allowed: &["ok", "abnormal", "pending"],
                        },
                    );
                    return None;
                }
            }),
        };
        let evidence_required = match fields.get("evidence") {
            None => false,
            Some(node) => match &node.value {
                Value::Bool(b) => *b,
                Value::Str(s) if s == "required" => true,
                Value::Str(s) if s == "optional" => false,
                _ => {
                    let value = match &node.value {
                        Value::Str(s) => s.clone(),
                        other => other.type_name().to_string(),
                    };
                    self.sink.error(
                        node.span,
                        ErrorKind::BadChoice {
                            field: "evidence",
                            value,
                            allowed: &["required", "optional"],
                        },
                    );
                    return None;
                }
            },
        };
        Some(Confirm {
            prompt,
            auto,
            evidence_required,
        })
    }

    fn backup(&mut self, body: &Node) -> Option<Backup> {
        let paths_node = match &body.value {
            Value::Map(_) => {
                let fields = Fields::of(self.sink, body, "backup", &["paths"])?;
                match fields.get("paths") {
                    Some(node) => node,
                    None => {
                        self.sink.error(
                            body.span,
                            ErrorKind::MissingField {
                                field: "paths",
                                within: "backup",
                            },
                        );
                        return None;
                    }
                }
            }
            Value::Seq(_) | Value::Str(_) => body,
            _ => {
                wrong_type(self.sink, body, "backup", Expected::Backup);
                return None;
            }
        };
        let paths = self.path_list(paths_node, "backup")?;
        if paths.is_empty() {
            self.sink.error(
                paths_node.span,
                ErrorKind::EmptyValue {
                    field: "paths".into(),
                },
            );
            return None;
        }
        Some(Backup { paths })
    }

    fn restore(&mut self, body: &Node) -> Option<(Restore, Span)> {
        let (from, span) = match &body.value {
            Value::Str(_) => non_empty_string(self.sink, body, "restore")?,
            _ => {
                let fields = Fields::of(self.sink, body, "restore", &["from"])?;
                fields.required_string(self.sink, "from", "restore")?
            }
        };
        Some((Restore { from }, span))
    }

    fn path_list(&mut self, node: &Node, field: &str) -> Option<Vec<Template>> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![node],
            _ => {
                wrong_type(self.sink, node, field, Expected::StringOrList);
                return None;
            }
        };
        let mut paths = Vec::new();
        let mut ok = true;
        for item in items {
            match non_empty_string(self.sink, item, field).and_then(|_| self.template(item, field))
            {
                Some(t) => paths.push(t),
                None => ok = false,
            }
        }
        ok.then_some(paths)
    }

    /// The step's label: given, or from its kind (run and restore change
    /// state; check, confirm and backup only read).
    fn safety(&mut self, fields: &Fields, kind: &str) -> Option<Safety> {
        let default = match kind {
            "run" | "restore" => Safety::Changes,
            _ => Safety::ReadOnly,
        };
        let Some((value, span)) = fields.string(self.sink, "safety") else {
            return Some(default);
        };
        let safety = match value.as_str() {
            "read-only" | "readonly" | "read_only" => Safety::ReadOnly,
            "changes" => Safety::Changes,
            "destructive" => Safety::Destructive,
            _ => {
                self.sink.error(span, ErrorKind::BadSafety { value });
                return None;
            }
        };
        if kind == "check" && safety != Safety::ReadOnly {
            self.sink
                .error(span, ErrorKind::CheckNotReadOnly { safety: value });
            return None;
        }
        Some(safety)
    }

    /// A template from a string node, its placeholders checked against the
    /// defined variables. Errors point at the placeholder itself.
    fn template(&mut self, node: &Node, field: &str) -> Option<Template> {
        let (text, span) = crate::walk::string(self.sink, node, field)?;
        let found = match placeholders(&text) {
            Ok(found) => found,
            Err(at) => {
                let span = self.locate(node, &text, at, 2);
                self.sink.error(span, ErrorKind::BadPlaceholder);
                return None;
            }
        };
        let mut ok = true;
        for p in found {
            if !self.defined.iter().any(|d| d == p.name) {
                let span = self.locate(node, &text, p.start, p.end - p.start);
                let suggestion = suggest(p.name, self.defined.iter().map(String::as_str));
                self.sink.error(
                    span,
                    ErrorKind::UndefinedVariable {
                        name: p.name.to_string(),
                        suggestion,
                    },
                );
                ok = false;
            }
        }
        ok.then_some(Template { source: text, span })
    }

    /// Refuses placeholders the shell cannot substitute (single quotes, a
    /// quoted heredoc) and unconstrained values a second interpreter would
    /// read as program text. Everywhere else a value reaches the command
    /// through its environment and is never parsed (see [`crate::shell`]).
    fn values_stay_data(&mut self, body: &Node, source: &str) -> bool {
        let Ok(sites) = analyze(source) else {
            return true;
        };
        let mut ok = true;
        for site in sites {
            let p = &site.placeholder;
            let name = p.name.to_string();
            let kind = match (site.context, site.interpreter) {
                (Context::Single, _) => ErrorKind::PlaceholderInQuotes { name },
                (Context::Heredoc { quoted: true }, _) => {
                    ErrorKind::PlaceholderInQuotedHeredoc { name }
                }
                (Context::Comment, _) | (_, None) => continue,
                (_, Some(interpreter)) => {
                    let constrained = match self.specs.get(p.name) {
                        Some(spec) => spec.constrains_code(),
                        // Built-ins: tejun's own names, ids and times.
                        None => p.name != "runbook_dir",
                    };
                    if constrained {
                        continue;
                    }
                    ErrorKind::ValueBecomesCode { name, interpreter }
                }
            };
            let span = self.locate(body, source, p.start, p.end - p.start);
            self.sink.error(span, kind);
            ok = false;
        }
        ok
    }

    /// Where bytes `at..at+len` of a scalar's value are in the source. The
    /// value may differ from its source text (quotes, escapes, folding), so
    /// the same text is searched for within the node, counting earlier
    /// occurrences; the node's start is the fallback.
    fn locate(&self, node: &Node, value: &str, at: usize, len: usize) -> Span {
        let index = yaml::LineIndex::new(&self.source);
        let Some(needle) = value.get(at..at + len) else {
            return node.span;
        };
        let nth = value[..at].matches(needle).count();
        let start = node.span.offset.min(self.source.len());
        let end = start
            .saturating_add(node.span.len.max(value.len()))
            .min(self.source.len());
        let window = self.source.get(start..end).unwrap_or("");
        match window.match_indices(needle).nth(nth) {
            Some((i, _)) => index.at(start + i, len),
            None => node.span,
        }
    }

    /// Rules that need the whole runbook: unique ids, restore sources.
    fn cross_check(&mut self, runbook: &mut Runbook) {
        let order: Vec<(PhaseName, &Step)> = [
            (PhaseName::Pre, &runbook.phases.pre),
            (PhaseName::Execute, &runbook.phases.execute),
            (PhaseName::Post, &runbook.phases.post),
            (PhaseName::Exit, &runbook.phases.exit),
            (PhaseName::Rollback, &runbook.rollback.steps),
            (PhaseName::Rollback, &runbook.rollback.checks),
        ]
        .into_iter()
        .flat_map(|(phase, steps)| steps.iter().map(move |s| (phase, s)))
        .collect();
        let mut first_seen: HashMap<&str, (usize, Span)> = HashMap::new();
        for (position, (_, step)) in order.iter().enumerate() {
            if let Some((_, first)) = first_seen.get(step.id.as_str()) {
                let span = self
                    .id_spans
                    .get(&(step.file.clone(), step.span.offset))
                    .copied()
                    .unwrap_or(step.span);
                self.sink.error_in(
                    step.file.as_deref(),
                    span,
                    ErrorKind::DuplicateStepId {
                        id: step.id.clone(),
                        first_line: first.line,
                    },
                );
            } else {
                first_seen.insert(&step.id, (position, step.span));
            }
        }
        // A restore takes the paths of the backup it names, so the guard
        // sees them too.
        let mut restore_paths: Vec<(String, Vec<Template>)> = Vec::new();
        for (position, (phase, step)) in order.iter().enumerate() {
            let StepKind::Restore(restore) = &step.kind else {
                continue;
            };
            let from_span = self
                .from_spans
                .get(&(step.file.clone(), step.span.offset))
                .copied()
                .unwrap_or(step.span);
            let file = step.file.as_deref();
            let Some(&(source_pos, _)) = first_seen.get(restore.from.as_str()) else {
                if self.broken_ids.contains(&restore.from) {
                    continue;
                }
                self.sink.error_in(
                    file,
                    from_span,
                    ErrorKind::RestoreFromUnknown {
                        from: restore.from.clone(),
                    },
                );
                continue;
            };
            let (_, source) = order[source_pos];
            let StepKind::Backup(backup) = &source.kind else {
                self.sink.error_in(
                    file,
                    from_span,
                    ErrorKind::RestoreFromNotBackup {
                        from: restore.from.clone(),
                        kind: source.kind.name(),
                    },
                );
                continue;
            };
            // Rollback may restore any backup of the main phases; within
            // the main phases the backup must come first.
            if *phase != PhaseName::Rollback && source_pos > position {
                self.sink.error_in(
                    file,
                    from_span,
                    ErrorKind::RestoreBeforeBackup {
                        from: restore.from.clone(),
                    },
                );
                continue;
            }
            restore_paths.push((step.id.clone(), backup.paths.clone()));
        }
        let steps = runbook
            .phases
            .pre
            .iter_mut()
            .chain(runbook.phases.execute.iter_mut());
        let steps = steps
            .chain(runbook.phases.post.iter_mut())
            .chain(runbook.phases.exit.iter_mut());
        let steps = steps
            .chain(runbook.rollback.steps.iter_mut())
            .chain(runbook.rollback.checks.iter_mut());
        for step in steps {
            if let Some((_, paths)) = restore_paths.iter().find(|(id, _)| *id == step.id) {
                step.paths.extend(paths.iter().cloned());
            }
        }
    }
}

/// Step ids appear in `tejun show`, `restore.from` and file names in the
/// run folder: letters, digits, `-`, `_`, `.`.
fn is_step_id(id: &str) -> bool {
    id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !id.starts_with('.')
}

fn is_env_var_name(name: &str) -> bool {
    is_identifier(name)
}

/// The regex crate's error without its multi-line pattern echo: the
/// snippet already shows the pattern.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_string()
        })
        .unwrap_or(text)
}

/// The path of an `include:` item (`- include: shared/leave.yaml`).
fn include_path(item: &Node) -> Option<&Node> {
    let Value::Map(entries) = &item.value else {
        return None;
    };
    entries
        .iter()
        .find(|(key, _)| key.name == "include")
        .map(|(_, node)| node)
}
