//! The order stage's one view of a venue: the [`Gateway`] trait.
//!
//! The order stage hands every command, and the market data the command was decided on, to its
//! gateway, and forwards what the gateway reports to signal+risk. The strategy, risk and ledger
//! never learn which gateway is behind it:
//! - [`PaperExchange`] fills orders against the market data in event time (replay, paper);
//! - a venue's live gateway sends signed orders and turns the venue's answers and private
//!   stream into the same [`ExecReport`]s, through the per-order state machine in
//!   [`super::orders`], so that a report the trader gets is always one it can act on (no ack
//!   after a fill, no fill after a cancel, no duplicate).
//!
//! The methods take `impl FnMut(ExecReport)` so that the paper exchange stays monomorphised on
//! the hot path; the order stage is generic over its gateway.

use super::paper::PaperExchange;
use crate::msg::{BookUpdate, ExecReport, Money, OrderCmd, TradePrint};

/// Where the order stage's commands go.
pub trait Gateway {
    /// A book update the strategy decided on (the paper exchange fills against it; a live
    /// gateway may ignore it: the venue has its own book).
    fn on_book(&mut self, upd: &BookUpdate, out: &mut impl FnMut(ExecReport));

    /// A public trade print, in the same order as the book updates.
    fn on_trade(&mut self, t: &TradePrint, out: &mut impl FnMut(ExecReport));

    /// A command decided at `decided_ns`.
    fn on_cmd(&mut self, decided_ns: u64, cmd: OrderCmd, out: &mut impl FnMut(ExecReport));

    /// Work that arrives without a command: the venue's answers and private stream, timers
    /// (request time-outs, rate-limit refills); a gateway with timers reads the monotonic
    /// clock itself. Returns whether it did any. The paper exchange is driven by market data
    /// alone and has none (and reads no clock).
    fn poll(&mut self, _out: &mut impl FnMut(ExecReport)) -> bool {
        false
    }

    /// The market data has ended: no book follows (a live venue keeps its own time).
    fn on_end(&mut self, _out: &mut impl FnMut(ExecReport)) {}

    /// The venue's view of our account since start: position in lots and cash change in
    /// [`Money`], fees included.
    fn balance(&self) -> (i64, Money);

    /// Requests in flight or orders the venue has not finished: a stop waits (bounded) for
    /// them so that the ledger books every fill and cancel before the stages drain. The paper
    /// exchange is never busy.
    fn busy(&self) -> bool {
        false
    }
}

/// The gateways the pipeline can run with: the paper exchange, or a venue's live gateway.
#[allow(clippy::large_enum_variant)]
pub enum OrderGateway {
    Paper(PaperExchange),
    Bybit(Box<crate::venue::bybit::live::BybitLive>),
    Coincheck(Box<crate::venue::coincheck::live::CoincheckLive>),
    GmoCoin(Box<crate::venue::gmocoin::live::GmoLive>),
}

impl Gateway for OrderGateway {
    #[inline]
    fn on_book(&mut self, upd: &BookUpdate, out: &mut impl FnMut(ExecReport)) {
        match self {
            OrderGateway::Paper(g) => Gateway::on_book(g, upd, out),
            OrderGateway::Bybit(g) => g.on_book(upd, out),
            OrderGateway::Coincheck(g) => g.on_book(upd, out),
            OrderGateway::GmoCoin(g) => g.on_book(upd, out),
        }
    }

    #[inline]
    fn on_trade(&mut self, t: &TradePrint, out: &mut impl FnMut(ExecReport)) {
        match self {
            OrderGateway::Paper(g) => Gateway::on_trade(g, t, out),
            OrderGateway::Bybit(g) => g.on_trade(t, out),
            OrderGateway::Coincheck(g) => g.on_trade(t, out),
            OrderGateway::GmoCoin(g) => g.on_trade(t, out),
        }
    }

    #[inline]
    fn on_cmd(&mut self, decided_ns: u64, cmd: OrderCmd, out: &mut impl FnMut(ExecReport)) {
        match self {
            OrderGateway::Paper(g) => Gateway::on_cmd(g, decided_ns, cmd, out),
            OrderGateway::Bybit(g) => g.on_cmd(decided_ns, cmd, out),
            OrderGateway::Coincheck(g) => g.on_cmd(decided_ns, cmd, out),
            OrderGateway::GmoCoin(g) => g.on_cmd(decided_ns, cmd, out),
        }
    }

    #[inline]
    fn poll(&mut self, out: &mut impl FnMut(ExecReport)) -> bool {
        match self {
            OrderGateway::Paper(_) => false,
            OrderGateway::Bybit(g) => g.poll(out),
            OrderGateway::Coincheck(g) => g.poll(out),
            OrderGateway::GmoCoin(g) => g.poll(out),
        }
    }

    fn balance(&self) -> (i64, Money) {
        match self {
            OrderGateway::Paper(g) => Gateway::balance(g),
            OrderGateway::Bybit(g) => g.balance(),
            OrderGateway::Coincheck(g) => g.balance(),
            OrderGateway::GmoCoin(g) => g.balance(),
        }
    }

    fn busy(&self) -> bool {
        match self {
            OrderGateway::Paper(_) => false,
            OrderGateway::Bybit(g) => g.busy(),
            OrderGateway::Coincheck(g) => g.busy(),
            OrderGateway::GmoCoin(g) => g.busy(),
        }
    }
}

impl Gateway for PaperExchange {
    #[inline]
    fn on_book(&mut self, upd: &BookUpdate, out: &mut impl FnMut(ExecReport)) {
        PaperExchange::on_book(self, upd, out)
    }

    #[inline]
    fn on_trade(&mut self, t: &TradePrint, out: &mut impl FnMut(ExecReport)) {
        PaperExchange::on_trade(self, t, out)
    }

    #[inline]
    fn on_cmd(&mut self, decided_ns: u64, cmd: OrderCmd, out: &mut impl FnMut(ExecReport)) {
        PaperExchange::on_cmd(self, decided_ns, cmd, out)
    }

    fn on_end(&mut self, out: &mut impl FnMut(ExecReport)) {
        self.end_of_market_data(out)
    }

    fn balance(&self) -> (i64, Money) {
        PaperExchange::balance(self)
    }
}
