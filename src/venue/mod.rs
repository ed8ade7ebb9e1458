//! Venues: wire formats and book sync rules, one folder per venue with the same files.
//!
//! - `wire.rs`: the venue's frames read into small typed, borrowed structs (no heap per frame);
//! - `sync.rs`: the venue's documented book-sync rules, turning frames into [`MdEvent`]s;
//! - `mod.rs`: the venue's [`Decoder`] (wire + sync for one connection), URLs and subscribe frames.
//!
//! A decoder is the feed stage's logic for one connection; it emits book operations only when
//! the venue's rules say the book stays consistent, and otherwise marks the book `resyncing` or
//! `stale` and asks the feed for a fresh snapshot.

pub mod bybit;
pub mod json;

use crate::instrument::{BookKey, Instrument, InstrumentTable, Market, Venue};
use crate::msg::{BookOp, BookState, MdEvent, Side};
use crate::num::FieldError;

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
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Json => f.write_str("not valid JSON"),
            FrameError::Missing(field) => write!(f, "field `{field}` missing or of the wrong type"),
            FrameError::Number(e) => e.fmt(f),
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
        if let Some(i) = self
            .books
            .iter()
            .position(|b| b.key.symbol.eq_ignore_ascii_case(symbol))
        {
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
}
