//! `obi-scalp backup` and `obi-scalp restore`: everything a run keeps, found from its configs.
//!
//! `backup --config FILE... --to DIR` takes the journal the configs name (`[store] journal`, one
//! journal for all of them), each config file, each config's audit log folder (`[ops] log_dir`)
//! and recordings folder (`[record] dir`) into `DIR/backup-YYYYMMDDTHHMMSSZ/` with a checksum
//! manifest ([`crate::store::backup`]), then removes the backups in `DIR` older than the
//! retention (`[store] backup_retention_days`, or `--keep-days`). `restore --from BACKUP --to DIR`
//! verifies the backup and writes `DIR/journal.sqlite` and `DIR/files/`, never over existing files.

use super::AppError;
use crate::config::Config;
use crate::ops::Exit;
use crate::store::backup;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// A service config (repeatable): its journal, the file itself, its audit logs and recordings.
    #[arg(long, required = true)]
    pub config: Vec<PathBuf>,
    /// The folder that holds the backups, one dated folder each.
    #[arg(long)]
    pub to: PathBuf,
    /// Remove backups older than this many days (default: the configs' `[store]
    /// backup_retention_days`; 0 keeps all).
    #[arg(long)]
    pub keep_days: Option<u32>,
    /// Leave the recordings folders out (they can be large).
    #[arg(long)]
    pub no_recordings: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup folder (`backup-YYYYMMDDTHHMMSSZ`, holding manifest.json).
    #[arg(long)]
    pub from: PathBuf,
    /// A folder that gets `journal.sqlite` and `files/` (neither may exist yet).
    #[arg(long)]
    pub to: PathBuf,
}

fn failed(e: crate::store::StoreError) -> AppError {
    AppError::exit(Exit::Io, e.0)
}

/// What a backup of these configs holds: the one journal, then the files and folders to copy
/// (each once, in the order the configs name them), and the retention in days.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub journal: PathBuf,
    pub include: Vec<PathBuf>,
    /// Folders a config names that are not there (nothing written to them yet).
    pub missing: Vec<PathBuf>,
    pub keep_days: u32,
}

/// Works out the backup of `configs` (already loaded, with their paths). Errors name the config.
pub fn plan(configs: &[(PathBuf, Config)], recordings: bool) -> Result<Plan, AppError> {
    let mut journal: Option<(PathBuf, &Path)> = None;
    let mut include: Vec<PathBuf> = Vec::new();
    let mut missing = Vec::new();
    let mut keep_days = 0;
    for (path, cfg) in configs {
        let Some(j) = cfg.store.journal.clone() else {
            return Err(AppError::usage(format!(
                "{}: [store] journal = \"off\": there is no journal to back up",
                path.display()
            )));
        };
        match &journal {
            None => journal = Some((j, path)),
            Some((first, from)) if *first != j => {
                return Err(AppError::usage(format!(
                    "{} names the journal {} but {} names {}: back up each journal with its own \
                     configs",
                    from.display(),
                    first.display(),
                    path.display(),
                    j.display()
                )))
            }
            Some(_) => {}
        }
        keep_days = keep_days.max(cfg.store.backup_retention_days);
        let mut wanted = vec![path.clone(), cfg.ops.audit.dir.clone()];
        if recordings {
            wanted.push(cfg.record.dir.clone());
        }
        for p in wanted {
            if include.contains(&p) || missing.contains(&p) {
                continue;
            }
            if p.exists() {
                include.push(p);
            } else {
                missing.push(p);
            }
        }
    }
    let (journal, _) = journal.ok_or_else(|| AppError::usage("--config: at least one"))?;
    Ok(Plan {
        journal,
        include,
        missing,
        keep_days,
    })
}

pub fn run_backup(a: BackupArgs) -> Result<(), AppError> {
    let mut configs = Vec::with_capacity(a.config.len());
    for p in &a.config {
        configs.push((p.clone(), Config::load(p)?));
    }
    let mut plan = plan(&configs, !a.no_recordings)?;
    if let Some(k) = a.keep_days {
        plan.keep_days = k;
    }
    if !plan.journal.exists() {
        return Err(AppError::usage(format!(
            "journal {} (from {}): not found",
            plan.journal.display(),
            a.config[0].display()
        )));
    }
    for p in &plan.missing {
        println!("skipped {}: not there", p.display());
    }
    let now = crate::store::wall_ns();
    let dir = a.to.join(backup::stamp_name(now));
    let m = backup::backup(&plan.journal, &dir, &plan.include).map_err(failed)?;
    println!(
        "backup {}: {} files, rows: {}",
        dir.display(),
        m.files.len(),
        super::journal::rows(&m)
    );
    if plan.keep_days > 0 {
        for p in backup::prune(&a.to, plan.keep_days, now).map_err(failed)? {
            println!(
                "removed {} (older than {} days)",
                p.display(),
                plan.keep_days
            );
        }
    }
    Ok(())
}

pub fn run_restore(a: RestoreArgs) -> Result<(), AppError> {
    if !a.from.exists() {
        return Err(AppError::usage(format!(
            "--from {}: not found",
            a.from.display()
        )));
    }
    let journal = a.to.join(backup::JOURNAL_FILE);
    let files = a.to.join("files");
    if files.exists() {
        return Err(AppError::exit(
            Exit::Io,
            format!(
                "{}: already exists (restore writes new files only)",
                files.display()
            ),
        ));
    }
    let m = backup::restore(&a.from, &journal, Some(&files)).map_err(failed)?;
    println!(
        "restored {} and {} other files into {} from {}: rows: {}",
        backup::JOURNAL_FILE,
        m.files.len() - 1,
        a.to.display(),
        a.from.display(),
        super::journal::rows(&m)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(journal: &str, logs: &str, rec: &str, keep: u32) -> Config {
        let mut c = Config::builtin();
        c.store.journal = (journal != "off").then(|| PathBuf::from(journal));
        c.ops.audit.dir = PathBuf::from(logs);
        c.record.dir = PathBuf::from(rec);
        c.store.backup_retention_days = keep;
        c
    }

    #[test]
    fn two_service_configs_sharing_a_journal_are_one_backup() {
        let d = std::env::temp_dir().join(format!("obi-backup-plan-{}", std::process::id()));
        let logs = d.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let (a, b) = (d.join("a.toml"), d.join("b.toml"));
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let l = logs.to_str().unwrap();
        let rec = d.join("recordings");
        let r = rec.to_str().unwrap();
        let p = plan(
            &[
                (a.clone(), cfg("var/j.sqlite", l, r, 30)),
                (b.clone(), cfg("var/j.sqlite", l, r, 45)),
            ],
            true,
        )
        .unwrap();
        assert_eq!(p.journal, PathBuf::from("var/j.sqlite"));
        // Each path once; a folder nothing was written to yet is reported, not an error.
        assert_eq!(p.include, vec![a.clone(), logs.clone(), b]);
        assert_eq!(p.missing, vec![rec.clone()]);
        assert_eq!(p.keep_days, 45, "the longest retention of the configs");
        let p = plan(&[(a, cfg("var/j.sqlite", l, r, 30))], false).unwrap();
        assert!(!p.missing.contains(&rec), "--no-recordings leaves them out");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn configs_naming_different_journals_or_none_are_refused_by_name() {
        let e = plan(
            &[
                ("a.toml".into(), cfg("var/a.sqlite", "logs", "rec", 30)),
                ("b.toml".into(), cfg("var/b.sqlite", "logs", "rec", 30)),
            ],
            true,
        )
        .unwrap_err();
        assert_eq!(e.code, Exit::Config.code());
        assert!(
            e.msg
                .contains("a.toml names the journal var/a.sqlite but b.toml names var/b.sqlite"),
            "{}",
            e.msg
        );
        let e = plan(&[("off.toml".into(), cfg("off", "l", "r", 30))], true).unwrap_err();
        assert!(
            e.msg.starts_with("off.toml: [store] journal = \"off\""),
            "{}",
            e.msg
        );
    }
}
