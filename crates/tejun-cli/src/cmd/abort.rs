//! `tejun abort RUN`: stop a run from another terminal, as Ctrl-C would in
//! its own: journaled, then the running tejun rolls back and runs its exit
//! phase.

use tejun_engine::abort::{RequestError, request};
use tejun_engine::history::HistoryError;
use tejun_engine::identity;

use super::resume::resolve;
use crate::context::{Context, Exit};
use crate::output::outln;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun abort 0k3m9q2a --reason \"error rate up on the canary\"

The request is journaled on the run's stream (abort.requested), then the
running tejun gets SIGTERM, which it handles like Ctrl-C: the running command
is stopped, the rollback plan runs where the change may have started, then the
exit phase. Exit status: 0 signalled, 1 the journal or the signal failed,
2 no such run, not running, or a journal that does not verify.")]
pub struct Args {
    /// The run id (see `tejun runs`); a unique prefix is enough.
    pub run: String,
    /// Why (journaled with the request).
    #[arg(long)]
    pub reason: Option<String>,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let journal = match super::audit::open_journal_to_append(ctx, "abort") {
        Ok(journal) => journal,
        Err(exit) => return exit,
    };
    let run_id = match resolve(&journal, &args.run, ctx) {
        Ok(id) => id,
        Err(exit) => return exit,
    };
    match request(&journal, &run_id, args.reason, &identity::operator()) {
        Ok(pid) => {
            outln!(
                "{}",
                ctx.lang.pick(
                    &format!(
                        "abort requested: run {run_id} (pid {pid}) stops its command, rolls back and runs its exit phase"
                    ),
                    &format!(
                        "中止を要求しました: 実行 {run_id} (pid {pid}) はコマンドを停止し、ロールバックして終了フェーズを実行します"
                    ),
                )
            );
            Exit::Ok
        }
        Err(RequestError::NotRunning(state)) => {
            let (en, ja) = state.label();
            ctx.error(
                &format!("run {run_id} is not running ({en}); nothing to abort"),
                &format!("実行 {run_id} は実行中ではありません ({ja})。中止するものはありません"),
            );
            Exit::BadInput
        }
        Err(RequestError::History(HistoryError::NoSuchRun(_))) => {
            ctx.error(
                &format!("no run matches `{run_id}` (see `tejun runs`)"),
                &format!("`{run_id}` に該当する実行がありません (`tejun runs` で確認してください)"),
            );
            Exit::BadInput
        }
        Err(RequestError::Journal(e)) => cannot_abort(&run_id, &e, ctx),
        Err(RequestError::History(e)) => cannot_abort(&run_id, &e, ctx),
        Err(RequestError::Signal(e)) => cannot_abort(&run_id, &e, ctx),
    }
}

fn cannot_abort(run_id: &str, error: &dyn std::fmt::Display, ctx: &Context) -> Exit {
    ctx.error(
        &format!("cannot abort run {run_id}: {error}"),
        &format!("実行 {run_id} を中止できません: {error}"),
    );
    Exit::Failed
}
