//! A deterministic synthetic market: an exchange-side L2 book in integer ticks and lots.
//!
//! The model, per step (one venue update, e.g. one Coincheck diff):
//! - a latent fair price follows a mean-reverting (Ornstein-Uhlenbeck-like) walk around the
//!   start price, pushed by the current imbalance regime;
//! - when the fair price is a tick or more away from the mid, aggressive flow moves the book
//!   towards it (a market order takes the touch, a new quote fills the vacated price);
//! - a few random events: limit-order arrivals (mostly near the touch, the depth profile decaying
//!   away from it), cancels (mostly near the touch), market orders that walk the book;
//! - imbalance regimes (bid-heavy, neutral, ask-heavy) switch now and then and skew where orders
//!   arrive and cancel, so the top-of-book imbalance swings both ways;
//! - the spread is one tick most of the time; a sweep or a cancel at the touch widens it until a
//!   new quote lands inside;
//! - each side keeps between `levels` and `levels * 5 / 4` price levels.
//!
//! Everything is integer arithmetic on a seeded SplitMix64 generator written here, so the same
//! seed gives the same market on every machine. Event times follow the configured [`Schedule`].

use crate::instrument::{Instrument, InstrumentTable, Market, Venue};
use crate::msg::Side;

/// SplitMix64: small, fast, and fully specified, so sequences are identical everywhere.
#[derive(Debug, Clone)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    pub const fn new(seed: u64) -> SimRng {
        SimRng { state: seed }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`), by multiply-high (no modulo bias worth the name).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `ppm` parts per million.
    #[inline]
    pub fn chance(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < ppm as u64
    }

    /// Number of failures before the first success of a `p_ppm` Bernoulli trial, at most `max`.
    #[inline]
    pub fn geometric(&mut self, p_ppm: u32, max: u64) -> u64 {
        let mut k = 0;
        while k < max && !self.chance(p_ppm) {
            k += 1;
        }
        k
    }

    /// An approximately standard normal draw in millionths (Irwin-Hall sum of 12 uniforms).
    pub fn normal_e6(&mut self) -> i64 {
        let mut s: i64 = 0;
        for _ in 0..3 {
            let x = self.next_u64();
            for k in 0..4 {
                s += ((x >> (16 * k)) & 0xFFFF) as i64;
            }
        }
        (s - 12 * 32_768) * 1_000_000 / 65_536
    }

    /// `-log2(U)` for `U` uniform in (0, 1], in Q32 fixed point: an exponential draw with
    /// median 1 (log2 by Mitchell's approximation with a quadratic correction, error < 0.5 %).
    pub fn neg_log2_q32(&mut self) -> u64 {
        let x = self.next_u64() | 1;
        let lz = x.leading_zeros() as u64;
        let int_part = 63 - lz;
        let frac = ((x << lz) << 1) >> 32; // Q32 fraction of the mantissa, in [0, 2^32)
        let corr = (((frac * ((1u64 << 32) - frac)) >> 32) * 22_715) >> 16; // 0.3466 f (1 - f)
        let log2_q32 = (int_part << 32) + frac + corr;
        (64u64 << 32).saturating_sub(log2_q32).max(1)
    }
}

/// When the market's events happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Random gaps with this median (exponential distribution, capped at 16x the median), like
    /// Coincheck's event-driven diffs (~365 ms median).
    Random { median_ns: u64 },
    /// A fixed push cadence, like Bybit's L200 (100 ms) and Binance's `@depth@100ms`.
    Grid { period_ns: u64 },
}

/// Parameters of a synthetic market. Prices in ticks and sizes in lots of `instrument`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticConfig {
    pub seed: u64,
    pub instrument: Instrument,
    /// Best bid at the start (the best ask is one tick above); also the fair price's anchor.
    pub start_px_ticks: i64,
    /// Price levels kept per side (at least this many, at most 5/4 of it).
    pub levels: usize,
    pub schedule: Schedule,
    /// Typical order size in lots.
    pub base_qty_lots: i64,
    /// Mean number of random order events (arrivals, cancels, market orders) per step.
    pub events_per_step: u32,
    /// Standard deviation of the fair price's move per step, in thousandths of a tick.
    pub sigma_milliticks: i64,
    /// Fraction of the distance to the anchor the fair price reverts per step, in ppm.
    pub reversion_ppm: i64,
    /// Probability per step that the imbalance regime changes, in ppm.
    pub regime_switch_ppm: u32,
    /// Fair-price drift per step in a bid-heavy (+) or ask-heavy (-) regime, thousandths of a tick.
    pub regime_drift_milliticks: i64,
    /// Wall-clock time of event time 0, for the venues' timestamps (fixed, for determinism).
    pub start_unix_ns: u64,
    /// Decimal places the venue prints prices with when more than the tick has (Bybit linear
    /// BTCUSDT prints `65114.20` for a `0.10` tick: 2). 0 = the tick's own places.
    pub wire_px_decimals: u8,
}

/// 2026-08-01T00:00:00Z: event time 0 of every synthetic market unless configured.
pub const DEFAULT_START_UNIX_NS: u64 = 1_785_542_400_000_000_000;

impl SyntheticConfig {
    /// Generic defaults for `instrument`: 300 levels, 100 ms grid, moderate volatility.
    pub fn new(seed: u64, instrument: Instrument, start_px_ticks: i64) -> SyntheticConfig {
        SyntheticConfig {
            seed,
            instrument,
            start_px_ticks,
            levels: 300,
            schedule: Schedule::Grid {
                period_ns: 100_000_000,
            },
            base_qty_lots: 1,
            events_per_step: 8,
            sigma_milliticks: 600,
            reversion_ppm: 100,
            regime_switch_ppm: 20_000,
            regime_drift_milliticks: 60,
            start_unix_ns: DEFAULT_START_UNIX_NS,
            wire_px_decimals: 0,
        }
    }

    /// The same market with events `factor` times as often (for fast tests and benches).
    pub fn faster(mut self, factor: u64) -> SyntheticConfig {
        let f = factor.max(1);
        self.schedule = match self.schedule {
            Schedule::Random { median_ns } => Schedule::Random {
                median_ns: (median_ns / f).max(1),
            },
            Schedule::Grid { period_ns } => Schedule::Grid {
                period_ns: (period_ns / f).max(1),
            },
        };
        self
    }

    fn validate(&self) -> Result<(), String> {
        let min_px = 8 * self.levels as i64 + 64;
        if self.levels == 0 || self.levels > 100_000 {
            return Err(format!(
                "synthetic market: levels = {} (expected 1..=100000)",
                self.levels
            ));
        }
        if self.start_px_ticks < min_px || self.start_px_ticks > i64::MAX / 4_000_000 {
            return Err(format!(
                "synthetic market: start_px_ticks = {} (expected {min_px}..={} for {} levels)",
                self.start_px_ticks,
                i64::MAX / 4_000_000,
                self.levels
            ));
        }
        if self.base_qty_lots < 1 || self.base_qty_lots > i64::MAX / 1_000_000 {
            return Err(format!(
                "synthetic market: base_qty_lots = {} (expected >= 1)",
                self.base_qty_lots
            ));
        }
        let interval = match self.schedule {
            Schedule::Random { median_ns } => median_ns,
            Schedule::Grid { period_ns } => period_ns,
        };
        if self.events_per_step == 0 || self.events_per_step > 10_000 {
            return Err(format!(
                "synthetic market: events_per_step = {} (expected 1..=10000)",
                self.events_per_step
            ));
        }
        if interval == 0 {
            return Err("synthetic market: the event interval must be > 0 ns".into());
        }
        if !(0..=1_000_000).contains(&self.reversion_ppm) || self.sigma_milliticks < 0 {
            return Err(format!(
                "synthetic market: reversion_ppm = {} (expected 0..=1000000), sigma_milliticks = {} (expected >= 0)",
                self.reversion_ppm, self.sigma_milliticks
            ));
        }
        Ok(())
    }
}

/// The built-in instrument `venue`/`market`/`symbol` (the venues' default synthetic markets,
/// in `venue/<name>/sim.rs`).
pub(crate) fn builtin(venue: Venue, market: Market, symbol: &str) -> Instrument {
    *InstrumentTable::default()
        .get(venue, market, symbol)
        .expect("built-in instrument table has the simulator's default instruments")
}

/// One side of a book as (price ticks, size lots), best first.
pub type Levels = Vec<(i64, i64)>;

/// A level's new absolute size after a step (0 = the level is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelChange {
    pub side: Side,
    pub px: i64,
    pub qty: i64,
}

/// One fill of a market order against one price level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    pub id: u64,
    pub px: i64,
    pub qty: i64,
    /// The taker's side (`Bid` = a buy).
    pub aggressor: Side,
    pub taker_order_id: u64,
    pub maker_order_id: u64,
}

/// What one step did: its event time, the levels whose size changed and the trades.
#[derive(Debug, Clone, Default)]
pub struct MarketStep {
    /// Event time, nanoseconds since the market started.
    pub t_ns: u64,
    /// Step number, from 1.
    pub step: u64,
    /// Levels whose size differs from before the step, in the order they were first touched.
    pub changes: Vec<LevelChange>,
    /// Trades in execution order (a market order walking the book makes one per level).
    pub trades: Vec<Trade>,
    /// Elementary book operations in the step (Binance advances its update id by this).
    pub updates: u32,
}

/// One side of the exchange book: sorted by price, worst first, best last.
#[derive(Debug, Clone)]
struct SideBook {
    is_bid: bool,
    px: Vec<i64>,
    qty: Vec<i64>,
}

impl SideBook {
    fn new(is_bid: bool, cap: usize) -> SideBook {
        SideBook {
            is_bid,
            px: Vec::with_capacity(cap),
            qty: Vec::with_capacity(cap),
        }
    }

    /// Ascending from worst to best.
    #[inline]
    fn key(&self, px: i64) -> i64 {
        if self.is_bid {
            px
        } else {
            -px
        }
    }

    #[inline]
    fn find(&self, px: i64) -> Result<usize, usize> {
        let k = self.key(px);
        let is_bid = self.is_bid;
        self.px
            .binary_search_by(|&p| (if is_bid { p } else { -p }).cmp(&k))
    }

    #[inline]
    fn get(&self, px: i64) -> i64 {
        self.find(px).map(|i| self.qty[i]).unwrap_or(0)
    }

    /// Sets the size at `px` (0 removes the level) and returns the size it had.
    fn set(&mut self, px: i64, qty: i64) -> i64 {
        match self.find(px) {
            Ok(i) if qty > 0 => std::mem::replace(&mut self.qty[i], qty),
            Ok(i) => {
                self.px.remove(i);
                self.qty.remove(i)
            }
            Err(i) if qty > 0 => {
                self.px.insert(i, px);
                self.qty.insert(i, qty);
                0
            }
            Err(_) => 0,
        }
    }

    /// Adds `dq` (may be negative; the size never goes below 0); returns (before, after).
    fn add(&mut self, px: i64, dq: i64) -> (i64, i64) {
        match self.find(px) {
            Ok(i) => {
                let before = self.qty[i];
                let after = (before + dq).max(0);
                if after > 0 {
                    self.qty[i] = after;
                } else {
                    self.px.remove(i);
                    self.qty.remove(i);
                }
                (before, after)
            }
            Err(i) if dq > 0 => {
                self.px.insert(i, px);
                self.qty.insert(i, dq);
                (0, dq)
            }
            Err(_) => (0, 0),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.px.len()
    }

    #[inline]
    fn best(&self) -> Option<(i64, i64)> {
        Some((*self.px.last()?, *self.qty.last()?))
    }

    #[inline]
    fn worst_px(&self) -> Option<i64> {
        self.px.first().copied()
    }

    /// Level `i` counted from the best (0 = best).
    #[inline]
    fn level(&self, i: usize) -> Option<(i64, i64)> {
        let n = self.px.len();
        if i >= n {
            return None;
        }
        Some((self.px[n - 1 - i], self.qty[n - 1 - i]))
    }

    fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.px
            .iter()
            .rev()
            .copied()
            .zip(self.qty.iter().rev().copied())
    }

    fn top_qty(&self, n: usize) -> i64 {
        self.qty.iter().rev().take(n).sum()
    }

    /// A price `d` ticks away from `px`, away from the touch (deeper).
    #[inline]
    fn deeper(&self, px: i64, d: i64) -> i64 {
        if self.is_bid {
            px - d
        } else {
            px + d
        }
    }
}

/// The synthetic exchange: its true book, its event clock and its order flow.
#[derive(Debug, Clone)]
pub struct SyntheticMarket {
    cfg: SyntheticConfig,
    rng: SimRng,
    bids: SideBook,
    asks: SideBook,
    /// Latent fair price in millionths of a tick.
    fair_e6: i64,
    anchor_e6: i64,
    /// -1 ask-heavy, 0 neutral, +1 bid-heavy.
    regime: i8,
    now_ns: u64,
    next_ns: u64,
    next_trade_id: u64,
    next_order_id: u64,
    /// (side, price, size before the step) of every level the current step touched.
    touched: Vec<(Side, i64, i64)>,
    out: MarketStep,
    /// Trades in `out` that the last step already reported.
    reported_trades: usize,
    /// Elementary operations since the last step's report.
    pending_updates: u32,
}

const E6: i64 = 1_000_000;

impl SyntheticMarket {
    /// Builds the market and its initial book (best bid `start_px_ticks`, best ask one above).
    pub fn new(cfg: SyntheticConfig) -> Result<SyntheticMarket, String> {
        cfg.validate()?;
        let cap = cfg.levels + cfg.levels / 4 + 8;
        let mut rng = SimRng::new(cfg.seed ^ 0x6f62_692d_7363_616c); // "obi-scal"
        let first_gap = interval(&mut rng, cfg.schedule);
        let anchor_e6 = cfg.start_px_ticks * E6 + E6 / 2;
        let mut m = SyntheticMarket {
            cfg,
            rng,
            bids: SideBook::new(true, cap),
            asks: SideBook::new(false, cap),
            fair_e6: anchor_e6,
            anchor_e6,
            regime: 0,
            now_ns: 0,
            next_ns: first_gap,
            next_trade_id: 1_000_000 + (cfg.seed % 1_000_000) * 16,
            next_order_id: 10_000_000 + (cfg.seed % 1_000_000) * 64,
            touched: Vec::with_capacity(64),
            out: MarketStep {
                changes: Vec::with_capacity(64),
                trades: Vec::with_capacity(32),
                ..MarketStep::default()
            },
            reported_trades: 0,
            pending_updates: 0,
        };
        // Initial book: dense near the touch, gaps of 1-3 ticks further out.
        for (side, touch) in [
            (Side::Bid, cfg.start_px_ticks),
            (Side::Ask, cfg.start_px_ticks + 1),
        ] {
            let mut px = touch;
            for i in 0..cfg.levels {
                let qty = m.arrival_qty(i as i64);
                m.side_mut(side).set(px, qty);
                let gap = if i < 16 { 1 } else { 1 + m.rng.below(3) as i64 };
                px = m.side(side).deeper(px, gap);
            }
        }
        m.touched.clear();
        Ok(m)
    }

    pub fn config(&self) -> &SyntheticConfig {
        &self.cfg
    }

    pub fn instrument(&self) -> &Instrument {
        &self.cfg.instrument
    }

    /// Time of the last step (0 before the first), ns since the start.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Time the next [`step`](Self::step) will happen at.
    pub fn next_event_ns(&self) -> u64 {
        self.next_ns
    }

    /// Current imbalance regime: -1 ask-heavy, 0 neutral, +1 bid-heavy.
    pub fn regime(&self) -> i8 {
        self.regime
    }

    /// Latent fair price in millionths of a tick.
    pub fn fair_e6(&self) -> i64 {
        self.fair_e6
    }

    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best()
    }

    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best()
    }

    /// Number of price levels on `side`.
    pub fn depth(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// Size at `px` on `side` (0 when there is no level).
    pub fn qty_at(&self, side: Side, px: i64) -> i64 {
        self.side(side).get(px)
    }

    /// Sum of the sizes of the best `n` levels of `side`.
    pub fn top_qty(&self, side: Side, n: usize) -> i64 {
        self.side(side).top_qty(n)
    }

    /// Level `i` of `side` counted from the best (0 = best).
    pub fn level(&self, side: Side, i: usize) -> Option<(i64, i64)> {
        self.side(side).level(i)
    }

    /// The levels of `side`, best first.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.side(side).iter()
    }

    /// The whole book as (bids, asks), best first (allocates; for tests and the cold path).
    pub fn book(&self) -> (Levels, Levels) {
        (self.bids.iter().collect(), self.asks.iter().collect())
    }

    /// The last step's output.
    pub fn last_step(&self) -> &MarketStep {
        &self.out
    }

    /// Advances to the next event time and returns what changed.
    pub fn step(&mut self) -> &MarketStep {
        self.now_ns = self.next_ns;
        self.next_ns = self
            .now_ns
            .saturating_add(interval(&mut self.rng, self.cfg.schedule));
        // Trades of a `market_order` injected since the last step belong to this one.
        self.out.trades.drain(..self.reported_trades);
        self.out.changes.clear();
        self.out.step += 1;
        self.out.t_ns = self.now_ns;

        self.move_fair();
        self.steer();
        let mean = self.cfg.events_per_step as u64;
        let n = 1 + self.rng.geometric((1_000_000 / mean) as u32, 4 * mean);
        for _ in 0..n {
            let r = self.rng.below(100);
            if r < 50 {
                self.random_arrival();
            } else if r < 88 {
                self.random_cancel();
            } else {
                self.random_market_order();
            }
        }
        self.repair_spread();
        self.maintain_depth();
        self.collect_changes();
        &self.out
    }

    /// Sends a market order of `qty` lots that walks the opposite side from its best level,
    /// one trade per level touched, and returns the filled size. Part of [`step`](Self::step)'s
    /// flow; public for tests and for injecting a sweep. Called between steps, its trades and
    /// level changes are reported by the next `step`.
    pub fn market_order(&mut self, aggressor: Side, qty: i64) -> i64 {
        let taker = self.next_order_id;
        self.next_order_id += 1;
        let mut left = qty;
        while left > 0 {
            let book = self.side(aggressor.opposite());
            let Some((px, lvl)) = book.best() else { break };
            let take = left.min(lvl);
            self.set_level(aggressor.opposite(), px, lvl - take);
            let maker = self.next_order_id;
            self.next_order_id += 1;
            self.out.trades.push(Trade {
                id: self.next_trade_id,
                px,
                qty: take,
                aggressor,
                taker_order_id: taker,
                maker_order_id: maker,
            });
            self.next_trade_id += 1;
            left -= take;
        }
        qty - left
    }

    #[inline]
    fn side(&self, side: Side) -> &SideBook {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    #[inline]
    fn side_mut(&mut self, side: Side) -> &mut SideBook {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    /// Sets a level, remembering its size before the step the first time it is touched.
    fn set_level(&mut self, side: Side, px: i64, qty: i64) {
        let before = self.side_mut(side).set(px, qty);
        self.touched_level(side, px, before);
    }

    fn add_level(&mut self, side: Side, px: i64, dq: i64) {
        let (before, _) = self.side_mut(side).add(px, dq);
        self.touched_level(side, px, before);
    }

    #[inline]
    fn touched_level(&mut self, side: Side, px: i64, before: i64) {
        if !self.touched.iter().any(|&(s, p, _)| s == side && p == px) {
            self.touched.push((side, px, before));
        }
        self.pending_updates += 1;
    }

    /// Best bid and ask, each derived from the other (or the fair price) when a side is empty.
    fn touch(&self) -> (i64, i64) {
        match (self.bids.best(), self.asks.best()) {
            (Some((b, _)), Some((a, _))) => (b, a),
            (Some((b, _)), None) => (b, b + 1),
            (None, Some((a, _))) => (a - 1, a),
            (None, None) => {
                let f = self.fair_e6 / E6;
                (f, f + 1)
            }
        }
    }

    /// Mid price in millionths of a tick.
    fn mid_e6(&self) -> i64 {
        let (b, a) = self.touch();
        (b + a) * (E6 / 2)
    }

    /// Size of a new order `d` levels from the touch: 1/4..8x the base, larger deeper.
    fn arrival_qty(&mut self, d: i64) -> i64 {
        let base = self.cfg.base_qty_lots;
        let m = (1 + self.rng.below(8) as i64) * (1 + self.rng.below(4) as i64);
        let q = base * m / 4;
        (q + q * d.min(64) / 16).max(1)
    }

    fn move_fair(&mut self) {
        if self.rng.chance(self.cfg.regime_switch_ppm) {
            let r = self.rng.below(2) as i8; // one of the two other regimes
            self.regime = match (self.regime, r) {
                (0, 0) => 1,
                (0, _) => -1,
                (1, 0) => 0,
                (1, _) => -1,
                (_, 0) => 0,
                (_, _) => 1,
            };
        }
        let revert =
            (self.anchor_e6 - self.fair_e6) as i128 * self.cfg.reversion_ppm as i128 / 1_000_000;
        let noise = self.cfg.sigma_milliticks as i128 * self.rng.normal_e6() as i128 / 1_000;
        let drift = self.regime as i64 * self.cfg.regime_drift_milliticks * 1_000;
        self.fair_e6 += revert as i64 + noise as i64 + drift;
        let lo = (8 * self.cfg.levels as i64 + 32) * E6;
        self.fair_e6 = self.fair_e6.max(lo);
    }

    /// Moves the book towards the fair price when it is a tick or more away from the mid.
    fn steer(&mut self) {
        let gap = self.fair_e6 - self.mid_e6();
        let aggressor = if gap >= E6 {
            Side::Bid
        } else if gap <= -E6 {
            Side::Ask
        } else {
            return;
        };
        if !self.rng.chance(700_000) {
            return;
        }
        let Some((px, qty)) = self.side(aggressor.opposite()).best() else {
            return;
        };
        self.market_order(aggressor, qty);
        if self.rng.chance(800_000) {
            // A new quote at the vacated price keeps the spread at one tick.
            let q = self.arrival_qty(0);
            self.add_level(aggressor, px, q);
        }
    }

    fn random_arrival(&mut self) {
        let bias = 150_000 * self.regime as i64;
        let side = if self.rng.chance((500_000 + bias) as u32) {
            Side::Bid
        } else {
            Side::Ask
        };
        let (bb, ba) = self.touch();
        let spread = ba - bb;
        let (px, d) = if spread > 1 && self.rng.chance(400_000) {
            let inside = 1 + self.rng.below(spread as u64 - 1) as i64;
            (
                if side == Side::Bid {
                    bb + inside
                } else {
                    ba - inside
                },
                0,
            )
        } else {
            let d = if self.rng.chance(750_000) {
                self.rng.geometric(350_000, 20) as i64
            } else {
                self.rng.below(self.cfg.levels as u64) as i64
            };
            let touch = if side == Side::Bid { bb } else { ba };
            (self.side(side).deeper(touch, d), d)
        };
        if px < 1 {
            return;
        }
        let mut q = self.arrival_qty(d);
        if d < 8 && (self.regime as i64) * side_sign(side) > 0 {
            q *= 2; // the heavy side's orders near the touch are bigger
        }
        self.add_level(side, px, q);
    }

    fn random_cancel(&mut self) {
        let bias = 150_000 * self.regime as i64;
        // Bid-heavy regime: asks are pulled more often than bids.
        let side = if self.rng.chance((500_000 - bias) as u32) {
            Side::Bid
        } else {
            Side::Ask
        };
        let n = self.side(side).len();
        if n <= 1 {
            return;
        }
        let i = if self.rng.chance(650_000) {
            self.rng.below(n.min(10) as u64)
        } else {
            self.rng.below(n as u64)
        } as usize;
        let Some((px, q)) = self.side(side).level(i) else {
            return;
        };
        let left = if q <= 1 || self.rng.chance(450_000) {
            0
        } else {
            let cut = (q * (1 + self.rng.below(3) as i64) / 4).clamp(1, q - 1);
            q - cut
        };
        self.set_level(side, px, left);
    }

    fn random_market_order(&mut self) {
        let bias = 150_000 * self.regime as i64;
        let aggressor = if self.rng.chance((500_000 + bias) as u32) {
            Side::Bid
        } else {
            Side::Ask
        };
        let base = self.cfg.base_qty_lots;
        let qty = if self.rng.chance(800_000) {
            (base * (1 + self.rng.below(4) as i64) / 4).max(1)
        } else {
            // A sweep: the best k levels and part of the next.
            let k = 1 + self.rng.below(3) as usize;
            let book = self.side(aggressor.opposite());
            let part = book.level(k).map(|(_, q)| q / 2).unwrap_or(0);
            book.top_qty(k) + part
        };
        // Never take more than half of the best 20 levels.
        let cap = (self.side(aggressor.opposite()).top_qty(20) / 2).max(1);
        self.market_order(aggressor, qty.min(cap));
    }

    /// A wide spread attracts a quote inside it half of the time.
    fn repair_spread(&mut self) {
        let (bb, ba) = self.touch();
        let spread = ba - bb;
        if spread <= 1 || !self.rng.chance(500_000) {
            return;
        }
        let gap = self.fair_e6 - self.mid_e6();
        let side = if gap > 0 || (gap == 0 && self.rng.below(2) == 0) {
            Side::Bid
        } else {
            Side::Ask
        };
        let inside = 1 + self.rng.below(spread as u64 - 1) as i64;
        let px = if side == Side::Bid {
            bb + inside
        } else {
            ba - inside
        };
        let q = self.arrival_qty(0);
        self.add_level(side, px, q);
    }

    /// Keeps each side between `levels` and `levels * 5 / 4` levels.
    fn maintain_depth(&mut self) {
        let levels = self.cfg.levels;
        let max = levels + levels / 4;
        for side in [Side::Bid, Side::Ask] {
            while self.side(side).len() < levels {
                let (bb, ba) = self.touch();
                let worst = self.side(side).worst_px().unwrap_or(match side {
                    Side::Bid => bb,
                    Side::Ask => ba,
                });
                let empty = self.side(side).len() == 0;
                let gap = if empty {
                    0
                } else {
                    1 + self.rng.below(3) as i64
                };
                let px = self.side(side).deeper(worst, gap);
                if px < 1 {
                    break;
                }
                let q = self.arrival_qty(32);
                self.add_level(side, px, q);
            }
            while self.side(side).len() > max {
                let Some(px) = self.side(side).worst_px() else {
                    break;
                };
                self.set_level(side, px, 0);
            }
        }
    }

    fn collect_changes(&mut self) {
        for &(side, px, before) in &self.touched {
            let qty = self.side(side).get(px);
            if qty != before {
                self.out.changes.push(LevelChange { side, px, qty });
            }
        }
        self.touched.clear();
        self.reported_trades = self.out.trades.len();
        self.out.updates = self.pending_updates.max(1);
        self.pending_updates = 0;
    }
}

#[inline]
fn side_sign(side: Side) -> i64 {
    match side {
        Side::Bid => 1,
        Side::Ask => -1,
    }
}

fn interval(rng: &mut SimRng, schedule: Schedule) -> u64 {
    match schedule {
        Schedule::Grid { period_ns } => period_ns,
        Schedule::Random { median_ns } => {
            let x = rng.neg_log2_q32().min(16u64 << 32);
            ((median_ns as u128 * x as u128) >> 32).max(1) as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::signals::obi_ppm;

    fn check_invariants(m: &SyntheticMarket) {
        let (bids, asks) = m.book();
        assert!(!bids.is_empty() && !asks.is_empty());
        assert!(
            bids[0].0 < asks[0].0,
            "crossed: {:?} {:?}",
            bids[0],
            asks[0]
        );
        assert!(bids.windows(2).all(|w| w[0].0 > w[1].0));
        assert!(asks.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(bids.iter().chain(&asks).all(|&(p, q)| p > 0 && q > 0));
        let lv = m.config().levels;
        for side in [&bids, &asks] {
            assert!(
                side.len() >= lv && side.len() <= lv + lv / 4,
                "{}",
                side.len()
            );
        }
    }

    #[test]
    fn rng_is_splitmix64() {
        // Reference values of SplitMix64 seeded with 0 (Vigna's published generator).
        let mut r = SimRng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = SimRng::new(7);
        assert!((0..10_000).all(|_| r.below(10) < 10));
    }

    #[test]
    fn random_schedule_has_the_configured_median() {
        let mut r = SimRng::new(42);
        let median = 365_000_000;
        let mut v: Vec<u64> = (0..20_001)
            .map(|_| interval(&mut r, Schedule::Random { median_ns: median }))
            .collect();
        v.sort_unstable();
        let m = v[10_000];
        assert!((median * 95 / 100..median * 105 / 100).contains(&m), "{m}");
        // Mean of an exponential is median / ln 2 = 1.4427 x median.
        let mean = v.iter().sum::<u64>() / v.len() as u64;
        assert!(
            (median * 135 / 100..median * 155 / 100).contains(&mean),
            "{mean}"
        );
    }

    #[test]
    fn normal_draws_have_unit_variance() {
        let mut r = SimRng::new(3);
        let n = 20_000i128;
        let xs: Vec<i128> = (0..n).map(|_| r.normal_e6() as i128).collect();
        let mean = xs.iter().sum::<i128>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<i128>() / n;
        assert!(mean.abs() < 30_000, "{mean}");
        assert!((900_000_000_000..1_100_000_000_000).contains(&var), "{var}");
    }

    #[test]
    fn same_seed_same_market_other_seed_other_market() {
        let run = |seed| {
            let mut m = SyntheticMarket::new(SyntheticConfig::coincheck_btc_jpy(seed)).unwrap();
            let mut log = Vec::new();
            for _ in 0..500 {
                let s = m.step();
                log.push((s.t_ns, s.changes.clone(), s.trades.clone()));
            }
            (log, m.book())
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11).1, run(12).1);
    }

    #[test]
    fn book_invariants_hold_over_a_long_run() {
        for cfg in [
            SyntheticConfig::coincheck_btc_jpy(1),
            SyntheticConfig::bybit_btcusdt(2, Market::Linear),
            SyntheticConfig::binance_btcusdt(3),
        ] {
            let mut m = SyntheticMarket::new(cfg).unwrap();
            check_invariants(&m);
            let mut last_t = 0;
            let mut wide = 0;
            let mut steps = 0;
            for _ in 0..5_000 {
                let s = m.step();
                assert!(s.t_ns > last_t);
                last_t = s.t_ns;
                assert!(s.changes.iter().all(|c| c.qty >= 0));
                check_invariants(&m);
                let (b, a) = (m.best_bid().unwrap().0, m.best_ask().unwrap().0);
                wide += (a - b > 1) as u32;
                steps += 1;
            }
            // One tick most of the time, wider sometimes.
            assert!(
                wide > 0 && wide * 4 < steps,
                "wide spreads in {wide} of {steps} steps"
            );
            // Mean-reverting: the price stays near the anchor.
            let (b, _) = m.best_bid().unwrap();
            assert!((b - cfg.start_px_ticks).abs() < 400, "drifted to {b}");
        }
    }

    #[test]
    fn changes_are_exactly_the_difference_between_books() {
        let mut m = SyntheticMarket::new(SyntheticConfig::bybit_btcusdt(5, Market::Spot)).unwrap();
        for _ in 0..2_000 {
            let (b0, a0) = m.book();
            let s = m.step().clone();
            let mut bids: std::collections::BTreeMap<i64, i64> = b0.into_iter().collect();
            let mut asks: std::collections::BTreeMap<i64, i64> = a0.into_iter().collect();
            for c in &s.changes {
                let map = if c.side == Side::Bid {
                    &mut bids
                } else {
                    &mut asks
                };
                assert_ne!(map.get(&c.px).copied().unwrap_or(0), c.qty, "no-op change");
                if c.qty == 0 {
                    map.remove(&c.px);
                } else {
                    map.insert(c.px, c.qty);
                }
            }
            let (b1, a1) = m.book();
            assert_eq!(bids.into_iter().rev().collect::<Vec<_>>(), b1);
            assert_eq!(asks.into_iter().collect::<Vec<_>>(), a1);
        }
    }

    #[test]
    fn market_orders_walk_the_book() {
        let mut m = SyntheticMarket::new(SyntheticConfig::binance_btcusdt(9)).unwrap();
        for _ in 0..50 {
            m.step();
        }
        let (_, asks) = m.book();
        let want = asks[0].1 + asks[1].1 + asks[2].1 / 2;
        let n0 = m.last_step().trades.len();
        let filled = m.market_order(Side::Bid, want);
        assert_eq!(filled, want);
        let t = &m.last_step().trades[n0..];
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].px, t[0].qty), asks[0]);
        assert_eq!((t[1].px, t[1].qty), asks[1]);
        assert_eq!((t[2].px, t[2].qty), (asks[2].0, asks[2].1 / 2));
        assert!(t.iter().all(|x| x.aggressor == Side::Bid));
        assert!(t.iter().all(|x| x.taker_order_id == t[0].taker_order_id));
        assert!(t.windows(2).all(|w| w[1].id == w[0].id + 1));
        assert_eq!(m.qty_at(Side::Ask, asks[0].0), 0);
        assert_eq!(m.qty_at(Side::Ask, asks[1].0), 0);
        assert_eq!(m.qty_at(Side::Ask, asks[2].0), asks[2].1 - asks[2].1 / 2);
        assert_eq!(m.best_ask(), Some((asks[2].0, asks[2].1 - asks[2].1 / 2)));

        // Over a run, some market orders take more than one level.
        let mut multi = 0;
        let mut trades = 0;
        for _ in 0..3_000 {
            let s = m.step();
            trades += s.trades.len();
            for w in s.trades.windows(2) {
                if w[0].taker_order_id == w[1].taker_order_id {
                    multi += 1;
                    match w[0].aggressor {
                        Side::Bid => assert!(w[1].px > w[0].px),
                        Side::Ask => assert!(w[1].px < w[0].px),
                    }
                }
            }
        }
        assert!(
            trades > 1_000 && multi > 50,
            "trades {trades}, multi-level {multi}"
        );
    }

    #[test]
    fn imbalance_regimes_swing_obi_both_ways() {
        let mut m = SyntheticMarket::new(SyntheticConfig::coincheck_btc_jpy(21)).unwrap();
        let (mut pos, mut neg, mut n) = (0u32, 0u32, 0u32);
        let mut by_regime = [(0i64, 0i64); 3];
        for _ in 0..20_000 {
            m.step();
            let obi = obi_ppm(m.top_qty(Side::Bid, 8), m.top_qty(Side::Ask, 8));
            pos += (obi > 300_000) as u32;
            neg += (obi < -300_000) as u32;
            n += 1;
            let r = &mut by_regime[(m.regime() + 1) as usize];
            r.0 += obi;
            r.1 += 1;
        }
        assert!(
            pos * 20 > n && neg * 20 > n,
            "OBI(8) > 0.3: {pos}, < -0.3: {neg} of {n}"
        );
        let avg = |(s, c): (i64, i64)| s / c.max(1);
        assert!(by_regime.iter().all(|r| r.1 > 1_000), "{by_regime:?}");
        assert!(
            avg(by_regime[2]) > 100_000,
            "bid-heavy {}",
            avg(by_regime[2])
        );
        assert!(
            avg(by_regime[0]) < -100_000,
            "ask-heavy {}",
            avg(by_regime[0])
        );
    }

    #[test]
    fn rejects_bad_config() {
        let mut c = SyntheticConfig::coincheck_btc_jpy(1);
        c.levels = 0;
        assert!(SyntheticMarket::new(c).unwrap_err().contains("levels"));
        let mut c = SyntheticConfig::coincheck_btc_jpy(1);
        c.start_px_ticks = 10;
        assert!(SyntheticMarket::new(c)
            .unwrap_err()
            .contains("start_px_ticks"));
        let c = SyntheticConfig {
            schedule: Schedule::Grid { period_ns: 0 },
            ..SyntheticConfig::coincheck_btc_jpy(1)
        };
        assert!(SyntheticMarket::new(c).is_err());
    }
}
