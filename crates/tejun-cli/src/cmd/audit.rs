//! Not yet implemented: owned by the helper building this command.

use crate::context::{Context, Exit};

#[derive(clap::Subcommand, Debug)]
pub enum Command {}

pub fn run(command: Command, _ctx: &Context) -> Exit {
    match command {}
}
