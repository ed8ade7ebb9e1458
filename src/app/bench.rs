//! `obi-scalp bench-latency` (filled in below).
use super::AppError;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub input: PathBuf,
}

pub fn run(_a: BenchArgs) -> Result<(), AppError> {
    Err(AppError::usage("bench-latency: not wired yet"))
}
