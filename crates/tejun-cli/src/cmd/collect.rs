//! `tejun collect`: run the read-only evidence catalogue, layer by layer,
//! and attach the bundle to an incident.

use std::io::IsTerminal;
use std::path::PathBuf;

use tejun_incident::Incidents;
use tejun_incident::collect::{self, Catalog, Request};

use super::incident::{actor, fail, host};
use crate::context::{Context, Exit};
use crate::output::{Cell, Table, outln, print_json};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun collect --incident INC-7K3Q\n  tejun collect --layers os,network --out /var/tmp/evidence\n  tejun collect --layers security,boot --redact-ips --redact-users\n  tejun collect --catalog ./my-catalog.yaml --layers app\n  tejun collect --list"
)]
pub struct Args {
    /// Layers to collect (default: all): os, network, web, mysql, postgres, security, boot, or your catalogue's.
    #[arg(long, value_delimiter = ',')]
    layers: Vec<String>,
    /// Attach the bundle to this incident.
    #[arg(long)]
    incident: Option<String>,
    /// Where to write the bundle (default: evidence/ next to the journal).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace IP addresses with stable pseudonyms ([ip-1]).
    #[arg(long)]
    redact_ips: bool,
    /// Replace user names with stable pseudonyms ([user-1]).
    #[arg(long)]
    redact_users: bool,
    /// Time limit per command (an entry's own `timeout` wins).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    timeout: String,
    /// Extra catalogue file(s); entries with a built-in id replace it.
    #[arg(long, value_name = "PATH")]
    catalog: Vec<PathBuf>,
    /// With the web layer: statistics of this access log over the incident
    /// window (from 10 min before the impact started to its resolution).
    #[arg(long, value_name = "PATH")]
    access_log: Option<PathBuf>,
    /// The access log's nginx log_format (default: combined).
    #[arg(long, value_name = "LOG_FORMAT", requires = "access_log")]
    access_format: Option<String>,
    /// With the mysql layer: a digest (top 10) of this slow log over the window.
    #[arg(long, value_name = "PATH")]
    slow_log: Option<PathBuf>,
    /// List the catalogue instead of collecting.
    #[arg(long)]
    list: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let lang = ctx.lang;
    let catalog = match load_catalog(&args.catalog, ctx) {
        Ok(catalog) => catalog,
        Err(exit) => return exit,
    };
    if args.list {
        return list(&catalog, &args.layers, args.json, ctx);
    }
    let Some(timeout) =
        tejun_runbook::duration::parse_duration(&args.timeout).filter(|d| !d.is_zero())
    else {
        ctx.error(
            &format!(
                "--timeout {:?} is not a duration like 10s or 2m",
                args.timeout
            ),
            &format!(
                "--timeout {:?} は 10s や 2m のような時間ではありません",
                args.timeout
            ),
        );
        return Exit::BadInput;
    };
    let journal = match super::audit::open_journal_to_append(ctx, "collect") {
        Ok(journal) => journal,
        Err(exit) => return exit,
    };
    let incident = match &args.incident {
        Some(id) => match Incidents::new(&journal, actor()).resolve(id) {
            Ok(full) => Some(full),
            Err(err) => return fail(ctx, &err),
        },
        None => None,
    };
    // Refuse unknown layers before anything runs.
    let selected = match catalog.select(&args.layers) {
        Ok(entries) => entries.len(),
        Err(err) => return fail(ctx, &err),
    };
    let out_dir = args.out.clone().unwrap_or_else(|| {
        ctx.journal_path()
            .parent()
            .map(|p| p.join("evidence"))
            .unwrap_or_else(|| PathBuf::from("evidence"))
    });
    let (signals, computed) = match gather_signals(&args, incident.as_deref(), &journal, ctx) {
        Ok(found) => found,
        Err(exit) => return exit,
    };
    let req = Request {
        layers: args.layers.clone(),
        incident,
        out_dir,
        redact_ips: args.redact_ips,
        redact_users: args.redact_users,
        timeout,
        host: host(),
        actor: actor(),
        computed,
        signals,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(selected as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut progress = |entry: &collect::CatalogEntry| {
        if let Some(bar) = &bar {
            bar.set_message(entry.id.clone());
            bar.inc(1);
        }
    };
    let report = match collect::collect(&journal, &catalog, &req, &mut progress) {
        Ok(report) => report,
        Err(err) => return fail(ctx, &err),
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        let outcomes: Vec<_> = report
            .outcomes
            .iter()
            .map(|o| {
                serde_json::json!({
                    "id": o.id, "layer": o.layer, "command": o.command, "status": o.status.as_str(),
                    "exit_code": o.exit_code, "duration_ms": o.duration_ms, "reason": o.reason,
                })
            })
            .collect();
        let value = serde_json::json!({
            "bundle": report.bundle.path, "sha256": report.bundle.sha256, "incident": req.incident,
            "files": report.bundle.files, "commands": outcomes,
        });
        return print_json(&value);
    }
    let mut table = Table::headless();
    for o in &report.outcomes {
        let reason = match lang {
            tejun_locale::Lang::En => o.reason.as_deref(),
            tejun_locale::Lang::Ja => o.reason_ja.as_deref(),
        }
        .map(|r| format!("({r})"))
        .unwrap_or_default();
        table.row(vec![
            Cell::plain(&o.layer),
            Cell::plain(&o.id),
            Cell::plain(o.status.as_str()),
            Cell::plain(reason),
        ]);
    }
    table.print();
    outln!(
        "{}: {}",
        lang.pick("bundle", "バンドル"),
        report.bundle.path.display()
    );
    outln!("sha256: {}", report.bundle.sha256);
    if let Some(id) = &req.incident {
        outln!(
            "{}",
            lang.pick(
                &format!("attached to {id}"),
                &format!("{id} に添付しました")
            )
        );
    }
    Exit::Ok
}

fn load_catalog(files: &[PathBuf], ctx: &Context) -> Result<Catalog, Exit> {
    let mut catalog = Catalog::built_in().map_err(|err| fail(ctx, &err))?;
    for path in files {
        let source = std::fs::read_to_string(path).map_err(|e| {
            ctx.error(
                &format!("cannot read catalogue {}: {e}", path.display()),
                &format!("カタログ {} を読めません: {e}", path.display()),
            );
            Exit::BadInput
        })?;
        catalog
            .add(&source, &path.display().to_string())
            .map_err(|err| fail(ctx, &err))?;
    }
    Ok(catalog)
}

fn list(catalog: &Catalog, layers: &[String], json: bool, ctx: &Context) -> Exit {
    let entries = match catalog.select(layers) {
        Ok(entries) => entries,
        Err(err) => return fail(ctx, &err),
    };
    if json {
        let value: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "layer": e.layer, "title": {"en": e.title_en, "ja": e.title_ja},
                    "run": e.run, "timeout_s": e.timeout.map(|t| t.as_secs_f64()), "origin": e.origin,
                })
            })
            .collect();
        print_json(&value);
    } else {
        // The command goes last: one long command would otherwise push
        // every title off the screen.
        let mut table = Table::headless();
        for e in entries {
            table.row(vec![
                Cell::plain(&e.layer),
                Cell::plain(&e.id),
                Cell::plain(ctx.lang.pick(&e.title_en, &e.title_ja)),
                Cell::plain(e.run.join(" ")),
            ]);
        }
        table.print();
    }
    Exit::Ok
}

/// `--access-log`/`--slow-log` over the incident window (the last hour
/// without an incident), for the layers being collected.
fn gather_signals(
    args: &Args,
    incident: Option<&str>,
    journal: &tejun_journal::Journal,
    ctx: &Context,
) -> Result<
    (
        Option<tejun_incident::events::Signals>,
        Vec<tejun_incident::collect::Outcome>,
    ),
    Exit,
> {
    let wants = |layer: &str| args.layers.is_empty() || args.layers.iter().any(|l| l == layer);
    let access = args.access_log.as_deref().filter(|_| wants("web"));
    let slow = args.slow_log.as_deref().filter(|_| wants("mysql"));
    if access.is_none() && slow.is_none() {
        return Ok((None, Vec::new()));
    }
    let window = match incident {
        Some(id) => match Incidents::new(journal, actor()).load(id) {
            Ok(inc) => super::collect_signals::window(inc.started_at, inc.resolved_at()),
            Err(err) => return Err(fail(ctx, &err)),
        },
        None => {
            let now = jiff::Timestamp::now();
            (now - jiff::SignedDuration::from_hours(1), now)
        }
    };
    let format = match &args.access_format {
        None => tejun_signals::access::LineFormat::combined(ctx.zone.clone()),
        Some(text) => match tejun_signals::access::nginx::compile(text, ctx.zone.clone()) {
            Ok(format) => format,
            Err(e) => {
                ctx.error(
                    &format!(
                        "--access-format:{}:{}: {}",
                        e.line,
                        e.column,
                        e.message(tejun_locale::Lang::En)
                    ),
                    &format!(
                        "--access-format の {}:{}: {}",
                        e.line,
                        e.column,
                        e.message(tejun_locale::Lang::Ja)
                    ),
                );
                return Err(Exit::BadInput);
            }
        },
    };
    super::collect_signals::gather(access.map(|p| (p, format)), slow, ctx.zone.clone(), window)
        .map_err(|e| {
            let path = access
                .or(slow)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            ctx.error(
                &format!("cannot read {path}: {e}"),
                &format!("{path} を読めません: {e}"),
            );
            Exit::BadInput
        })
}
