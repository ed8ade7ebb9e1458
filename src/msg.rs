//! The messages that travel on the rings between stages: small, `Copy`, no heap.
//!
//! feed → book: [`MdEvent`] (book operations decided by the venue's sync rules);
//! book → signal: [`BookUpdate`] (top of book and signals after every applied update).
//! Every message carries `recv_ns`, the local receive time of the frame it came from.

/// Side of the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Bid,
    Ask,
}

impl Side {
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Bid => "bid",
            Side::Ask => "ask",
        }
    }
    pub const fn opposite(self) -> Side {
        match self {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        }
    }
}

/// Book health as the operator and the strategy see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BookState {
    /// Consistent with the venue: every update since the last snapshot was applied in order.
    Synced,
    /// No update within the venue's maximum silence, or an unsequenced book due for a re-seed.
    Stale,
    /// A gap, a reconnect or a pending snapshot: the book is not to be trusted.
    #[default]
    Resyncing,
}

impl BookState {
    pub const fn as_str(self) -> &'static str {
        match self {
            BookState::Synced => "synced",
            BookState::Stale => "stale",
            BookState::Resyncing => "resyncing",
        }
    }
}

/// One operation on one book, as decided by the venue sync rules in the feed stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOp {
    /// Empty the book (a snapshot follows, or the book is being resynced).
    Clear,
    /// Set the absolute size at a price level; `qty == 0` deletes the level.
    Set { side: Side, px: i64, qty: i64 },
    /// End of one venue update: the book is consistent; publish signals. `seq` is the venue's
    /// update id after it (0 where the venue has none).
    Commit { seq: u64, exch_ts_ms: u64 },
    /// The book's state changed (gap, stale, reconnect) without new data.
    State(BookState),
    /// A public trade print; `aggressor` is the taker's side (`Bid` = buyer).
    Trade {
        px: i64,
        qty: i64,
        aggressor: Side,
        exch_ts_ms: u64,
    },
}

/// A book operation with its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdEvent {
    /// Local receive time of the frame, nanoseconds since the Unix epoch.
    pub recv_ns: u64,
    /// Index of the book in the feed's book list.
    pub book: u16,
    pub op: BookOp,
}

/// Sentinel for "no price" (empty side).
pub const NO_PRICE: i64 = i64::MIN;

/// Scale of fixed-point signals: OBI is in parts per million, microprice in millionths of a tick.
pub const SIGNAL_SCALE: i64 = 1_000_000;

/// Top of book and signals after one applied update (book → signal+risk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookUpdate {
    pub recv_ns: u64,
    pub exch_ts_ms: u64,
    pub book: u16,
    pub state: BookState,
    /// True when best bid >= best ask after this update (counted; never traded on).
    pub crossed: bool,
    pub bid_px: i64,
    pub bid_qty: i64,
    pub ask_px: i64,
    pub ask_qty: i64,
    /// Order-book imbalance over the configured depth, in ppm: +1e6 all bids, -1e6 all asks.
    pub obi_ppm: i64,
    /// Size-weighted microprice in millionths of a tick.
    pub micro_e6: i64,
    /// Spread in ticks (`i64::MAX` when a side is empty).
    pub spread_ticks: i64,
    /// Best-level order-flow imbalance of this update, in lots (Cont, Kukanov & Stoikov).
    pub ofi_lots: i64,
    /// Cumulative OFI since the book was last (re)built, in lots.
    pub ofi_cum_lots: i64,
}

impl BookUpdate {
    pub fn has_two_sides(&self) -> bool {
        self.bid_px != NO_PRICE && self.ask_px != NO_PRICE
    }
}

/// A public trade print forwarded to the strategy and paper exchange (book → signal+risk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradePrint {
    pub recv_ns: u64,
    pub exch_ts_ms: u64,
    pub book: u16,
    pub px: i64,
    pub qty: i64,
    pub aggressor: Side,
}

/// What the book stage publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketMsg {
    Book(BookUpdate),
    Trade(TradePrint),
}

impl MarketMsg {
    pub fn recv_ns(&self) -> u64 {
        match self {
            MarketMsg::Book(b) => b.recv_ns,
            MarketMsg::Trade(t) => t.recv_ns,
        }
    }
}
