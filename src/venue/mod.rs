//! Venues: everything venue-specific, one folder per venue behind one trait ([`Connector`]).
//!
//! The one table that lists the venues is `table.rs` ([`Venue`], [`Venue::connector`],
//! [`AnyDecoder`]); the [`connector`] module documents the trait and how to add a venue. Every
//! venue folder has the same files:
//! - `connector.rs`: the venue's [`Connector`]: URLs, subscribe and resubscribe frames,
//!   keepalive, silence policy, REST snapshot, default market, building the decoder;
//! - `wire.rs`: the venue's frames read into small typed, borrowed structs (no heap per frame):
//!   `read_fast` with the pull scanner ([`json::scan`]) where the venue has one, `read` from the
//!   simd-json tape (the reference) for the frames the fast path gives up on;
//! - `sync.rs`: the venue's documented book-sync rules, turning frames into [`MdEvent`]s;
//! - `mod.rs`: the venue's [`Decoder`] (wire + sync for one connection).
//!
//! A decoder is the feed stage's logic for one connection; it emits book operations only when
//! the venue's rules say the book stays consistent, and otherwise marks the book `resyncing` or
//! `stale` and asks the feed for a fresh snapshot.

pub mod any;
pub mod binance;
pub mod binance_usdm;
pub mod bitbank;
pub mod bitflyer;
pub mod bybit;
pub mod coincheck;
pub mod connector;
pub mod drill;
pub mod gmocoin;
pub mod json;
pub mod table;

use crate::instrument::{BookKey, Instrument, InstrumentTable, Market};
use crate::msg::{BookOp, BookState, MdEvent, Side};
use crate::num::{FieldError, Scale};
pub use any::{AnyDecoder, DecoderSettings};
pub use connector::{Connector, LiveParams, LiveSpec, RestSnapshot, TopItem, TopKey};
use json::scan::{Scan, Scanner};
use json::Array;
pub use table::{NoDecoder, Venue};

/// Counters kept by a decoder (plain integers; the cold path reads copies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounters {
    /// Frames handed to the decoder.
    pub frames: u64,
    /// Book events emitted.
    pub events: u64,
    /// Book updates (snapshots and deltas) accepted.
    pub updates: u64,
    pub snapshots: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Times a book was put into `resyncing`.
    pub resyncs: u64,
    /// Frames that were not valid JSON or had fields of the wrong type or value.
    pub malformed: u64,
    /// Frames on topics or channels the decoder does not handle (tickers, klines, ...).
    pub unknown: u64,
    /// Subscription acknowledgements and pongs.
    pub acks: u64,
    /// Trade prints emitted.
    pub trades: u64,
    /// Updates dropped because they were stale (already applied) or arrived while resyncing.
    pub dropped: u64,
    /// Books turned `stale` by silence.
    pub stale: u64,
    /// REST snapshots applied.
    pub rest_snapshots: u64,
    /// Snapshots the sync rules asked the feed for (REST-seeded venues: one per book and request).
    pub snapshot_requests: u64,
    /// Updates after which the decoder's own copy of an unsequenced book was crossed.
    pub crossed: u64,
    /// Updates after which the decoder's own copy of the book disagreed with the mid price the
    /// venue sent along (bitFlyer `mid_price`).
    pub mid_mismatch: u64,
    /// Levels left out of a book because their price or size is off the instrument's tick/lot
    /// grid (Binance keeps resting orders placed under an older, finer grid).
    pub off_grid: u64,
}

/// Why a frame was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not valid JSON.
    Json,
    /// A required field is missing or of the wrong type.
    Missing(&'static str),
    /// A number that is not an exact multiple of the tick/lot, too long, or not a number.
    Number(FieldError),
    /// Valid JSON in a form the venue's exact reader does not take (what it says).
    Unsupported(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Json => f.write_str("not valid JSON"),
            FrameError::Missing(field) => write!(f, "field `{field}` missing or of the wrong type"),
            FrameError::Number(e) => e.fmt(f),
            FrameError::Unsupported(what) => f.write_str(what),
        }
    }
}

/// A parsed level update: side, price in ticks, size in lots.
pub type LevelUpdate = (Side, i64, i64);

/// The books one decoder feeds, with their instruments. Index = the `book` of its events.
#[derive(Debug, Clone)]
pub struct BookRoutes {
    pub table: InstrumentTable,
    pub venue: Venue,
    pub market: Market,
    /// Instruments of the books, in book-index order.
    pub books: Vec<Instrument>,
    /// When true, books are added the first time a known symbol appears (replay of recordings);
    /// when false, only the configured books are fed and other symbols are counted as unknown.
    pub auto_add: bool,
}

impl BookRoutes {
    /// Routes for the given symbols (which must be in the table), or for every symbol seen if empty.
    pub fn new(
        table: InstrumentTable,
        venue: Venue,
        market: Market,
        symbols: &[&str],
    ) -> Result<BookRoutes, String> {
        let mut books = Vec::new();
        for s in symbols {
            let inst = table.get(venue, market, s).ok_or_else(|| {
                format!(
                    "no instrument {}_{} {s} in the instrument table (add it under [[instrument]] in the config)",
                    venue.as_str(),
                    market.as_str()
                )
            })?;
            books.push(*inst);
        }
        Ok(BookRoutes {
            auto_add: books.is_empty(),
            table,
            venue,
            market,
            books,
        })
    }

    /// Book index for `symbol`, adding it when auto-adding and the table knows it.
    #[inline]
    pub fn lookup(&mut self, symbol: &str) -> Option<usize> {
        if let Some(i) = self.find(symbol) {
            return Some(i);
        }
        if self.auto_add {
            if let Some(inst) = self.table.get(self.venue, self.market, symbol) {
                self.books.push(*inst);
                return Some(self.books.len() - 1);
            }
        }
        None
    }

    /// Book index for `symbol` among the books routed so far (never adds one).
    #[inline]
    pub fn find(&self, symbol: &str) -> Option<usize> {
        // Spelled as routed first (what the venues send back), then in any case.
        self.books
            .iter()
            .position(|b| b.key.symbol.as_str() == symbol)
            .or_else(|| {
                self.books
                    .iter()
                    .position(|b| b.key.symbol.eq_ignore_ascii_case(symbol))
            })
    }

    /// Whether [`BookRoutes::lookup`] would add a book for `symbol` (auto-adding, not routed
    /// yet, known to the table).
    #[inline]
    pub fn would_add(&self, symbol: &str) -> bool {
        self.auto_add
            && self.find(symbol).is_none()
            && self.table.get(self.venue, self.market, symbol).is_some()
    }

    /// What the fast parsers use: the routed book's index and scales, `Ok(None)` for a symbol
    /// that is not routed, and `GiveUp` for one [`BookRoutes::lookup`] would add (the full
    /// parser's lookup adds it, so the fast path has no side effect).
    #[inline]
    pub fn route_fast(&self, symbol: &str) -> json::scan::Scan<Option<(usize, Scale, Scale)>> {
        match self.find(symbol) {
            Some(i) => {
                let b = &self.books[i];
                Ok(Some((i, b.tick, b.lot)))
            }
            None if self.would_add(symbol) => Err(json::scan::GiveUp),
            None => Ok(None),
        }
    }

    pub fn key(&self, i: usize) -> Option<BookKey> {
        self.books.get(i).map(|b| b.key)
    }
}

/// Per-book sync bookkeeping shared by the venues.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncBook {
    pub state: BookState,
    /// Last applied update id (venue sequence), if any.
    pub last_seq: Option<u64>,
    /// Local time of the last applied update.
    pub last_update_ns: u64,
    /// Local time the book was last (re)seeded from a snapshot.
    pub seeded_ns: u64,
}

/// Emits a full snapshot: clear, every level, commit.
#[inline]
pub fn emit_snapshot<F: FnMut(MdEvent)>(
    recv_ns: u64,
    book: u16,
    levels: &[LevelUpdate],
    seq: u64,
    exch_ts_ms: u64,
    out: &mut F,
) -> u64 {
    out(MdEvent {
        recv_ns,
        book,
        op: BookOp::Clear,
    });
    emit_delta(recv_ns, book, levels, seq, exch_ts_ms, out) + 1
}

/// Emits a delta: every level, then commit. Returns the number of events.
#[inline]
pub fn emit_delta<F: FnMut(MdEvent)>(
    recv_ns: u64,
    book: u16,
    levels: &[LevelUpdate],
    seq: u64,
    exch_ts_ms: u64,
    out: &mut F,
) -> u64 {
    for &(side, px, qty) in levels {
        out(MdEvent {
            recv_ns,
            book,
            op: BookOp::Set { side, px, qty },
        });
    }
    out(MdEvent {
        recv_ns,
        book,
        op: BookOp::Commit { seq, exch_ts_ms },
    });
    levels.len() as u64 + 1
}

/// Emits a state change for one book.
#[inline]
pub fn emit_state<F: FnMut(MdEvent)>(recv_ns: u64, book: u16, state: BookState, out: &mut F) {
    out(MdEvent {
        recv_ns,
        book,
        op: BookOp::State(state),
    });
}

/// Emits one public trade print. Returns the number of events (1).
#[inline]
pub fn emit_trade<F: FnMut(MdEvent)>(
    recv_ns: u64,
    book: u16,
    (px, qty, aggressor, exch_ts_ms): (i64, i64, Side, u64),
    out: &mut F,
) -> u64 {
    out(MdEvent {
        recv_ns,
        book,
        op: BookOp::Trade {
            px,
            qty,
            aggressor,
            exch_ts_ms,
        },
    });
    1
}

/// Reads `[["price","size"], ...]` (decimal strings) into `out` as levels of `side`.
#[inline]
pub fn read_levels(
    arr: &Array<'_, '_>,
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
) -> Result<(), FrameError> {
    // Scoped here: the prelude's `Array` trait is also implemented for `Vec`, and its boxed
    // `iter` would shadow the slice's (allocating) wherever the prelude is in scope.
    use simd_json::prelude::*;
    for lv in arr.iter() {
        let pair = lv.as_array().ok_or(FrameError::Missing("level"))?;
        let (Some(px), Some(qty)) = (pair.get(0), pair.get(1)) else {
            return Err(FrameError::Missing("level"));
        };
        let px = px.as_str().ok_or(FrameError::Missing("level price"))?;
        let qty = qty.as_str().ok_or(FrameError::Missing("level size"))?;
        let px = tick
            .parse_unsigned(px.as_bytes(), "price")
            .map_err(FrameError::Number)?;
        let qty = lot
            .parse_unsigned(qty.as_bytes(), "size")
            .map_err(FrameError::Number)?;
        out.push((side, px, qty));
    }
    Ok(())
}

/// [`read_levels`] on the pull scanner: `[["price","size"], ...]` appended to `out` as levels
/// of `side`; returns how many. Gives up where [`read_levels`] would fail, and on levels that are
/// not exactly two strings.
#[inline(never)]
pub fn scan_levels(
    s: &mut Scanner<'_>,
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
) -> Scan<usize> {
    let start = out.len();
    // A local copy keeps the position in a register through the loop.
    let mut t = s.clone();
    if t.array()? {
        loop {
            let (px, qty) = t.decimal_pair(tick, lot)?;
            out.push((side, px, qty));
            if !t.more_elements()? {
                break;
            }
        }
    }
    *s = t;
    Ok(out.len() - start)
}

/// The value of `key` in the query string of `url` (`...depth?symbol=NKNUSDT&limit=1000`).
pub fn query_param<'u>(url: &'u str, key: &str) -> Option<&'u str> {
    let (_, query) = url.split_once('?')?;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Diffs held back until a snapshot arrives (REST-seeded venues), with their parsed levels kept
/// in one arena.
///
/// Both the diff list and the level arena are allocated to their full bounds at construction,
/// so buffering never allocates; a diff that does not fit is refused and the caller decides
/// (usually: the buffer is useless, resync).
#[derive(Debug, Clone)]
pub struct DiffBuffer<H: Copy> {
    /// Header of each diff with the start and length of its levels in `levels`.
    diffs: Vec<(H, u32, u32)>,
    levels: Vec<LevelUpdate>,
    max_diffs: usize,
    max_levels: usize,
}

impl<H: Copy> DiffBuffer<H> {
    /// A buffer for at most `max_diffs` diffs holding at most `max_levels` levels in total.
    pub fn new(max_diffs: usize, max_levels: usize) -> DiffBuffer<H> {
        let max_levels = max_levels.min(u32::MAX as usize);
        DiffBuffer {
            diffs: Vec::with_capacity(max_diffs),
            levels: Vec::with_capacity(max_levels),
            max_diffs,
            max_levels,
        }
    }

    /// Appends one diff; false (and nothing stored) when it does not fit.
    #[inline]
    pub fn push(&mut self, head: H, levels: &[LevelUpdate]) -> bool {
        if self.diffs.len() >= self.max_diffs || levels.len() > self.max_levels - self.levels.len()
        {
            return false;
        }
        let start = self.levels.len() as u32;
        self.levels.extend_from_slice(levels);
        self.diffs.push((head, start, levels.len() as u32));
        true
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.diffs.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.diffs.is_empty()
    }

    #[inline]
    pub fn clear(&mut self) {
        self.diffs.clear();
        self.levels.clear();
    }

    /// The `i`-th buffered diff (oldest first).
    #[inline]
    pub fn get(&self, i: usize) -> Option<(H, &[LevelUpdate])> {
        let &(h, start, len) = self.diffs.get(i)?;
        let (start, len) = (start as usize, len as usize);
        Some((h, &self.levels[start..start + len]))
    }

    /// Buffered diffs, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (H, &[LevelUpdate])> + '_ {
        (0..self.diffs.len()).filter_map(move |i| self.get(i))
    }

    /// Drops the `n` oldest diffs (without allocating).
    pub fn drop_front(&mut self, n: usize) {
        let n = n.min(self.diffs.len());
        if n == self.diffs.len() {
            self.clear();
            return;
        }
        let cut = self.diffs[n].1;
        self.levels.drain(..cut as usize);
        self.diffs.drain(..n);
        for d in &mut self.diffs {
            d.1 -= cut;
        }
    }
}

/// One book's REST snapshot request.
#[derive(Debug, Clone, Copy, Default)]
struct SnapshotRequest {
    /// When the outstanding request was made (`None`: none outstanding).
    at_ns: Option<u64>,
    /// The feed has not taken this request yet.
    untaken: bool,
}

/// Per-book REST snapshot requests of a REST-seeded venue: what the sync rules asked for, and
/// what the feed has taken ([`SnapshotRequests::take_next`]) to fetch.
#[derive(Debug, Clone, Default)]
pub struct SnapshotRequests {
    books: Vec<SnapshotRequest>,
    /// A request was made since the feed last asked ([`Decoder::take_resync_request`]).
    new: bool,
}

impl SnapshotRequests {
    /// Makes room for book `i` (cold: books found by auto-routing).
    pub fn ensure(&mut self, i: usize) {
        while self.books.len() <= i {
            self.books.push(SnapshotRequest::default());
        }
    }

    /// Asks for a snapshot of book `i` now, even if one is outstanding.
    pub fn request(&mut self, i: usize, now_ns: u64, c: &mut FeedCounters) {
        if let Some(r) = self.books.get_mut(i) {
            r.at_ns = Some(now_ns);
            r.untaken = true;
            self.new = true;
            c.snapshot_requests += 1;
        }
    }

    /// Asks for a snapshot of book `i` unless one is outstanding.
    pub fn request_once(&mut self, i: usize, now_ns: u64, c: &mut FeedCounters) {
        if !self.outstanding(i) {
            self.request(i, now_ns, c);
        }
    }

    /// Asks again when the outstanding request of book `i` is older than `retry_ns`.
    pub fn retry_overdue(&mut self, i: usize, now_ns: u64, retry_ns: u64, c: &mut FeedCounters) {
        let overdue = self
            .books
            .get(i)
            .and_then(|r| r.at_ns)
            .is_some_and(|at| now_ns.saturating_sub(at) >= retry_ns);
        if overdue {
            self.request(i, now_ns, c);
        }
    }

    /// Whether a request of book `i` is outstanding.
    pub fn outstanding(&self, i: usize) -> bool {
        self.books.get(i).is_some_and(|r| r.at_ns.is_some())
    }

    /// Book `i`'s snapshot arrived, or its request no longer matters (reconnect).
    pub fn answered(&mut self, i: usize) {
        if let Some(r) = self.books.get_mut(i) {
            *r = SnapshotRequest::default();
        }
    }

    /// True once after new requests were made.
    pub fn take_new(&mut self) -> bool {
        std::mem::take(&mut self.new)
    }

    /// The next book whose snapshot the feed should fetch; each request is handed out once.
    pub fn take_next(&mut self) -> Option<usize> {
        let i = self.books.iter().position(|r| r.untaken)?;
        self.books[i].untaken = false;
        Some(i)
    }
}

/// The feed stage's logic for one connection of one venue.
pub trait Decoder {
    /// Decodes one raw frame received at `recv_ns` (simd-json parses it in place).
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F);

    /// A REST response (a depth snapshot) for `url`, fetched live or found in a recording.
    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        let _ = (recv_ns, url, body, out);
    }

    /// Timer tick: silence watchdogs and re-seed deadlines.
    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F);

    /// The connection dropped: every book is resyncing until fresh data arrives.
    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F);

    fn counters(&self) -> &FeedCounters;

    fn routes(&self) -> &BookRoutes;

    /// True once after the sync rules decided the feed needs a new snapshot (resubscribe or
    /// reconnect for in-band snapshots, a REST fetch for REST-seeded venues).
    fn take_resync_request(&mut self) -> bool;

    /// REST-seeded venues: the next book whose snapshot the feed should fetch now (each request
    /// is handed out once; call after [`Decoder::take_resync_request`] said there are new ones).
    /// Venues with in-band snapshots return `None`.
    fn take_snapshot_book(&mut self) -> Option<usize> {
        None
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// Runs `frames` through a decoder, collecting every event.
    pub fn collect<D: Decoder>(d: &mut D, frames: &[&str]) -> Vec<MdEvent> {
        let mut evs = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let mut buf = f.as_bytes().to_vec();
            d.on_frame(1_000 + i as u64, &mut buf, &mut |e| evs.push(e));
        }
        evs
    }

    /// The book states the events announce, in order.
    pub fn states(evs: &[MdEvent]) -> Vec<crate::msg::BookState> {
        evs.iter()
            .filter_map(|e| match e.op {
                crate::msg::BookOp::State(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// The last top of book (bid px, bid qty, ask px, ask qty) the events make in `books`.
    pub fn top(books: &mut crate::book::BookSet, evs: &[MdEvent]) -> Option<(i64, i64, i64, i64)> {
        let mut last = None;
        for e in evs {
            if let Some(crate::msg::MarketMsg::Book(u)) = books.apply(e) {
                last = Some((u.bid_px, u.bid_qty, u.ask_px, u.ask_qty));
            }
        }
        last
    }

    /// The recorded file `name` of the shared data folder, or `None` after a visible skip
    /// (a panic under `OBI_REQUIRE_DATA=1`): see [`crate::testdata`].
    pub use crate::testdata::shared_data;

    /// One edit of a frame for the differential fuzz tests: (operation, position, byte, length).
    pub type Edit = (u8, usize, u8, usize);

    /// A few edits: bytes overwritten, inserted or deleted (JSON-significant ones, whitespace,
    /// any), a stretch copied elsewhere (duplicate keys and values), a truncation; and edits
    /// that usually keep the frame valid: whitespace inserted, a digit changed (other values,
    /// off-grid and oversized numbers, leading zeros).
    pub fn edits() -> impl proptest::strategy::Strategy<Value = Vec<Edit>> {
        use proptest::prelude::*;
        let byte = prop_oneof![
            prop::sample::select(b"{}[]\":,\\.-+0123456789eEtrufalsn xS".to_vec()),
            prop::sample::select(b" \t\n\r\x00\x01\x0b\x7f\x80\xc3\xff".to_vec()),
            any::<u8>(),
        ];
        prop::collection::vec((any::<u8>(), any::<usize>(), byte, any::<usize>()), 1..5)
    }

    /// `frame` with `edits` applied (positions taken modulo the length).
    pub fn edited(frame: &[u8], edits: &[Edit]) -> Vec<u8> {
        let mut f = frame.to_vec();
        for &(op, pos, b, len) in edits {
            let n = f.len().max(1);
            match op % 10 {
                0 if !f.is_empty() => f[pos % n] = b,
                1 => f.insert(pos % (f.len() + 1), b),
                2 if !f.is_empty() => {
                    f.remove(pos % n);
                }
                3 => f.truncate(pos % (f.len() + 1)),
                4 if !f.is_empty() => {
                    let from = pos % n;
                    let piece: Vec<u8> = f.iter().skip(from).take(len % 40).copied().collect();
                    let to = (pos / 7).wrapping_add(len) % (f.len() + 1);
                    f.splice(to..to, piece);
                }
                5 | 6 => f.insert(pos % (f.len() + 1), b" \t\n\r"[b as usize % 4]),
                _ => {
                    // The first digit from `pos` on (cyclically) becomes another digit.
                    if let Some(i) = (0..f.len())
                        .map(|k| (pos % n + k) % n)
                        .find(|&i| f[i].is_ascii_digit())
                    {
                        f[i] = b'0' + b % 10;
                    }
                }
            }
        }
        f
    }

    /// `base` with bytes overwritten at `edits` (positions taken modulo the length), then cut to
    /// `cut` bytes (modulo the length + 1): the fuzz tests' mutation of a valid frame.
    pub fn mutated(base: &str, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
        let mut b = base.as_bytes().to_vec();
        if b.is_empty() {
            return b;
        }
        for &(pos, byte) in edits {
            let n = b.len();
            b[pos % n] = byte;
        }
        let keep = cut % (b.len() + 1);
        if keep > 0 {
            b.truncate(keep);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        let u = "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000";
        assert_eq!(query_param(u, "symbol"), Some("NKNUSDT"));
        assert_eq!(query_param(u, "limit"), Some("1000"));
        assert_eq!(query_param(u, "pair"), None);
        assert_eq!(
            query_param("/api/order_books?pair=btc_jpy", "pair"),
            Some("btc_jpy")
        );
        assert_eq!(query_param("/api/order_books", "pair"), None);
    }

    #[test]
    fn diff_buffer_is_bounded_and_keeps_order() {
        let mut b: DiffBuffer<u32> = DiffBuffer::new(3, 4);
        let (cap_d, cap_l) = (b.diffs.capacity(), b.levels.capacity());
        let l = |px| (Side::Bid, px, 1);
        assert!(b.push(1, &[l(1), l(2)]));
        assert!(b.push(2, &[]));
        assert!(!b.push(3, &[l(3), l(4), l(5)]), "levels over the bound");
        assert!(b.push(3, &[l(3), l(4)]));
        assert!(!b.push(4, &[]), "diffs over the bound");
        let got: Vec<(u32, Vec<i64>)> = b
            .iter()
            .map(|(h, lv)| (h, lv.iter().map(|x| x.1).collect()))
            .collect();
        assert_eq!(got, vec![(1, vec![1, 2]), (2, vec![]), (3, vec![3, 4])]);
        b.drop_front(1);
        assert_eq!(b.get(0).map(|(h, lv)| (h, lv.len())), Some((2, 0)));
        assert_eq!(b.get(1).map(|(h, lv)| (h, lv[0].1)), Some((3, 3)));
        assert!(b.push(5, &[l(6), l(7)]));
        assert_eq!(b.get(2).map(|(_, lv)| lv[1].1), Some(7));
        b.drop_front(9);
        assert!(b.is_empty());
        // never grew past the bounds it was built with
        assert_eq!((b.diffs.capacity(), b.levels.capacity()), (cap_d, cap_l));
    }
}
