//! Replay: recorded frames through the same stage code, on one thread, in event time.
//!
//! The [`Engine`] chains the feed stage's decoder, the book stage's [`BookSet`], the signal
//! stage's [`Trader`] and the order stage's [`PaperExchange`] exactly as the threaded pipeline
//! does, but calls them in order on one thread with the frames' original receive times as the
//! clock, so the same input and config always give the same trades, byte for byte.

pub mod input;
pub mod progress;
pub mod report;

use crate::book::BookSet;
use crate::config::Config;
use crate::exec::PaperExchange;
use crate::instrument::{BookKey, Market, Venue};
use crate::msg::{ExecReport, MarketMsg, MdEvent, ToOrder};
use crate::record::{Record, RecordKind};
use crate::trader::{Conditions, Trader, TraderEvent};
use crate::venue::{AnyDecoder, Decoder, FeedCounters};
use std::collections::VecDeque;

/// Everything a replay produced, for the report.
#[derive(Debug, Default)]
pub struct Outcome {
    pub events: Vec<TraderEvent>,
    pub feed: FeedCounters,
    pub book: crate::book::BookCounters,
    /// Frames of connections that carry other markets than the traded one.
    pub other_frames: u64,
    pub records: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    /// `(event ns, PnL, position, risk reason bits)` each time the ledger's equity peak or its maximum drawdown grew: the
    /// points from which the journal's reports recompute the ledger's maximum drawdown exactly.
    pub equity: Vec<(u64, crate::msg::Money, i64, u16)>,
}

/// The single-thread, event-time composition of the four stages.
pub struct Engine {
    pub decoder: AnyDecoder,
    pub books: BookSet,
    pub trader: Trader,
    pub paper: PaperExchange,
    to_order: VecDeque<ToOrder>,
    reports: VecDeque<ExecReport>,
    md: Vec<MdEvent>,
    buf: Vec<u8>,
    /// The traded book among the decoder's books.
    pub key: BookKey,
}

impl Engine {
    /// An engine for the config's instrument.
    pub fn new(cfg: &Config) -> Result<Engine, String> {
        let inst = cfg.market.instrument;
        let decoder = AnyDecoder::for_config(cfg)?;
        // The same level feed as the threaded pipeline's: the paper exchange sweeps the full
        // depth of the book stage's mirror. The levels of one frame at most wait on the ring.
        let levels = cfg.market.book_levels;
        let (lv_tx, lv_rx) = crate::exec::mirror::level_ring(1 << 16, levels);
        Ok(Engine {
            decoder,
            books: BookSet::new(1, cfg.strategy.obi_levels, levels)
                .with_tap(crate::exec::LevelTap::new(0, lv_tx)),
            trader: Trader::new(cfg, 0),
            paper: PaperExchange::new(cfg.paper, 64).with_level_feed(lv_rx, levels),
            to_order: VecDeque::with_capacity(64),
            reports: VecDeque::with_capacity(64),
            md: Vec::with_capacity(4096),
            buf: Vec::with_capacity(1 << 16),
            key: inst.key,
        })
    }

    /// Runs the order-stage and signal-stage exchanges until both queues are empty.
    fn settle(&mut self, events: &mut Vec<TraderEvent>) {
        loop {
            if let Some(m) = self.to_order.pop_front() {
                let reports = &mut self.reports;
                let mut push = |r: ExecReport| reports.push_back(r);
                match m {
                    ToOrder::Book(u) => self.paper.on_book(&u, &mut push),
                    ToOrder::Trade(t) => self.paper.on_trade(&t, &mut push),
                    ToOrder::End => self.paper.end_of_market_data(&mut push),
                    ToOrder::Cmd {
                        decided_ns, cmd, ..
                    } => self.paper.on_cmd(decided_ns, cmd, &mut push),
                }
                continue;
            }
            if let Some(r) = self.reports.pop_front() {
                let q = &mut self.to_order;
                self.trader
                    .on_exec(&r, &mut |m| q.push_back(m), &mut |e| events.push(e));
                continue;
            }
            break;
        }
    }

    /// The end of the input: the paper exchange learns that the market data ended, so the
    /// cancels pending there (a kill's cancel-all) take effect at their own event time
    /// ([`PaperExchange::end_of_market_data`]); the reports the venue sent are still on their way
    /// back (`paper.report_latency_ms`). Event time advances to each one's arrival so that the
    /// ledger, the strategy and the summary include them. Orders need a book: the paper
    /// exchange has no market data past the input, so orders sent in answer wait there
    /// unfilled. Returns the event time reached (`None` when nothing was in flight).
    pub fn finish(&mut self, events: &mut Vec<TraderEvent>) -> Option<u64> {
        let reports = &mut self.reports;
        self.paper.end_of_market_data(&mut |r| reports.push_back(r));
        self.settle(events);
        let mut reached = None;
        // Each round delivers the earliest report; a delivery can only put reports in flight
        // that the paper exchange answers at once (rejects), so the rounds are bounded by the
        // commands the strategy can have working: stop well past that.
        for _ in 0..1024 {
            let Some(due) = self.trader.next_report_due() else {
                break;
            };
            let q = &mut self.to_order;
            self.trader
                .advance_to(due, &mut |m| q.push_back(m), &mut |e| events.push(e));
            self.settle(events);
            reached = Some(due);
        }
        reached
    }

    fn apply_md(&mut self, events: &mut Vec<TraderEvent>) {
        let md = std::mem::take(&mut self.md);
        for e in &md {
            if let Some(msg) = self.books.apply(e) {
                self.on_market(&msg, events);
            }
        }
        self.md = md;
        self.md.clear();
    }

    fn on_market(&mut self, msg: &MarketMsg, events: &mut Vec<TraderEvent>) {
        let (pos, cash) = self.paper.balance();
        self.trader.set_venue_balance(pos, cash);
        let q = &mut self.to_order;
        self.trader
            .on_market(msg, Conditions::NORMAL, &mut |m| q.push_back(m), &mut |e| {
                events.push(e)
            });
        self.settle(events);
    }

    /// Feeds one record of the traded connection (or a REST body).
    pub fn on_record(&mut self, r: &Record, events: &mut Vec<TraderEvent>) {
        if feed_record(&mut self.decoder, &mut self.buf, r, &mut self.md) {
            self.apply_md(events);
        }
    }

    /// Replays loaded records. Only connections of the traded venue and market are fed; REST
    /// records go to the decoder (it ignores other symbols).
    pub fn run(mut self, loaded: &input::Loaded) -> (Outcome, Engine) {
        let mut out = Outcome::default();
        let (mut peak, mut dd) = (
            self.trader.ledger.equity_peak(),
            self.trader.ledger.max_drawdown(),
        );
        let (venue, market): (Venue, Market) = (self.key.venue, self.key.market);
        for r in &loaded.records {
            self.take(
                r,
                loaded.feeds(r, venue, market),
                &mut peak,
                &mut dd,
                &mut out,
            );
        }
        self.end(&mut peak, &mut dd, &mut out);
        out.feed = *self.decoder.counters();
        out.book = self.books.counters[0];
        (out, self)
    }

    /// One record of a replay, loaded or streamed alike: counted as another connection's frame
    /// when it does not feed the traded book, else fed and its equity point noted.
    fn take(
        &mut self,
        r: &Record,
        feeds: bool,
        peak: &mut crate::msg::Money,
        dd: &mut crate::msg::Money,
        out: &mut Outcome,
    ) {
        if !feeds {
            if r.kind == RecordKind::Recv {
                out.other_frames += 1;
            }
            return;
        }
        if out.first_ns == 0 {
            out.first_ns = r.ts_ns;
        }
        out.last_ns = out.last_ns.max(r.ts_ns);
        out.records += 1;
        self.on_record(r, &mut out.events);
        self.note_equity(r.ts_ns, peak, dd, out);
    }

    /// The end of a replay: delivers the reports still in flight ([`Engine::finish`]) and notes
    /// the equity point they make.
    fn end(&mut self, peak: &mut crate::msg::Money, dd: &mut crate::msg::Money, out: &mut Outcome) {
        if let Some(t) = self.finish(&mut out.events) {
            self.note_equity(t, peak, dd, out);
        }
    }

    /// Records an equity point each time the ledger's equity peak or maximum drawdown grew.
    fn note_equity(
        &self,
        ts_ns: u64,
        peak: &mut crate::msg::Money,
        dd: &mut crate::msg::Money,
        out: &mut Outcome,
    ) {
        let l = &self.trader.ledger;
        let (p, d) = (l.equity_peak(), l.max_drawdown());
        let (pos, why) = (l.position(), self.trader.risk.reasons().bits());
        if p != *peak {
            *peak = p;
            out.equity.push((ts_ns, p - l.initial_equity(), pos, why));
        }
        if d != *dd {
            *dd = d;
            out.equity
                .push((ts_ns, p - d - l.initial_equity(), pos, why));
        }
    }

    /// Replays a [stream](input::Stream) as it is read, in the same order and with the same
    /// selection as [`Engine::run`]; `progress` is told how many records are done.
    pub fn run_stream(
        mut self,
        s: &mut input::Stream,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Outcome, Engine), input::InputError> {
        let mut out = Outcome::default();
        let (mut peak, mut dd) = (
            self.trader.ledger.equity_peak(),
            self.trader.ledger.max_drawdown(),
        );
        let (venue, market): (Venue, Market) = (self.key.venue, self.key.market);
        let mut n = 0u64;
        while let Some(next) = s.next_record() {
            let (r, conn) = next?;
            n += 1;
            if n.is_multiple_of(1024) {
                progress(n);
            }
            let feeds = r.kind == RecordKind::Http || conn == Some((venue, market));
            self.take(r, feeds, &mut peak, &mut dd, &mut out);
        }
        progress(n);
        self.end(&mut peak, &mut dd, &mut out);
        out.feed = *self.decoder.counters();
        out.book = self.books.counters[0];
        Ok((out, self))
    }
}

/// The feed stage's step for one record: decodes it (and the timer tick at its time) into
/// `md`. False for records the feed ignores (frames we sent).
fn feed_record(
    decoder: &mut AnyDecoder,
    buf: &mut Vec<u8>,
    r: &Record,
    md: &mut Vec<MdEvent>,
) -> bool {
    match r.kind {
        RecordKind::Recv => {
            buf.clear();
            buf.extend_from_slice(&r.data);
            decoder.on_frame(r.ts_ns, buf, &mut |e| md.push(e));
        }
        RecordKind::Http => {
            buf.clear();
            buf.extend_from_slice(&r.data);
            let url = r.url_or_addr.as_deref().unwrap_or("");
            decoder.on_rest(r.ts_ns, url, buf, &mut |e| md.push(e));
        }
        RecordKind::Connect | RecordKind::Disconnect => {
            decoder.on_disconnect(r.ts_ns, &mut |e| md.push(e));
        }
        _ => return false,
    }
    decoder.on_timer(r.ts_ns, &mut |e| md.push(e));
    true
}

/// The inputs decoded once for many replays (a sweep): the feed stage's output for the traded
/// market, in order, with the feed counters the summary reports. Nothing after the feed stage
/// depends on the feed's input except through these events, so a replay of them
/// ([`run_events`]) gives exactly what [`Engine::run_stream`] gives on the records.
#[derive(Debug, Default)]
pub struct Decoded {
    pub events: Vec<MdEvent>,
    /// Receive time of every record fed (for per-window record counts).
    pub record_ns: Vec<u64>,
    pub feed: FeedCounters,
    pub other_frames: u64,
    /// Records read in all (every market).
    pub read: u64,
}

impl Decoded {
    /// Receive time of the first and last record fed (0 when none).
    pub fn span(&self) -> (u64, u64) {
        (
            self.record_ns.first().copied().unwrap_or(0),
            self.record_ns.iter().copied().max().unwrap_or(0),
        )
    }
}

/// Decodes a stream for the config's market (the market and venue settings only matter).
pub fn decode(
    cfg: &Config,
    s: &mut input::Stream,
    progress: &mut dyn FnMut(u64),
) -> Result<Decoded, String> {
    let key = cfg.market.instrument.key;
    let mut decoder = AnyDecoder::for_config(cfg)?;
    let mut buf = Vec::with_capacity(1 << 16);
    let mut d = Decoded::default();
    while let Some(next) = s.next_record() {
        let (r, conn) = next.map_err(|e| e.0)?;
        d.read += 1;
        if d.read % 1024 == 0 {
            progress(d.read);
        }
        if r.kind != RecordKind::Http && conn != Some((key.venue, key.market)) {
            if r.kind == RecordKind::Recv {
                d.other_frames += 1;
            }
            continue;
        }
        d.record_ns.push(r.ts_ns);
        feed_record(&mut decoder, &mut buf, r, &mut d.events);
    }
    progress(d.read);
    d.feed = *decoder.counters();
    Ok(d)
}

/// A part of the decoded time line: market data before `trade_from_ns` only builds the books
/// (the trader starts at `trade_from_ns` on warm books), nothing from `until_ns` on is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub trade_from_ns: u64,
    pub until_ns: u64,
}

/// Replays decoded events with `cfg` (one sweep point): the summary `replay` writes for the same
/// input and config (all of it when `window` is `None`).
pub fn run_events(
    cfg: &Config,
    d: &Decoded,
    window: Option<Window>,
) -> Result<report::Summary, String> {
    let mut e = Engine::new(cfg)?;
    let mut out = Outcome {
        feed: d.feed,
        other_frames: d.other_frames,
        ..Outcome::default()
    };
    match window {
        None => {
            let (first, last) = d.span();
            out.records = d.record_ns.len() as u64;
            out.first_ns = first;
            out.last_ns = last;
            for ev in &d.events {
                if let Some(msg) = e.books.apply(ev) {
                    e.on_market(&msg, &mut out.events);
                }
            }
        }
        Some(w) => {
            let inside = d
                .record_ns
                .iter()
                .filter(|&&t| t >= w.trade_from_ns && t < w.until_ns);
            out.records = inside.clone().count() as u64;
            out.first_ns = inside.clone().min().copied().unwrap_or(0);
            out.last_ns = inside.max().copied().unwrap_or(0);
            for ev in &d.events {
                if ev.recv_ns >= w.until_ns {
                    break;
                }
                if let Some(msg) = e.books.apply(ev) {
                    if ev.recv_ns >= w.trade_from_ns {
                        e.on_market(&msg, &mut out.events);
                    }
                }
            }
        }
    }
    e.finish(&mut out.events);
    out.book = e.books.counters[0];
    Ok(report::summarize(cfg, &out, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{BookOp, BookState, ExecKind, Side};

    const MS: u64 = 1_000_000;

    /// A book of five levels a side, 10 lots each, built by the engine's book stage (so its
    /// level feed reaches the paper exchange's mirror), with the OBI forced to `obi_ppm`.
    fn book(e: &mut Engine, t_ns: u64, obi_ppm: i64) -> MarketMsg {
        let ev = |op| MdEvent {
            recv_ns: t_ns,
            book: 0,
            op,
        };
        e.books.apply(&ev(BookOp::Clear));
        for i in 0..5 {
            for (side, px) in [(Side::Bid, 100 - i), (Side::Ask, 101 + i)] {
                e.books.apply(&ev(BookOp::Set {
                    side,
                    px,
                    qty: 10_000_000,
                }));
            }
        }
        let commit = BookOp::Commit {
            seq: 0,
            exch_ts_ms: t_ns / MS,
        };
        let Some(MarketMsg::Book(mut u)) = e.books.apply(&ev(commit)) else {
            panic!("a commit publishes")
        };
        assert_eq!((u.state, u.bid_px, u.ask_px), (BookState::Synced, 100, 101));
        u.obi_ppm = obi_ppm;
        MarketMsg::Book(u)
    }

    /// A fill the venue sent just before the input ended reaches the ledger and the strategy:
    /// the replay's last act is to let event time run until the reports in flight arrive.
    #[test]
    fn reports_in_flight_at_the_end_of_the_input_are_delivered() {
        let mut cfg = Config::builtin();
        cfg.paper.order_latency_ns = 0;
        cfg.paper.report_latency_ns = 20 * MS;
        let mut e = Engine::new(&cfg).unwrap();
        let mut events = Vec::new();
        let m = book(&mut e, 1000 * MS, 900_000);
        e.on_market(&m, &mut events);
        let (venue_pos, _) = e.paper.balance();
        assert!(venue_pos > 0, "the entry filled at the venue");
        assert_eq!(e.trader.ledger.position(), 0, "its report is on its way");
        assert_eq!(e.trader.reports_in_flight(), 2, "ack and fill");

        assert_eq!(e.finish(&mut events), Some(1020 * MS));
        assert_eq!(e.trader.reports_in_flight(), 0);
        assert_eq!(e.trader.ledger.position(), venue_pos);
        assert_eq!(e.trader.ledger.cash(), e.paper.balance().1);
        assert!(events.iter().any(|ev| matches!(
            ev,
            TraderEvent::Exec {
                report: ExecReport {
                    kind: ExecKind::Fill { .. },
                    ..
                },
                ..
            }
        )));
        // Nothing left in flight: a second end is a no-op.
        assert_eq!(e.finish(&mut events), None);
    }

    /// A kill over a recording with no market data after it: its cancel-all needs no book, so
    /// it takes effect at its own event time (decision + cancel latency) and its report reaches
    /// the strategy a report latency later. It does not wait for a market message that never
    /// comes (the order would stay open at the venue and working for the strategy).
    #[test]
    fn a_pending_cancel_all_runs_at_its_time_without_market_data_after_it() {
        let mut cfg = Config::builtin();
        cfg.paper.order_latency_ns = 0;
        cfg.paper.cancel_latency_ns = 5 * MS;
        cfg.paper.report_latency_ns = 2 * MS;
        // The entry rests two ticks below the touch.
        cfg.strategy.entry_offset_ticks = -2;
        let mut e = Engine::new(&cfg).unwrap();
        let mut events = Vec::new();
        let m = book(&mut e, 1000 * MS, 900_000);
        e.on_market(&m, &mut events);
        assert_eq!(e.paper.open_orders().len(), 1, "the entry rests");
        assert_eq!(e.finish(&mut events), Some(1002 * MS), "its ack arrives");
        let id = e.paper.open_orders()[0].id;
        assert_eq!(e.trader.working_ids().collect::<Vec<_>>(), [id]);

        let q = &mut e.to_order;
        e.trader.kill(
            1003 * MS,
            crate::risk::KillSource::Operator,
            &mut |m| q.push_back(m),
            &mut |x| events.push(x),
        );
        e.settle(&mut events);
        assert_eq!(
            e.finish(&mut events),
            Some(1010 * MS),
            "cancelled at 1008 ms, reported at 1010 ms"
        );
        assert!(e.paper.open_orders().is_empty());
        assert_eq!(e.trader.working_ids().count(), 0);
        let cancelled: Vec<u64> = events
            .iter()
            .filter_map(|ev| match ev {
                TraderEvent::Exec {
                    report:
                        ExecReport {
                            ts_ns,
                            kind: ExecKind::Cancelled { .. },
                            ..
                        },
                    ..
                } => Some(*ts_ns),
                _ => None,
            })
            .collect();
        assert_eq!(cancelled, [1008 * MS]);
        assert_eq!(e.trader.ledger.position(), 0);
        assert_eq!(e.trader.ledger.cash(), e.paper.balance().1);
    }
}
