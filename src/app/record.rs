//! `obi-scalp record` (filled in below).
use super::AppError;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RecordArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(_a: RecordArgs) -> Result<(), AppError> {
    Err(AppError::usage("record: not wired yet"))
}
