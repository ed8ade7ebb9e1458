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
        Ok(Engine {
            decoder,
            books: BookSet::new(1, cfg.strategy.obi_levels, cfg.market.book_levels),
            trader: Trader::new(cfg, 0),
            paper: PaperExchange::new(cfg.paper, 64),
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
        let md = &mut self.md;
        match r.kind {
            RecordKind::Recv => {
                self.buf.clear();
                self.buf.extend_from_slice(&r.data);
                self.decoder
                    .on_frame(r.ts_ns, &mut self.buf, &mut |e| md.push(e));
            }
            RecordKind::Http => {
                self.buf.clear();
                self.buf.extend_from_slice(&r.data);
                let url = r.url_or_addr.as_deref().unwrap_or("");
                self.decoder
                    .on_rest(r.ts_ns, url, &mut self.buf, &mut |e| md.push(e));
            }
            RecordKind::Connect | RecordKind::Disconnect => {
                self.decoder.on_disconnect(r.ts_ns, &mut |e| md.push(e));
            }
            _ => return,
        }
        self.decoder.on_timer(r.ts_ns, &mut |e| md.push(e));
        self.apply_md(events);
    }

    /// Replays loaded records. Only connections of the traded venue and market are fed; REST
    /// records go to the decoder (it ignores other symbols).
    pub fn run(mut self, loaded: &input::Loaded) -> (Outcome, Engine) {
        let mut out = Outcome::default();
        let (venue, market): (Venue, Market) = (self.key.venue, self.key.market);
        for r in &loaded.records {
            if !loaded.feeds(r, venue, market) {
                if r.kind == RecordKind::Recv {
                    out.other_frames += 1;
                }
                continue;
            }
            if out.first_ns == 0 {
                out.first_ns = r.ts_ns;
            }
            out.last_ns = out.last_ns.max(r.ts_ns);
            out.records += 1;
            self.on_record(r, &mut out.events);
        }
        out.feed = *self.decoder.counters();
        out.book = self.books.counters[0];
        (out, self)
    }

    /// Replays a [stream](input::Stream) as it is read, in the same order and with the same
    /// selection as [`Engine::run`]; `progress` is told how many records are done.
    pub fn run_stream(
        mut self,
        s: &mut input::Stream,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Outcome, Engine), input::InputError> {
        let mut out = Outcome::default();
        let (venue, market): (Venue, Market) = (self.key.venue, self.key.market);
        let mut n = 0u64;
        while let Some(next) = s.next_record() {
            let (r, conn) = next?;
            n += 1;
            if n % 1024 == 0 {
                progress(n);
            }
            if r.kind != RecordKind::Http && conn != Some((venue, market)) {
                if r.kind == RecordKind::Recv {
                    out.other_frames += 1;
                }
                continue;
            }
            if out.first_ns == 0 {
                out.first_ns = r.ts_ns;
            }
            out.last_ns = out.last_ns.max(r.ts_ns);
            out.records += 1;
            self.on_record(r, &mut out.events);
        }
        progress(n);
        out.feed = *self.decoder.counters();
        out.book = self.books.counters[0];
        Ok((out, self))
    }
}
