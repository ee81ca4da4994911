//! `tejun completions SHELL`: shell completion scripts from the clap model.
//!
//! Two arguments complete from what tejun knows rather than from file
//! names: `--env` offers the environments of the inventory found where the
//! script is generated (regenerate it when they change), and `--lang`
//! offers `ja` and `en`. The script is written in one piece, and a closed
//! pipe (`| head`) ends the command quietly.

use std::io::Write;

use clap::CommandFactory;
use clap::builder::PossibleValuesParser;
use clap_complete::Shell;

use crate::context::{Context, Exit};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun completions bash > /etc/bash_completion.d/tejun\n  tejun completions zsh > ~/.zfunc/_tejun"
)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub fn run<C: CommandFactory>(args: Args, ctx: &Context) -> Exit {
    let environments: Vec<String> = ctx
        .inventory_path()
        .and_then(|path| super::run::read_inventory(ctx, &path).ok())
        .map(|inventory| inventory.environments.keys().cloned().collect())
        .unwrap_or_default();
    let mut command = with_known_values(C::command(), &environments);
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    match std::io::stdout().lock().write_all(&script) {
        Ok(()) => Exit::Ok,
        // `tejun completions bash | head -1`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            ctx.error(
                &format!("cannot write the script: {e}"),
                &format!("スクリプトを書き出せません: {e}"),
            );
            Exit::Failed
        }
    }
}

/// `--lang` as `ja`/`en` and `--env` as the inventory's environments,
/// on the command and every subcommand.
fn with_known_values(command: clap::Command, environments: &[String]) -> clap::Command {
    let command = command.mut_args(|arg| match arg.get_id().as_str() {
        "lang" => arg.value_parser(PossibleValuesParser::new(["ja", "en"])),
        "env" if !environments.is_empty() => {
            // clap keeps possible values as `&'static str` (without its
            // `string` feature); this command prints once and exits.
            let names: Vec<&'static str> = environments
                .iter()
                .map(|e| &*Box::leak(e.clone().into_boxed_str()))
                .collect();
            arg.value_parser(PossibleValuesParser::new(names))
        }
        _ => arg,
    });
    command.mut_subcommands(|sub| with_known_values(sub, environments))
}
