//! What every subcommand shares: language, time zone, colour, where the
//! journal and inventory are, and the exit-code convention.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::tz::TimeZone;
use tejun_journal::Journal;
use tejun_locale::Lang;

#[derive(clap::Args, Debug)]
pub struct GlobalArgs {
    /// Message language: ja or en (default: from LANG).
    #[arg(long, global = true, value_name = "ja|en", value_parser = ["ja", "en"])]
    pub lang: Option<String>,
    /// Journal database (default: .tejun/journal.db next to the inventory).
    #[arg(long, global = true, env = "TEJUN_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Inventory file (default: tejun.yaml in this directory or a parent).
    #[arg(
        long,
        short = 'i',
        global = true,
        env = "TEJUN_INVENTORY",
        value_name = "PATH"
    )]
    pub inventory: Option<PathBuf>,
    /// Append to a journal whose head does not verify (every command that
    /// writes to it); the override is itself journaled.
    #[arg(long, global = true)]
    pub allow_unverified_journal: bool,
}

/// Exit codes: 0 ok, 1 the run/check failed, 2 bad input or usage (a
/// refusal too); for runs also 3 rolled back, 4 rollback failed or left
/// uncleanly, 5 paused (waiting for a person or an approval), 130 aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Failed,
    BadInput,
    RolledBack,
    Uncleanly,
    Paused,
    Aborted,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        match exit {
            Exit::Ok => ExitCode::SUCCESS,
            Exit::Failed => ExitCode::from(1),
            Exit::BadInput => ExitCode::from(2),
            Exit::RolledBack => ExitCode::from(3),
            Exit::Uncleanly => ExitCode::from(4),
            Exit::Paused => ExitCode::from(5),
            Exit::Aborted => ExitCode::from(130),
        }
    }
}

pub struct Context {
    pub lang: Lang,
    pub zone: TimeZone,
    db: Option<PathBuf>,
    inventory: Option<PathBuf>,
    pub allow_unverified_journal: bool,
}

impl Context {
    /// `--tz NAME` when given (an unknown zone is bad input, said in both
    /// languages), else the operator's zone.
    pub fn zone_or(&self, tz: Option<&str>) -> Result<TimeZone, Exit> {
        let Some(name) = tz else {
            return Ok(self.zone.clone());
        };
        TimeZone::get(name).map_err(|e| {
            self.error(
                &format!("--tz {name}: {e}"),
                &format!("--tz {name}: 不明なタイムゾーンです ({e})"),
            );
            Exit::BadInput
        })
    }

    pub fn new(global: GlobalArgs) -> Context {
        Context {
            lang: Lang::detect(global.lang.as_deref()),
            zone: tejun_locale::operator_zone(),
            db: global.db,
            inventory: global.inventory,
            allow_unverified_journal: global.allow_unverified_journal,
        }
    }

    /// The inventory: `--inventory`, else the nearest `tejun.yaml` from the
    /// current directory upwards.
    pub fn inventory_path(&self) -> Option<PathBuf> {
        if let Some(path) = &self.inventory {
            return Some(path.clone());
        }
        let cwd = std::env::current_dir().ok()?;
        cwd.ancestors()
            .map(|dir| dir.join("tejun.yaml"))
            .find(|candidate| candidate.is_file())
    }

    /// The inventory for a runbook: [`Context::inventory_path`], else a
    /// `tejun.yaml` beside the runbook or in a parent of its directory
    /// (inventories usually live with their runbooks). `check`, `plan`,
    /// `run`, `resume` and `rollback` all look it up this way.
    pub fn inventory_path_for(&self, runbook: &Path) -> Option<PathBuf> {
        self.inventory_path().or_else(|| {
            let dir = std::path::absolute(runbook).ok()?.parent()?.to_path_buf();
            dir.ancestors()
                .map(|d| d.join("tejun.yaml"))
                .find(|c| c.is_file())
        })
    }

    /// The journal database: `--db`, else `.tejun/journal.db` next to the
    /// inventory, else in the current directory.
    pub fn journal_path(&self) -> PathBuf {
        if let Some(db) = &self.db {
            return db.clone();
        }
        let base = self
            .inventory_path()
            .and_then(|inv| inv.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join(".tejun").join("journal.db")
    }

    pub fn open_journal(&self) -> Result<Journal, tejun_journal::Error> {
        Journal::open(&self.journal_path())
    }

    /// The journal, or `None` after telling the operator why it cannot be
    /// opened.
    pub fn open_journal_or_report(&self) -> Option<Journal> {
        self.open_journal()
            .inspect_err(|e| {
                self.error(
                    &format!("cannot open the journal: {e}"),
                    &format!("ジャーナルを開けません: {e}"),
                )
            })
            .ok()
    }

    pub fn format_time(&self, ts: jiff::Timestamp) -> String {
        tejun_locale::format_time(ts, &self.zone)
    }

    /// Prints an error in the operator's language to stderr.
    pub fn error(&self, en: &str, ja: &str) {
        anstream::eprintln!(
            "{}: {}",
            self.lang.pick("error", "エラー"),
            self.lang.pick(en, ja)
        );
    }
}
