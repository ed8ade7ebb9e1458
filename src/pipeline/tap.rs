//! Recording off the hot path: the feed stage copies every raw event onto a byte ring
//! ([`FrameTap`], hot side), and a [`Recorder`] on a cold thread writes them to obirec files.
//!
//! ```text
//!  [feed thread] source.next() ──► FrameTap::on_event (memcpy into the ring; full ⇒ drop + count)
//!                                        │ rtrb byte ring, pre-allocated
//!  [cold thread]  Recorder::drain ◄──────┘ ──► RecordWriter (zstd, rotation, flush interval)
//! ```
//!
//! Each event is one variable-length entry on an `rtrb` ring of bytes:
//! `kind u8, ts_ns u64, addr_len u16, data_len u32` (little-endian, [`ENTRY_HEADER`] bytes), then
//! the address (the URL of a REST answer, the address of a connection) and the data (the raw
//! frame before decoding, the REST body, or the disconnect cause). The producer checks that the
//! whole entry fits before writing any of it, so the ring never allocates and never blocks the
//! feed: an entry that does not fit is dropped and counted ([`TapStats::dropped`]); a recording
//! with drops has holes (the summary says so).
//!
//! Loss window on a crash: the ring (not yet written) plus the writer's flush interval
//! (`[record] flush_ms`): everything older than one flush interval is in the file.

use super::sources::SourceEvent;
use crate::config::Config;
use crate::record::{
    RecordError, RecordKind, RecordMeta, RecordWriter, WriteCompression, WriterConfig,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Connection id of REST records.
pub const REST_CONN: &str = "rest";

/// Bytes before an entry's address and data.
pub const ENTRY_HEADER: usize = 15;

/// Counters shared by the tap (hot) and the recorder (cold).
#[derive(Debug, Default)]
pub struct TapStats {
    /// Entries put on the ring.
    pub entries: AtomicU64,
    /// Entries dropped because the ring was full (or the entry larger than the ring).
    pub dropped: AtomicU64,
    /// Bytes put on the ring.
    pub bytes: AtomicU64,
    /// Records written to files by the recorder.
    pub written: AtomicU64,
}

/// The hot side: copies events onto the ring.
pub struct FrameTap {
    tx: rtrb::Producer<u8>,
    stats: Arc<TapStats>,
    entries: u64,
    dropped: u64,
    bytes: u64,
}

/// The cold side: takes entries off the ring.
pub struct TapReader {
    rx: rtrb::Consumer<u8>,
    stats: Arc<TapStats>,
    head: [u8; ENTRY_HEADER],
    addr: Vec<u8>,
    data: Vec<u8>,
}

/// A tap and its reader joined by a ring of `capacity` bytes, allocated and touched here once
/// (so the feed thread takes no page faults on it later, and the resident size does not creep
/// up as the ring fills for the first time).
pub fn tap_pair(capacity: usize) -> (FrameTap, TapReader) {
    let (mut tx, mut rx) = crate::pipeline::ring::ring::<u8>(capacity.max(ENTRY_HEADER + 64));
    let zeros = [0u8; 4096];
    let mut sink = [0u8; 4096];
    loop {
        let n = tx.slots().min(zeros.len());
        if n == 0 {
            break;
        }
        let _ = tx.push_entire_slice(&zeros[..n]);
    }
    loop {
        let n = rx.slots().min(sink.len());
        if n == 0 {
            break;
        }
        let _ = rx.pop_entire_slice(&mut sink[..n]);
    }
    let stats = Arc::new(TapStats::default());
    (
        FrameTap {
            tx,
            stats: stats.clone(),
            entries: 0,
            dropped: 0,
            bytes: 0,
        },
        TapReader {
            rx,
            stats,
            head: [0; ENTRY_HEADER],
            addr: Vec::with_capacity(512),
            data: Vec::with_capacity(1 << 20),
        },
    )
}

const fn kind_code(k: RecordKind) -> u8 {
    match k {
        RecordKind::Header => 0,
        RecordKind::Http => 1,
        RecordKind::Connect => 2,
        RecordKind::Send => 3,
        RecordKind::Recv => 4,
        RecordKind::Disconnect => 5,
    }
}

const fn kind_of(c: u8) -> RecordKind {
    match c {
        1 => RecordKind::Http,
        2 => RecordKind::Connect,
        3 => RecordKind::Send,
        5 => RecordKind::Disconnect,
        0 => RecordKind::Header,
        _ => RecordKind::Recv,
    }
}

impl FrameTap {
    /// Copies what the source just produced: a frame (`Recv`), a REST body with its URL
    /// (`Http`), a connect with its address, a disconnect with its cause. Idle/End: nothing.
    #[inline]
    pub fn on_event(&mut self, ev: SourceEvent, buf: &[u8], url: &str) {
        match ev {
            SourceEvent::Frame { recv_ns } => self.push(RecordKind::Recv, recv_ns, b"", buf),
            SourceEvent::Rest { recv_ns } => {
                self.push(RecordKind::Http, recv_ns, url.as_bytes(), buf)
            }
            SourceEvent::Connected { now_ns } => {
                self.push(RecordKind::Connect, now_ns, url.as_bytes(), b"")
            }
            SourceEvent::Disconnected { now_ns } => {
                self.push(RecordKind::Disconnect, now_ns, b"", buf)
            }
            SourceEvent::Idle | SourceEvent::End => false,
        };
    }

    /// Puts one entry on the ring; false (and counted) when it does not fit.
    #[inline]
    pub fn push(&mut self, kind: RecordKind, ts_ns: u64, addr: &[u8], data: &[u8]) -> bool {
        let addr = &addr[..addr.len().min(u16::MAX as usize)];
        let n = ENTRY_HEADER + addr.len() + data.len();
        if data.len() > u32::MAX as usize || self.tx.slots() < n {
            self.dropped += 1;
            self.stats.dropped.store(self.dropped, Ordering::Relaxed);
            return false;
        }
        let mut head = [0u8; ENTRY_HEADER];
        head[0] = kind_code(kind);
        head[1..9].copy_from_slice(&ts_ns.to_le_bytes());
        head[9..11].copy_from_slice(&(addr.len() as u16).to_le_bytes());
        head[11..15].copy_from_slice(&(data.len() as u32).to_le_bytes());
        // Room for all three was checked above and only this side takes slots away, so none of
        // these can fail. The reader waits until the whole entry is there.
        let ok = self.tx.push_entire_slice(&head).is_ok()
            && self.tx.push_entire_slice(addr).is_ok()
            && self.tx.push_entire_slice(data).is_ok();
        debug_assert!(ok);
        self.entries += 1;
        self.bytes += n as u64;
        self.stats.entries.store(self.entries, Ordering::Relaxed);
        self.stats.bytes.store(self.bytes, Ordering::Relaxed);
        ok
    }

    pub fn stats(&self) -> Arc<TapStats> {
        self.stats.clone()
    }
}

/// One entry taken off the ring (borrowed from the reader until the next call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapEntry<'a> {
    pub kind: RecordKind,
    pub ts_ns: u64,
    pub addr: &'a [u8],
    pub data: &'a [u8],
}

impl TapReader {
    /// The next complete entry, if one is on the ring.
    pub fn next_entry(&mut self) -> Option<TapEntry<'_>> {
        if self.rx.slots() < ENTRY_HEADER {
            return None;
        }
        {
            let chunk = self.rx.read_chunk(ENTRY_HEADER).ok()?;
            let (a, b) = chunk.as_slices();
            self.head[..a.len()].copy_from_slice(a);
            self.head[a.len()..].copy_from_slice(b);
            // Dropped without commit: only peeked.
        }
        let alen = u16::from_le_bytes([self.head[9], self.head[10]]) as usize;
        let dlen = u32::from_le_bytes([self.head[11], self.head[12], self.head[13], self.head[14]])
            as usize;
        if self.rx.slots() < ENTRY_HEADER + alen + dlen {
            // The producer is still writing the rest of it.
            return None;
        }
        let mut head = [0u8; ENTRY_HEADER];
        self.rx.pop_entire_slice(&mut head).ok()?;
        self.addr.resize(alen, 0);
        self.rx.pop_entire_slice(&mut self.addr).ok()?;
        self.data.resize(dlen, 0);
        self.rx.pop_entire_slice(&mut self.data).ok()?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&head[1..9]);
        Some(TapEntry {
            kind: kind_of(head[0]),
            ts_ns: u64::from_le_bytes(ts),
            addr: &self.addr,
            data: &self.data,
        })
    }

    pub fn stats(&self) -> Arc<TapStats> {
        self.stats.clone()
    }
}

/// What a recorder did, for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecorderSummary {
    pub records: u64,
    /// Entries the feed could not put on the ring (holes in the recording).
    pub dropped: u64,
    pub files: Vec<PathBuf>,
}

/// The cold side of recording: drains a [`TapReader`] into a [`RecordWriter`].
pub struct Recorder {
    reader: TapReader,
    writer: RecordWriter,
    conn: String,
    written: u64,
}

impl Recorder {
    /// Records of every entry go to `writer` under connection id `conn` (one id for the whole
    /// run: reconnects show as disconnect/connect records, as the live decoder sees them);
    /// REST answers under [`REST_CONN`] (they belong to no WebSocket connection, which is how
    /// `obi-scalp book` and the replay loader hand them to the venue's decoders).
    pub fn new(reader: TapReader, writer: RecordWriter, conn: &str) -> Recorder {
        Recorder {
            reader,
            writer,
            conn: conn.to_owned(),
            written: 0,
        }
    }

    /// A tap and its recorder for `cfg`'s instrument: files in `dir` named
    /// `<venue>-<market>-<symbol>-<UTC time>-<seq>.obirec.zst`, rotated and flushed as the
    /// `[record]` section says, with the connection address `ws_url` in every file's header
    /// (so each rotated file replays on its own with the right market); the ring
    /// holds `ring_bytes`. Creates the directory and the first file (a bad path fails here).
    pub fn for_config(
        cfg: &Config,
        dir: &Path,
        ws_url: &str,
        ring_bytes: usize,
    ) -> Result<(FrameTap, Recorder), RecordError> {
        let key = cfg.market.instrument.key;
        let symbol = key.symbol.as_str();
        let prefix: String = format!("{}-{}-{symbol}", key.venue.as_str(), key.market.as_str())
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let meta = RecordMeta {
            venue: key.venue.as_str().to_owned(),
            market: key.market.as_str().to_owned(),
            symbols: vec![symbol.to_owned()],
            addr: ws_url.to_owned(),
            ..RecordMeta::default()
        };
        let mut wc = WriterConfig::new(dir, prefix, meta);
        wc.compression = WriteCompression::Zstd { level: 3 };
        wc.rotate_bytes = Some(cfg.record.rotate_bytes);
        wc.rotate_interval = Some(Duration::from_nanos(cfg.record.rotate_ns));
        wc.flush_interval = Duration::from_nanos(cfg.record.flush_ns);
        let writer = RecordWriter::create(wc)?;
        let (tap, reader) = tap_pair(ring_bytes);
        Ok((tap, Recorder::new(reader, writer, "ws")))
    }

    /// Writes every complete entry on the ring, then flushes if the flush interval is due.
    /// Returns the number of records written.
    pub fn drain(&mut self) -> Result<u64, RecordError> {
        let mut n = 0;
        while let Some(e) = self.reader.next_entry() {
            let addr = (!e.addr.is_empty()).then(|| std::str::from_utf8(e.addr).unwrap_or(""));
            let conn = if e.kind == RecordKind::Http {
                REST_CONN
            } else {
                &self.conn
            };
            self.writer.write(e.kind, e.ts_ns, conn, addr, e.data)?;
            n += 1;
        }
        self.written += n;
        self.reader
            .stats
            .written
            .store(self.written, Ordering::Relaxed);
        self.writer.tick()?;
        Ok(n)
    }

    pub fn stats(&self) -> Arc<TapStats> {
        self.reader.stats()
    }

    /// Files written so far.
    pub fn files(&self) -> &[PathBuf] {
        self.writer.files()
    }

    /// Drains what is left and closes the file (finishing the zstd frame).
    pub fn finish(mut self) -> Result<RecorderSummary, RecordError> {
        self.drain()?;
        let dropped = self.reader.stats.dropped.load(Ordering::Relaxed);
        let records = self.written;
        let files = self.writer.finish()?;
        Ok(RecorderSummary {
            records,
            dropped,
            files,
        })
    }

    /// Runs the recorder on its own (cold) thread until `stop`, draining every `idle` when
    /// there is nothing to write; the thread returns the summary.
    pub fn spawn(
        mut self,
        stop: Arc<AtomicBool>,
        idle: Duration,
    ) -> std::io::Result<JoinHandle<Result<RecorderSummary, RecordError>>> {
        std::thread::Builder::new()
            .name("obi-recorder".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    if self.drain()? == 0 {
                        std::thread::sleep(idle);
                    }
                }
                self.finish()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, RecordMeta, WriterConfig};

    #[test]
    fn entries_round_trip_across_the_wrap() {
        let (mut tap, mut rd) = tap_pair(256);
        for round in 0..50u64 {
            let data: Vec<u8> = (0..(round as usize * 7) % 120).map(|i| i as u8).collect();
            assert!(tap.push(RecordKind::Recv, round, b"", &data));
            assert!(tap.push(RecordKind::Http, round + 1, b"http://x/y?z=1", b"{}"));
            let e = rd.next_entry().expect("entry");
            assert_eq!(
                (e.kind, e.ts_ns, e.addr, e.data),
                (RecordKind::Recv, round, &b""[..], &data[..])
            );
            let e = rd.next_entry().expect("entry");
            assert_eq!(
                (e.kind, e.ts_ns, e.addr, e.data),
                (
                    RecordKind::Http,
                    round + 1,
                    &b"http://x/y?z=1"[..],
                    &b"{}"[..]
                )
            );
            assert!(rd.next_entry().is_none());
        }
        assert_eq!(tap.stats().dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_ring_drops_and_counts_without_blocking() {
        let (mut tap, mut rd) = tap_pair(128);
        assert!(tap.push(RecordKind::Recv, 1, b"", &[7u8; 100]));
        assert!(!tap.push(RecordKind::Recv, 2, b"", &[7u8; 100]), "no room");
        assert!(
            !tap.push(RecordKind::Recv, 3, b"", &[0u8; 1000]),
            "larger than the ring"
        );
        assert_eq!(tap.stats().dropped.load(Ordering::Relaxed), 2);
        assert_eq!(rd.next_entry().map(|e| e.ts_ns), Some(1));
        assert!(tap.push(RecordKind::Recv, 4, b"", &[7u8; 100]));
        assert_eq!(rd.next_entry().map(|e| e.ts_ns), Some(4));
    }

    #[test]
    fn recorder_thread_drains_until_stopped_then_finishes() {
        let dir = std::env::temp_dir().join(format!("obi-tap-spawn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut tap, rd) = tap_pair(1 << 12);
        let w = RecordWriter::create(WriterConfig::new(&dir, "s", RecordMeta::default())).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let h = Recorder::new(rd, w, "ws")
            .spawn(stop.clone(), Duration::from_millis(1))
            .unwrap();
        // More than the ring holds at once: the thread must keep draining.
        let mut pushed = 0u64;
        let t = std::time::Instant::now();
        while pushed < 500 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the recorder stopped draining"
            );
            if tap.push(RecordKind::Recv, pushed, b"", &[b'x'; 100]) {
                pushed += 1;
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        stop.store(true, Ordering::Release);
        let s = h.join().unwrap().unwrap();
        // Drops were retried above, so the stats count them but every record made it.
        assert_eq!(s.records, 500);
        assert_eq!(s.files.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn recorder_writes_obirec_that_reads_back() {
        let dir = std::env::temp_dir().join(format!("obi-tap-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut tap, rd) = tap_pair(1 << 16);
        let meta = RecordMeta {
            venue: "coincheck".into(),
            market: "spot".into(),
            ..RecordMeta::default()
        };
        let w = RecordWriter::create(WriterConfig::new(&dir, "t", meta)).unwrap();
        let mut rec = Recorder::new(rd, w, "ws");
        tap.on_event(
            SourceEvent::Connected { now_ns: 10 },
            b"",
            "ws://127.0.0.1:1/",
        );
        tap.on_event(SourceEvent::Frame { recv_ns: 11 }, b"{\"a\":1}", "");
        tap.on_event(
            SourceEvent::Rest { recv_ns: 12 },
            b"{\"b\":2}",
            "http://h/api?p=1",
        );
        tap.on_event(SourceEvent::Disconnected { now_ns: 13 }, b"eof", "");
        tap.on_event(SourceEvent::Idle, b"zzz", "");
        assert_eq!(rec.drain().unwrap(), 4);
        let s = rec.finish().unwrap();
        assert_eq!((s.records, s.dropped, s.files.len()), (4, 0, 1));
        let mut r = crate::record::open(&s.files[0]).unwrap();
        let mut got: Vec<Record> = Vec::new();
        while let Some(x) = r.next_record() {
            let x = x.unwrap();
            if x.kind != RecordKind::Header {
                got.push(x.to_record());
            }
        }
        let kinds: Vec<_> = got.iter().map(|r| (r.kind, r.ts_ns)).collect();
        assert_eq!(
            kinds,
            vec![
                (RecordKind::Connect, 10),
                (RecordKind::Recv, 11),
                (RecordKind::Http, 12),
                (RecordKind::Disconnect, 13)
            ]
        );
        assert_eq!(got[0].url_or_addr.as_deref(), Some("ws://127.0.0.1:1/"));
        assert_eq!(got[1].data, b"{\"a\":1}");
        assert_eq!(got[2].url_or_addr.as_deref(), Some("http://h/api?p=1"));
        let conns: Vec<_> = got.iter().map(|r| r.conn.as_str()).collect();
        assert_eq!(conns, ["ws", "ws", "rest", "ws"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
