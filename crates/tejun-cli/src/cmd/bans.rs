//! `tejun bans`: the bans in force, folded from the journal.
//!
//! A view: `ban.added` and `ban.removed` events written by `tejun watch`
//! and `tejun unban` decide what is listed, so this works whether or not a
//! watcher is running. Times are shown in the operator's zone; `--json`
//! gives UTC.

use jiff::Timestamp;
use tejun_watch::Ledger;

use super::runs::open_existing_journal;
use crate::context::{Context, Exit};
use crate::output::{Cell, Table, outln, print_json};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun bans\n  TZ=Asia/Tokyo tejun bans\n  tejun bans --json | jq -r '.[].offender'\n\nBans are made by `tejun watch` and lifted at expiry or with `tejun unban ADDRESS`."
)]
pub struct Args {
    /// Print the bans as a JSON array (times in UTC) on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let journal = match open_existing_journal(ctx) {
        Ok(Some(journal)) => journal,
        Ok(None) if args.json => return print_json(&Vec::<tejun_watch::Ban>::new()),
        Ok(None) => {
            outln!(
                "{}",
                ctx.lang.pick("no active bans", "有効な遮断はありません")
            );
            return Exit::Ok;
        }
        Err(exit) => return exit,
    };
    let ledger = match Ledger::load(&journal) {
        Ok(ledger) => ledger,
        Err(e) => {
            ctx.error(
                &format!("cannot read bans: {e}"),
                &format!("遮断一覧を読めません: {e}"),
            );
            return Exit::Failed;
        }
    };
    let active: Vec<&tejun_watch::Ban> = ledger.active(Timestamp::now());
    if args.json {
        return print_json(&active);
    }
    if active.is_empty() {
        outln!(
            "{}",
            ctx.lang.pick("no active bans", "有効な遮断はありません")
        );
        return Exit::Ok;
    }
    let lang = ctx.lang;
    let mut table = Table::new(vec![
        Cell::plain(lang.pick("OFFENDER", "対象")),
        Cell::plain(lang.pick("RULE", "ルール")),
        Cell::plain(lang.pick("SINCE", "開始")),
        Cell::plain(lang.pick("UNTIL", "期限")),
        Cell::plain(lang.pick("BACKEND", "方式")),
    ]);
    for ban in active {
        table.row(vec![
            Cell::plain(&ban.offender),
            Cell::plain(&ban.rule),
            Cell::plain(ctx.format_time(ban.since)),
            Cell::plain(ctx.format_time(ban.until)),
            Cell::plain(&ban.backend),
        ]);
    }
    table.print();
    Exit::Ok
}
