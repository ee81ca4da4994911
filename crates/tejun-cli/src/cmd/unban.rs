//! `tejun unban ADDRESS`: lift a ban now.
//!
//! Removes the address from the firewall the ban was made with, then
//! journals `ban.removed` (reason `manual`). A running `tejun watch` sees
//! the event within a second and counts the address afresh. If the
//! firewall refuses, nothing is journaled: the record never claims a ban
//! was lifted that is still in force.

use std::path::PathBuf;

use serde_json::json;
use tejun_journal::NewEvent;
use tejun_locale::Localize;
use tejun_watch::ban::{Backend, Iptables, Nftables, NoBackend};
use tejun_watch::events::{BAN_REMOVED, BanRemoved, RemoveReason, ban_stream};
use tejun_watch::{Config, Ledger, Offender};

use super::runs::open_existing_journal;
use crate::context::{Context, Exit};
use crate::output::outln;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun unban 192.0.2.7\n  tejun unban 2001:db8:1:2::/64\n  tejun unban 192.0.2.7 --config /etc/tejun/watch.yaml\n\nThe firewall is the one the ban was made with (nftables table `tejun` by default);\n--config reads the table name or the `command` backend's templates from watch.yaml."
)]
pub struct Args {
    /// The banned address or prefix, as `tejun bans` lists it.
    #[arg(value_name = "ADDRESS")]
    pub offender: String,
    /// The watch config, for a non-default nftables table or a `command` backend.
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let offender: Offender = args.offender.parse().unwrap_or_else(|never| match never {});
    let Some(net) = offender.net() else {
        ctx.error(
            &format!("`{}` is not an address or prefix", args.offender),
            &format!(
                "`{}` はアドレスでもプレフィックスでもありません",
                args.offender
            ),
        );
        return Exit::BadInput;
    };
    let key = offender.to_string();
    let journal = match open_existing_journal(ctx) {
        Ok(Some(journal)) => journal,
        Ok(None) => return no_ban(ctx, &key),
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
    let Some(ban) = ledger.get(&key) else {
        return no_ban(ctx, &key);
    };
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(config) => Some(config),
            Err(e) => {
                anstream::eprintln!(
                    "{}: {}",
                    ctx.lang.pick("error", "エラー"),
                    e.localize(ctx.lang)
                );
                return Exit::BadInput;
            }
        },
        None => None,
    };
    let backend: Box<dyn Backend> = match (&config, ban.backend.as_str()) {
        // A rule may ban with its own backend (`ban: {backend: iptables}`):
        // lift it there, in watch.yaml's namespace.
        (Some(config), made_with) => config
            .ban
            .named(made_with)
            .unwrap_or_else(|| config.ban.clone())
            .backend(),
        (None, "nftables") => Box::new(Nftables::new("tejun", Vec::new())),
        (None, "iptables") => Box::new(Iptables::new(Vec::new())),
        (None, "none") => Box::new(NoBackend),
        (None, other) => {
            ctx.error(
                &format!("the ban was made with the `{other}` backend: give --config so its remove command is known"),
                &format!("この遮断は `{other}` 方式です: 解除コマンドを知るため --config を指定してください"),
            );
            return Exit::BadInput;
        }
    };
    if let Err(e) = backend.remove(net) {
        ctx.error(
            &format!("the firewall did not lift the ban of {key}: {e}"),
            &format!("ファイアウォールが {key} の遮断を解除しませんでした: {e}"),
        );
        return Exit::Failed;
    }
    let removed = BanRemoved {
        offender: key.clone(),
        reason: RemoveReason::Manual,
    };
    let payload = serde_json::to_value(&removed).unwrap_or_else(|_| json!({}));
    let actor = super::incident::actor();
    let appended = journal.append(NewEvent {
        stream: &ban_stream(&key),
        refs: &[],
        kind: BAN_REMOVED,
        actor: &actor,
        payload: &payload,
        ts: None,
    });
    if let Err(e) = appended {
        ctx.error(
            &format!("lifted in the firewall, but the journal write failed: {e}"),
            &format!("ファイアウォールでは解除しましたが、ジャーナルへの記録に失敗しました: {e}"),
        );
        return Exit::Failed;
    }
    if args.json {
        outln!(
            "{}",
            json!({"offender": key, "removed": true, "backend": backend.name()})
        );
    } else {
        outln!(
            "{}",
            ctx.lang.pick(
                &format!("unbanned {key}"),
                &format!("{key} の遮断を解除しました")
            )
        );
    }
    Exit::Ok
}

fn no_ban(ctx: &Context, key: &str) -> Exit {
    ctx.error(
        &format!("{key} is not banned"),
        &format!("{key} は遮断されていません"),
    );
    Exit::Failed
}
