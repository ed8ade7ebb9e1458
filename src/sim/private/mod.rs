//! The simulator's private side: an account, order matching against the simulator's own
//! market, and the hooks a venue's private protocol plugs into the server with.
//!
//! Content and protocol are separate, as for the public side: [`Engine`] (this file) keeps one
//! account's orders, fills, position and cash for one instrument and matches orders against
//! the feed's book; a venue's [`PrivateApi`] (Bybit's: `venue/bybit/sim_private.rs`) speaks
//! the venue's REST and private WebSocket protocol over it — paths, headers, signatures,
//! bodies, error codes, rate-limit headers — and renders `GET /sim/state`.
//!
//! Matching (conservative, like the paper exchange, but against the simulator's true book):
//! - on arrival a limit order that crosses the visible book takes the opposite levels at their
//!   prices, each level at most its visible size (taker fee); the levels taken are consumed
//!   from the engine's copy of the book until the next market update. The rest rests (GTC),
//!   is cancelled (IOC); a crossing post-only order is rejected;
//! - a resting order fills (maker fee) when a market update shows opposite liquidity
//!   strictly through its price: a resting buy at P takes, from asks below P, at most their
//!   visible size, at its own price P. One update can fill part of an order (partial fills).
//!   No queue position at the order's own price: a touch never fills.
//!
//! Money is exact: amounts are in [`Money`] units (one tick on one lot is
//! [`MONEY_PER_TICK_LOT`]); fees are `px * qty * rate` with rates in hundredths of a basis
//! point, the same arithmetic as the bot's ledger, so the two can be compared exactly.

use crate::instrument::Instrument;
use crate::msg::{Cbps, Money, OrderSide, Tif, MONEY_PER_TICK_LOT};
use crate::num::write_units;
use std::collections::BTreeMap;
use std::path::Path;

use super::{BookSide, RestReply, Route, SimFeed};

/// An account file (`--account FILE`): credentials and the starting state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFile {
    pub api_key: String,
    pub api_secret: String,
    /// Starting balances by coin (`USDT = "100000"`), exact decimals.
    #[serde(default)]
    pub balances: BTreeMap<String, String>,
    /// Starting position by symbol in the instrument's base size (`BTCUSDT = "0.010"`).
    #[serde(default)]
    pub positions: BTreeMap<String, String>,
    /// Entry price of each starting position (`BTCUSDT = "64000.5"`); default: 0.
    #[serde(default)]
    pub entry_prices: BTreeMap<String, String>,
    /// Orders resting at the start (our leftovers from an earlier run, someone else's).
    #[serde(default)]
    pub orders: Vec<AccountOrder>,
    /// Fee rates in basis points (decimals allowed, `"2"`, `"5.5"`); default: the venue's.
    pub maker_fee_bps: Option<String>,
    pub taker_fee_bps: Option<String>,
}

/// An order resting at the start (`[[orders]]` of an account file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountOrder {
    /// The client order id (`orderLinkId`); empty: none (an order placed in the web UI).
    #[serde(default)]
    pub link_id: String,
    /// `"Buy"` or `"Sell"`.
    pub side: String,
    pub price: String,
    pub qty: String,
}

impl AccountFile {
    /// Reads and checks `path`; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<AccountFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the account file {}: {e}", path.display()))?;
        let a: AccountFile =
            toml::from_str(&text).map_err(|e| format!("account file {}: {e}", path.display()))?;
        if a.api_key.is_empty() || a.api_secret.is_empty() {
            return Err(format!(
                "account file {}: api_key and api_secret must not be empty",
                path.display()
            ));
        }
        Ok(a)
    }
}

/// Hundredths of a basis point from a decimal number of basis points (`"5.5"` → 550).
pub fn parse_bps(s: &str, field: &str) -> Result<Cbps, String> {
    crate::num::parse_units(s.as_bytes(), 2)
        .map_err(|e| format!("{field} = \"{s}\": {e} (expected basis points, e.g. 2 or 5.5)"))
}

/// Status of a simulated order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    PartiallyFilled,
    Filled,
    Cancelled,
    Rejected,
}

impl Status {
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

/// One order at the simulated venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOrder {
    pub order_id: u64,
    pub link_id: String,
    pub side: OrderSide,
    pub px: i64,
    pub qty: i64,
    pub cum: i64,
    /// Traded value of the fills in `Money` (px * qty * MONEY_PER_TICK_LOT summed).
    pub cum_value: Money,
    pub fees: Money,
    pub tif: Tif,
    pub reduce_only: bool,
    pub status: Status,
    pub created_ms: u64,
    pub updated_ms: u64,
}

impl SimOrder {
    pub fn leaves(&self) -> i64 {
        if self.status.is_open() {
            self.qty - self.cum
        } else {
            0
        }
    }
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFill {
    pub exec_id: u64,
    pub order_id: u64,
    pub px: i64,
    pub qty: i64,
    pub fee: Money,
    pub fee_rate: Cbps,
    pub maker: bool,
    pub ts_ms: u64,
    /// The order's size left after this fill.
    pub leaves: i64,
}

/// What changed, for the private stream (indices into the engine's lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Order(usize),
    Fill(usize),
}

/// Why a place was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client order id was used before.
    DuplicateLinkId,
    /// Size or price not positive.
    Invalid,
    /// A post-only order would have taken liquidity: it was entered and cancelled at once
    /// (it is the last of [`Engine::orders`]).
    PostOnlyWouldCross,
    /// A reduce-only order would not reduce the position.
    ReduceOnly,
    /// Refused by a `reject` fault.
    Fault,
}

/// One account trading one instrument.
#[derive(Debug, Clone)]
pub struct Engine {
    pub inst: Instrument,
    pub maker_fee: Cbps,
    pub taker_fee: Cbps,
    orders: Vec<SimOrder>,
    fills: Vec<SimFill>,
    changes: Vec<Change>,
    next_order_id: u64,
    next_exec_id: u64,
    position: i64,
    start_position: i64,
    cash: Money,
    fees: Money,
    /// Signed cost basis of the open position and realized gross PnL (the ledger's rule:
    /// closing removes the pro-rata share of the basis), for a linear account's wallet.
    basis: Money,
    realized: Money,
    /// Money added to (or taken from) the wallet behind the client's back (`POST /sim/wallet`).
    wallet_adjust: Money,
    /// The engine's copy of the book (best first), consumed by taking fills until the next
    /// market update.
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
    /// Place requests received (accepted or refused), and places whose client id was seen
    /// before: a client that never double-sends keeps `duplicate_places` at 0.
    pub place_requests: u64,
    pub duplicate_places: u64,
    reject_next: u32,
}

impl Engine {
    pub fn new(inst: Instrument, maker_fee: Cbps, taker_fee: Cbps, start_position: i64) -> Engine {
        Engine {
            inst,
            maker_fee,
            taker_fee,
            orders: Vec::new(),
            fills: Vec::new(),
            changes: Vec::new(),
            next_order_id: 1_000_000_001,
            next_exec_id: 1,
            position: start_position,
            start_position,
            cash: 0,
            fees: 0,
            basis: 0,
            realized: 0,
            wallet_adjust: 0,
            bids: Vec::new(),
            asks: Vec::new(),
            place_requests: 0,
            duplicate_places: 0,
            reject_next: 0,
        }
    }

    pub fn orders(&self) -> &[SimOrder] {
        &self.orders
    }

    pub fn fills(&self) -> &[SimFill] {
        &self.fills
    }

    pub fn position(&self) -> i64 {
        self.position
    }

    /// Cash change since start, fees included.
    pub fn cash(&self) -> Money {
        self.cash
    }

    pub fn fees(&self) -> Money {
        self.fees
    }

    /// Cost basis of the open position (Money, negative when short).
    pub fn basis(&self) -> Money {
        self.basis
    }

    /// Realized gross PnL since start.
    pub fn realized(&self) -> Money {
        self.realized
    }

    /// The starting position's cost basis (its entry price times its size).
    pub fn set_start_basis(&mut self, basis: Money) {
        self.basis = basis;
    }

    /// What the wallet was changed by behind the client's back.
    pub fn wallet_adjust(&self) -> Money {
        self.wallet_adjust
    }

    /// Changes the position behind the client's back (a trade in the web UI, a liquidation),
    /// at no cost: no fill, no order.
    pub fn adjust_position(&mut self, delta: i64) {
        self.position += delta;
    }

    /// Changes the wallet behind the client's back.
    pub fn adjust_wallet(&mut self, delta: Money) {
        self.wallet_adjust += delta;
    }

    /// An order resting from before the start: entered open, not matched on entry.
    pub fn seed_order(
        &mut self,
        link_id: &str,
        side: OrderSide,
        px: i64,
        qty: i64,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        if px <= 0 || qty <= 0 {
            return Err(Refusal::Invalid);
        }
        if !link_id.is_empty() && self.find_link(link_id).is_some() {
            return Err(Refusal::DuplicateLinkId);
        }
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        self.orders.push(SimOrder {
            order_id,
            link_id: link_id.to_string(),
            side,
            px,
            qty,
            cum: 0,
            cum_value: 0,
            fees: 0,
            tif: Tif::Gtc,
            reduce_only: false,
            status: Status::New,
            created_ms: now_ms,
            updated_ms: now_ms,
        });
        Ok(())
    }

    /// The next `n` places are refused (the `reject` fault).
    pub fn reject_next(&mut self, n: u32) {
        self.reject_next += n;
    }

    pub fn take_changes(&mut self, out: &mut Vec<Change>) {
        out.append(&mut self.changes);
    }

    /// The best bid of the engine's copy of the book.
    pub fn bids_best(&self) -> Option<i64> {
        self.bids.first().map(|&(p, _)| p)
    }

    /// The engine's copy of the asks (best first), as market orders would take them.
    pub fn asks(&self) -> &[(i64, i64)] {
        &self.asks
    }

    pub fn find_link(&self, link_id: &str) -> Option<&SimOrder> {
        self.orders.iter().find(|o| o.link_id == link_id)
    }

    pub fn find_id(&self, order_id: u64) -> Option<&SimOrder> {
        self.orders.iter().find(|o| o.order_id == order_id)
    }

    /// The market as the feed shows it now (exact decimal strings, best first).
    pub fn on_book(&mut self, bids: &BookSide, asks: &BookSide, now_ms: u64) {
        let inst = self.inst;
        let parse = |side: &BookSide, out: &mut Vec<(i64, i64)>| {
            out.clear();
            for (p, q) in side {
                if let (Ok(p), Ok(q)) =
                    (inst.tick.parse(p.as_bytes()), inst.lot.parse(q.as_bytes()))
                {
                    if q > 0 {
                        out.push((p, q));
                    }
                }
            }
        };
        let (mut b, mut a) = (
            std::mem::take(&mut self.bids),
            std::mem::take(&mut self.asks),
        );
        parse(bids, &mut b);
        parse(asks, &mut a);
        self.bids = b;
        self.asks = a;
        self.match_resting(now_ms);
    }

    /// A new limit order; its index among [`Engine::orders`] once accepted (it may already be
    /// partly or fully filled, or cancelled for IOC).
    #[allow(clippy::too_many_arguments)]
    pub fn place(
        &mut self,
        link_id: &str,
        side: OrderSide,
        px: i64,
        qty: i64,
        tif: Tif,
        reduce_only: bool,
        now_ms: u64,
    ) -> Result<usize, Refusal> {
        self.place_requests += 1;
        if !link_id.is_empty() && self.find_link(link_id).is_some() {
            self.duplicate_places += 1;
            return Err(Refusal::DuplicateLinkId);
        }
        if px <= 0 || qty <= 0 {
            return Err(Refusal::Invalid);
        }
        if self.reject_next > 0 {
            self.reject_next -= 1;
            return Err(Refusal::Fault);
        }
        if reduce_only {
            let reduces = match side {
                OrderSide::Buy => self.position < 0 && qty <= -self.position,
                OrderSide::Sell => self.position > 0 && qty <= self.position,
            };
            if !reduces {
                return Err(Refusal::ReduceOnly);
            }
        }
        let crosses = match side {
            OrderSide::Buy => self.asks.first().is_some_and(|&(a, _)| px >= a),
            OrderSide::Sell => self.bids.first().is_some_and(|&(b, _)| px <= b),
        };
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        self.orders.push(SimOrder {
            order_id,
            link_id: link_id.to_string(),
            side,
            px,
            qty,
            cum: 0,
            cum_value: 0,
            fees: 0,
            tif,
            reduce_only,
            status: Status::New,
            created_ms: now_ms,
            updated_ms: now_ms,
        });
        let i = self.orders.len() - 1;
        self.changes.push(Change::Order(i));
        if crosses && tif == Tif::PostOnly {
            // Accepted, then cancelled at once without trading (Bybit's behaviour; a venue
            // that refuses it outright maps this to its error).
            self.orders[i].status = Status::Cancelled;
            self.changes.push(Change::Order(i));
            return Err(Refusal::PostOnlyWouldCross);
        }
        if crosses {
            self.take(i, now_ms);
        }
        let o = &mut self.orders[i];
        if tif == Tif::Ioc && o.status.is_open() {
            o.status = Status::Cancelled;
            o.updated_ms = now_ms;
            self.changes.push(Change::Order(i));
        }
        Ok(i)
    }

    /// Cancels an open order; false when it is not open (finished, or unknown).
    pub fn cancel(&mut self, i: usize, now_ms: u64) -> bool {
        let Some(o) = self.orders.get_mut(i) else {
            return false;
        };
        if !o.status.is_open() {
            return false;
        }
        o.status = Status::Cancelled;
        o.updated_ms = now_ms;
        self.changes.push(Change::Order(i));
        true
    }

    pub fn index_of_link(&self, link_id: &str) -> Option<usize> {
        self.orders.iter().position(|o| o.link_id == link_id)
    }

    pub fn index_of_id(&self, order_id: u64) -> Option<usize> {
        self.orders.iter().position(|o| o.order_id == order_id)
    }

    /// Cancels every open order; their indices.
    pub fn cancel_all(&mut self, now_ms: u64) -> Vec<usize> {
        let open: Vec<usize> = (0..self.orders.len())
            .filter(|&i| self.orders[i].status.is_open())
            .collect();
        for &i in &open {
            self.cancel(i, now_ms);
        }
        open
    }

    fn fill(&mut self, i: usize, px: i64, qty: i64, maker: bool, now_ms: u64) {
        let rate = if maker {
            self.maker_fee
        } else {
            self.taker_fee
        };
        let fee = px as i128 * qty as i128 * rate as i128;
        let value = px as i128 * qty as i128 * MONEY_PER_TICK_LOT;
        let o = &mut self.orders[i];
        o.cum += qty;
        o.cum_value += value;
        o.fees += fee;
        o.updated_ms = now_ms;
        o.status = if o.cum == o.qty {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        let sign = o.side.sign();
        let leaves = o.qty - o.cum;
        let order_id = o.order_id;
        let pos = self.position;
        if pos == 0 || pos.signum() == sign {
            self.basis += sign as i128 * value;
        } else {
            let closing = qty.min(pos.abs());
            let removed = self.basis * closing as i128 / pos.abs() as i128;
            let exit = px as i128 * closing as i128 * MONEY_PER_TICK_LOT;
            self.realized += -(sign as i128) * exit - removed;
            self.basis -= removed;
            let rest = qty - closing;
            if rest > 0 {
                self.basis += sign as i128 * px as i128 * rest as i128 * MONEY_PER_TICK_LOT;
            }
        }
        self.position += sign * qty;
        self.cash -= sign as i128 * value + fee;
        self.fees += fee;
        let exec_id = self.next_exec_id;
        self.next_exec_id += 1;
        self.fills.push(SimFill {
            exec_id,
            order_id,
            px,
            qty,
            fee,
            fee_rate: rate,
            maker,
            ts_ms: now_ms,
            leaves,
        });
        self.changes.push(Change::Fill(self.fills.len() - 1));
        self.changes.push(Change::Order(i));
    }

    /// Takes liquidity for a crossing order on arrival.
    fn take(&mut self, i: usize, now_ms: u64) {
        let (side, px) = (self.orders[i].side, self.orders[i].px);
        loop {
            let leaves = self.orders[i].qty - self.orders[i].cum;
            if leaves == 0 {
                break;
            }
            let level = match side {
                OrderSide::Buy => self.asks.first_mut().filter(|l| l.0 <= px),
                OrderSide::Sell => self.bids.first_mut().filter(|l| l.0 >= px),
            };
            let Some(level) = level else { break };
            let f = leaves.min(level.1);
            let lp = level.0;
            level.1 -= f;
            if level.1 == 0 {
                match side {
                    OrderSide::Buy => self.asks.remove(0),
                    OrderSide::Sell => self.bids.remove(0),
                };
            }
            self.fill(i, lp, f, false, now_ms);
        }
    }

    /// Fills resting orders the book trades through (maker, at the order's price).
    fn match_resting(&mut self, now_ms: u64) {
        for i in 0..self.orders.len() {
            if !self.orders[i].status.is_open() {
                continue;
            }
            let (side, px) = (self.orders[i].side, self.orders[i].px);
            let budget: i64 = match side {
                OrderSide::Buy => self.asks.iter().take_while(|l| l.0 < px).map(|l| l.1).sum(),
                OrderSide::Sell => self.bids.iter().take_while(|l| l.0 > px).map(|l| l.1).sum(),
            };
            let leaves = self.orders[i].qty - self.orders[i].cum;
            let f = leaves.min(budget);
            if f <= 0 {
                continue;
            }
            // Consume the liquidity from the engine's copy (best first) so that two of our
            // orders do not both fill against it.
            let levels = match side {
                OrderSide::Buy => &mut self.asks,
                OrderSide::Sell => &mut self.bids,
            };
            let mut left = f;
            for l in levels.iter_mut() {
                if left == 0 {
                    break;
                }
                let t = left.min(l.1);
                l.1 -= t;
                left -= t;
            }
            levels.retain(|l| l.1 > 0);
            self.fill(i, px, f, true, now_ms);
        }
    }

    /// `Money` as an exact decimal in the quote currency.
    pub fn money_str(&self, m: Money) -> String {
        let units = m * self.inst.tick.step_units() as i128 * self.inst.lot.step_units() as i128;
        let mut s = String::new();
        let _ = write_units(units, self.inst.notional_decimals() + 6, &mut s);
        s
    }

    /// Orders, fills, position and cash as JSON (the body of `GET /sim/state`): exact
    /// decimals, and the raw integers (`*_lots`, `*_money`) tests compare with the bot's.
    pub fn state_json(&self, extra: serde_json::Value) -> serde_json::Value {
        use serde_json::json;
        let side = |s: OrderSide| s.as_str();
        let status = |s: Status| match s {
            Status::New => "new",
            Status::PartiallyFilled => "partially_filled",
            Status::Filled => "filled",
            Status::Cancelled => "cancelled",
            Status::Rejected => "rejected",
        };
        let orders: Vec<_> = self
            .orders
            .iter()
            .map(|o| {
                json!({
                    "order_id": o.order_id.to_string(),
                    "order_link_id": o.link_id,
                    "side": side(o.side),
                    "price": self.inst.tick.format(o.px),
                    "qty": self.inst.lot.format(o.qty),
                    "cum_exec_qty": self.inst.lot.format(o.cum),
                    "px_ticks": o.px, "qty_lots": o.qty, "cum_lots": o.cum,
                    "fees_money": o.fees.to_string(),
                    "status": status(o.status),
                    "reduce_only": o.reduce_only,
                })
            })
            .collect();
        let fills: Vec<_> = self
            .fills
            .iter()
            .map(|f| {
                json!({
                    "exec_id": f.exec_id.to_string(),
                    "order_id": f.order_id.to_string(),
                    "price": self.inst.tick.format(f.px),
                    "qty": self.inst.lot.format(f.qty),
                    "px_ticks": f.px, "qty_lots": f.qty,
                    "fee": self.money_str(f.fee),
                    "fee_money": f.fee.to_string(),
                    "maker": f.maker,
                })
            })
            .collect();
        json!({
            "symbol": self.inst.key.symbol.as_str(),
            "orders": orders,
            "fills": fills,
            "position": self.inst.lot.format(self.position),
            "position_lots": self.position,
            "start_position_lots": self.start_position,
            "cash_change": self.money_str(self.cash),
            "cash_change_money": self.cash.to_string(),
            "fees": self.money_str(self.fees),
            "fees_money": self.fees.to_string(),
            "basis_money": self.basis.to_string(),
            "realized_money": self.realized.to_string(),
            "wallet_adjust_money": self.wallet_adjust.to_string(),
            "place_requests": self.place_requests,
            "duplicate_places": self.duplicate_places,
            "venue": extra,
        })
    }
}

/// What the server does with a private request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Send this answer (status, extra headers, JSON body).
    Answer {
        reply: RestReply,
        headers: Vec<(String, String)>,
    },
    /// Send nothing and close the connection after a while (`timeout`, `lostack`): the client
    /// must find out what happened by asking.
    NoAnswer,
}

/// One private HTTP request as the server read it.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl HttpRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Private faults (`reject`, `order429`, `order500`, `timeout`, `lostack`, `dropfill`,
/// `read429`, `read500`, `skew`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateFault {
    /// Refuse the next N places with the venue's own error.
    Reject(u32),
    /// Answer the next N order requests with the venue's rate-limit error.
    Order429(u32),
    /// Answer the next N order requests with an internal error.
    Order500(u32),
    /// Do not execute the next N order requests, and send no answer.
    Timeout(u32),
    /// Execute the next N order requests, but send no answer.
    LostAck(u32),
    /// Leave the next N executions out of the private stream.
    DropFill(u32),
    /// Answer the next N signed reads (GET: orders, positions, wallet, executions) with the
    /// venue's rate-limit error.
    Read429(u32),
    /// Answer the next N signed reads with the venue's internal error.
    Read500(u32),
    /// From now on the venue's clock runs this far ahead of the wall clock: its time endpoint
    /// and its recv-window check both see the shifted time.
    Skew(std::time::Duration),
}

/// Faults waiting for their order request (the venue's API arms them, then asks per request).
#[derive(Debug, Default, Clone, Copy)]
pub struct PendingFaults {
    order429: u32,
    order500: u32,
    timeout: u32,
    lostack: u32,
    dropfill: u32,
    read429: u32,
    read500: u32,
    /// How far the venue's clock runs ahead of the wall clock (ms).
    skew_ms: u64,
}

/// What a pending fault does to the order request that meets it, instead of executing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeforeOrder {
    /// Answer with the venue's rate-limit error.
    Order429,
    /// Answer with an internal error.
    Order500,
    /// Do not execute, send no answer.
    Timeout,
}

impl PendingFaults {
    /// Arms `f` (a reject is the engine's: it refuses the next places).
    pub fn arm(&mut self, f: PrivateFault, engine: &mut Engine) {
        match f {
            PrivateFault::Reject(n) => engine.reject_next(n),
            PrivateFault::Order429(n) => self.order429 += n,
            PrivateFault::Order500(n) => self.order500 += n,
            PrivateFault::Timeout(n) => self.timeout += n,
            PrivateFault::LostAck(n) => self.lostack += n,
            PrivateFault::DropFill(n) => self.dropfill += n,
            PrivateFault::Read429(n) => self.read429 += n,
            PrivateFault::Read500(n) => self.read500 += n,
            PrivateFault::Skew(d) => {
                self.skew_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            }
        }
    }

    /// The fault that meets this signed read (consumed), if any: `Order429` / `Order500`
    /// stand for the venue's rate-limit / internal error here too.
    pub fn before_read(&mut self) -> Option<BeforeOrder> {
        if self.read429 > 0 {
            self.read429 -= 1;
            Some(BeforeOrder::Order429)
        } else if self.read500 > 0 {
            self.read500 -= 1;
            Some(BeforeOrder::Order500)
        } else {
            None
        }
    }

    /// The venue's clock at wall time `now_ms` (`skew` shifts it ahead).
    pub fn venue_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_add(self.skew_ms)
    }

    /// The fault that meets this order request before it executes (consumed), if any.
    pub fn before_order(&mut self) -> Option<BeforeOrder> {
        let take = |n: &mut u32| {
            let armed = *n > 0;
            *n = n.saturating_sub(1);
            armed
        };
        if take(&mut self.order429) {
            Some(BeforeOrder::Order429)
        } else if take(&mut self.order500) {
            Some(BeforeOrder::Order500)
        } else if take(&mut self.timeout) {
            Some(BeforeOrder::Timeout)
        } else {
            None
        }
    }

    /// Whether this execution is left out of the private stream (consumed).
    pub fn drop_fill(&mut self) -> bool {
        let armed = self.dropfill > 0;
        self.dropfill = self.dropfill.saturating_sub(1);
        armed
    }

    /// Whether the answer to this executed order request is dropped (consumed).
    pub fn lose_ack(&mut self) -> bool {
        let armed = self.lostack > 0;
        self.lostack = self.lostack.saturating_sub(1);
        armed
    }
}

/// The private side the server runs (shared by its threads).
#[derive(Clone)]
pub struct PrivateSide(pub std::sync::Arc<std::sync::Mutex<Box<dyn PrivateApi>>>);

impl PrivateSide {
    pub fn new(api: Box<dyn PrivateApi>) -> PrivateSide {
        PrivateSide(std::sync::Arc::new(std::sync::Mutex::new(api)))
    }

    /// Locks, ignoring poisoning (a panicked connection thread must not stop the others).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn PrivateApi>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for PrivateSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateSide")
    }
}

/// A venue's private protocol over an [`Engine`].
pub trait PrivateApi: Send {
    /// WebSocket routes of the private side (`/v5/private`).
    fn ws_routes(&self) -> &[Route];

    /// Whether an HTTP request for `path` is the private side's.
    fn handles(&self, path: &str) -> bool;

    /// A private REST request at wall time `now_ms`.
    fn rest(&mut self, req: &HttpRequest<'_>, now_ms: u64) -> Fate;

    /// Whether a WebSocket upgrade to `target` (one of [`PrivateApi::ws_routes`], with what
    /// follows it: GMO's `/ws/private/v1/{token}`) is let through; the refusal's HTTP status
    /// and body otherwise.
    fn ws_accept(&mut self, _target: &str, _now_ms: u64) -> Result<(), (u16, String)> {
        Ok(())
    }

    /// A text frame from private WebSocket connection `conn` (auth, subscribe, ping): the
    /// answers to send it.
    fn on_ws_frame(&mut self, conn: u64, text: &str, now_ms: u64) -> Vec<String>;

    /// Connection `conn` is gone.
    fn ws_closed(&mut self, conn: u64);

    /// The market moved: match against `feed`'s book.
    fn on_market(&mut self, feed: &dyn SimFeed, now_ms: u64);

    /// Private stream frames due, with the connection each goes to.
    fn drain_stream(&mut self, now_ms: u64, out: &mut Vec<(u64, String)>);

    fn fault(&mut self, f: PrivateFault);

    /// `GET /sim/state`.
    fn state(&self) -> serde_json::Value;
}

pub mod http;
pub mod keys;

#[cfg(test)]
mod tests;
