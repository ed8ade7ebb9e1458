//! Online backups of the journal, with a manifest that makes a damaged copy detectable.
//!
//! - [`backup`] writes `DIR/journal.sqlite` with `VACUUM INTO`: one read transaction of the live
//!   file, so the copy is consistent while the `run` keeps writing (WAL readers do not block the
//!   writer), compacted, without its `-wal`. Files named by `include` (config, audit logs,
//!   recordings; a directory is copied whole) go under `DIR/files/`. `DIR/manifest.json` lists
//!   every file with its size and SHA-256 (`ring::digest`) and the copy's row count per table.
//! - [`verify`] recomputes every checksum, runs SQLite's `integrity_check` on the copy and
//!   counts its rows again: any difference is an error naming the file or table.
//! - [`restore`] verifies, then copies the journal to a new path (never over an existing file)
//!   and checks the restored file's checksum and row counts against the manifest.
//! - [`prune`] removes the backups in a folder whose dated name ([`stamp_name`],
//!   `backup-YYYYMMDDTHHMMSSZ`) is older than a number of days (retention).

use super::{schema, StoreError};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const JOURNAL_FILE: &str = "journal.sqlite";
/// The manifest's format version.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the backup folder, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub created_wall_ns: u64,
    /// The journal the backup was taken from.
    pub source: String,
    pub schema_version: i64,
    pub files: Vec<FileEntry>,
    /// Rows of each record table in the copy.
    pub rows: BTreeMap<String, i64>,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError(format!("{}: {what}: {e}", path.display()))
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut f = std::fs::File::open(path).map_err(|e| io(path, "cannot read", e))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| io(path, "cannot read", e))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        ctx.update(&buf[..k]);
    }
    let mut hex = String::with_capacity(64);
    for b in ctx.finish().as_ref() {
        hex.push_str(&format!("{b:02x}"));
    }
    Ok((hex, n))
}

fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::at(path, "cannot open", e))
}

/// Row counts of the record tables.
pub fn row_counts(c: &Connection, path: &Path) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut m = BTreeMap::new();
    for t in schema::TABLES {
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .map_err(|e| StoreError::at(path, &format!("counting {t}"), e))?;
        m.insert((*t).to_string(), n);
    }
    Ok(m)
}

fn copy_tree(src: &Path, dst: &Path, out: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    let meta = std::fs::metadata(src).map_err(|e| io(src, "cannot read", e))?;
    if meta.is_dir() {
        std::fs::create_dir_all(dst).map_err(|e| io(dst, "cannot create", e))?;
        let mut names: Vec<_> = std::fs::read_dir(src)
            .map_err(|e| io(src, "cannot list", e))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for n in names {
            copy_tree(&src.join(&n), &dst.join(&n), out)?;
        }
    } else {
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(|e| io(p, "cannot create", e))?;
        }
        std::fs::copy(src, dst).map_err(|e| io(src, "cannot copy", e))?;
        out.push(dst.to_path_buf());
    }
    Ok(())
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Backs `journal` (and the `include` paths) up into `dir`, which must not exist yet.
pub fn backup(journal: &Path, dir: &Path, include: &[PathBuf]) -> Result<Manifest, StoreError> {
    if dir.exists() {
        return Err(StoreError(format!(
            "{}: already exists (a backup goes into a new folder)",
            dir.display()
        )));
    }
    if !journal.exists() {
        return Err(StoreError::msg(journal, "not found"));
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, "cannot create", e))?;
    let copy = dir.join(JOURNAL_FILE);
    let src = open_ro(journal)?;
    src.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| StoreError::at(journal, "busy timeout", e))?;
    let dest = copy
        .to_str()
        .ok_or_else(|| StoreError(format!("{}: not UTF-8", copy.display())))?;
    src.execute("VACUUM INTO ?1", [dest])
        .map_err(|e| StoreError::at(journal, "VACUUM INTO (the online copy)", e))?;
    drop(src);
    let c = open_ro(&copy)?;
    let schema_version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::at(&copy, "schema version", e))?;
    let rows = row_counts(&c, &copy)?;
    drop(c);
    let mut paths = vec![copy];
    for inc in include {
        let name = inc
            .file_name()
            .ok_or_else(|| StoreError(format!("--include {}: no file name", inc.display())))?;
        let dst = dir.join("files").join(name);
        if dst.exists() {
            return Err(StoreError(format!(
                "--include {}: another included path is also named {:?} (they would overwrite \
                 each other in the backup)",
                inc.display(),
                name
            )));
        }
        copy_tree(inc, &dst, &mut paths)?;
    }
    let mut files = Vec::new();
    for p in &paths {
        let (sha256, bytes) = sha256_file(p)?;
        files.push(FileEntry {
            path: rel(dir, p),
            bytes,
            sha256,
        });
    }
    let m = Manifest {
        format: FORMAT,
        created_wall_ns: super::wall_ns(),
        source: journal.display().to_string(),
        schema_version,
        files,
        rows,
    };
    let json = serde_json::to_string_pretty(&m).expect("manifest serializes") + "\n";
    crate::ops::artifacts::write_atomic(&dir.join(MANIFEST), json.as_bytes())
        .map_err(|e| io(&dir.join(MANIFEST), "cannot write", e))?;
    Ok(m)
}

/// Reads a backup's manifest.
pub fn manifest(dir: &Path) -> Result<Manifest, StoreError> {
    let p = dir.join(MANIFEST);
    let s = std::fs::read_to_string(&p).map_err(|e| io(&p, "cannot read", e))?;
    let m: Manifest = serde_json::from_str(&s)
        .map_err(|e| StoreError(format!("{}: not a backup manifest: {e}", p.display())))?;
    if m.format != FORMAT {
        return Err(StoreError(format!(
            "{}: manifest format {}, expected {FORMAT}",
            p.display(),
            m.format
        )));
    }
    Ok(m)
}

fn check_journal(path: &Path, m: &Manifest) -> Result<(), StoreError> {
    let c = open_ro(path)?;
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| StoreError::at(path, "integrity_check", e))?;
    if ok != "ok" {
        return Err(StoreError::msg(path, format!("integrity_check: {ok}")));
    }
    let rows = row_counts(&c, path)?;
    for (t, n) in &m.rows {
        let have = rows.get(t).copied().unwrap_or(-1);
        if have != *n {
            return Err(StoreError::msg(
                path,
                format!("table {t} has {have} rows, the manifest says {n}"),
            ));
        }
    }
    Ok(())
}

/// Checks every file of a backup against its manifest, then the journal copy itself.
pub fn verify(dir: &Path) -> Result<Manifest, StoreError> {
    let m = manifest(dir)?;
    if !m.files.iter().any(|f| f.path == JOURNAL_FILE) {
        return Err(StoreError(format!(
            "{}: the manifest lists no {JOURNAL_FILE}",
            dir.display()
        )));
    }
    for f in &m.files {
        let p = dir.join(&f.path);
        let (sha, bytes) = sha256_file(&p)?;
        if bytes != f.bytes || sha != f.sha256 {
            return Err(StoreError(format!(
                "{}: does not match the manifest ({bytes} bytes, sha256 {sha}; expected {} bytes, sha256 {})",
                p.display(),
                f.bytes,
                f.sha256
            )));
        }
    }
    check_journal(&dir.join(JOURNAL_FILE), &m)?;
    Ok(m)
}

/// Verifies the backup in `dir`, then restores its journal to `to` (a new file) and its other
/// files under `files_to` when given. Returns the manifest.
pub fn restore(dir: &Path, to: &Path, files_to: Option<&Path>) -> Result<Manifest, StoreError> {
    let m = verify(dir)?;
    if to.exists() {
        return Err(StoreError(format!(
            "{}: already exists (restore writes a new file; move the old one away first)",
            to.display()
        )));
    }
    if let Some(p) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(p).map_err(|e| io(p, "cannot create", e))?;
    }
    let tmp = to.with_extension("restoring");
    std::fs::copy(dir.join(JOURNAL_FILE), &tmp).map_err(|e| io(&tmp, "cannot write", e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&tmp, "cannot sync", e))?;
    std::fs::rename(&tmp, to).map_err(|e| io(to, "cannot rename into place", e))?;
    let (sha, _) = sha256_file(to)?;
    let want = &m
        .files
        .iter()
        .find(|f| f.path == JOURNAL_FILE)
        .expect("verified")
        .sha256;
    if &sha != want {
        return Err(StoreError::msg(
            to,
            format!("restored file's sha256 {sha} differs from the manifest's {want}"),
        ));
    }
    check_journal(to, &m)?;
    if let Some(ft) = files_to {
        for f in m.files.iter().filter(|f| f.path != JOURNAL_FILE) {
            let rel = f.path.strip_prefix("files/").unwrap_or(&f.path);
            let dst = ft.join(rel);
            if dst.exists() {
                return Err(StoreError(format!("{}: already exists", dst.display())));
            }
            if let Some(p) = dst.parent() {
                std::fs::create_dir_all(p).map_err(|e| io(p, "cannot create", e))?;
            }
            std::fs::copy(dir.join(&f.path), &dst).map_err(|e| io(&dst, "cannot write", e))?;
        }
    }
    Ok(m)
}

/// The folder name of a backup taken at `wall_ns`: `backup-YYYYMMDDTHHMMSSZ`.
pub fn stamp_name(wall_ns: u64) -> String {
    let ns = wall_ns as i64;
    let d = super::report::date_of_ns(ns).replace('-', "");
    let s = ns.rem_euclid(86_400_000_000_000) / 1_000_000_000;
    format!("backup-{d}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// The time a backup folder's name says it was taken (`backup-YYYYMMDDTHHMMSSZ`, UTC), in ns;
/// `None` for any other name.
pub fn stamp_of(name: &str) -> Option<u64> {
    let s = name.strip_prefix("backup-")?.strip_suffix('Z')?;
    let (d, t) = s.split_once('T')?;
    if d.len() != 8 || t.len() != 6 || !d.bytes().chain(t.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let date = format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]);
    let days = super::report::parse_date(&date).ok()?;
    let (h, m, sec) = (num(&t[..2])?, num(&t[2..4])?, num(&t[4..])?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let secs = days * 86_400 + h * 3600 + m * 60 + sec;
    u64::try_from(secs).ok().map(|s| s * 1_000_000_000)
}

/// Removes the backups in `root` whose dated name ([`stamp_name`]) is more than `keep_days`
/// days before `now_ns`. A folder counts as a backup only with that name and a readable
/// manifest; anything else in `root` is left alone. Returns the folders removed.
pub fn prune(root: &Path, keep_days: u32, now_ns: u64) -> Result<Vec<PathBuf>, StoreError> {
    let cutoff = now_ns.saturating_sub(u64::from(keep_days) * 86_400_000_000_000);
    let mut gone = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return Ok(gone);
    };
    for e in rd.flatten() {
        let p = e.path();
        let Some(taken) = p.file_name().and_then(|n| n.to_str()).and_then(stamp_of) else {
            continue;
        };
        // A folder without a readable manifest is not ours to delete.
        if taken < cutoff && manifest(&p).is_ok() {
            std::fs::remove_dir_all(&p).map_err(|e| io(&p, "cannot remove", e))?;
            gone.push(p);
        }
    }
    gone.sort();
    Ok(gone)
}
