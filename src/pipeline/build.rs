//! Building and joining the threaded pipeline.

use super::book::BookStage;
use super::cold::{Collector, Latencies};
use super::feed::{FeedStage, FrameSource};
use super::order::OrderStage;
use super::runner::{effective_wait, spawn};
use super::signal::SignalStage;
use super::stats::{Flags, HotCounters};
use super::tap::FrameTap;
use crate::book::BookSet;
use crate::config::{Config, WaitStrategy};
use crate::exec::PaperExchange;
use crate::trader::Trader;
use crate::venue::Decoder;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Hot threads of the pipeline.
pub const HOT_THREADS: usize = 4;

/// A running pipeline: the hot threads, and the collector the cold thread drains.
pub struct Running<S: FrameSource, D: Decoder + Send + 'static> {
    pub feed: JoinHandle<FeedStage<S, D>>,
    pub book: JoinHandle<BookStage>,
    pub signal: JoinHandle<SignalStage>,
    pub order: JoinHandle<OrderStage>,
    pub collector: Collector,
    pub counters: Arc<HotCounters>,
    pub flags: Arc<Flags>,
    /// The wait strategy in force, and why it differs from the configured one (if it does).
    pub wait: (WaitStrategy, Option<String>),
}

/// The stages after they stopped.
pub struct Finished<S: FrameSource, D: Decoder + Send + 'static> {
    pub feed: FeedStage<S, D>,
    pub book: BookStage,
    pub signal: SignalStage,
    pub order: OrderStage,
    pub latencies: Latencies,
}

/// Starts the four hot threads. `restamp` re-stamps frames at the feed (latency benches over
/// recordings). `book` is the index of the traded book among the decoder's books.
pub fn start<S: FrameSource, D: Decoder + Send + 'static>(
    cfg: &Config,
    source: S,
    decoder: D,
    book: u16,
    restamp: bool,
    flags: Arc<Flags>,
) -> std::io::Result<Running<S, D>> {
    start_with_tap(cfg, source, decoder, book, restamp, flags, None)
}

/// [`start`] with a [`FrameTap`] on the feed stage: every raw event is copied onto the tap's
/// ring for a cold-thread [`super::tap::Recorder`] (`[record] enabled = true`).
pub fn start_with_tap<S: FrameSource, D: Decoder + Send + 'static>(
    cfg: &Config,
    source: S,
    decoder: D,
    book: u16,
    restamp: bool,
    flags: Arc<Flags>,
    tap: Option<FrameTap>,
) -> std::io::Result<Running<S, D>> {
    let cap = cfg.pipeline.ring_capacity;
    let counters = Arc::new(HotCounters::default());
    let (md_tx, md_rx) = rtrb::RingBuffer::new(cap);
    let (mk_tx, mk_rx) = rtrb::RingBuffer::new(cap);
    let (to_tx, to_rx) = rtrb::RingBuffer::new(cap);
    let (ex_tx, ex_rx) = rtrb::RingBuffer::new(cap);
    let (ev_tx, ev_rx) = rtrb::RingBuffer::new(cap);
    let mut lat_tx = Vec::new();
    let mut lat_rx = Vec::new();
    for _ in 0..HOT_THREADS {
        let (t, r) = rtrb::RingBuffer::new(cap);
        lat_tx.push(t);
        lat_rx.push(r);
    }
    let mut lat_tx = lat_tx.into_iter();
    let n_books = decoder.routes().books.len().max(book as usize + 1);
    let mut feed = FeedStage::new(
        source,
        decoder,
        md_tx,
        lat_tx.next().expect("4 rings"),
        counters.clone(),
        flags.clone(),
    );
    feed.restamp = restamp;
    feed.max_frame_age_ns = cfg.market.max_frame_age_ns;
    feed.tap = tap;
    let books = BookSet::new(n_books, cfg.strategy.obi_levels, cfg.market.book_levels);
    let book_stage = BookStage::new(
        books,
        md_rx,
        mk_tx,
        lat_tx.next().expect("4 rings"),
        counters.clone(),
        flags.clone(),
    );
    let signal = SignalStage::new(
        Trader::new(cfg, book),
        mk_rx,
        ex_rx,
        to_tx,
        ev_tx,
        lat_tx.next().expect("4 rings"),
        counters.clone(),
        flags.clone(),
    );
    let order = OrderStage::new(
        PaperExchange::new(cfg.paper, 64),
        to_rx,
        ex_tx,
        lat_tx.next().expect("4 rings"),
        counters.clone(),
        flags.clone(),
    );
    let wait = effective_wait(cfg.pipeline.wait, HOT_THREADS);
    let core = |i: usize| cfg.pipeline.cores.get(i).copied();
    // `flags.stop` ends the feed; each later stage ends when the one before it is done and
    // its input ring is drained.
    let feed = spawn(feed, wait.0, core(0), flags.clone(), 0)?;
    let book = spawn(book_stage, wait.0, core(1), flags.clone(), 1)?;
    let signal = spawn(signal, wait.0, core(2), flags.clone(), 2)?;
    let order = spawn(order, wait.0, core(3), flags.clone(), 3)?;
    Ok(Running {
        feed,
        book,
        signal,
        order,
        collector: Collector {
            lat_rings: lat_rx,
            events: ev_rx,
            latencies: Latencies::default(),
            counters: counters.clone(),
            flags: flags.clone(),
        },
        counters,
        flags,
        wait,
    })
}

impl<S: FrameSource, D: Decoder + Send + 'static> Running<S, D> {
    /// Waits for every hot thread; `on_tick` runs on this (cold) thread between drains.
    pub fn join(
        mut self,
        on_event: &mut dyn FnMut(&crate::trader::TraderEvent),
        on_tick: &mut dyn FnMut(&Collector),
    ) -> std::thread::Result<Finished<S, D>> {
        while !(self.feed.is_finished()
            && self.book.is_finished()
            && self.signal.is_finished()
            && self.order.is_finished())
        {
            if self.collector.drain(on_event) == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            on_tick(&self.collector);
        }
        let feed = self.feed.join()?;
        let book = self.book.join()?;
        let signal = self.signal.join()?;
        let order = self.order.join()?;
        self.collector.drain(on_event);
        on_tick(&self.collector);
        Ok(Finished {
            feed,
            book,
            signal,
            order,
            latencies: self.collector.latencies,
        })
    }
}
