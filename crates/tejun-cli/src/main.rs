//! `tejun`: the command line. Thin on purpose: each subcommand lives in its
//! own file under `cmd/`, parses its arguments, calls a library crate and
//! renders the result. Nothing here decides what a run or a rule does.

mod backup_diff;
mod cmd;
mod context;
mod help_ja;
mod input;
mod notify;
mod output;
mod progress;
mod style;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use context::{Context, GlobalArgs};

#[derive(Parser)]
#[command(
    name = "tejun",
    version,
    about = "Runbooks that run and check themselves, guarded rollouts, log detection and incidents, in one tamper-evident journal.",
    after_help = "Examples:\n  tejun check examples/quickstart.yaml\n  tejun plan examples/quickstart.yaml --env dev\n  tejun run examples/quickstart.yaml --env dev\n  tejun runs --json\n  tejun scan /var/log/auth.log --fail2ban-filter /etc/fail2ban/filter.d/sshd.conf\n  tejun audit verify"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a runbook without running anything.
    Check(cmd::check::Args),
    /// Print every step as it would run, without running anything.
    Plan(cmd::plan::Args),
    /// Run a runbook.
    Run(cmd::run::Args),
    /// Continue an interrupted run.
    Resume(cmd::resume::Args),
    /// Run a run's rollback plan (then its exit phase).
    Rollback(cmd::rollback::Args),
    /// Approve a run that waits for approval (two-person rule).
    Approve(cmd::approve::Args),
    /// Abort a running run from another terminal: it rolls back and runs its exit phase.
    Abort(cmd::abort::Args),
    /// Reject a run that waits for approval.
    Reject(cmd::approve::Args),
    /// List runs.
    Runs(cmd::runs::Args),
    /// Show one run's timeline.
    Show(cmd::show::Args),
    /// Verify and sign the journal: hash chain, checkpoints, audit key.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Scan log files with tejun rules or fail2ban filters.
    Scan(cmd::scan::Args),
    /// Request statistics over access logs: windows, latency percentiles, top endpoints.
    Stats(cmd::stats::Args),
    /// Digest slow-query logs by fingerprint (pt-query-digest style).
    Digest(cmd::digest::Args),
    /// Follow log files and act on offenders.
    Watch(cmd::watch::Args),
    /// List active bans.
    Bans(cmd::bans::Args),
    /// Lift a ban.
    Unban(cmd::unban::Args),
    /// Open and work on incidents.
    Incident(cmd::incident::Args),
    /// Collect read-only evidence, layer by layer.
    Collect(cmd::collect::Args),
    /// Write an incident's postmortem.
    Report(cmd::report::Args),
    /// Print shell completions.
    Completions(cmd::completions::Args),
}

fn main() -> ExitCode {
    let cli: Cli = help_ja::parse();
    let ctx = Context::new(cli.global);
    let exit = match cli.command {
        Command::Check(args) => cmd::check::run(args, &ctx),
        Command::Plan(args) => cmd::plan::run(args, &ctx),
        Command::Run(args) => cmd::run::run(args, &ctx),
        Command::Resume(args) => cmd::resume::run(args, &ctx),
        Command::Rollback(args) => cmd::rollback::run(args, &ctx),
        Command::Approve(args) => cmd::approve::approve(args, &ctx),
        Command::Abort(args) => cmd::abort::run(args, &ctx),
        Command::Reject(args) => cmd::approve::reject(args, &ctx),
        Command::Runs(args) => cmd::runs::run(args, &ctx),
        Command::Show(args) => cmd::show::run(args, &ctx),
        Command::Audit(command) => cmd::audit::run(command, &ctx),
        Command::Scan(args) => cmd::scan::run(args, &ctx),
        Command::Stats(args) => cmd::stats::run(args, &ctx),
        Command::Digest(args) => cmd::digest::run(args, &ctx),
        Command::Watch(args) => cmd::watch::run(args, &ctx),
        Command::Bans(args) => cmd::bans::run(args, &ctx),
        Command::Unban(args) => cmd::unban::run(args, &ctx),
        Command::Incident(command) => cmd::incident::run(command, &ctx),
        Command::Collect(args) => cmd::collect::run(args, &ctx),
        Command::Report(args) => cmd::report::run(args, &ctx),
        Command::Completions(args) => cmd::completions::run::<Cli>(args, &ctx),
    };
    exit.into()
}
