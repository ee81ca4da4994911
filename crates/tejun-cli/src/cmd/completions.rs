//! `tejun completions SHELL`: shell completion scripts from the clap model.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::context::Exit;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  tejun completions bash > /etc/bash_completion.d/tejun\n  tejun completions zsh > ~/.zfunc/_tejun"
)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub fn run<C: CommandFactory>(args: Args) -> Exit {
    let mut command = C::command();
    let name = command.get_name().to_string();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Exit::Ok
}
