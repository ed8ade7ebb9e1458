//! The obirec writer the live recorder uses; see [`RecordWriter`].

use super::obirec::{self, RecordMeta, TooLong};
use super::{Record, RecordError, RecordKind, RecordRef};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where records go: the recorder writes through this, tests may collect into a `Vec<Record>`.
pub trait RecordSink {
    fn write(
        &mut self,
        kind: RecordKind,
        ts_ns: u64,
        conn: &str,
        addr: Option<&str>,
        data: &[u8],
    ) -> Result<(), RecordError>;

    /// Makes everything written so far durable as far as the sink can.
    fn flush(&mut self) -> Result<(), RecordError> {
        Ok(())
    }
}

impl RecordSink for Vec<Record> {
    fn write(
        &mut self,
        kind: RecordKind,
        ts_ns: u64,
        conn: &str,
        addr: Option<&str>,
        data: &[u8],
    ) -> Result<(), RecordError> {
        let line = self.len() as u64 + 1;
        self.push(Record {
            kind,
            ts_ns,
            conn: conn.to_owned(),
            url_or_addr: addr.map(str::to_owned),
            data: data.to_vec(),
            line,
        });
        Ok(())
    }
}

/// File compression of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteCompression {
    None,
    /// zstd at `level` (1 fast .. 19 small; 3 is zstd's default).
    Zstd {
        level: i32,
    },
}

/// Settings of a [`RecordWriter`].
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Directory for the files (created if missing).
    pub dir: PathBuf,
    /// File name prefix: letters, digits, `.`, `_`, `-`.
    pub prefix: String,
    /// Written into every file's header (`created_ns` and `seq` are set per file).
    pub meta: RecordMeta,
    pub compression: WriteCompression,
    /// Rotate before a file's uncompressed size would pass this many bytes.
    pub rotate_bytes: Option<u64>,
    /// Rotate once a file has been open this long (checked on write).
    pub rotate_interval: Option<Duration>,
    /// Flush at least this often while records come in (zero: after every record).
    pub flush_interval: Duration,
    /// Also `fdatasync` on every flush.
    pub sync_on_flush: bool,
}

impl WriterConfig {
    /// Defaults: zstd level 3, rotate at 1 GiB uncompressed or after 1 hour, flush every second.
    pub fn new(dir: impl Into<PathBuf>, prefix: impl Into<String>, meta: RecordMeta) -> Self {
        WriterConfig {
            dir: dir.into(),
            prefix: prefix.into(),
            meta,
            compression: WriteCompression::Zstd { level: 3 },
            rotate_bytes: Some(1 << 30),
            rotate_interval: Some(Duration::from_secs(3600)),
            flush_interval: Duration::from_secs(1),
            sync_on_flush: false,
        }
    }

    fn validate(&self) -> Result<(), RecordError> {
        let bad = |reason: String| Err(RecordError::Config { reason });
        if self.prefix.is_empty()
            || !self
                .prefix
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        {
            return bad(format!(
                "prefix `{}`: expected letters, digits, `.`, `_` or `-`",
                self.prefix
            ));
        }
        if let WriteCompression::Zstd { level } = self.compression {
            if !zstd::compression_level_range().contains(&level) {
                return bad(format!(
                    "zstd level {level}: expected {:?}",
                    zstd::compression_level_range()
                ));
            }
        }
        if self.rotate_bytes == Some(0) {
            return bad("rotate_bytes: expected more than 0".to_owned());
        }
        if self.rotate_interval == Some(Duration::ZERO) {
            return bad("rotate_interval: expected more than 0".to_owned());
        }
        Ok(())
    }

    fn file_name(&self, created_ns: u64, seq: u64) -> String {
        let ext = match self.compression {
            WriteCompression::None => "",
            WriteCompression::Zstd { .. } => ".zst",
        };
        format!(
            "{}-{}-{seq:06}.{}{ext}",
            self.prefix,
            utc_stamp(created_ns),
            obirec_ext()
        )
    }
}

const fn obirec_ext() -> &'static str {
    "obirec"
}

/// `YYYYMMDDTHHMMSSZ` for a time in ns since the Unix epoch.
pub fn utc_stamp(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Wall-clock time in ns since the Unix epoch.
pub fn system_clock_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The writer's time source, wall-clock ns since the Unix epoch.
pub type Clock = Box<dyn FnMut() -> u64 + Send>;

enum Out {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, File>),
}

impl Out {
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Out::Plain(w) => w.write_all(b),
            Out::Zstd(w) => w.write_all(b),
        }
    }

    fn flush(&mut self, sync: bool) -> io::Result<()> {
        let file = match self {
            Out::Plain(w) => {
                w.flush()?;
                w.get_ref()
            }
            Out::Zstd(w) => {
                w.flush()?;
                w.get_ref()
            }
        };
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }

    fn close(self) -> io::Result<()> {
        let file = match self {
            Out::Plain(w) => w.into_inner().map_err(|e| e.into_error())?,
            Out::Zstd(w) => w.finish()?,
        };
        file.sync_all()
    }
}

struct OpenFile {
    path: PathBuf,
    out: Out,
    opened_ns: u64,
    bytes: u64,
    records: u64,
    last_flush_ns: u64,
    dirty: bool,
}

/// Writes obirec files for the live recorder (cold path: it may allocate and block on disk).
///
/// Files are named `<prefix>-<UTC creation time YYYYMMDDTHHMMSSZ>-<seq, 6 digits>.obirec[.zst]`,
/// so the names of one prefix sort in write order. A file rotates before the record that would
/// take its uncompressed size over `rotate_bytes`, and before the first record written once
/// `rotate_interval` has passed since it was opened; each file starts with its own header.
///
/// Loss window: records are buffered and flushed (a zstd flush ends a block, so everything
/// written so far can be decoded) when a write finds `flush_interval` elapsed since the last
/// flush, or when [`RecordWriter::tick`] does; call `tick` at least every `flush_interval`
/// while idle. A crashed process thus loses at most the records of the last interval; the
/// reader decodes a cut zstd stream up to the cut and warns. With `sync_on_flush` each flush
/// also `fdatasync`s, bounding the loss on power failure the same way. Closing a file (rotation,
/// [`RecordWriter::finish`], drop) finishes the zstd frame and syncs.
pub struct RecordWriter {
    cfg: WriterConfig,
    clock: Clock,
    file: Option<OpenFile>,
    files: Vec<PathBuf>,
    next_seq: u64,
    buf: Vec<u8>,
}

impl RecordWriter {
    /// Checks `cfg`, creates the directory and the first file (so a bad path fails at start-up).
    pub fn create(cfg: WriterConfig) -> Result<RecordWriter, RecordError> {
        RecordWriter::with_clock(cfg, Box::new(system_clock_ns))
    }

    /// As [`RecordWriter::create`] with another time source (tests, replays).
    pub fn with_clock(cfg: WriterConfig, clock: Clock) -> Result<RecordWriter, RecordError> {
        cfg.validate()?;
        fs::create_dir_all(&cfg.dir).map_err(|source| RecordError::Create {
            path: cfg.dir.clone(),
            source,
        })?;
        let mut w = RecordWriter {
            cfg,
            clock,
            file: None,
            files: Vec::new(),
            next_seq: 0,
            buf: Vec::with_capacity(64 * 1024),
        };
        let now = (w.clock)();
        w.open_file(now)?;
        Ok(w)
    }

    fn open_file(&mut self, now: u64) -> Result<(), RecordError> {
        let mut tries = 0;
        let (path, file) = loop {
            let path = self.cfg.dir.join(self.cfg.file_name(now, self.next_seq));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 10_000 => {
                    self.next_seq += 1;
                    tries += 1;
                }
                Err(source) => return Err(RecordError::Create { path, source }),
            }
        };
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RecordError::Write { path, source }
        };
        let mut out = match self.cfg.compression {
            WriteCompression::None => Out::Plain(BufWriter::with_capacity(64 * 1024, file)),
            WriteCompression::Zstd { level } => {
                Out::Zstd(zstd::stream::write::Encoder::new(file, level).map_err(write_err(&path))?)
            }
        };
        let mut meta = self.cfg.meta.clone();
        meta.created_ns = now;
        meta.seq = self.next_seq;
        if meta.recorder.is_empty() {
            meta.recorder = concat!("obi-scalp ", env!("CARGO_PKG_VERSION")).to_owned();
        }
        self.buf.clear();
        obirec::encode_header(&meta, &mut self.buf);
        out.write_all(&self.buf).map_err(write_err(&path))?;
        out.flush(self.cfg.sync_on_flush)
            .map_err(write_err(&path))?;
        self.next_seq += 1;
        self.files.push(path.clone());
        self.file = Some(OpenFile {
            path,
            out,
            opened_ns: now,
            bytes: self.buf.len() as u64,
            records: 0,
            last_flush_ns: now,
            dirty: false,
        });
        Ok(())
    }

    fn close_file(&mut self) -> Result<(), RecordError> {
        match self.file.take() {
            None => Ok(()),
            Some(f) => f.out.close().map_err(|source| RecordError::Write {
                path: f.path,
                source,
            }),
        }
    }

    /// Appends one record (rotating and flushing when due).
    pub fn write(
        &mut self,
        kind: RecordKind,
        ts_ns: u64,
        conn: &str,
        addr: Option<&str>,
        data: &[u8],
    ) -> Result<(), RecordError> {
        let now = (self.clock)();
        self.buf.clear();
        obirec::encode_record(&mut self.buf, kind, ts_ns, conn, addr, data).map_err(|e| {
            let (field, len, max) = match e {
                TooLong::Conn(n) => ("conn", n, u16::MAX as usize),
                TooLong::Addr(n) => ("addr", n, u16::MAX as usize),
                TooLong::Payload(n) => ("data", n, obirec::MAX_PAYLOAD),
            };
            RecordError::TooLarge { field, len, max }
        })?;
        let len = self.buf.len() as u64;
        if let Some(f) = &self.file {
            let by_size = self.cfg.rotate_bytes.is_some_and(|max| f.bytes + len > max);
            let by_time = self
                .cfg
                .rotate_interval
                .is_some_and(|d| now.saturating_sub(f.opened_ns) >= d.as_nanos() as u64);
            if f.records > 0 && (by_size || by_time) {
                self.close_file()?;
            }
        }
        if self.file.is_none() {
            // `open_file` reuses `buf` for the header: encode the record again after it.
            self.open_file(now)?;
            self.buf.clear();
            obirec::encode_record(&mut self.buf, kind, ts_ns, conn, addr, data)
                .expect("encoded once already");
        }
        let f = self.file.as_mut().expect("a file is open");
        f.out
            .write_all(&self.buf)
            .map_err(|source| RecordError::Write {
                path: f.path.clone(),
                source,
            })?;
        f.bytes += len;
        f.records += 1;
        f.dirty = true;
        self.flush_if_due(now)
    }

    /// Appends a record read from another recording.
    pub fn write_ref(&mut self, r: &RecordRef<'_>) -> Result<(), RecordError> {
        self.write(r.kind, r.ts_ns, r.conn, r.url_or_addr, r.data)
    }

    fn flush_if_due(&mut self, now: u64) -> Result<(), RecordError> {
        let interval = self.cfg.flush_interval.as_nanos() as u64;
        let due = self.file.as_ref().is_some_and(|f| {
            // a clock that went backwards counts as due
            f.dirty && (now < f.last_flush_ns || now - f.last_flush_ns >= interval)
        });
        if due {
            self.flush_at(now)?;
        }
        Ok(())
    }

    fn flush_at(&mut self, now: u64) -> Result<(), RecordError> {
        let sync = self.cfg.sync_on_flush;
        if let Some(f) = self.file.as_mut() {
            f.out.flush(sync).map_err(|source| RecordError::Write {
                path: f.path.clone(),
                source,
            })?;
            f.last_flush_ns = now;
            f.dirty = false;
        }
        Ok(())
    }

    /// Flushes now.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        let now = (self.clock)();
        self.flush_at(now)
    }

    /// Flushes if `flush_interval` has passed with records pending; call it while idle.
    pub fn tick(&mut self) -> Result<(), RecordError> {
        let now = (self.clock)();
        self.flush_if_due(now)
    }

    /// The file being written.
    pub fn current_path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path.as_path())
    }

    /// Every file this writer created, oldest first.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Closes the current file (finishing the zstd frame, syncing) and returns all files.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, RecordError> {
        self.close_file()?;
        Ok(std::mem::take(&mut self.files))
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        if let Err(e) = self.close_file() {
            tracing::warn!("recorder: closing on drop failed: {e}");
        }
    }
}

impl RecordSink for RecordWriter {
    fn write(
        &mut self,
        kind: RecordKind,
        ts_ns: u64,
        conn: &str,
        addr: Option<&str>,
        data: &[u8],
    ) -> Result<(), RecordError> {
        RecordWriter::write(self, kind, ts_ns, conn, addr, data)
    }

    fn flush(&mut self) -> Result<(), RecordError> {
        RecordWriter::flush(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        // expected values from Python's datetime.fromtimestamp(s, UTC)
        for (secs, want) in [
            (0u64, "19700101T000000Z"),
            (1_786_310_816, "20260809T212656Z"),
            (951_782_400, "20000229T000000Z"),
            (4_107_542_399, "21000228T235959Z"),
            (1_709_164_800, "20240229T000000Z"),
        ] {
            assert_eq!(utc_stamp(secs * 1_000_000_000 + 999_999_999), want);
        }
    }

    #[test]
    fn config_is_checked() {
        let ok = WriterConfig::new("d", "bybit-linear_1.x", RecordMeta::default());
        assert!(ok.validate().is_ok());
        for (f, needle) in [
            (
                Box::new(|c: &mut WriterConfig| c.prefix = "a/b".into())
                    as Box<dyn Fn(&mut WriterConfig)>,
                "prefix",
            ),
            (Box::new(|c: &mut WriterConfig| c.prefix.clear()), "prefix"),
            (
                Box::new(|c: &mut WriterConfig| {
                    c.compression = WriteCompression::Zstd { level: 99 }
                }),
                "zstd level",
            ),
            (
                Box::new(|c: &mut WriterConfig| c.rotate_bytes = Some(0)),
                "rotate_bytes",
            ),
            (
                Box::new(|c: &mut WriterConfig| c.rotate_interval = Some(Duration::ZERO)),
                "rotate_interval",
            ),
        ] {
            let mut c = ok.clone();
            f(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn file_names() {
        let mut c = WriterConfig::new("d", "bybit", RecordMeta::default());
        assert_eq!(
            c.file_name(1_786_310_816_000_000_000, 7),
            "bybit-20260809T212656Z-000007.obirec.zst"
        );
        c.compression = WriteCompression::None;
        assert_eq!(c.file_name(0, 0), "bybit-19700101T000000Z-000000.obirec");
    }
}
