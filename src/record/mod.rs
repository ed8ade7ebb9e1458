//! Recordings of raw market-data frames: read them for replay, write them from the live feed.
//!
//! [`open`] reads three formats, each plain, gzip or zstd compressed (told by the first bytes
//! of the file, else by its name), and tells them apart by their first bytes:
//! - cryptofeed "format 2" JSON lines (the files in `../shared/data`), see `cryptofeed.rs`;
//! - plain `<receive ns> <raw frame>` lines, see `plain.rs`;
//! - `obirec`, our own binary format with per-record CRCs, see [`obirec`].
//!
//! [`RecordReader::next_record`] lends each record ([`RecordRef`]) out of buffers the reader
//! reuses, so reading millions of frames does not allocate per frame. A malformed line is
//! returned as an error naming file and line and the reader goes on with the next line; a
//! recording cut short by a crash (torn last record, truncated compressed stream) ends with a
//! [warning](RecordReader::warnings) after the last complete record, not an error.
//!
//! [`RecordWriter`] writes `obirec` files (rotated by size and time, flushed on an interval) for
//! the live recorder, through the [`RecordSink`] interface.

mod crc32;
mod cryptofeed;
mod input;
pub mod obirec;
mod plain;
mod writer;

pub use crc32::{crc32, Crc32};
pub use obirec::RecordMeta;
pub use writer::{
    system_clock_ns, utc_stamp, Clock, RecordSink, RecordWriter, WriteCompression, WriterConfig,
};

use input::Input;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Describes the recording (cryptofeed header line; obirec file header). `data` is JSON.
    Header,
    /// A REST exchange: `url_or_addr` is the request URL, `data` the response body.
    Http,
    /// A connection opened: `url_or_addr` is its address.
    Connect,
    /// A frame we sent.
    Send,
    /// A frame we received.
    Recv,
    /// A connection closed; `data` may say why.
    Disconnect,
}

impl RecordKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::Header => "header",
            RecordKind::Http => "http",
            RecordKind::Connect => "connect",
            RecordKind::Send => "send",
            RecordKind::Recv => "recv",
            RecordKind::Disconnect => "disconnect",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record, borrowed from the reader until its next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub kind: RecordKind,
    /// Local receive (or send) time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// Connection id (`BYBIT.ws.2`); empty when the format has none.
    pub conn: &'a str,
    /// Request URL (`Http`) or connection address (`Connect`, `Send`), when recorded.
    pub url_or_addr: Option<&'a str>,
    /// The raw frame exactly as on the wire (JSON-unescaped for cryptofeed).
    pub data: &'a [u8],
    /// Line number (text formats) or record number (obirec, header = 1), from 1.
    pub line: u64,
}

impl RecordRef<'_> {
    pub fn to_record(&self) -> Record {
        Record {
            kind: self.kind,
            ts_ns: self.ts_ns,
            conn: self.conn.to_owned(),
            url_or_addr: self.url_or_addr.map(str::to_owned),
            data: self.data.to_vec(),
            line: self.line,
        }
    }
}

/// An owned [`RecordRef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordKind,
    pub ts_ns: u64,
    pub conn: String,
    pub url_or_addr: Option<String>,
    pub data: Vec<u8>,
    pub line: u64,
}

impl Record {
    pub fn view(&self) -> RecordRef<'_> {
        RecordRef {
            kind: self.kind,
            ts_ns: self.ts_ns,
            conn: &self.conn,
            url_or_addr: self.url_or_addr.as_deref(),
            data: &self.data,
            line: self.line,
        }
    }
}

/// The recording formats [`open`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// cryptofeed "format 2" JSON lines.
    CryptofeedJson,
    /// `<receive ns> <raw frame>` lines.
    PlainNs,
    /// obi-scalp's binary format ([`obirec`]).
    Obirec,
}

/// How a recording file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Something wrong with a recording that did not lose data before it: a torn tail, a
/// truncated compressed stream. Reading stops at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWarning {
    pub path: PathBuf,
    /// The line or record where it was noticed.
    pub line: u64,
    pub message: String,
}

impl fmt::Display for RecordWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// Errors reading or writing recordings. Only [`RecordError::Malformed`] lets the reader go on
/// with the next record; after any other error [`RecordReader::next_record`] returns `None`.
#[derive(Debug)]
pub enum RecordError {
    /// The file is missing or unreadable.
    Open { path: PathBuf, source: io::Error },
    /// The file is none of the formats this module reads.
    UnknownFormat { path: PathBuf, found: String },
    /// Reading (or decompressing) failed after `line`.
    Io {
        path: PathBuf,
        line: u64,
        source: io::Error,
    },
    /// One line or record is not what the format says; the reader skips it and goes on.
    Malformed {
        path: PathBuf,
        line: u64,
        expected: String,
        found: String,
    },
    /// An obirec file is damaged before its end (bad length or CRC with data after it).
    Corrupt {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// The writer could not create a file or directory.
    Create { path: PathBuf, source: io::Error },
    /// The writer could not write, flush or close a file.
    Write { path: PathBuf, source: io::Error },
    /// A writer setting is invalid.
    Config { reason: String },
    /// A field too long for an obirec record; nothing was written.
    TooLarge {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

impl RecordError {
    /// True for errors that skip one line or record and let reading go on.
    pub fn is_malformed(&self) -> bool {
        matches!(self, RecordError::Malformed { .. })
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Open { path, source } => {
                write!(f, "cannot open recording {}: {source}", path.display())
            }
            RecordError::UnknownFormat { path, found } => write!(
                f,
                "{}: not a recording (expected cryptofeed JSON lines, `<ns> <frame>` lines or obirec), starts with {found}",
                path.display()
            ),
            RecordError::Io { path, line, source } => {
                write!(f, "{}: read error after line {line}: {source}", path.display())
            }
            RecordError::Malformed {
                path,
                line,
                expected,
                found,
            } => write!(f, "{}:{line}: expected {expected}, found {found}", path.display()),
            RecordError::Corrupt { path, line, reason } => {
                write!(f, "{}: record {line}: corrupt: {reason}", path.display())
            }
            RecordError::Create { path, source } => {
                write!(f, "cannot create recording {}: {source}", path.display())
            }
            RecordError::Write { path, source } => {
                write!(f, "cannot write recording {}: {source}", path.display())
            }
            RecordError::Config { reason } => write!(f, "recorder settings: {reason}"),
            RecordError::TooLarge { field, len, max } => {
                write!(f, "record {field} is {len} bytes, at most {max} allowed")
            }
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecordError::Open { source, .. }
            | RecordError::Io { source, .. }
            | RecordError::Create { source, .. }
            | RecordError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Opens a recording; see [`RecordReader::open`].
pub fn open(path: &Path) -> Result<RecordReader, RecordError> {
    RecordReader::open(path)
}

/// Every record of a file, failing on the first error of any kind (for tests and tools).
pub fn read_all(path: &Path) -> Result<Vec<Record>, RecordError> {
    let mut r = open(path)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record() {
        out.push(rec?.to_record());
    }
    Ok(out)
}

/// Where a text field of the current record lives.
enum Text {
    Empty,
    Conn,
    Url,
    Input(Range<usize>),
}

/// The current record, as places in the reader's buffers.
struct Parsed {
    kind: RecordKind,
    ts_ns: u64,
    conn: Text,
    url: Option<Text>,
    /// In the input buffer, or `None`: in `scratch.data`.
    data: Option<Range<usize>>,
}

/// Reads one recording file record by record; see the [module docs](self).
pub struct RecordReader {
    path: PathBuf,
    format: Option<Format>,
    compression: Compression,
    input: Input,
    scratch: cryptofeed::Scratch,
    line: u64,
    done: bool,
    meta: Option<RecordMeta>,
    header_pending: bool,
    warnings: Vec<RecordWarning>,
}

/// How far into a text recording [`RecordReader::open`] looks for its first record line.
const DETECT_WINDOW: usize = 256 * 1024;
/// How many non-blank lines it looks at, at most.
const DETECT_LINES: usize = 64;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Compression from the first bytes; the file name decides only when there are too few bytes
/// to tell (a compressed file cut short right after creation).
fn sniff_compression(head: &[u8], path: &Path) -> Compression {
    if head.starts_with(&GZIP_MAGIC) {
        return Compression::Gzip;
    }
    // zstd frames, and skippable frames 0x184D2A50..=0x184D2A5F
    if head.starts_with(&ZSTD_MAGIC)
        || (head.len() == 4 && head[0] & 0xf0 == 0x50 && head[1..] == [0x2a, 0x4d, 0x18])
    {
        return Compression::Zstd;
    }
    if head.len() >= 4 {
        return Compression::None;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".gz") {
        Compression::Gzip
    } else if name.ends_with(".zst") || name.ends_with(".zstd") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Up to 60 characters of `bytes[at..]` for an error message.
fn snippet(bytes: &[u8], at: usize) -> String {
    if at >= bytes.len() {
        return "the end of the line".to_owned();
    }
    let rest = &bytes[at..];
    let cut = rest.len().min(60);
    let mut s = format!("`{}", String::from_utf8_lossy(&rest[..cut]));
    s.push_str(if cut < rest.len() { "…`" } else { "`" });
    s
}

impl RecordReader {
    /// Opens `path`, detects compression and format, and (for obirec) reads the file header.
    /// An empty file opens and yields no records.
    pub fn open(path: &Path) -> Result<RecordReader, RecordError> {
        let open_err = |source| RecordError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        RecordReader::from_reader(path, file)
    }

    /// A reader of `src` (the bytes of a recording file named `path`, which only names it in
    /// messages and lends its extension to the compression sniffing): what [`RecordReader::open`]
    /// does after opening the file.
    pub fn from_reader(
        path: &Path,
        mut src: impl Read + Send + 'static,
    ) -> Result<RecordReader, RecordError> {
        let open_err = |source| RecordError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut head = [0u8; 4];
        let mut n = 0;
        while n < head.len() {
            match src.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(open_err(e)),
            }
        }
        let compression = sniff_compression(&head[..n], path);
        let raw = io::Cursor::new(head).take(n as u64).chain(src);
        let inner: Box<dyn Read + Send> = match compression {
            Compression::None => Box::new(raw),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw).map_err(open_err)?),
        };
        let mut r = RecordReader {
            path: path.to_path_buf(),
            format: None,
            compression,
            input: Input::new(inner),
            scratch: cryptofeed::Scratch::default(),
            line: 0,
            done: false,
            meta: None,
            header_pending: false,
            warnings: Vec::new(),
        };
        r.detect_format()?;
        if r.format == Some(Format::Obirec) {
            r.read_obirec_header()?;
        }
        Ok(r)
    }

    fn io_err(&self, source: io::Error) -> RecordError {
        RecordError::Io {
            path: self.path.clone(),
            line: self.line,
            source,
        }
    }

    fn detect_format(&mut self) -> Result<(), RecordError> {
        let mut want = 8;
        loop {
            let more = self.input.ensure(want).map_err(|e| self.io_err(e))?;
            let av = self.input.available();
            if av.starts_with(&[0xef, 0xbb, 0xbf]) {
                self.input.consume(3);
                continue;
            }
            if av.starts_with(obirec::MAGIC)
                || (!more && !av.is_empty() && obirec::MAGIC.starts_with(av))
            {
                self.format = Some(Format::Obirec);
                return Ok(());
            }
            if let Some(f) = self.text_format_of_lines(more)? {
                self.format = Some(f);
                return Ok(());
            }
            let av = self.input.available();
            match av.iter().find(|c| !c.is_ascii_whitespace()) {
                Some(b'{') => self.format = Some(Format::CryptofeedJson),
                Some(c) if c.is_ascii_digit() => self.format = Some(Format::PlainNs),
                Some(_) => {
                    return Err(RecordError::UnknownFormat {
                        path: self.path.clone(),
                        found: snippet(&av[..av.len().min(16)], 0),
                    })
                }
                None if more => {
                    want = av.len() + 4096;
                    continue;
                }
                None => self.end_of_stream(),
            }
            return Ok(());
        }
    }

    /// The text format of the first line that is a record of one (cryptofeed JSON line or
    /// `<ns> <frame>` line), among the first lines of the stream. Lines before it (a header a
    /// collector wrote, a stray line) are left for [`RecordReader::next_record`] to report one by
    /// one as [`RecordError::Malformed`] and skip. `None` when no line in the first
    /// [`DETECT_WINDOW`] bytes is a record (the caller then decides by the first byte).
    fn text_format_of_lines(&mut self, more: bool) -> Result<Option<Format>, RecordError> {
        let mut more = more;
        if more {
            more = self
                .input
                .ensure(DETECT_WINDOW)
                .map_err(|e| self.io_err(e))?;
        }
        let av = self.input.available();
        let mut lines = av.split(|&c| c == b'\n').peekable();
        let mut seen = 0;
        while let Some(line) = lines.next() {
            if lines.peek().is_none() && more {
                break; // cut by the window: not a whole line
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            seen += 1;
            if seen > DETECT_LINES {
                break;
            }
            if plain::parse_line(line).is_ok() {
                return Ok(Some(Format::PlainNs));
            }
            if line.first() == Some(&b'{')
                && std::str::from_utf8(line).is_ok()
                && cryptofeed::parse_line(line, &mut self.scratch).is_ok()
            {
                return Ok(Some(Format::CryptofeedJson));
            }
        }
        Ok(None)
    }

    /// The stream ended: note a truncated compressed stream, and stop.
    fn end_of_stream(&mut self) {
        self.done = true;
        if let Some(e) = self.input.truncated() {
            let message =
                format!("the compressed stream ends early ({e}); read everything before the cut");
            self.warn(self.line, message);
        }
    }

    fn warn(&mut self, line: u64, message: String) {
        tracing::warn!(path = %self.path.display(), line, "recording: {message}");
        self.warnings.push(RecordWarning {
            path: self.path.clone(),
            line,
            message,
        });
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `None` when the file holds no data.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The obirec file header (also returned as the first, `Header`, record).
    pub fn meta(&self) -> Option<&RecordMeta> {
        self.meta.as_ref()
    }

    /// Number of the last line or record read.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Torn tails and truncated streams met so far (also logged through `tracing`).
    pub fn warnings(&self) -> &[RecordWarning] {
        &self.warnings
    }

    /// The next record, an error for one bad record (reading may go on, see
    /// [`RecordError::is_malformed`]), or `None` at the end.
    pub fn next_record(&mut self) -> Option<Result<RecordRef<'_>, RecordError>> {
        if self.done {
            return None;
        }
        let step = match self.format {
            Some(Format::CryptofeedJson) | Some(Format::PlainNs) => self.next_text(),
            Some(Format::Obirec) => self.next_obirec(),
            None => None,
        };
        match step? {
            Ok(p) => Some(Ok(self.view(p))),
            Err(e) => Some(Err(e)),
        }
    }

    fn view(&self, p: Parsed) -> RecordRef<'_> {
        let bytes = self.input.bytes();
        let text = |t: Text| -> &str {
            match t {
                Text::Empty => "",
                Text::Conn => &self.scratch.conn,
                Text::Url => &self.scratch.url,
                // checked to be UTF-8 when the record was decoded
                Text::Input(r) => std::str::from_utf8(&bytes[r]).unwrap_or(""),
            }
        };
        RecordRef {
            kind: p.kind,
            ts_ns: p.ts_ns,
            conn: text(p.conn),
            url_or_addr: p.url.map(text),
            data: match p.data {
                Some(r) => &bytes[r],
                None => &self.scratch.data,
            },
            line: self.line,
        }
    }

    fn next_text(&mut self) -> Option<Result<Parsed, RecordError>> {
        loop {
            let (range, terminated) = match self.input.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.end_of_stream();
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.io_err(e)));
                }
            };
            self.line += 1;
            let line = &self.input.bytes()[range.clone()];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if !terminated && self.input.truncated().is_some() {
                let message = format!(
                    "the compressed stream ends early ({}) inside this line; dropped it and stopped",
                    self.input.truncated().map(|e| e.to_string()).unwrap_or_default()
                );
                self.done = true;
                self.warn(self.line, message);
                return None;
            }
            let parsed = match self.format {
                Some(Format::PlainNs) => plain::parse_line(line).map(|(ts_ns, frame)| Parsed {
                    kind: RecordKind::Recv,
                    ts_ns,
                    conn: Text::Empty,
                    url: None,
                    data: Some(range.start + frame.start..range.start + frame.end),
                }),
                _ => match std::str::from_utf8(line) {
                    Err(e) => Err(cryptofeed::Bad {
                        expected: "UTF-8 text".into(),
                        at: e.valid_up_to(),
                    }),
                    Ok(_) => cryptofeed::parse_line(line, &mut self.scratch).map(|l| Parsed {
                        kind: l.kind,
                        ts_ns: l.ts_ns,
                        conn: if l.data_is_line {
                            Text::Empty
                        } else {
                            Text::Conn
                        },
                        url: l.has_url.then_some(Text::Url),
                        data: l.data_is_line.then(|| range.clone()),
                    }),
                },
            };
            return match parsed {
                Ok(p) => Some(Ok(p)),
                Err(bad) => {
                    let found = snippet(line, bad.at);
                    if !terminated {
                        // A last line without its newline that does not parse: a torn write.
                        let message = format!(
                            "the last line has no newline and does not parse (expected {}, found {found}); dropped it as a torn tail",
                            bad.expected
                        );
                        self.done = true;
                        self.warn(self.line, message);
                        return None;
                    }
                    Some(Err(RecordError::Malformed {
                        path: self.path.clone(),
                        line: self.line,
                        expected: bad.expected.into_owned(),
                        found,
                    }))
                }
            };
        }
    }

    fn read_obirec_header(&mut self) -> Result<(), RecordError> {
        let torn = |r: &mut RecordReader, what: &str| {
            r.done = true;
            let message = format!("the file ends inside the obirec header ({what}); no records");
            r.warn(1, message);
            if r.input.truncated().is_some() {
                r.end_of_stream();
            }
        };
        let corrupt = |r: &RecordReader, reason: String| RecordError::Corrupt {
            path: r.path.clone(),
            line: 1,
            reason,
        };
        if !self
            .input
            .ensure(obirec::HEADER_FIXED)
            .map_err(|e| self.io_err(e))?
        {
            torn(self, "fixed fields");
            return Ok(());
        }
        let av = self.input.available();
        let version = u16::from_le_bytes([av[6], av[7]]);
        if version != obirec::VERSION {
            return Err(corrupt(
                self,
                format!(
                    "obirec version {version}; this build reads version {}",
                    obirec::VERSION
                ),
            ));
        }
        let meta_len = u32::from_le_bytes([av[8], av[9], av[10], av[11]]);
        if meta_len > obirec::MAX_META_LEN {
            return Err(corrupt(
                self,
                format!("header meta length {meta_len} over 1 MiB"),
            ));
        }
        let total = obirec::HEADER_FIXED + meta_len as usize + 4;
        if !self.input.ensure(total).map_err(|e| self.io_err(e))? {
            torn(self, "meta");
            return Ok(());
        }
        let av = self.input.available();
        let body = &av[..total - 4];
        let stored = u32::from_le_bytes(av[total - 4..total].try_into().expect("4 bytes"));
        if crc32(body) != stored {
            self.input.consume(total);
            if self.input.rest_is_zeros() {
                torn(self, "CRC mismatch with nothing after it");
                return Ok(());
            }
            return Err(corrupt(self, "header CRC mismatch".to_owned()));
        }
        let json = &body[obirec::HEADER_FIXED..];
        let meta: RecordMeta = serde_json::from_slice(json)
            .map_err(|e| corrupt(self, format!("header meta is not the expected JSON: {e}")))?;
        self.scratch.data.clear();
        self.scratch.data.extend_from_slice(json);
        self.meta = Some(meta);
        self.header_pending = true;
        self.input.consume(total);
        Ok(())
    }

    /// A bad length or CRC for record `rec`, whose claimed extent is `skip` bytes: a torn tail
    /// if nothing but zeros follows, corruption otherwise. Reading stops either way.
    fn bad_framing(
        &mut self,
        rec: u64,
        skip: usize,
        reason: String,
    ) -> Option<Result<Parsed, RecordError>> {
        self.done = true;
        self.input.consume(skip);
        if self.input.rest_is_zeros() {
            let message = format!(
                "{reason} in the last record, nothing but zeros after it: a torn tail; stopped after record {}",
                rec - 1
            );
            self.warn(rec, message);
            if self.input.truncated().is_some() {
                self.end_of_stream();
            }
            None
        } else {
            Some(Err(RecordError::Corrupt {
                path: self.path.clone(),
                line: rec,
                reason,
            }))
        }
    }

    fn next_obirec(&mut self) -> Option<Result<Parsed, RecordError>> {
        if self.header_pending {
            self.header_pending = false;
            self.line += 1;
            return Some(Ok(Parsed {
                kind: RecordKind::Header,
                ts_ns: self.meta.as_ref().map_or(0, |m| m.created_ns),
                conn: Text::Empty,
                url: None,
                data: None,
            }));
        }
        self.input.release();
        let rec = self.line + 1;
        match self.input.ensure(4) {
            Ok(true) => {}
            Ok(false) if self.input.available().is_empty() => {
                self.end_of_stream();
                return None;
            }
            Ok(false) => {
                self.done = true;
                let message = format!(
                    "the file ends inside the length of record {rec}: a torn tail; stopped after record {}",
                    rec - 1
                );
                self.warn(rec, message);
                self.end_of_stream();
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(self.io_err(e)));
            }
        }
        let av = self.input.available();
        let len = u32::from_le_bytes([av[0], av[1], av[2], av[3]]);
        if (len as usize) < obirec::RECORD_FIXED || len > obirec::MAX_RECORD_LEN {
            return self.bad_framing(rec, 4, format!("record length {len} out of range"));
        }
        let total = 4 + len as usize + 4;
        match self.input.ensure(total) {
            Ok(true) => {}
            Ok(false) => {
                let have = self.input.available().len();
                self.done = true;
                let message = format!(
                    "the file ends inside record {rec} ({have} of {total} bytes): a torn tail; stopped after record {}",
                    rec - 1
                );
                self.warn(rec, message);
                self.end_of_stream();
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(self.io_err(e)));
            }
        }
        let av = self.input.available();
        let body = &av[..total - 4];
        let stored = u32::from_le_bytes(av[total - 4..total].try_into().expect("4 bytes"));
        if crc32(body) != stored {
            return self.bad_framing(rec, total, "CRC mismatch".to_owned());
        }
        let decoded = obirec::decode_fields(body);
        let base = self.input.start();
        self.input.consume_later(total);
        self.line = rec;
        let shift = |r: Range<usize>| base + r.start..base + r.end;
        Some(match decoded {
            Ok(d) => Ok(Parsed {
                kind: d.kind,
                ts_ns: d.ts_ns,
                conn: Text::Input(shift(d.conn)),
                url: d.addr.map(|r| Text::Input(shift(r))),
                data: Some(shift(d.payload)),
            }),
            Err(expected) => Err(RecordError::Malformed {
                path: self.path.clone(),
                line: rec,
                expected: expected.to_owned(),
                found: "a record that does not match (its CRC is right)".to_owned(),
            }),
        })
    }
}

#[cfg(test)]
mod tests;
