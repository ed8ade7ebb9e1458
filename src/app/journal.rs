//! `obi-scalp journal backup|verify|restore`: online backups of the trade journal with a checksum
//! manifest, their check, and restoring one to a new file (see [`crate::store::backup`]).

use super::AppError;
use crate::ops::Exit;
use crate::store::backup;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub cmd: JournalCmd,
}

#[derive(Subcommand, Debug)]
pub enum JournalCmd {
    /// A consistent copy of the live journal into `OUT/backup-YYYYMMDDTHHMMSSZ/` (the UTC time it
    /// is taken), with manifest.json.
    Backup {
        /// The journal (default: the `[store] journal` default).
        #[arg(long, default_value = "var/journal.sqlite")]
        journal: PathBuf,
        /// The folder that holds the backups, one dated folder each (`--to` is the same).
        #[arg(long, visible_alias = "to")]
        out: PathBuf,
        /// Files or folders to copy too (config, audit logs, recordings); repeatable.
        #[arg(long)]
        include: Vec<PathBuf>,
        /// Remove the backups in OUT whose dated name is more than this many days old (0: keep
        /// all); other folders in OUT are left alone.
        #[arg(long, default_value_t = 30)]
        keep_days: u32,
    },
    /// Check a backup against its manifest (checksums, SQLite integrity, row counts).
    Verify {
        /// The backup folder (holding manifest.json).
        dir: PathBuf,
    },
    /// Verify a backup, then restore its journal to a new file.
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// The journal file to create (must not exist).
        #[arg(long)]
        to: PathBuf,
        /// Where the backup's other files go (default: not restored).
        #[arg(long)]
        files_to: Option<PathBuf>,
    },
}

fn failed(e: crate::store::StoreError) -> AppError {
    AppError::exit(Exit::Io, e.0)
}

/// An input that is not there is a bad argument (exit 2), not a failed output.
fn must_exist(what: &str, p: &std::path::Path) -> Result<(), AppError> {
    if p.exists() {
        Ok(())
    } else {
        Err(AppError::usage(format!(
            "{what} {}: not found",
            p.display()
        )))
    }
}

pub(crate) fn rows(m: &backup::Manifest) -> String {
    m.rows
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(a: JournalArgs) -> Result<(), AppError> {
    match a.cmd {
        JournalCmd::Backup {
            journal,
            out,
            include,
            keep_days,
        } => {
            must_exist("--journal", &journal)?;
            let now = crate::store::wall_ns();
            let dir = out.join(backup::stamp_name(now));
            let m = backup::backup(&journal, &dir, &include).map_err(failed)?;
            println!(
                "backup {}: {} files, rows: {}",
                dir.display(),
                m.files.len(),
                rows(&m)
            );
            if keep_days > 0 {
                for p in backup::prune(&out, keep_days, now).map_err(failed)? {
                    println!("removed {} (older than {keep_days} days)", p.display());
                }
            }
        }
        JournalCmd::Verify { dir } => {
            must_exist("backup", &dir)?;
            let m = backup::verify(&dir).map_err(failed)?;
            println!(
                "backup {} ok: {} files match the manifest, rows: {}",
                dir.display(),
                m.files.len(),
                rows(&m)
            );
        }
        JournalCmd::Restore { from, to, files_to } => {
            must_exist("--from", &from)?;
            let m = backup::restore(&from, &to, files_to.as_deref()).map_err(failed)?;
            println!(
                "restored {} from {}: rows: {}",
                to.display(),
                from.display(),
                rows(&m)
            );
        }
    }
    Ok(())
}
