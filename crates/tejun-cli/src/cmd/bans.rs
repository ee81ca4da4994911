//! Not yet implemented: owned by the helper building this command.

use crate::context::{Context, Exit};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args, ctx: &Context) -> Exit {
    ctx.error("not implemented yet", "未実装です");
    Exit::BadInput
}
