//! Building, running and joining the threaded pipeline: the [`Pipeline`] builder.
//!
//! ```text
//! let running = Pipeline::new(&cfg, source, decoder)
//!     .flags(flags)               // shared with the cold side (stop, kill, ...)
//!     .clock(FrameClock::Local)   // re-stamp frames as the feed takes them (benches)
//!     .tap(Some(tap))             // copy raw events to a recorder
//!     .layout(LayoutSpec::Auto)   // default: `[pipeline] layout`
//!     .start()?;                  // threads running, pinned, as `running.plan` says
//! let finished = running.join(&mut on_event, &mut on_tick)?;
//! ```
//!
//! The four stages are built once here and handed to the hot threads of the [`Plan`]: each
//! thread runs a [`Group`] (the stages the layout puts on it) polling them in pipeline order.

use super::book::BookStage;
use super::cold::{Collector, Latencies};
use super::feed::FeedStage;
use super::heartbeat::Heartbeats;
use super::layout::{available_cores, LayoutSpec, Plan, PlanError, StageSet, STAGES};
use super::order::OrderStage;
use super::runner::{pin_current, Bells, Stage, Waiter};
use super::signal::SignalStage;
use super::sources::FrameSource;
use super::stats::{Flags, HotCounters};
use super::tap::FrameTap;
use crate::book::BookSet;
use crate::config::{Config, WaitStrategy};
use crate::exec::{OrderGateway, PaperExchange};
use crate::trader::Trader;
use crate::venue::Decoder;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Which clock stamps frames at the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameClock {
    /// The source's own receive stamps (a socket's receive time, a recording's).
    #[default]
    Source,
    /// The local monotonic time at which the feed takes a frame from its source (latency
    /// benches over recordings, the synthetic market).
    Local,
}

/// Why the pipeline did not start.
#[derive(Debug)]
pub enum StartError {
    /// The layout or pins cannot run here (names the config field).
    Plan(PlanError),
    /// A thread could not be spawned or pinned.
    Thread(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Plan(e) => write!(f, "{e}"),
            StartError::Thread(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The builder of one pipeline run.
pub struct Pipeline<'a, S: FrameSource, D: Decoder + Send + 'static> {
    cfg: &'a Config,
    source: S,
    decoder: D,
    book: u16,
    clock: FrameClock,
    tap: Option<FrameTap>,
    flags: Option<Arc<Flags>>,
    layout: LayoutSpec,
    wait: WaitStrategy,
    pins: Vec<usize>,
    cores: Option<Vec<usize>>,
    gateway: Option<OrderGateway>,
}

impl<'a, S: FrameSource, D: Decoder + Send + 'static> Pipeline<'a, S, D> {
    /// A pipeline over `source`, decoded by `decoder`, with the config's strategy, risk, paper
    /// exchange and `[pipeline]` layout, wait strategy and pins.
    pub fn new(cfg: &'a Config, source: S, decoder: D) -> Self {
        Pipeline {
            cfg,
            source,
            decoder,
            book: 0,
            clock: FrameClock::Source,
            tap: None,
            flags: None,
            layout: cfg.pipeline.layout.clone(),
            wait: cfg.pipeline.wait,
            pins: cfg.pipeline.cores.clone(),
            cores: None,
            gateway: None,
        }
    }

    /// The order stage's gateway (default: the paper exchange of `[paper]`).
    pub fn gateway(mut self, gateway: Option<OrderGateway>) -> Self {
        self.gateway = gateway;
        self
    }

    /// The traded book among the decoder's books (default 0).
    pub fn book(mut self, book: u16) -> Self {
        self.book = book;
        self
    }

    pub fn clock(mut self, clock: FrameClock) -> Self {
        self.clock = clock;
        self
    }

    /// Copies every raw event onto the tap's ring for a cold-thread [`super::tap::Recorder`].
    pub fn tap(mut self, tap: Option<FrameTap>) -> Self {
        self.tap = tap;
        self
    }

    /// Flags shared with the cold side (default: fresh ones).
    pub fn flags(mut self, flags: Arc<Flags>) -> Self {
        self.flags = Some(flags);
        self
    }

    pub fn layout(mut self, layout: LayoutSpec) -> Self {
        self.layout = layout;
        self
    }

    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// One core per hot thread (empty: automatic).
    pub fn pins(mut self, pins: Vec<usize>) -> Self {
        self.pins = pins;
        self
    }

    /// The cores to plan for (default: this process's affinity mask). For tests.
    pub fn cores(mut self, cores: Vec<usize>) -> Self {
        self.cores = Some(cores);
        self
    }

    /// The plan this builder would run with on this machine.
    pub fn plan(&self) -> Result<Plan, PlanError> {
        let cores = self.cores.clone().unwrap_or_else(available_cores);
        Plan::resolve(&self.layout, self.wait, &self.pins, &cores)
    }

    /// Builds the stages and starts the hot threads of the plan (pinned where it says).
    pub fn start(mut self) -> Result<Running<S, D>, StartError> {
        let plan = self.plan().map_err(StartError::Plan)?;
        let cfg = self.cfg;
        let flags = self.flags.unwrap_or_default();
        let cap = cfg.pipeline.ring_capacity;
        let counters = Arc::new(HotCounters::default());
        let (md_tx, md_rx) = super::ring::ring(cap);
        let (mk_tx, mk_rx) = super::ring::ring(cap);
        let (to_tx, to_rx) = super::ring::ring(cap);
        let (ex_tx, ex_rx) = super::ring::ring(cap);
        let (ev_tx, ev_rx) = super::ring::ring(cap);
        let mut lat_tx = Vec::new();
        let mut lat_rx = Vec::new();
        for _ in 0..STAGES {
            let (t, r) = super::ring::ring(cap);
            lat_tx.push(t);
            lat_rx.push(r);
        }
        let mut lat_tx = lat_tx.into_iter();
        let n_books = self
            .decoder
            .routes()
            .books
            .len()
            .max(self.book as usize + 1);
        // Frames stamped by their recording, not by this process: kill and stop are decided
        // on that clock too.
        let recorded_clock = self.clock == FrameClock::Source && self.source.replay_clock();
        let mut feed = FeedStage::new(
            self.source,
            self.decoder,
            md_tx,
            lat_tx.next().expect("4 rings"),
            counters.clone(),
            flags.clone(),
        );
        feed.restamp = self.clock == FrameClock::Local;
        feed.max_frame_age_ns = cfg.market.max_frame_age_ns;
        feed.tap = self.tap;
        // The traded book's level operations, for the order stage's mirror (full depth).
        let (lv_tx, lv_rx) = crate::exec::mirror::level_ring(cap, cfg.market.book_levels);
        // A live gateway trades at the venue: no mirror to feed.
        let live_gateway = self.gateway.take();
        let mut books = BookSet::new(n_books, cfg.strategy.obi_levels, cfg.market.book_levels);
        if live_gateway.is_none() {
            books = books.with_tap(crate::exec::LevelTap::new(self.book, lv_tx));
        }
        let book = BookStage::new(
            books,
            md_rx,
            mk_tx,
            lat_tx.next().expect("4 rings"),
            counters.clone(),
            flags.clone(),
        );
        let mut signal = SignalStage::new(
            Trader::new(cfg, self.book),
            mk_rx,
            ex_rx,
            to_tx,
            ev_tx,
            lat_tx.next().expect("4 rings"),
            counters.clone(),
            flags.clone(),
        );
        // Signal and order on one thread: one market message per round, so that reports
        // return before the next market message (the replay's order of events).
        if plan.layout.thread_of(2) == plan.layout.thread_of(3) {
            signal.market_batch = 1;
        }
        signal.recorded_clock = recorded_clock;
        let gateway = live_gateway.unwrap_or_else(|| {
            OrderGateway::Paper(
                PaperExchange::new(cfg.paper, 64).with_level_feed(lv_rx, cfg.market.book_levels),
            )
        });
        let order = OrderStage::new(
            gateway,
            to_rx,
            ex_tx,
            lat_tx.next().expect("4 rings"),
            counters.clone(),
            flags.clone(),
        );
        let mut stages = Group {
            feed: Some(feed),
            book: Some(book),
            signal: Some(signal),
            order: Some(order),
        };
        let bells = Arc::new(Bells::new(plan.threads.len(), plan.any_parks()));
        let heartbeats = Arc::new(Heartbeats::new(plan.threads.len()));
        let mut threads = Vec::with_capacity(plan.threads.len());
        let mut started = Vec::with_capacity(plan.threads.len());
        for (i, t) in plan.threads.iter().enumerate() {
            let group = stages.take(t.stages);
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let ctx = ThreadCtx {
                me: i,
                wait: t.wait,
                core: t.core,
                bells: bells.clone(),
                flags: flags.clone(),
                heartbeats: heartbeats.clone(),
            };
            let name = format!("obi-{}", t.stages.to_string().replace(',', "+"));
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || run_group(group, ctx, tx));
            match spawned {
                Ok(h) => {
                    threads.push(h);
                    started.push(rx);
                }
                Err(e) => {
                    abort(&flags, &bells, threads);
                    return Err(StartError::Thread(e));
                }
            }
        }
        // Every thread says whether it could pin itself before it polls anything.
        for rx in started {
            let r = rx
                .recv()
                .unwrap_or_else(|_| Err(std::io::Error::other("a hot thread ended at start")));
            if let Err(e) = r {
                abort(&flags, &bells, threads);
                return Err(StartError::Thread(e));
            }
        }
        Ok(Running {
            threads,
            collector: Collector {
                lat_rings: lat_rx,
                events: ev_rx,
                latencies: Latencies::default(),
                counters: counters.clone(),
                flags: flags.clone(),
            },
            counters,
            flags,
            bells,
            heartbeats,
            plan,
        })
    }
}

fn abort<T>(flags: &Flags, bells: &Bells, threads: Vec<JoinHandle<T>>) {
    flags.stop.store(true, Ordering::Relaxed);
    bells.wake_all();
    for h in threads {
        let _ = h.join();
    }
}

/// The stages one hot thread runs (the others are `None`); after the run, all four.
pub struct Group<S: FrameSource, D: Decoder + Send + 'static> {
    pub feed: Option<FeedStage<S, D>>,
    pub book: Option<BookStage>,
    pub signal: Option<SignalStage>,
    pub order: Option<OrderStage<OrderGateway>>,
}

impl<S: FrameSource, D: Decoder + Send + 'static> Group<S, D> {
    fn take(&mut self, set: StageSet) -> Group<S, D> {
        Group {
            feed: if set.has(0) { self.feed.take() } else { None },
            book: if set.has(1) { self.book.take() } else { None },
            signal: if set.has(2) { self.signal.take() } else { None },
            order: if set.has(3) { self.order.take() } else { None },
        }
    }

    fn merge(&mut self, other: Group<S, D>) {
        self.feed = self.feed.take().or(other.feed);
        self.book = self.book.take().or(other.book);
        self.signal = self.signal.take().or(other.signal);
        self.order = self.order.take().or(other.order);
    }

    /// Polls the stages not yet `finished`, in pipeline order; whether any did work.
    #[inline]
    fn poll(&mut self, finished: u8) -> bool {
        let mut did = false;
        if let Some(s) = &mut self.feed {
            if finished & 1 == 0 {
                did |= s.poll();
            }
        }
        if let Some(s) = &mut self.book {
            if finished & 2 == 0 {
                did |= s.poll();
            }
        }
        if let Some(s) = &mut self.signal {
            if finished & 4 == 0 {
                did |= s.poll();
            }
        }
        if let Some(s) = &mut self.order {
            if finished & 8 == 0 {
                did |= s.poll();
            }
        }
        did
    }

    /// Whether stage `i` (one of this group's) has nothing more to do.
    fn stage_done(&self, i: usize, flags: &Flags) -> bool {
        match i {
            0 => self
                .feed
                .as_ref()
                .is_some_and(|s| s.done() || flags.stop.load(Ordering::Relaxed)),
            1 => self.book.as_ref().is_some_and(|s| s.done()),
            2 => self.signal.as_ref().is_some_and(|s| s.done()),
            _ => self.order.as_ref().is_some_and(|s| s.done()),
        }
    }

    fn owned(&self) -> u8 {
        (self.feed.is_some() as u8)
            | (self.book.is_some() as u8) << 1
            | (self.signal.is_some() as u8) << 2
            | (self.order.is_some() as u8) << 3
    }
}

struct ThreadCtx {
    me: usize,
    wait: WaitStrategy,
    core: Option<usize>,
    bells: Arc<Bells>,
    flags: Arc<Flags>,
    heartbeats: Arc<Heartbeats>,
}

/// The body of one hot thread: polls its group in pipeline order until each of its stages is
/// done; a stage that is done sets `flags.done[i]`, which is how the next stage learns that its
/// input has ended.
fn run_group<S: FrameSource, D: Decoder + Send + 'static>(
    mut g: Group<S, D>,
    ctx: ThreadCtx,
    started: std::sync::mpsc::SyncSender<std::io::Result<()>>,
) -> Group<S, D> {
    let bell = ctx.bells.get(ctx.me);
    bell.register();
    let pinned = pin_current(ctx.core);
    let failed = pinned.is_err();
    let _ = started.send(pinned);
    if failed {
        return g;
    }
    let owned = g.owned();
    // A thread with the feed polls a source nobody rings for: its parks stay short. The others
    // are woken by their producers (and by the cold side for stop and kill).
    let max_park = if owned & 1 != 0 {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(20)
    };
    let mut w = Waiter::with_max_park(ctx.wait, max_park);
    let mut finished = 0u8;
    let beat = ctx.heartbeats.get(ctx.me);
    loop {
        // Once per turn (after a poll, after a park): the cold side's proof of progress.
        beat.beat();
        if g.poll(finished) {
            w.reset();
            ctx.bells.ring_others(ctx.me);
            continue;
        }
        let mut ended = false;
        for i in 0..STAGES {
            let bit = 1u8 << i;
            if owned & bit != 0 && finished & bit == 0 && g.stage_done(i, &ctx.flags) {
                // Drain what is left, then tell the next stage (Release: everything this
                // stage pushed happens-before a reader that sees the flag).
                while g.poll(finished) {}
                finished |= bit;
                ctx.flags.done[i].store(true, Ordering::Release);
                ended = true;
            }
        }
        if ended {
            ctx.bells.ring_others(ctx.me);
            if finished == owned {
                break;
            }
            continue;
        }
        w.wait(Some(bell), &mut || g.poll(finished));
    }
    beat.finish();
    g
}

/// A running pipeline: the hot threads, and the collector the cold thread drains.
pub struct Running<S: FrameSource, D: Decoder + Send + 'static> {
    threads: Vec<JoinHandle<Group<S, D>>>,
    pub collector: Collector,
    pub counters: Arc<HotCounters>,
    pub flags: Arc<Flags>,
    /// The hot threads' doorbells: [`Bells::wake_all`] after setting a flag from the cold side.
    pub bells: Arc<Bells>,
    /// One heartbeat per hot thread (watch them with [`super::heartbeat::HeartbeatWatch`]).
    pub heartbeats: Arc<Heartbeats>,
    /// The layout in force: which stages run on which thread, pinned where, waiting how.
    pub plan: Plan,
}

/// The stages after they stopped.
pub struct Finished<S: FrameSource, D: Decoder + Send + 'static> {
    pub feed: FeedStage<S, D>,
    pub book: BookStage,
    pub signal: SignalStage,
    pub order: OrderStage<OrderGateway>,
    pub latencies: Latencies,
}

impl<S: FrameSource, D: Decoder + Send + 'static> Running<S, D> {
    /// Waits for every hot thread; `on_tick` runs on this (cold) thread between drains.
    pub fn join(
        mut self,
        on_event: &mut dyn FnMut(&crate::trader::TraderEvent),
        on_tick: &mut dyn FnMut(&Collector),
    ) -> std::thread::Result<Finished<S, D>> {
        let mut flags_seen = 0u8;
        while !self.threads.iter().all(|h| h.is_finished()) {
            if self.collector.drain(on_event) == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            on_tick(&self.collector);
            let f = &self.flags;
            let now = f.stop.load(Ordering::Relaxed) as u8
                | (f.kill.load(Ordering::Relaxed) as u8) << 1
                | (f.no_new_positions.load(Ordering::Relaxed) as u8) << 2;
            if now != flags_seen {
                // Parked threads act on a new flag at once, not at their next timeout.
                flags_seen = now;
                self.bells.wake_all();
            }
        }
        let mut all = Group {
            feed: None,
            book: None,
            signal: None,
            order: None,
        };
        for h in self.threads {
            all.merge(h.join()?);
        }
        self.collector.drain(on_event);
        on_tick(&self.collector);
        let missing = || -> Box<dyn std::any::Any + Send> { Box::new("a stage went missing") };
        Ok(Finished {
            feed: all.feed.ok_or_else(missing)?,
            book: all.book.ok_or_else(missing)?,
            signal: all.signal.ok_or_else(missing)?,
            order: all.order.ok_or_else(missing)?,
            latencies: self.collector.latencies,
        })
    }
}
