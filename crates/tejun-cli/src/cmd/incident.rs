//! `tejun incident`: open incidents and work on them. Every subcommand
//! validates against the incident as folded from the journal and then
//! appends one event; refused input writes nothing and exits 2.

use anstyle::{AnsiColor, Style};
use clap::Subcommand;
use jiff::Timestamp;
use tejun_incident::{
    ActionStatus, Error, Incident, Incidents, Layer, OpenRequest, Role, Status, Term, Verdict,
    timeline,
};
use tejun_journal::Journal;
use tejun_locale::Localize;

use crate::context::{Context, Exit};
use crate::help_ja::ValueError;
use crate::notify::{Notice, Notifier};
use crate::output::{Cell, Table, outln, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Record on behalf of a responder (a scribe writing down what NAME did); journaled as recorded by you for NAME.
    #[arg(long, global = true, value_name = "NAME")]
    pub by: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open an incident; prints its short id.
    #[command(
        after_help = "Examples:\n  tejun incident open --title 'DB connection timeouts' --severity P1 --impact 'checkout fails for all users'\n  tejun incident open --title 'AZ degraded' --severity P0 --started-at '2026-11-22 09:15' --at '09:20'"
    )]
    Open {
        #[arg(long)]
        title: String,
        /// P0 (full outage), P1 (major function broken), P2 (minor function broken), P3 (latent risk), or the inventory's.
        #[arg(long)]
        severity: String,
        /// Who or what is affected.
        #[arg(long)]
        impact: Option<String>,
        /// When the impact began (default: when it was detected).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        started_at: Option<String>,
        /// When it was detected, if earlier than now (marked backfilled).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        at: Option<String>,
        /// The environment it affects: runs in it attach themselves while
        /// it is active (inventory: incidents.attach_active_runs).
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
    },
    /// List incidents.
    #[command(
        after_help = "Examples:\n  tejun incident list\n  tejun incident list --status active --severity P0,P1\n  tejun incident list --json"
    )]
    List {
        /// Only these statuses (comma-separated; `active` = not resolved or closed).
        #[arg(long, value_delimiter = ',')]
        status: Vec<String>,
        /// Only these severities (comma-separated).
        #[arg(long, value_delimiter = ',')]
        severity: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show an incident and its timeline (runs, detections, bans, notes...).
    #[command(
        after_help = "Examples:\n  tejun incident show INC-7K3Q\n  TZ=Asia/Tokyo tejun incident show 7k\n  tejun incident show 7k --json"
    )]
    Show {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change the status: investigating, identified, mitigated, resolved, closed.
    #[command(
        after_help = "Examples:\n  tejun incident status 7k investigating\n  tejun incident status 7k mitigated --at '14:45'\n  tejun incident status 7k investigating   # reopen a resolved incident"
    )]
    Status {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        status: String,
        /// When it happened, for things learned afterwards (marked backfilled).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        at: Option<String>,
    },
    /// Name who holds a role: commander, scribe, comms, responder.
    #[command(
        after_help = "Examples:\n  tejun incident role 7k commander 'Sato'\n  tejun incident role 7k scribe 'Suzuki'"
    )]
    Role {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// commander, scribe, comms or responder.
        role: String,
        /// Who holds it.
        name: String,
    },
    /// Add a note to the timeline.
    #[command(
        after_help = "Examples:\n  tejun incident note 7k 'load average 25 on db-1'\n  tejun incident note 7k 'customer reported 503s' --at 14:28"
    )]
    Note {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// The note.
        text: String,
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        at: Option<String>,
    },
    /// Record a hypothesis; prints its id (for `verdict`).
    #[command(
        after_help = "Examples:\n  tejun incident hypothesis 7k 'an unindexed query exhausts the connection pool'"
    )]
    Hypothesis {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// The hypothesis, as a sentence.
        text: String,
    },
    /// Confirm or reject a hypothesis, with the evidence.
    #[command(
        after_help = "Examples:\n  tejun incident verdict INC-7K3Q-H1 confirmed --evidence 'slow log: 50k-row filesort'\n  tejun incident verdict 7k-h2 rejected --evidence 'cache hit rate normal'"
    )]
    Verdict {
        /// The hypothesis id `incident hypothesis` printed.
        hypothesis: String,
        /// confirmed or rejected.
        verdict: String,
        #[arg(long)]
        evidence: String,
    },
    /// Record a root cause in one layer, with its 5 whys.
    #[command(
        after_help = "Examples:\n  tejun incident cause 7k --layer technical 'LIKE query without index' --why 'no index on name' --why 'no query review'\n  tejun incident cause 7k --layer process 'no staging load test'"
    )]
    Cause {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// technical, process or organisational.
        #[arg(long)]
        layer: String,
        text: String,
        /// One "why", in order; repeat up to five times.
        #[arg(long = "why")]
        whys: Vec<String>,
    },
    /// Reassess the severity.
    #[command(after_help = "Examples:\n  tejun incident severity 7k P0")]
    Severity {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// The new severity (P0..P3, or the inventory's).
        severity: String,
    },
    /// Write or rewrite the impact (who and what is affected).
    #[command(
        after_help = "Examples:\n  tejun incident impact 7k 'checkout fails for all users; about 5M JPY per hour'"
    )]
    Impact {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// Who and what is affected, in words.
        text: String,
    },
    /// Record a lesson learned.
    #[command(
        after_help = "Examples:\n  tejun incident lesson 7k 'trends need alerts, not only thresholds'"
    )]
    Lesson {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// The lesson, as a sentence.
        text: String,
    },
    /// Record an improvement action with its owner.
    #[command(
        after_help = "Examples:\n  tejun incident action 7k --term short --owner 'DB team' 'add the missing index'\n  tejun incident action 7k --term long --owner SRE 'archive old rows monthly'"
    )]
    Action {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// short, mid or long.
        #[arg(long)]
        term: String,
        #[arg(long)]
        owner: String,
        /// When it should be done (YYYY-MM-DD).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_due)]
        due: Option<jiff::civil::Date>,
        /// The action, as a sentence.
        text: String,
    },
    /// Mark an improvement action open, done or dropped (its number as `incident actions` lists it).
    #[command(
        name = "action-status",
        after_help = "Examples:\n  tejun incident action-status 7k 1 done\n  tejun incident action-status 7k 2 dropped"
    )]
    ActionStatus {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// The action's number, as `incident actions` lists it.
        number: usize,
        /// open, done or dropped.
        /// open, done or dropped.
        status: String,
    },
    /// List improvement actions across incidents: open ones, earliest due first.
    #[command(
        after_help = "Examples:\n  tejun incident actions\n  tejun incident actions --all --json"
    )]
    Actions {
        /// Also done and dropped actions.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Take a run that was attached by mistake off the incident's timeline
    /// and postmortem (journaled with the reason).
    #[command(
        after_help = "Examples:\n  tejun incident detach 7k 0k3m9q2a --reason 'dev quickstart, unrelated to the outage'"
    )]
    Detach {
        /// The incident: its id, or a unique prefix of it (`tejun incident list`).
        id: String,
        /// The run id to take off the timeline.
        run: String,
        #[arg(long)]
        reason: String,
    },
}

impl Command {
    /// Whether the command appends to the journal (and so must not write
    /// onto one that does not verify).
    fn writes(&self) -> bool {
        !matches!(
            self,
            Command::List { .. } | Command::Show { .. } | Command::Actions { .. }
        )
    }
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let Args { by, command } = args;
    let Some(journal) = ctx.open_journal_or_report() else {
        return Exit::Failed;
    };
    if command.writes()
        && let Err(exit) = super::audit::guard_journal(ctx, &journal, "incident")
    {
        return exit;
    }
    let settings = match settings(ctx) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    if let Command::Open { env: Some(env), .. } = &command
        && let Err(exit) = known_env(ctx, env)
    {
        return exit;
    }
    let ops = Incidents::new(&journal, actor())
        .zone(ctx.zone.clone())
        .settings(settings)
        .on_behalf_of(by);
    match execute(command, &ops, ctx) {
        Ok(change) => {
            if let Some(change) = change {
                notify(&change, &ops, ctx);
            }
            Exit::Ok
        }
        Err(err) => fail(ctx, &err),
    }
}

/// A change stakeholders hear about (inventory `notify:`): the incident and
/// what happened to it, in English and Japanese.
struct Change {
    id: String,
    en: String,
    ja: String,
}

impl Change {
    fn new(id: &str, en: String, ja: String) -> Option<Change> {
        Some(Change {
            id: id.to_string(),
            en,
            ja,
        })
    }
}

fn execute(command: Command, ops: &Incidents<'_>, ctx: &Context) -> Result<Option<Change>, Error> {
    let mut change = None;
    let lang = ctx.lang;
    let time = |text: &Option<String>| -> Result<Option<Timestamp>, Error> {
        text.as_deref()
            .map(|t| tejun_incident::time::parse(t, &ctx.zone, ops.now()))
            .transpose()
    };
    match command {
        Command::Open {
            title,
            severity,
            impact,
            started_at,
            at,
            env,
        } => {
            let req = OpenRequest {
                title,
                severity,
                impact,
                started_at: time(&started_at)?,
                detected_at: time(&at)?,
                source: "cli".to_string(),
                env,
            };
            let id = ops.open(&req)?;
            outln!("{id}");
            change = Change::new(&id, "opened".into(), "発生".into());
        }
        Command::List {
            status,
            severity,
            json,
        } => {
            let statuses = parse_statuses(&status)?;
            let incidents: Vec<Incident> = ops
                .list()?
                .into_iter()
                .filter(|inc| statuses.is_empty() || statuses.contains(&inc.status))
                .filter(|inc| {
                    severity.is_empty()
                        || severity
                            .iter()
                            .any(|s| s.eq_ignore_ascii_case(&inc.severity))
                })
                .collect();
            if json {
                print_json(&incidents);
            } else {
                print_list(&incidents, ctx);
            }
        }
        Command::Show { id, json } => {
            let id = ops.resolve(&id)?;
            let incident = ops.load(&id)?;
            let entries = timeline::entries(ops.journal(), &id)?;
            let rows = timeline::rows(&entries, lang);
            if json {
                let value = serde_json::json!({ "incident": incident, "timeline": rows });
                print_json(&value);
            } else {
                print_show(&incident, &rows, ctx);
            }
        }
        Command::Status { id, status, at } => {
            let id = ops.resolve(&id)?;
            let to = Status::parse(&status)?;
            let change = ops.set_status(&id, to, time(&at)?)?;
            let what = if change.reopen {
                lang.pick(" (reopened)", " (再オープン)")
            } else {
                ""
            };
            outln!(
                "{id}: {} → {}{what}",
                change.from.label(lang),
                change.to.label(lang)
            );
            let (en, ja) = (
                change.to.label(tejun_locale::Lang::En),
                change.to.label(tejun_locale::Lang::Ja),
            );
            return Ok(Change::new(
                &id,
                format!("status → {en}"),
                format!("状態 → {ja}"),
            ));
        }
        Command::Role { id, role, name } => {
            let id = ops.resolve(&id)?;
            let role = Role::parse(&role)?;
            ops.assign_role(&id, role, &name)?;
            outln!("{id}: {} = {}", role.label(lang), name.trim());
        }
        Command::Note { id, text, at } => {
            let id = ops.resolve(&id)?;
            ops.note(&id, &text, time(&at)?)?;
            outln!("{id}: {}", lang.pick("note added", "メモを追加しました"));
        }
        Command::Hypothesis { id, text } => {
            let id = ops.resolve(&id)?;
            outln!("{}", ops.hypothesis(&id, &text)?);
        }
        Command::Verdict {
            hypothesis,
            verdict,
            evidence,
        } => {
            let verdict = Verdict::parse(&verdict)?;
            let hyp = ops.verdict(&hypothesis, verdict, &evidence)?;
            outln!("{hyp}: {}", verdict.label(lang));
        }
        Command::Cause {
            id,
            layer,
            text,
            whys,
        } => {
            let id = ops.resolve(&id)?;
            let layer = Layer::parse(&layer)?;
            ops.cause(&id, layer, &text, &whys)?;
            outln!(
                "{id}: {} ({})",
                lang.pick("cause recorded", "原因を記録しました"),
                layer.label(lang)
            );
        }
        Command::Severity { id, severity } => {
            let id = ops.resolve(&id)?;
            let to = ops.set_severity(&id, &severity)?;
            outln!("{id}: {} {to}", lang.pick("severity", "重大度"));
            change = Change::new(&id, format!("severity → {to}"), format!("重大度 → {to}"));
        }
        Command::Impact { id, text } => {
            let id = ops.resolve(&id)?;
            ops.impact(&id, &text)?;
            outln!(
                "{id}: {}",
                lang.pick("impact recorded", "影響範囲を記録しました")
            );
            change = Change::new(&id, format!("impact: {text}"), format!("影響: {text}"));
        }
        Command::Lesson { id, text } => {
            let id = ops.resolve(&id)?;
            ops.lesson(&id, &text)?;
            outln!(
                "{id}: {}",
                lang.pick("lesson recorded", "教訓を記録しました")
            );
        }
        Command::Action {
            id,
            term,
            owner,
            due,
            text,
        } => {
            let id = ops.resolve(&id)?;
            let term = Term::parse(&term)?;
            ops.action_due(&id, term, &owner, &text, due)?;
            outln!(
                "{id}: {} ({}, {})",
                lang.pick("action recorded", "改善アクションを記録しました"),
                term.label(lang),
                owner.trim()
            );
        }
        Command::ActionStatus { id, number, status } => {
            let id = ops.resolve(&id)?;
            let status = ActionStatus::parse(&status)?;
            ops.action_status(&id, number, status)?;
            outln!("{id}: #{number} → {}", status.label(lang));
        }
        Command::Actions { all, json } => {
            let mut actions: Vec<ListedAction> = Vec::new();
            for inc in ops.list()? {
                for (i, action) in inc.actions.iter().enumerate() {
                    if all || action.status == ActionStatus::Open {
                        actions.push(ListedAction {
                            incident: inc.id.clone(),
                            number: i + 1,
                            term: action.term,
                            owner: action.owner.clone(),
                            text: action.text.clone(),
                            due: action.due,
                            status: action.status,
                        });
                    }
                }
            }
            // Earliest due first; undated last.
            actions.sort_by_key(|a| (a.due.is_none(), a.due, a.incident.clone(), a.number));
            if json {
                print_json(&actions);
            } else {
                print_actions(&actions, ctx);
            }
        }
        Command::Detach { id, run, reason } => {
            let id = ops.resolve(&id)?;
            ops.detach_run(&id, run.trim(), &reason)?;
            outln!(
                "{id}: {}",
                lang.pick(
                    &format!("run {} detached", run.trim()),
                    &format!("実行 {} を切り離しました", run.trim())
                )
            );
        }
    }
    Ok(change)
}

/// Tells the inventory's `notify:` targets about a change.
fn notify(change: &Change, ops: &Incidents<'_>, ctx: &Context) {
    let Some(path) = ctx.inventory_path() else {
        return;
    };
    let Ok(inventory) = super::run::read_inventory(ctx, &path) else {
        return;
    };
    let Some(notifier) = Notifier::start(Some(&inventory), ctx.journal_path(), ctx.lang) else {
        return;
    };
    let Ok(incident) = ops.load(&change.id) else {
        return;
    };
    let head = format!("[{}] {} {}", incident.severity, change.id, incident.title);
    notifier.send(Notice {
        event: "incident",
        env: incident.env.clone(),
        about: format!("incident/{}", change.id),
        en: format!("🔔 {head}: {}", change.en),
        ja: format!("🔔 {head}: {}", change.ja),
    });
    notifier.finish(ctx.lang);
}

fn parse_statuses(words: &[String]) -> Result<Vec<Status>, Error> {
    let mut statuses = Vec::new();
    for word in words {
        if word.eq_ignore_ascii_case("active") {
            statuses.extend(Status::ALL.iter().copied().filter(|s| s.is_active()));
        } else {
            statuses.push(Status::parse(word)?);
        }
    }
    Ok(statuses)
}

/// One row of `incident actions`.
#[derive(serde::Serialize)]
struct ListedAction {
    incident: String,
    number: usize,
    term: Term,
    owner: String,
    text: String,
    due: Option<jiff::civil::Date>,
    status: ActionStatus,
}

fn parse_due(text: &str) -> Result<jiff::civil::Date, ValueError> {
    text.parse().map_err(|_| {
        ValueError::new(
            format!("expected a date YYYY-MM-DD, got `{text}`"),
            format!("日付を YYYY-MM-DD の形式で指定してください (`{text}` が指定されました)"),
        )
    })
}

fn print_actions(actions: &[ListedAction], ctx: &Context) {
    let lang = ctx.lang;
    if actions.is_empty() {
        outln!(
            "{}",
            lang.pick("no open actions", "未完了の改善アクションはありません")
        );
        return;
    }
    let today = jiff::Timestamp::now().to_zoned(ctx.zone.clone()).date();
    let mut table = Table::with_header([
        lang.pick("INCIDENT", "インシデント"),
        "#",
        lang.pick("DUE", "期限"),
        lang.pick("OWNER", "担当"),
        lang.pick("STATUS", "状態"),
        lang.pick("ACTION", "アクション"),
    ]);
    for a in actions {
        let due = match a.due {
            Some(due) if due < today && a.status == ActionStatus::Open => Cell::styled(
                format!("{due} ({})", lang.pick("overdue", "期限切れ")),
                AnsiColor::Red.on_default().bold(),
            ),
            Some(due) => Cell::plain(due.to_string()),
            None => Cell::plain("—"),
        };
        table.row(vec![
            Cell::plain(&a.incident),
            Cell::plain(a.number.to_string()),
            due,
            Cell::plain(&a.owner),
            Cell::plain(a.status.label(lang)),
            Cell::plain(format!("[{}] {}", a.term.label(lang), a.text)),
        ]);
    }
    table.print();
}

fn print_list(incidents: &[Incident], ctx: &Context) {
    let lang = ctx.lang;
    if incidents.is_empty() {
        outln!("{}", lang.pick("no incidents", "インシデントはありません"));
        return;
    }
    let mut table = Table::with_header([
        "ID",
        lang.pick("SEV", "重大度"),
        lang.pick("STATUS", "状態"),
        lang.pick("DETECTED", "検知"),
        lang.pick("TITLE", "タイトル"),
    ]);
    for inc in incidents {
        table.row(vec![
            Cell::plain(&inc.id),
            Cell::styled(&inc.severity, severity_style(&inc.severity)),
            Cell::plain(inc.status.label(ctx.lang)),
            Cell::plain(ctx.format_time(inc.detected_at)),
            Cell::plain(&inc.title),
        ]);
    }
    table.print();
}

fn print_show(inc: &Incident, rows: &[timeline::Row], ctx: &Context) {
    let lang = ctx.lang;
    let bold = Style::new().bold();
    let colour = severity_style(&inc.severity);
    let status = inc.status.label(lang);
    outln!(
        "{bold}{} {}{bold:#}  {colour}{}{colour:#}  {status}",
        inc.id,
        inc.title,
        inc.severity
    );
    // Padded by display width: a Japanese label is two columns a character.
    let field = |en: &str, ja: &str, value: String| {
        let label = lang.pick(en, ja);
        let pad = 14usize.saturating_sub(unicode_width::UnicodeWidthStr::width(label));
        outln!("  {label}{} {value}", " ".repeat(pad));
    };
    field("started", "発生", ctx.format_time(inc.started_at));
    field("detected", "検知", ctx.format_time(inc.detected_at));
    if let Some(at) = inc.resolved_at() {
        field("resolved", "復旧", ctx.format_time(at));
    }
    field(
        "impact",
        "影響範囲",
        inc.impact.clone().unwrap_or_else(|| "—".to_string()),
    );
    if let Some(env) = &inc.env {
        field("environment", "環境", env.clone());
    }
    for role in Role::ALL {
        if let Some(name) = inc.role(*role) {
            field(role.as_str(), role.label(lang), name.to_string());
        }
    }
    for hyp in &inc.hypotheses {
        let verdict = hyp
            .verdict
            .as_ref()
            .map_or(lang.pick("open", "未判定"), |v| v.verdict.label(lang));
        field(
            "hypothesis",
            "仮説",
            format!("{} [{verdict}] {}", hyp.id, hyp.text),
        );
    }
    for ev in &inc.evidence {
        field(
            "evidence",
            "証拠",
            format!("{} (sha256 {})", ev.bundle, ev.bundle_sha256),
        );
    }
    outln!();
    outln!("{bold}{}{bold:#}", lang.pick("Timeline", "タイムライン"));
    for row in rows {
        let mark = if row.backfilled {
            lang.pick(" (backfilled)", " (事後記入)")
        } else {
            ""
        };
        outln!(
            "  {}{mark}  {}  [{}]  {}",
            ctx.format_time(row.at),
            row.event,
            row.who,
            row.detail
        );
    }
}

fn severity_style(severity: &str) -> Style {
    match severity {
        "P0" => AnsiColor::Red.on_default().bold(),
        "P1" => AnsiColor::Red.on_default(),
        "P2" => AnsiColor::Yellow.on_default(),
        _ => Style::new(),
    }
}

/// Prints a library error in the operator's language and picks the exit
/// code: 2 for bad input (nothing was written), 1 otherwise.
pub(crate) fn fail(ctx: &Context, err: &Error) -> Exit {
    let text = err.localize(ctx.lang);
    ctx.error(&text, &text);
    if err.is_input() {
        Exit::BadInput
    } else {
        Exit::Failed
    }
}

/// An incident's `--env` must be one the inventory defines (when there is
/// one): a misspelt name would silently collect no run.
fn known_env(ctx: &Context, env: &str) -> Result<(), Exit> {
    let Some(path) = ctx.inventory_path() else {
        return Ok(());
    };
    let inventory = super::run::read_inventory(ctx, &path)?;
    if inventory.environments.is_empty() || inventory.environments.contains_key(env) {
        return Ok(());
    }
    let known: Vec<&str> = inventory.environments.keys().map(String::as_str).collect();
    ctx.error(
        &format!(
            "--env {env:?} is not an environment of {} (known: {})",
            path.display(),
            known.join(", ")
        ),
        &format!(
            "--env {env:?} は {} の環境にありません (定義済み: {})",
            path.display(),
            known.join(", ")
        ),
    );
    Err(Exit::BadInput)
}

/// The inventory's incident settings, or the defaults without an inventory.
pub(crate) fn settings(ctx: &Context) -> Result<tejun_incident::IncidentSettings, Exit> {
    let Some(path) = ctx.inventory_path() else {
        return Ok(tejun_incident::IncidentSettings::default());
    };
    super::run::read_inventory(ctx, &path).map(|inventory| inventory.incidents)
}

/// `user@host`, as written into every event: the real person behind sudo
/// or su (the identity approvals use), not just `$USER`.
pub(crate) fn actor() -> String {
    tejun_engine::identity::operator()
}

pub(crate) fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// The incident a run belongs to: `--incident` resolved to its full id
/// (an unknown or ambiguous id is bad input), else, when the inventory
/// says `incidents.attach_active_runs`, the active incident if there is one.
pub(crate) fn incident_for_run(
    ctx: &Context,
    journal: &Journal,
    given: Option<String>,
    attach_active: bool,
    env: &str,
) -> Result<Option<String>, Exit> {
    if let Some(given) = given {
        return Incidents::new(journal, actor())
            .resolve(&given)
            .map(Some)
            .map_err(|err| fail(ctx, &err));
    }
    if !attach_active {
        return Ok(None);
    }
    // Only an incident of the run's own environment: a dev run started
    // during a production outage is not part of it.
    let active =
        tejun_incident::active_incident_for_env(journal, env).map_err(|err| fail(ctx, &err))?;
    if let Some(id) = &active {
        anstream::eprintln!(
            "{}",
            ctx.lang.pick(
                &format!("this run is attached to the active {env} incident {id} (inventory: incidents.attach_active_runs; `tejun incident detach {id} RUN --reason ...` undoes it)"),
                &format!("この実行は {env} の対応中のインシデント {id} に紐付けられます (インベントリ: incidents.attach_active_runs。取り消すには `tejun incident detach {id} RUN --reason ...`)"),
            )
        );
    }
    Ok(active)
}
