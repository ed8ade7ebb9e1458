//! Recorded input for replays: records from one or more files in receive-time order, with each
//! connection resolved to its venue and market.

use crate::instrument::{Market, Venue};
use crate::record::{self, Record, RecordKind, RecordWarning};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A record that could not be read and was skipped.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

/// All records of the inputs, merged by receive time.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Venue and market of each connection id (from `connect` addresses or file metadata).
    pub conns: BTreeMap<String, (Venue, Market)>,
    /// The venue the files are about.
    pub venue: Option<Venue>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<RecordWarning>,
}

impl Loaded {
    /// Whether record `r` feeds the `venue`/`market` decoder: REST bodies always (the decoder
    /// ignores other symbols), frames and connection events of that market's connections.
    pub fn feeds(&self, r: &Record, venue: Venue, market: Market) -> bool {
        r.kind == RecordKind::Http
            || self
                .conns
                .get(&r.conn)
                .is_some_and(|&(v, m)| v == venue && m == market)
    }

    /// The records that feed the `venue`/`market` decoder, in order.
    pub fn records_for(&self, venue: Venue, market: Market) -> Vec<Record> {
        self.records
            .iter()
            .filter(|r| self.feeds(r, venue, market))
            .cloned()
            .collect()
    }
}

/// Why the inputs could not be loaded: the message names the file (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The venue named by a host or a cryptofeed exchange name (the venue table's texts).
pub fn venue_of_text(s: &str) -> Option<Venue> {
    Venue::of_text(s)
}

/// The market a connection address serves, as the venue's connector reads it (Bybit's paths),
/// else the venue's default market.
pub fn market_of_addr(venue: Venue, addr: &str) -> Market {
    addr_market(venue, addr).unwrap_or_else(|| venue.default_market())
}

/// The market `addr` names, when the venue's addresses name one.
fn addr_market(venue: Venue, addr: &str) -> Option<Market> {
    venue.connector().and_then(|c| c.market_of_addr(addr))
}

/// Loads `paths` (cryptofeed, `<ns> <frame>` or obirec; plain, gz or zst), merges them by
/// receive time (stable: equal times keep file order) and resolves connections.
/// `venue` overrides what the files say (needed for plain `<ns> <frame>` files).
pub fn load(
    paths: &[PathBuf],
    venue: Option<Venue>,
    market: Option<Market>,
) -> Result<Loaded, InputError> {
    let mut out = Loaded {
        venue,
        ..Loaded::default()
    };
    for (fi, path) in paths.iter().enumerate() {
        load_one(path, fi, market, &mut out)?;
    }
    let Some(v) = out.venue else {
        return Err(InputError(format!(
            "cannot tell the venue of {}: pass --venue",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    // Connections never announced by a `connect` record (plain files) get the default market.
    for r in &out.records {
        if r.kind == RecordKind::Recv && !out.conns.contains_key(&r.conn) {
            let m = market.unwrap_or(crate::config::default_market(v));
            out.conns.insert(r.conn.clone(), (v, m));
        }
    }
    if !out.records.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns) {
        out.records.sort_by_key(|r| r.ts_ns);
    }
    Ok(out)
}

fn load_one(
    path: &Path,
    fi: usize,
    market: Option<Market>,
    out: &mut Loaded,
) -> Result<(), InputError> {
    let mut r = record::open(path).map_err(|e| InputError(e.to_string()))?;
    let meta = r.meta().cloned();
    if let Some(m) = &meta {
        if out.venue.is_none() {
            out.venue = m.venue.parse().ok();
        }
    }
    // Connection ids are per file: prefix them so two files never share one.
    let prefix = format!("f{fi}:");
    loop {
        let rec = match r.next_record() {
            None => break,
            Some(Ok(rec)) => rec,
            Some(Err(e)) if e.is_malformed() => {
                let line = match &e {
                    record::RecordError::Malformed { line, .. } => *line,
                    _ => 0,
                };
                out.skipped.push(Skipped {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
                continue;
            }
            Some(Err(e)) => return Err(InputError(e.to_string())),
        };
        match rec.kind {
            RecordKind::Header => {
                if out.venue.is_none() {
                    if let Ok(s) = std::str::from_utf8(rec.data) {
                        out.venue = venue_of_text(
                            &serde_json::from_str::<serde_json::Value>(s)
                                .ok()
                                .and_then(|v| {
                                    v.get("exchange")
                                        .and_then(|e| e.as_str())
                                        .map(str::to_owned)
                                })
                                .unwrap_or_default(),
                        );
                    }
                }
                continue;
            }
            RecordKind::Connect => {
                let addr = rec.url_or_addr.unwrap_or("");
                let v = out.venue.or_else(|| venue_of_text(addr));
                if out.venue.is_none() {
                    out.venue = v;
                }
                if let Some(v) = v {
                    // An address that names its market wins over `--venue`'s market.
                    let m = addr_market(v, addr)
                        .or(market)
                        .unwrap_or_else(|| v.default_market());
                    out.conns.insert(format!("{prefix}{}", rec.conn), (v, m));
                }
            }
            RecordKind::Http if out.venue.is_none() => {
                out.venue = rec.url_or_addr.and_then(venue_of_text);
            }
            _ => {}
        }
        let mut owned = rec.to_record();
        owned.conn = format!("{prefix}{}", owned.conn);
        out.records.push(owned);
    }
    if let Some(m) = meta {
        // obirec files name their connection address in the header.
        if let (Some(v), false) = (out.venue, m.addr.is_empty()) {
            let mk = m
                .market
                .parse()
                .unwrap_or_else(|_| market_of_addr(v, &m.addr));
            for rec in &out.records {
                if rec.conn.starts_with(&prefix) && !out.conns.contains_key(&rec.conn) {
                    out.conns.insert(rec.conn.clone(), (v, mk));
                }
            }
        }
    }
    out.warnings.extend(r.warnings().iter().cloned());
    Ok(())
}

/// What one pass over the inputs found out before streaming them: connections, venue, skipped
/// lines, warnings and record count. Where a file's receive times fall back (cryptofeed files
/// are written connection by connection, so one file holds several time-ordered stretches), the
/// stretches after the first are copied during the pass to a spill file in the temp directory
/// (`TMPDIR`), each read back from its own offset while merging.
#[derive(Debug, Default)]
pub struct Scan {
    pub conns: BTreeMap<String, (Venue, Market)>,
    pub venue: Option<Venue>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<RecordWarning>,
    /// Records the stream yields (every record but headers).
    pub records: u64,
    /// Bytes written to spill files.
    pub spilled_bytes: u64,
    /// Connections that received frames.
    recv_conns: std::collections::BTreeSet<String>,
    files: Vec<FileScan>,
}

/// One input file's stretches.
#[derive(Debug, Default)]
struct FileScan {
    /// Line after the last record of the first stretch (read from the file itself).
    first_end: Option<u64>,
    /// Later stretches, in the spill file: (byte offset, first record's key).
    spilled: Vec<(u64, (u64, u64))>,
    spill: Option<Spill>,
}

/// A spill file, removed when the stream is dropped.
#[derive(Debug)]
struct Spill {
    path: PathBuf,
    len: u64,
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn write_spilled(w: &mut impl std::io::Write, r: &record::RecordRef<'_>) -> std::io::Result<u64> {
    let kind = [
        RecordKind::Header,
        RecordKind::Http,
        RecordKind::Connect,
        RecordKind::Send,
        RecordKind::Recv,
        RecordKind::Disconnect,
    ]
    .iter()
    .position(|k| *k == r.kind)
    .unwrap_or(0) as u8;
    let url = r.url_or_addr.unwrap_or("");
    w.write_all(&[kind, u8::from(r.url_or_addr.is_some())])?;
    w.write_all(&r.ts_ns.to_le_bytes())?;
    w.write_all(&r.line.to_le_bytes())?;
    for part in [r.conn.as_bytes(), url.as_bytes(), r.data] {
        w.write_all(&(part.len() as u64).to_le_bytes())?;
        w.write_all(part)?;
    }
    Ok(2 + 8 + 8 + 24 + (r.conn.len() + url.len() + r.data.len()) as u64)
}

/// Reads one spilled record into `h` (conn prefixed); the number of bytes read.
fn read_spilled(
    rd: &mut impl std::io::Read,
    prefix: &str,
    h: &mut Record,
    tmp: &mut Vec<u8>,
) -> std::io::Result<u64> {
    let mut b2 = [0u8; 2];
    rd.read_exact(&mut b2)?;
    let mut b8 = [0u8; 8];
    rd.read_exact(&mut b8)?;
    h.ts_ns = u64::from_le_bytes(b8);
    rd.read_exact(&mut b8)?;
    h.line = u64::from_le_bytes(b8);
    h.kind = [
        RecordKind::Header,
        RecordKind::Http,
        RecordKind::Connect,
        RecordKind::Send,
        RecordKind::Recv,
        RecordKind::Disconnect,
    ][usize::from(b2[0]).min(5)];
    let mut total = 18;
    fn part(rd: &mut impl std::io::Read, buf: &mut Vec<u8>) -> std::io::Result<u64> {
        let mut b8 = [0u8; 8];
        rd.read_exact(&mut b8)?;
        let n = u64::from_le_bytes(b8);
        buf.clear();
        buf.resize(n as usize, 0);
        rd.read_exact(buf)?;
        Ok(8 + n)
    }
    total += part(rd, tmp)?;
    h.conn.clear();
    h.conn.push_str(prefix);
    h.conn.push_str(std::str::from_utf8(tmp).unwrap_or(""));
    total += part(rd, tmp)?;
    if b2[1] == 1 {
        let u = std::str::from_utf8(tmp).unwrap_or("");
        match h.url_or_addr.as_mut() {
            Some(s) => {
                s.clear();
                s.push_str(u);
            }
            None => h.url_or_addr = Some(u.to_owned()),
        }
    } else {
        h.url_or_addr = None;
    }
    total += part(rd, &mut h.data)?;
    Ok(total)
}

/// Where a stretch's records come from (one per stretch, a handful at a time: size is no issue).
#[allow(clippy::large_enum_variant)]
enum Src {
    /// Not opened yet: the spill file and the stretch's byte range in it.
    Pending {
        path: PathBuf,
        from: u64,
        to: u64,
    },
    /// The input file itself, up to (not including) `end_line`.
    File {
        reader: record::RecordReader,
        end_line: u64,
    },
    /// A spill file, `left` bytes of this stretch still to read.
    Spill {
        rd: std::io::BufReader<std::fs::File>,
        left: u64,
    },
    Done,
}

/// One time-ordered stretch of one file.
struct Run {
    src: Src,
    fi: usize,
    prefix: String,
    head: Record,
    /// The key of the next record: (receive time, file, line); `None` at the end.
    key: Option<(u64, usize, u64)>,
    path: PathBuf,
    tmp: Vec<u8>,
}

impl Run {
    /// Reads the next record of this stretch into `head`.
    fn advance(&mut self) -> Result<(), InputError> {
        self.key = None;
        let spill_err = |path: &Path, e: std::io::Error| {
            InputError(format!("{}: spill file: {e}", path.display()))
        };
        match &mut self.src {
            Src::Done => {}
            Src::Pending { path, from, to } => {
                use std::io::Seek;
                let (p, from, to) = (path.clone(), *from, *to);
                let mut f = std::fs::File::open(&p).map_err(|e| spill_err(&p, e))?;
                f.seek(std::io::SeekFrom::Start(from))
                    .map_err(|e| spill_err(&p, e))?;
                self.src = Src::Spill {
                    rd: std::io::BufReader::with_capacity(1 << 16, f),
                    left: to - from,
                };
                return self.advance();
            }
            Src::Spill { rd, left } => {
                if *left == 0 {
                    self.src = Src::Done;
                    return Ok(());
                }
                let n = read_spilled(rd, &self.prefix, &mut self.head, &mut self.tmp)
                    .map_err(|e| spill_err(&self.path, e))?;
                *left = left.saturating_sub(n);
                self.key = Some((self.head.ts_ns, self.fi, self.head.line));
            }
            Src::File { reader, end_line } => loop {
                match reader.next_record() {
                    None => {
                        self.src = Src::Done;
                        return Ok(());
                    }
                    // Counted in the scan.
                    Some(Err(e)) if e.is_malformed() => continue,
                    Some(Err(e)) => return Err(InputError(e.to_string())),
                    Some(Ok(rec)) if rec.kind == RecordKind::Header => continue,
                    Some(Ok(rec)) => {
                        if rec.line >= *end_line {
                            self.src = Src::Done;
                            return Ok(());
                        }
                        let h = &mut self.head;
                        h.kind = rec.kind;
                        h.ts_ns = rec.ts_ns;
                        h.line = rec.line;
                        h.conn.clear();
                        h.conn.push_str(&self.prefix);
                        h.conn.push_str(rec.conn);
                        match (rec.url_or_addr, h.url_or_addr.as_mut()) {
                            (None, _) => h.url_or_addr = None,
                            (Some(u), Some(s)) => {
                                s.clear();
                                s.push_str(u);
                            }
                            (Some(u), None) => h.url_or_addr = Some(u.to_owned()),
                        }
                        h.data.clear();
                        h.data.extend_from_slice(rec.data);
                        self.key = Some((h.ts_ns, self.fi, h.line));
                        return Ok(());
                    }
                }
            },
        }
        Ok(())
    }
}

/// The inputs as one stream in receive-time order, read while replaying: a k-way merge of
/// per-stretch readers, so memory does not grow with the input (a spilled stretch is opened
/// when the merge reaches its first record and closed at its end). Equal times keep file order
/// and, within a file, line order: the same order as [`load`] (a stable sort).
pub struct Stream {
    pub scan: Scan,
    runs: Vec<Run>,
    /// The run whose head was handed out last (refilled on the next call).
    last: Option<usize>,
    /// Records handed out so far.
    pub done: u64,
}

/// Notes which venue and market a record's connection serves (shared by [`load`]'s logic and
/// the scan); returns false for records the stream skips (headers).
fn note_record(
    rec: &record::RecordRef<'_>,
    prefix: &str,
    market: Option<Market>,
    venue: &mut Option<Venue>,
    conns: &mut BTreeMap<String, (Venue, Market)>,
) -> bool {
    match rec.kind {
        RecordKind::Header => {
            if venue.is_none() {
                if let Ok(s) = std::str::from_utf8(rec.data) {
                    *venue = venue_of_text(
                        &serde_json::from_str::<serde_json::Value>(s)
                            .ok()
                            .and_then(|v| {
                                v.get("exchange")
                                    .and_then(|e| e.as_str())
                                    .map(str::to_owned)
                            })
                            .unwrap_or_default(),
                    );
                }
            }
            return false;
        }
        RecordKind::Connect => {
            let addr = rec.url_or_addr.unwrap_or("");
            let v = venue.or_else(|| venue_of_text(addr));
            if venue.is_none() {
                *venue = v;
            }
            if let Some(v) = v {
                // The same rule as `load`: an address that names its market wins.
                let m = addr_market(v, addr)
                    .or(market)
                    .unwrap_or_else(|| v.default_market());
                conns.insert(format!("{prefix}{}", rec.conn), (v, m));
            }
        }
        RecordKind::Http if venue.is_none() => {
            *venue = rec.url_or_addr.and_then(venue_of_text);
        }
        _ => {}
    }
    true
}

/// Reads every input once (no record kept) to learn connections, venue, skipped lines and
/// time-ordered stretches (spilling all but the first of each file), then opens the stream.
/// Errors name the file.
pub fn stream(
    paths: &[PathBuf],
    venue: Option<Venue>,
    market: Option<Market>,
) -> Result<Stream, InputError> {
    let mut scan = Scan {
        venue,
        ..Scan::default()
    };
    for (fi, path) in paths.iter().enumerate() {
        scan_one(path, fi, market, &mut scan)?;
    }
    let Some(v) = scan.venue else {
        return Err(InputError(format!(
            "cannot tell the venue of {}: pass --venue",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let mut runs = Vec::new();
    for (fi, path) in paths.iter().enumerate() {
        let fs = &scan.files[fi];
        let prefix = format!("f{fi}:");
        let reader = record::open(path).map_err(|e| InputError(e.to_string()))?;
        let mut first = Run {
            src: Src::File {
                reader,
                end_line: fs.first_end.unwrap_or(u64::MAX),
            },
            fi,
            prefix: prefix.clone(),
            head: empty_record(),
            key: None,
            path: path.clone(),
            tmp: Vec::new(),
        };
        first.advance()?;
        runs.push(first);
        if let Some(sp) = &fs.spill {
            for (k, &(from, (ts, line))) in fs.spilled.iter().enumerate() {
                let to = fs.spilled.get(k + 1).map(|x| x.0).unwrap_or(sp.len);
                runs.push(Run {
                    src: Src::Pending {
                        path: sp.path.clone(),
                        from,
                        to,
                    },
                    fi,
                    prefix: prefix.clone(),
                    head: empty_record(),
                    key: Some((ts, fi, line)),
                    path: sp.path.clone(),
                    tmp: Vec::new(),
                });
            }
        }
    }
    // Connections never announced by a `connect` record (plain files) get the default market.
    let m = market.unwrap_or(crate::config::default_market(v));
    for c in std::mem::take(&mut scan.recv_conns) {
        scan.conns.entry(c).or_insert((v, m));
    }
    Ok(Stream {
        scan,
        runs,
        last: None,
        done: 0,
    })
}

fn empty_record() -> Record {
    Record {
        kind: RecordKind::Recv,
        ts_ns: 0,
        conn: String::new(),
        url_or_addr: None,
        data: Vec::new(),
        line: 0,
    }
}

fn scan_one(
    path: &Path,
    fi: usize,
    market: Option<Market>,
    scan: &mut Scan,
) -> Result<(), InputError> {
    let mut r = record::open(path).map_err(|e| InputError(e.to_string()))?;
    let meta = r.meta().cloned();
    if let Some(m) = &meta {
        if scan.venue.is_none() {
            scan.venue = m.venue.parse().ok();
        }
    }
    let prefix = format!("f{fi}:");
    let mut fs = FileScan::default();
    let mut spill_w: Option<std::io::BufWriter<std::fs::File>> = None;
    let mut prev_ts = None;
    let mut file_conns = std::collections::BTreeSet::new();
    let spill_err =
        |p: &Path, e: std::io::Error| InputError(format!("{}: spill file: {e}", p.display()));
    loop {
        let rec = match r.next_record() {
            None => break,
            Some(Ok(rec)) => rec,
            Some(Err(e)) if e.is_malformed() => {
                let line = match &e {
                    record::RecordError::Malformed { line, .. } => *line,
                    _ => 0,
                };
                scan.skipped.push(Skipped {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
                continue;
            }
            Some(Err(e)) => return Err(InputError(e.to_string())),
        };
        if !note_record(&rec, &prefix, market, &mut scan.venue, &mut scan.conns) {
            continue;
        }
        if prev_ts.is_some_and(|p| rec.ts_ns < p) {
            // Times fall back: a new stretch, spilled.
            if fs.first_end.is_none() {
                fs.first_end = Some(rec.line);
                let sp = std::env::temp_dir().join(format!(
                    "obi-scalp-spill-{}-{fi}-{}",
                    std::process::id(),
                    crate::record::system_clock_ns()
                ));
                let f = std::fs::File::create(&sp).map_err(|e| spill_err(&sp, e))?;
                spill_w = Some(std::io::BufWriter::with_capacity(1 << 16, f));
                fs.spill = Some(Spill { path: sp, len: 0 });
            }
            let len = fs.spill.as_ref().map(|s| s.len).unwrap_or(0);
            fs.spilled.push((len, (rec.ts_ns, rec.line)));
        }
        prev_ts = Some(rec.ts_ns);
        if let (Some(w), Some(sp)) = (spill_w.as_mut(), fs.spill.as_mut()) {
            sp.len += write_spilled(w, &rec).map_err(|e| spill_err(&sp.path, e))?;
        }
        scan.records += 1;
        if !file_conns.contains(rec.conn) {
            file_conns.insert(rec.conn.to_owned());
        }
        if rec.kind == RecordKind::Recv {
            let c = format!("{prefix}{}", rec.conn);
            if !scan.recv_conns.contains(&c) {
                scan.recv_conns.insert(c);
            }
        }
    }
    if let (Some(mut w), Some(sp)) = (spill_w, fs.spill.as_ref()) {
        use std::io::Write;
        w.flush().map_err(|e| spill_err(&sp.path, e))?;
        scan.spilled_bytes += sp.len;
    }
    if let Some(m) = meta {
        // obirec files name their connection address in the header.
        if let (Some(v), false) = (scan.venue, m.addr.is_empty()) {
            let mk = m
                .market
                .parse()
                .unwrap_or_else(|_| market_of_addr(v, &m.addr));
            for c in file_conns {
                scan.conns.entry(format!("{prefix}{c}")).or_insert((v, mk));
            }
        }
    }
    scan.warnings.extend(r.warnings().iter().cloned());
    scan.files.push(fs);
    Ok(())
}

impl Stream {
    /// Records the stream will yield in all.
    pub fn total(&self) -> u64 {
        self.scan.records
    }

    /// The next record in receive-time order, with the venue and market of its connection.
    #[allow(clippy::type_complexity)]
    pub fn next_record(
        &mut self,
    ) -> Option<Result<(&Record, Option<(Venue, Market)>), InputError>> {
        if let Some(j) = self.last.take() {
            if let Err(e) = self.runs[j].advance() {
                return Some(Err(e));
            }
        }
        let mut best: Option<(usize, (u64, usize, u64))> = None;
        for (j, r) in self.runs.iter().enumerate() {
            if let Some(k) = r.key {
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((j, k));
                }
            }
        }
        let (j, _) = best?;
        if matches!(self.runs[j].src, Src::Pending { .. }) {
            // Its first record is due: open it.
            if let Err(e) = self.runs[j].advance() {
                return Some(Err(e));
            }
        }
        self.last = Some(j);
        self.done += 1;
        let head = &self.runs[j].head;
        Some(Ok((head, self.scan.conns.get(&head.conn).copied())))
    }
}
