//! `obi-scalp run`: the main job (filled in below).
use super::AppError;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Config file (default: the built-in config/default.toml: synthetic market, paper trading).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run time in seconds (overrides duration_s; 0 = until SIGINT/SIGTERM).
    #[arg(long)]
    pub duration: Option<u64>,
}

pub fn run(_a: RunArgs) -> Result<(), AppError> {
    Err(AppError::usage("run: not wired yet"))
}
