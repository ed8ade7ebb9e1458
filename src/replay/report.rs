//! Replay outputs: `trades.csv`, `summary.json` and the human summary. Amounts are exact
//! decimals in the quote currency; only the ratios (win rate, profit factor, Sharpe) are floats.

use super::Outcome;
use crate::config::{format_money, Config};
use crate::exec::ClosedTrade;
use crate::instrument::Instrument;
use crate::msg::{ExecKind, Liquidity, Money, OrderSide};
use crate::risk::RiskEvent;
use crate::trader::TraderEvent;
use serde::Serialize;
use std::fmt::Write as _;

/// Per-trade and total figures of one replay.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub venue: String,
    pub symbol: String,
    pub quote: String,
    pub config_digest: String,
    pub records: u64,
    pub span_ms: u64,
    pub signals: u64,
    pub orders: u64,
    pub fills: u64,
    pub cancels: u64,
    pub rejects: u64,
    pub trades: u64,
    pub wins: u64,
    pub win_rate: String,
    pub gross_pnl: String,
    pub fees: String,
    pub net_pnl: String,
    pub profit_factor: String,
    pub max_drawdown: String,
    pub sharpe_per_trade: String,
    pub final_position: String,
    pub cash_change: String,
    pub book: BookSummary,
    pub risk_events: Vec<RiskLine>,
    pub final_risk_status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BookSummary {
    pub frames: u64,
    pub other_market_frames: u64,
    pub updates: u64,
    pub snapshots: u64,
    pub gaps: u64,
    pub resyncs: u64,
    pub crossed: u64,
    pub malformed: u64,
    pub unknown: u64,
    pub stale: u64,
    pub trades: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskLine {
    pub ts_ns: u64,
    pub from: String,
    pub to: String,
    pub reasons: Vec<String>,
}

fn risk_line(e: &RiskEvent) -> RiskLine {
    RiskLine {
        ts_ns: e.ts_ns,
        from: format!("{:?}", e.from).to_lowercase(),
        to: format!("{:?}", e.to).to_lowercase(),
        reasons: e.reasons.iter().map(|r| r.as_str().to_string()).collect(),
    }
}

/// `trades.csv`: one row per fill and one per closed trade.
pub fn trades_csv(inst: &Instrument, events: &[TraderEvent]) -> String {
    let mut s = String::from(
        "type,ts_ns,order_id,side,price,qty,liquidity,fee,entry_value,exit_value,gross_pnl,net_pnl,hold_ms,exit_reason\n",
    );
    let m = |v: Money| format_money(inst, v);
    for e in events {
        match e {
            TraderEvent::Exec { report, side } => {
                if let ExecKind::Fill {
                    px,
                    qty,
                    liquidity,
                    fee,
                    ..
                } = report.kind
                {
                    let _ = writeln!(
                        s,
                        "fill,{},{},{},{},{},{},{},,,,,,",
                        report.ts_ns,
                        report.id,
                        side.as_str(),
                        inst.tick.format(px),
                        inst.lot.format(qty),
                        match liquidity {
                            Liquidity::Maker => "maker",
                            Liquidity::Taker => "taker",
                        },
                        m(fee)
                    );
                }
            }
            TraderEvent::Closed { trade, exit } => {
                let t: &ClosedTrade = trade;
                let _ = writeln!(
                    s,
                    "trade,{},,{},,{},,{},{},{},{},{},{},{}",
                    t.close_ns,
                    match t.side {
                        OrderSide::Buy => "long",
                        OrderSide::Sell => "short",
                    },
                    inst.lot.format(t.qty),
                    m(t.fees),
                    m(t.entry_value),
                    m(t.exit_value),
                    m(t.gross_pnl),
                    m(t.net_pnl),
                    t.hold_ns() / 1_000_000,
                    exit.map(|x| x.as_str()).unwrap_or("")
                );
            }
            _ => {}
        }
    }
    s
}

/// The summary of a replay.
pub fn summarize(cfg: &Config, out: &Outcome, engine: &super::Engine) -> Summary {
    let inst = cfg.market.instrument;
    let trades: Vec<&ClosedTrade> = out
        .events
        .iter()
        .filter_map(|e| match e {
            TraderEvent::Closed { trade, .. } => Some(trade),
            _ => None,
        })
        .collect();
    let gross: Money = trades.iter().map(|t| t.gross_pnl).sum();
    let fees: Money = trades.iter().map(|t| t.fees).sum();
    let net: Money = trades.iter().map(|t| t.net_pnl).sum();
    let n = trades.len() as u64;
    // The same ratios as `obi-scalp report` computes from the journal.
    let nets: Vec<(Money, Money)> = trades.iter().map(|t| (t.net_pnl, t.entry_value)).collect();
    let crate::store::report::TradeRatios {
        wins,
        win_rate,
        profit_factor,
        sharpe_per_trade: sharpe,
    } = crate::store::report::TradeRatios::of(&nets);
    let t = &engine.trader.counters;
    let (pos, cash) = engine.paper.balance();
    Summary {
        venue: inst.key.venue_label(),
        symbol: inst.key.symbol.to_string(),
        quote: inst.quote.to_string(),
        config_digest: cfg.digest.clone(),
        records: out.records,
        span_ms: out.last_ns.saturating_sub(out.first_ns) / 1_000_000,
        signals: t.signals,
        orders: t.orders,
        fills: t.fills,
        cancels: t.cancels,
        rejects: t.rejects + t.pre_trade_rejects,
        trades: n,
        wins,
        win_rate,
        gross_pnl: format_money(&inst, gross),
        fees: format_money(&inst, fees),
        net_pnl: format_money(&inst, net),
        profit_factor,
        max_drawdown: format_money(&inst, engine.trader.ledger.max_drawdown()),
        sharpe_per_trade: sharpe,
        final_position: inst.lot.format(pos),
        cash_change: format_money(&inst, cash),
        book: BookSummary {
            frames: out.feed.frames,
            other_market_frames: out.other_frames,
            updates: out.book.updates,
            snapshots: out.feed.snapshots + out.feed.rest_snapshots,
            gaps: out.feed.gaps,
            resyncs: out.feed.resyncs,
            crossed: out.book.crossed,
            malformed: out.feed.malformed,
            unknown: out.feed.unknown,
            stale: out.feed.stale,
            trades: out.feed.trades,
        },
        risk_events: out
            .events
            .iter()
            .filter_map(|e| match e {
                TraderEvent::Risk(r) => Some(risk_line(r)),
                _ => None,
            })
            .collect(),
        final_risk_status: format!("{:?}", engine.trader.risk.status()).to_lowercase(),
    }
}

/// The human summary printed on stdout.
pub fn human(s: &Summary) -> String {
    format!(
        "replay {} {}: {} records over {} ms\n\
         book: {} updates, {} snapshots, {} gaps, {} resyncs, {} crossed, {} malformed\n\
         signals {}, orders {}, fills {}, cancels {}, rejects {}\n\
         trades {}, wins {} (win rate {}), profit factor {}, Sharpe/trade {}\n\
         PnL {}: gross {}, fees {}, net {}; max drawdown {}; final position {}; risk {}\n",
        s.venue,
        s.symbol,
        s.records,
        s.span_ms,
        s.book.updates,
        s.book.snapshots,
        s.book.gaps,
        s.book.resyncs,
        s.book.crossed,
        s.book.malformed,
        s.signals,
        s.orders,
        s.fills,
        s.cancels,
        s.rejects,
        s.trades,
        s.wins,
        s.win_rate,
        s.profit_factor,
        s.sharpe_per_trade,
        s.quote,
        s.gross_pnl,
        s.fees,
        s.net_pnl,
        s.max_drawdown,
        s.final_position,
        s.final_risk_status,
    )
}
