//! `tejun approve RUN` / `tejun reject RUN`: the second person of the
//! two-person rule. The decision is a journal event on the run's stream;
//! the executor continues with `tejun resume RUN` once enough approvals
//! exist.

use tejun_engine::approval::decide;
use tejun_engine::identity;

use super::resume::resolve;
use super::run::engine_error;
use crate::context::{Context, Exit};
use crate::output::outln;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun approve 0k3m9q2a --reason \"checked the diff with sato\"
  tejun reject 0k3m9q2a --reason \"not during the sale\"

Who you are comes from SUDO_USER (when run as root through sudo), else the
login uid, else $USER. Refused (exit 2) for the run's executor, for anyone who
already decided, and for a run that is not waiting for approval.")]
pub struct Args {
    /// The run id (see `tejun runs`); a unique prefix is enough.
    pub run: String,
    /// Why (journaled with the decision).
    #[arg(long)]
    pub reason: Option<String>,
}

pub fn approve(args: Args, ctx: &Context) -> Exit {
    decide_run(args, true, ctx)
}

pub fn reject(args: Args, ctx: &Context) -> Exit {
    decide_run(args, false, ctx)
}

fn decide_run(args: Args, approve: bool, ctx: &Context) -> Exit {
    let command = if approve { "approve" } else { "reject" };
    let journal = match super::audit::open_journal_to_append(ctx, command) {
        Ok(journal) => journal,
        Err(exit) => return exit,
    };
    let run_id = match resolve(&journal, &args.run, ctx) {
        Ok(id) => id,
        Err(exit) => return exit,
    };
    let who = identity::operator();
    match decide(&journal, &run_id, &who, approve, args.reason) {
        Ok(_) if !approve => {
            outln!(
                "{}",
                ctx.lang.pick(
                    &format!("rejected run {run_id} as {who}; it will not run"),
                    &format!("{who} として実行 {run_id} を却下しました。この実行は行われません"),
                )
            );
            Exit::Ok
        }
        Ok(approvals) => {
            let have = approvals.granted.len();
            let needed = approvals.needed;
            let next = if approvals.enough() {
                ctx.lang
                    .pick(
                        &format!(
                            "enough approvals: the executor continues with `tejun resume {run_id}`"
                        ),
                        &format!(
                            "承認がそろいました。実行者が `tejun resume {run_id}` で続行します"
                        ),
                    )
                    .to_string()
            } else {
                ctx.lang
                    .pick("more approvals are needed", "さらに承認が必要です")
                    .to_string()
            };
            outln!(
                "{}",
                ctx.lang.pick(
                    &format!("approved run {run_id} as {who} ({have} of {needed}); {next}"),
                    &format!("{who} として実行 {run_id} を承認しました ({have}/{needed})。{next}"),
                )
            );
            Exit::Ok
        }
        Err(e) => engine_error(&e, ctx),
    }
}
