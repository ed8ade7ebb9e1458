//! The messages that travel on the rings between stages: small, `Copy`, no heap.
//!
//! feed → book: [`MdEvent`] (book operations decided by the venue's sync rules);
//! book → signal: [`MarketMsg`] (top of book and signals after every applied update, trades);
//! signal → order: [`ToOrder`] (commands, and market data for the paper exchange);
//! order → signal: [`ExecReport`] (acks, fills, cancels, rejects);
//! book → order: [`LevelMsg`] (every level operation of the traded book, for the order stage's
//! mirror ladder: the paper exchange sweeps the full depth, not the top levels of a message).
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
    /// Top levels of both sides (for a paper exchange without a level feed).
    pub depth: Depth,
    /// Running number ([`LevelMsg::n`]) of the last level message of this book sent before this
    /// update, 0 where no level feed runs: the order stage's mirror applies the level messages
    /// up to it, no further, when it takes this update.
    pub levels_n: u32,
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
// The variants differ in size by design: ring slots are fixed-size `Copy` values (no heap on the
// hot path), and a book update is the common message.
#[allow(clippy::large_enum_variant)]
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

/// Levels of depth carried to the paper exchange with every book update.
pub const DEPTH_LEVELS: usize = 5;

/// Top levels of both sides, best first; unused slots are `(NO_PRICE, 0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub bids: [(i64, i64); DEPTH_LEVELS],
    pub asks: [(i64, i64); DEPTH_LEVELS],
}

impl Default for Depth {
    fn default() -> Self {
        Depth {
            bids: [(NO_PRICE, 0); DEPTH_LEVELS],
            asks: [(NO_PRICE, 0); DEPTH_LEVELS],
        }
    }
}

/// What a [`LevelMsg`] does to the mirror ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelOp {
    /// Empty both sides (a snapshot follows).
    Clear,
    /// Set the absolute size at a price level of one side; `qty == 0` deletes it.
    Set(Side),
}

/// One level operation of the traded book (book → order, for the mirror ladder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelMsg {
    /// Running number of the level messages of this book, from 1, wrapping; a gap means the
    /// ring was full and messages were lost.
    pub n: u32,
    pub op: LevelOp,
    pub px: i64,
    pub qty: i64,
}

/// Money: exact quote-currency amounts in units of one tick times one lot divided by
/// [`MONEY_PER_TICK_LOT`], so that fees in hundredths of a basis point stay whole numbers.
pub type Money = i128;

/// Money units in the value of one tick on one lot.
pub const MONEY_PER_TICK_LOT: i128 = 1_000_000;

/// Fee rates and other ratios in hundredths of a basis point (1 bp = 100; 100% = 1_000_000).
pub type Cbps = i64;

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderSide {
    Buy,
    Sell,
}

impl OrderSide {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderSide::Buy => "buy",
            OrderSide::Sell => "sell",
        }
    }
    /// +1 for buys, -1 for sells.
    pub const fn sign(self) -> i64 {
        match self {
            OrderSide::Buy => 1,
            OrderSide::Sell => -1,
        }
    }
    pub const fn opposite(self) -> OrderSide {
        match self {
            OrderSide::Buy => OrderSide::Sell,
            OrderSide::Sell => OrderSide::Buy,
        }
    }
}

/// Time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tif {
    /// Rests until cancelled.
    Gtc,
    /// Rejected if it would take liquidity on arrival.
    PostOnly,
    /// Takes what it can on arrival; the rest is cancelled.
    Ioc,
}

/// Why an order (or cancel) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Refused by our own risk checks before leaving the process.
    Risk,
    /// Refused by our order-rate token bucket.
    RateLimit,
    /// Post-only order would have crossed.
    PostOnlyWouldCross,
    /// Cancel for an order that is not open.
    UnknownOrder,
    /// Size or price outside what the venue accepts.
    Invalid,
    /// The venue refused it (balance, rate limit, maintenance).
    Venue,
    /// Could not reach the venue.
    Network,
    /// The venue refused our credentials or clock (Bybit `10003`, `10004`, ...): a risk abort.
    Auth,
}

impl RejectReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::Risk => "risk",
            RejectReason::RateLimit => "rate_limit",
            RejectReason::PostOnlyWouldCross => "post_only_would_cross",
            RejectReason::UnknownOrder => "unknown_order",
            RejectReason::Invalid => "invalid",
            RejectReason::Venue => "venue",
            RejectReason::Network => "network",
            RejectReason::Auth => "auth",
        }
    }
}

/// A command from signal+risk to the order stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderCmd {
    Place {
        id: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        tif: Tif,
        /// Exits are reduce-only: they may only shrink the position.
        reduce_only: bool,
    },
    Cancel {
        id: u64,
    },
    CancelAll,
}

/// What travels on the signal+risk → order ring: commands, and (for the paper exchange) the
/// market data the decisions were made on, in the same order.
#[allow(clippy::large_enum_variant)] // fixed-size ring slots, see `MarketMsg`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToOrder {
    Cmd {
        /// Receive time of the frame that led to the command.
        recv_ns: u64,
        /// Event time of the decision (equal to `recv_ns` in replay).
        decided_ns: u64,
        cmd: OrderCmd,
    },
    Book(BookUpdate),
    Trade(TradePrint),
    /// The market data has ended (the book stage finished): no book follows. The paper exchange
    /// lets time pass for the cancels pending, which need no book.
    End,
}

/// Liquidity flag of a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Liquidity {
    Maker,
    Taker,
}

/// What happened to an order (order stage → signal+risk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    Accepted,
    Fill {
        px: i64,
        qty: i64,
        liquidity: Liquidity,
        /// Fee paid (negative for a rebate).
        fee: Money,
        /// Size still open after this fill.
        leaves: i64,
    },
    Cancelled {
        leaves: i64,
    },
    Rejected {
        reason: RejectReason,
    },
    CancelRejected {
        reason: RejectReason,
    },
}

/// An execution report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecReport {
    pub id: u64,
    /// Event time at which it happened (market time of the paper exchange, or local receive time).
    pub ts_ns: u64,
    pub kind: ExecKind,
}

/// A message on a ring between two stages, stamped with the local time the producing stage
/// handed it off (`sent_ns`, 0 where nobody measures it): the consuming stage's time is
/// measured from it, ring wait included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamped<T> {
    pub sent_ns: u64,
    pub msg: T,
}

// Ring slots are fixed-size: keep the messages small (a failed assertion here is a deliberate
// decision to grow a ring's slots, not an accident).
const _: () = assert!(std::mem::size_of::<MdEvent>() == 48);
const _: () = assert!(std::mem::size_of::<Stamped<MarketMsg>>() == 264);
const _: () = assert!(std::mem::size_of::<Stamped<ToOrder>>() == 264);
const _: () = assert!(std::mem::size_of::<ExecReport>() == 64);
const _: () = assert!(std::mem::size_of::<LevelMsg>() == 24);
