//! The live feed against the in-process exchange simulator on 127.0.0.1: TLS trust, reconnects
//! and re-seeding after drops, resyncs after gaps, stale books after stalls, malformed frames,
//! the threaded pipeline's "no order on an unsynced book" rule, and `obi-scalp record` recordings
//! that replay to the simulator's book.
//!
//! Exactness: the simulator's synthetic market is wrapped in [`Finite`], which stops the market
//! at a fixed feed time. Once the stream has ended and the client has taken everything, the
//! client's book must equal the simulator's own book level by level (Coincheck and Binance
//! REST answers carry the whole book; Bybit's window is the top `stream_depth` levels).
//! Every wait is bounded.

#[path = "common/child.rs"]
mod child;

use obi_scalp::book::BookSet;
use obi_scalp::config::Config;
use obi_scalp::instrument::{Instrument, Venue};
use obi_scalp::msg::{BookOp, BookState, MdEvent};
use obi_scalp::net::FeedStatus;
use obi_scalp::pipeline::feed::FeedStage;
use obi_scalp::pipeline::live::{LiveSnapshot, LiveSource, LiveStats};
use obi_scalp::pipeline::stats::{Flags, HotCounters, LatencySample};
use obi_scalp::pipeline::Pipeline;
use obi_scalp::pipeline::Stage;
use obi_scalp::sim::fault::FaultSpec;
use obi_scalp::sim::server::{SimConfig, SimHandle, SimServer, TlsSetup};
use obi_scalp::sim::{BookSide, RestReply, Route, SimFeed, SyntheticFeed};
use obi_scalp::trader::TraderEvent;
use obi_scalp::venue::{AnyDecoder, BookRoutes, Decoder, FeedCounters};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Upper bound of any single wait in these tests.
const LIMIT: Duration = Duration::from_secs(20);
/// How long the client keeps polling after the last frame before books are compared.
const QUIET: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------
// Simulator side

/// The synthetic market, stopped at feed time `until_ns`: after that no frame is produced and
/// the simulator's book stays as it is. `held`: its time starts at the first client frame (a
/// subscription), not at the simulator's start, so a slow client misses none of it.
struct Finite {
    inner: SyntheticFeed,
    until_ns: u64,
    held: bool,
    /// Feed time of the first client frame (held markets).
    start_ns: Option<u64>,
    /// Feed time of the latest advance.
    now_ns: u64,
}

impl Finite {
    fn new(venue: Venue, feed_secs: u64, held: bool) -> Finite {
        Finite {
            inner: synthetic(venue, 7),
            until_ns: feed_secs * 1_000_000_000,
            held,
            start_ns: None,
            now_ns: 0,
        }
    }
}

impl SimFeed for Finite {
    fn venue(&self) -> Venue {
        self.inner.venue()
    }
    fn routes(&self) -> &[Route] {
        self.inner.routes()
    }
    fn on_connect(&mut self, route: Route) -> Vec<String> {
        self.inner.on_connect(route)
    }
    fn on_client_frame(&mut self, route: Route, frame: &str) -> Vec<String> {
        if self.held && self.start_ns.is_none() {
            self.start_ns = Some(self.now_ns);
        }
        self.inner.on_client_frame(route, frame)
    }
    fn advance(&mut self, t_ns: u64, out: &mut Vec<(Route, String)>) -> bool {
        self.now_ns = t_ns;
        let t = match (self.held, self.start_ns) {
            (false, _) => t_ns,
            (true, Some(start)) => t_ns - start,
            (true, None) => return true,
        };
        // Exhausted once its end has been reached (the simulator then says so).
        self.inner.advance(t.min(self.until_ns), out) && t < self.until_ns
    }
    fn rest(&mut self, path_and_query: &str) -> RestReply {
        self.inner.rest(path_and_query)
    }
    fn book(&self, symbol: &str) -> Option<(BookSide, BookSide)> {
        self.inner.book(symbol)
    }
    fn crossed_frame(&mut self) -> Option<(Route, String)> {
        self.inner.crossed_frame()
    }
}

fn synthetic(venue: Venue, seed: u64) -> SyntheticFeed {
    // REST answers carry every level, so a seeded book is the whole book.
    SyntheticFeed::default_for(venue, seed)
        .unwrap()
        .with_rest_depth(10_000)
}

struct Sim {
    server: SimServer,
    handle: SimHandle,
    /// Wall time after which the finite market produces nothing more.
    ends_at: Option<Instant>,
}

/// Starts the simulator for `venue` on 127.0.0.1 at `speed`, with `faults`; a finite market of
/// `feed_secs` feed seconds when given.
fn start_sim(
    venue: Venue,
    speed: f64,
    feed_secs: Option<u64>,
    faults: &[&str],
    tls: Option<&Path>,
) -> Sim {
    start_sim_on("127.0.0.1:0", venue, speed, feed_secs, false, faults, tls)
}

/// `held`: a finite market starts at the first client frame (see [`Finite`]); it has no
/// `ends_at` then.
fn start_sim_on(
    listen: &str,
    venue: Venue,
    speed: f64,
    feed_secs: Option<u64>,
    held: bool,
    faults: &[&str],
    tls: Option<&Path>,
) -> Sim {
    let mut c = SimConfig::new(listen.parse().unwrap());
    c.speed = speed;
    c.faults = faults
        .iter()
        .map(|f| FaultSpec::parse(f).unwrap())
        .collect();
    c.tls = tls.map(|d| TlsSetup::SelfSigned {
        dir: d.to_path_buf(),
    });
    let feed: Box<dyn SimFeed> = match feed_secs {
        Some(s) => Box::new(Finite::new(venue, s, held)),
        None => Box::new(synthetic(venue, 7)),
    };
    let start = Instant::now();
    let server = SimServer::start(feed, c).unwrap();
    let handle = server.handle();
    Sim {
        server,
        handle,
        ends_at: feed_secs
            .filter(|_| !held)
            .map(|s| start + Duration::from_secs_f64(s as f64 / speed)),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "obi-live-test-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------------------------------------
// Client side

/// The client config for `venue` against the simulator at `addr`.
fn client_config(venue: Venue, sim: &Sim, tls: bool, extra: &str) -> Config {
    let addr = sim.server.local_addr();
    let (ws, http) = if tls {
        ("wss", "https")
    } else {
        ("ws", "http")
    };
    let (market, symbol, path) = match venue {
        Venue::Bybit => ("linear", "BTCUSDT", "/v5/public/linear"),
        Venue::Binance => ("spot", "BTCUSDT", ""),
        Venue::BinanceUsdm => ("linear", "BTCUSDT", ""),
        Venue::GmoCoin => ("linear", "BTC_JPY", "/ws/public/v1"),
        Venue::Bitbank => ("spot", "btc_jpy", "/socket.io/?EIO=4&transport=websocket"),
        Venue::Bitflyer => ("linear", "FX_BTC_JPY", "/json-rpc"),
        _ => ("spot", "btc_jpy", "/"),
    };
    let text = format!(
        "[market]\nvenue = \"{}\"\nmarket = \"{market}\"\nsymbol = \"{symbol}\"\nsource = \"live\"\n\
         ws_url = \"{ws}://{addr}{path}\"\nrest_url = \"{http}://{addr}\"\nstream_depth = 50\n\
         reconnect_initial_ms = 50\nreconnect_max_ms = 400\nreseed_interval_ms = 600000\n{extra}\n\
         [pipeline]\nwait = \"park\"\nring_capacity = 65536\n",
        venue.as_str()
    );
    Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn decoder_for(cfg: &Config) -> AnyDecoder {
    AnyDecoder::for_config(cfg).unwrap()
}

/// The real feed stage with a [`LiveSource`], polled on the test thread; book events go into a
/// [`BookSet`] as the book stage would apply them.
struct Client {
    feed: FeedStage<LiveSource, AnyDecoder>,
    md: rtrb::Consumer<MdEvent>,
    lat: rtrb::Consumer<LatencySample>,
    books: BookSet,
    inst: Instrument,
    live: Arc<LiveStats>,
    /// Every book event, in order.
    events: Vec<MdEvent>,
}

impl Client {
    fn new(cfg: &Config) -> Client {
        let decoder = decoder_for(cfg);
        let mut source = LiveSource::for_config(cfg, &decoder).unwrap();
        source
            .connect_first(Duration::from_secs(5))
            .expect("connects to the simulator");
        let live = source.stats();
        let (md_tx, md) = rtrb::RingBuffer::new(1 << 16);
        let (lat_tx, lat) = rtrb::RingBuffer::new(1 << 12);
        let feed = FeedStage::new(
            source,
            decoder,
            md_tx,
            lat_tx,
            Arc::new(HotCounters::default()),
            Arc::new(Flags::default()),
        );
        Client {
            feed,
            md,
            lat,
            books: BookSet::new(1, 8, 10_000),
            inst: cfg.market.instrument,
            live,
            events: Vec::new(),
        }
    }

    /// One feed-stage step and the book stage's share of it.
    fn step(&mut self) -> bool {
        let did = self.feed.poll();
        while let Ok(e) = self.md.pop() {
            self.books.apply(&e);
            self.events.push(e);
        }
        while self.lat.pop().is_ok() {}
        did
    }

    /// Steps until `cond` holds; false when `limit` passed first.
    fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Client) -> bool) -> bool {
        let t = Instant::now();
        loop {
            if cond(self) {
                return true;
            }
            if t.elapsed() > limit {
                return false;
            }
            if !self.step() {
                std::thread::sleep(Duration::from_micros(300));
            }
        }
    }

    /// Steps for `d` no matter what.
    fn run_for(&mut self, d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            if !self.step() {
                std::thread::sleep(Duration::from_micros(300));
            }
        }
    }

    fn counters(&self) -> FeedCounters {
        *self.feed.decoder.counters()
    }

    fn live(&self) -> LiveSnapshot {
        self.live.snapshot()
    }

    fn state(&self) -> BookState {
        self.books.books[0].state
    }

    /// The client's book as the simulator prints it (exact decimal strings, best first).
    fn book(&self) -> (BookSide, BookSide) {
        let b = &self.books.books[0];
        let f = |(p, q): (i64, i64)| (self.inst.tick.format(p), self.inst.lot.format(q));
        (
            b.bids.iter().map(f).collect(),
            b.asks.iter().map(f).collect(),
        )
    }
}

fn sim_symbol(venue: Venue) -> &'static str {
    match venue {
        Venue::Bybit => "linear:BTCUSDT",
        Venue::Binance | Venue::BinanceUsdm => "BTCUSDT",
        Venue::GmoCoin => "BTC_JPY",
        Venue::Bitflyer => "FX_BTC_JPY",
        _ => "btc_jpy",
    }
}

/// The simulator's book, cut to `depth` levels per side.
fn sim_book(sim: &Sim, venue: Venue, depth: usize) -> (BookSide, BookSide) {
    let (mut b, mut a) = sim.handle.feed_book(sim_symbol(venue)).expect("sim book");
    b.truncate(depth);
    a.truncate(depth);
    (b, a)
}

/// Waits for the finite market to end and every frame to reach the client, then checks that
/// the client's book is synced and equal to the simulator's.
fn assert_books_equal_after_the_end(
    c: &mut Client,
    sim: &Sim,
    venue: Venue,
    depth: usize,
    quiet: Duration,
) {
    let ends_at = sim.ends_at.expect("a finite market");
    let ok = c.run_until(LIMIT, |_| Instant::now() >= ends_at);
    assert!(ok, "the market did not end in time");
    // Everything the simulator queued reaches the client; then a quiet moment.
    let h = sim.handle.clone();
    assert!(
        c.run_until(LIMIT, |_| h.queued_frames() == 0),
        "frames stuck in the simulator"
    );
    c.run_for(quiet);
    let want = sim_book(sim, venue, depth);
    let got = c.book();
    assert_eq!(
        c.state(),
        BookState::Synced,
        "book not synced at the end; counters {:?}; live {:?}",
        c.counters(),
        c.live()
    );
    assert!(want.0.len() >= depth.min(50) && want.1.len() >= depth.min(50));
    if got != want {
        let diff: Vec<_> = got
            .0
            .iter()
            .zip(&want.0)
            .enumerate()
            .filter(|(_, (g, w))| g != w)
            .take(5)
            .collect();
        panic!(
            "client book != simulator book: {} / {} bids, {} / {} asks; first bid differences {diff:?}; counters {:?}",
            got.0.len(),
            want.0.len(),
            got.1.len(),
            want.1.len(),
            c.counters()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TLS

#[test]
fn tls_simulator_is_trusted_with_its_ca_and_refused_without() {
    let dir = temp_dir("tls");
    let sim = start_sim(Venue::Coincheck, 20.0, None, &[], Some(&dir));
    let ca = dir.join("ca.pem");
    assert!(ca.is_file(), "the simulator wrote its CA");
    let cfg = client_config(
        Venue::Coincheck,
        &sim,
        true,
        &format!("ca_file = {:?}", ca.display().to_string()),
    );
    let mut c = Client::new(&cfg);
    assert!(
        c.run_until(LIMIT, |c| c.state() == BookState::Synced
            && c.counters().rest_snapshots >= 1),
        "no synced book over wss/https: {:?} {:?}",
        c.counters(),
        c.live()
    );
    assert!(
        c.run_until(LIMIT, |c| c.live().rest.delivered >= 1),
        "REST seed fetched over https: {:?}",
        c.live()
    );
    assert_eq!(c.live().status, FeedStatus::Active);

    // Without the CA the certificate is not trusted: a clear error, at once.
    let cfg = client_config(Venue::Coincheck, &sim, true, "");
    let decoder = decoder_for(&cfg);
    let mut src = LiveSource::for_config(&cfg, &decoder).unwrap();
    let t = Instant::now();
    let e = src
        .connect_first(Duration::from_secs(10))
        .expect_err("an untrusted certificate must be refused");
    assert!(t.elapsed() < Duration::from_secs(5), "fails fast on TLS");
    assert!(
        e.contains("not trusted") && e.contains("127.0.0.1"),
        "unclear error: {e}"
    );
    assert_eq!(src.stats().snapshot().ws.connects, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Drops: reconnect with backoff, re-seed, equal books

fn drop_and_recover(venue: Venue) {
    // 30 s of market at 15x: 2 s of wall time; the connection drops at 0.6 s and 1.2 s.
    let sim = start_sim(venue, 15.0, Some(30), &["drop@600ms", "drop@1200ms"], None);
    let cfg = client_config(venue, &sim, false, "max_silence_ms = 3000");
    let mut c = Client::new(&cfg);
    // Bybit's window is the stream depth, a GMO frame the best 30 levels; the REST answers and
    // bitbank's wholes carry every level.
    let depth = match venue {
        Venue::Bybit => 50,
        Venue::GmoCoin => obi_scalp::sim::synthetic::GMOCOIN_DEPTH,
        _ => 10_000,
    };
    assert_books_equal_after_the_end(&mut c, &sim, venue, depth, QUIET);
    let l = c.live();
    let k = c.counters();
    assert!(
        l.ws.connects >= 3 && l.disconnects_out >= 2,
        "reconnected after each drop: {l:?}"
    );
    assert!(k.resyncs >= 2, "books resynced after each drop: {k:?}");
    match venue {
        Venue::Bybit => assert!(k.snapshots >= 3, "a snapshot per subscription: {k:?}"),
        // The simulator's futures ids skip between events: only the `pu` rule sees no gap.
        Venue::BinanceUsdm => assert!(
            k.rest_snapshots >= 3 && k.gaps == 0,
            "a REST seed per connection, pu chain unbroken: {k:?} {l:?}"
        ),
        // Every frame is a full book: one at least per connection.
        Venue::GmoCoin => assert!(k.snapshots >= 3, "books on each connection: {k:?}"),
        // Unsequenced diffs: each connection waits for the snapshot its subscription asks for.
        Venue::Bitflyer => assert!(
            k.snapshots >= 3 && l.rest.delivered == 0,
            "a board snapshot per connection, no REST: {k:?} {l:?}"
        ),
        Venue::Bitbank => {
            assert!(k.snapshots >= 3, "a whole per joined connection: {k:?}");
            assert!(
                l.resubscribes >= 3,
                "the rooms joined on each connection after its namespace answer: {l:?}"
            );
        }
        _ => assert!(
            k.rest_snapshots >= 3 && l.rest.delivered >= 3,
            "a REST seed per connection: {k:?} {l:?}"
        ),
    }
}

#[test]
fn coincheck_reconnects_and_reseeds_after_drops() {
    drop_and_recover(Venue::Coincheck);
}

#[test]
fn bybit_reconnects_and_resnapshots_after_drops() {
    drop_and_recover(Venue::Bybit);
}

#[test]
fn binance_reconnects_and_reseeds_after_drops() {
    drop_and_recover(Venue::Binance);
}

#[test]
fn binance_usdm_reconnects_and_reseeds_after_drops() {
    drop_and_recover(Venue::BinanceUsdm);
}

#[test]
fn gmocoin_reconnects_and_resyncs_after_drops() {
    drop_and_recover(Venue::GmoCoin);
}

#[test]
fn bitflyer_reconnects_and_resyncs_on_snapshots_after_drops() {
    drop_and_recover(Venue::Bitflyer);
}

#[test]
fn bitbank_reconnects_rejoins_and_resyncs_after_drops() {
    drop_and_recover(Venue::Bitbank);
}

// ---------------------------------------------------------------------------------------------
// Gaps, stalls, malformed frames

#[test]
fn bybit_gap_resubscribes_and_resyncs() {
    let sim = start_sim(
        Venue::Bybit,
        15.0,
        Some(30),
        &["skip@msg=20", "skip@msg=60", "skip@msg=120"],
        None,
    );
    let cfg = client_config(Venue::Bybit, &sim, false, "max_silence_ms = 3000");
    let mut c = Client::new(&cfg);
    assert_books_equal_after_the_end(&mut c, &sim, Venue::Bybit, 50, QUIET);
    let k = c.counters();
    let l = c.live();
    assert!(k.gaps >= 1 && k.resyncs >= 1, "gaps detected: {k:?}");
    assert!(l.resubscribes >= 1, "resubscribed: {l:?}");
    assert_eq!(l.ws.connects, 1, "resynced without reconnecting: {l:?}");
    assert!(k.snapshots >= 2, "a fresh snapshot after the gap: {k:?}");
}

#[test]
fn bybit_stall_turns_the_book_stale_within_max_silence_then_recovers() {
    let silence_ms = 400;
    let sim = start_sim(Venue::Bybit, 15.0, Some(45), &["stall@700ms:1500ms"], None);
    let cfg = client_config(
        Venue::Bybit,
        &sim,
        false,
        &format!("max_silence_ms = {silence_ms}"),
    );
    let mut c = Client::new(&cfg);
    // The market ends in silence too: compare before that silence turns the book stale.
    assert_books_equal_after_the_end(&mut c, &sim, Venue::Bybit, 50, Duration::from_millis(60));
    assert!(c.counters().stale >= 1, "went stale: {:?}", c.counters());
    // Stale no later than max silence (+ the 10 ms timer, + slack for a loaded machine) after
    // the last update before it.
    let mut last_commit = None;
    let mut checked = 0;
    for e in &c.events {
        match e.op {
            BookOp::Commit { .. } => last_commit = Some(e.recv_ns),
            BookOp::State(BookState::Stale) => {
                let t0 = last_commit.expect("an update before going stale");
                let late_ms = (e.recv_ns - t0) / 1_000_000;
                assert!(
                    late_ms >= silence_ms && late_ms <= silence_ms + 150,
                    "stale {late_ms} ms after the last update (max silence {silence_ms} ms)"
                );
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 1);
}

#[test]
fn malformed_frames_are_counted_and_survived() {
    let sim = start_sim(
        Venue::Bybit,
        15.0,
        Some(30),
        &["malformed@msg=10,every=25:2"],
        None,
    );
    let cfg = client_config(Venue::Bybit, &sim, false, "max_silence_ms = 3000");
    let mut c = Client::new(&cfg);
    assert_books_equal_after_the_end(&mut c, &sim, Venue::Bybit, 50, QUIET);
    let k = c.counters();
    assert!(k.malformed >= 4, "malformed frames counted: {k:?}");
    assert_eq!(
        c.live().ws.connects,
        1,
        "no reconnect needed: {:?}",
        c.live()
    );
}

// ---------------------------------------------------------------------------------------------
// The threaded pipeline: orders only on a synced book

/// A decoder that logs the state of every published update of book 0 (what the book stage
/// turns each commit and state event into) before passing the events on.
struct Observed {
    inner: AnyDecoder,
    log: Arc<Mutex<Vec<(u64, BookState)>>>,
}

fn log_update(log: &Mutex<Vec<(u64, BookState)>>, e: &MdEvent) {
    if e.book == 0 {
        match e.op {
            BookOp::Commit { .. } => log.lock().unwrap().push((e.recv_ns, BookState::Synced)),
            BookOp::State(s) => log.lock().unwrap().push((e.recv_ns, s)),
            _ => {}
        }
    }
}

impl Decoder for Observed {
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        let log = &self.log;
        self.inner.on_frame(recv_ns, frame, &mut |e| {
            log_update(log, &e);
            out(e)
        })
    }
    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        let log = &self.log;
        self.inner.on_rest(recv_ns, url, body, &mut |e| {
            log_update(log, &e);
            out(e)
        })
    }
    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let log = &self.log;
        self.inner.on_timer(now_ns, &mut |e| {
            log_update(log, &e);
            out(e)
        })
    }
    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let log = &self.log;
        self.inner.on_disconnect(now_ns, &mut |e| {
            log_update(log, &e);
            out(e)
        })
    }
    fn counters(&self) -> &FeedCounters {
        self.inner.counters()
    }
    fn routes(&self) -> &BookRoutes {
        self.inner.routes()
    }
    fn take_resync_request(&mut self) -> bool {
        self.inner.take_resync_request()
    }
    fn take_snapshot_book(&mut self) -> Option<usize> {
        self.inner.take_snapshot_book()
    }
}

#[test]
fn pipeline_opens_orders_only_on_synced_books_under_faults() {
    // An endless Coincheck market at 25x with a drop, a stall longer than max silence and
    // malformed frames, through the four hot threads.
    let sim = start_sim(
        Venue::Coincheck,
        25.0,
        None,
        &[
            "drop@1500ms,every=2500ms",
            "stall@3s:900ms",
            "malformed@msg=30,every=60",
        ],
        None,
    );
    let cfg = client_config(
        Venue::Coincheck,
        &sim,
        false,
        "max_silence_ms = 400\n[strategy]\nhold_ms = 50\ncooldown_ms = 100\nmax_spread = 5000\n\
         long_threshold = 0.1\nshort_threshold = 0.1\nentry_timeout_ms = 300\nmax_hold_ms = 1000\n[risk]\nmax_orders_per_sec = 50\norder_burst = 50",
    );
    let inner = decoder_for(&cfg);
    let mut source = LiveSource::for_config(&cfg, &inner).unwrap();
    source.connect_first(Duration::from_secs(5)).unwrap();
    let live = source.stats();
    let log = Arc::new(Mutex::new(Vec::new()));
    let decoder = Observed {
        inner,
        log: log.clone(),
    };
    let flags = Arc::new(Flags::default());
    let running = Pipeline::new(&cfg, source, decoder)
        .flags(flags.clone())
        .start()
        .unwrap();
    let started = Instant::now();
    let mut orders: Vec<(u64, bool)> = Vec::new();
    let stop = flags.clone();
    let fin = running
        .join(
            &mut |e| {
                if let TraderEvent::Order {
                    recv_ns,
                    reduce_only,
                    ..
                } = e
                {
                    orders.push((*recv_ns, *reduce_only));
                }
            },
            &mut |_| {
                if started.elapsed() > Duration::from_secs(7) {
                    stop.stop.store(true, Ordering::Relaxed);
                }
            },
        )
        .expect("no hot thread panicked");
    let k = *fin.feed.decoder.counters();
    let l = live.snapshot();
    let log = log.lock().unwrap();
    let unsynced = log.iter().filter(|(_, s)| *s != BookState::Synced).count();
    assert!(
        unsynced >= 2 && k.resyncs >= 1,
        "the faults must have unsynced the book: {k:?} {l:?}"
    );
    assert!(l.disconnects_out >= 2 && k.malformed >= 1, "{k:?} {l:?}");
    let opening: Vec<u64> = orders
        .iter()
        .filter(|(_, reduce)| !reduce)
        .map(|(r, _)| *r)
        .collect();
    assert!(
        opening.len() >= 3,
        "the strategy must trade for this test to mean anything: {} opening orders",
        opening.len()
    );
    let closing: Vec<u64> = orders
        .iter()
        .filter(|(_, reduce)| *reduce)
        .map(|(r, _)| *r)
        .collect();
    assert!(
        !closing.is_empty(),
        "exits must happen for the reduce-only half of this test to mean anything"
    );
    // Exits too: take-profit, stop-loss and max-hold are decided on synced books only.
    for r in &closing {
        let at: Vec<BookState> = log
            .iter()
            .filter(|(t, _)| t == r)
            .map(|(_, s)| *s)
            .collect();
        assert!(
            at.contains(&BookState::Synced),
            "reduce-only order at {r} on an update that was not synced: {at:?}"
        );
    }
    let mut mixed = 0;
    for r in &opening {
        let at: Vec<BookState> = log
            .iter()
            .filter(|(t, _)| t == r)
            .map(|(_, s)| *s)
            .collect();
        assert!(
            at.contains(&BookState::Synced),
            "order opened at {r} on an update that was not synced: {at:?}"
        );
        if at.iter().any(|s| *s != BookState::Synced) {
            mixed += 1;
        }
    }
    eprintln!(
        "{} opening and {} reduce-only orders, all on synced updates ({mixed} openings at a time \
         that also saw a state change); {unsynced} unsynced updates; feed {k:?}",
        opening.len(),
        closing.len()
    );
}

// ---------------------------------------------------------------------------------------------
// `obi-scalp record` → `obi-scalp book`

fn record_and_replay(venue: Venue) {
    // The recorder starts first and keeps trying (up to its connect timeout) until the
    // simulator listens; the simulator's market waits for the recorder's subscription.
    let dir = temp_dir("record");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (market, symbol, path) = match venue {
        Venue::Bybit => ("linear", "BTCUSDT", "/v5/public/linear"),
        _ => ("spot", "btc_jpy", "/"),
    };
    let cfg_path = dir.join("rec.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[market]\nvenue = \"{}\"\nmarket = \"{market}\"\nsymbol = \"{symbol}\"\nsource = \"live\"\n\
             ws_url = \"ws://{addr}{path}\"\nrest_url = \"http://{addr}\"\nstream_depth = 50\n\
             reconnect_initial_ms = 50\nreconnect_max_ms = 400\nmax_silence_ms = 5000\n\
             reseed_interval_ms = 600000\n[record]\nflush_ms = 100\n",
            venue.as_str()
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let bin = env!("CARGO_BIN_EXE_obi-scalp");
    // 45 s of market at 15x (3 s). The recording runs until the test stops it: once the
    // market has ended and the recorder has read all of it (no fixed window to outlast the
    // market on a loaded machine); 120 s is only the bound.
    let mut rec = Command::new(bin)
        .args([
            "record",
            "--duration",
            "120",
            "--connect-timeout",
            "60",
            "--config",
        ])
        .arg(&cfg_path)
        .arg("--out")
        .arg(&out)
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (
        Arc::new(Mutex::new(String::new())),
        Arc::new(Mutex::new(String::new())),
    );
    let readers = [
        child::collect(rec.stdout.take().unwrap(), stdout.clone(), None),
        child::collect(rec.stderr.take().unwrap(), stderr.clone(), None),
    ];
    std::thread::sleep(Duration::from_millis(300));
    // The market waits for the recorder's subscription, and the drop comes 25 frames into it,
    // however late a loaded machine starts the recorder.
    let mut sim = start_sim_on(
        &addr.to_string(),
        venue,
        15.0,
        Some(45),
        true,
        &["drop@msg=25"],
        None,
    );
    let h = sim.handle.clone();
    let ended = wait_until(LIMIT, || h.feed_exhausted() && h.queued_frames() == 0);
    assert!(ended, "the simulator's market did not end");
    // Closing the simulator ends the recorder's connection after the last frame written to it
    // (TCP keeps the order): once the recorder logs that connection lost (its second: the
    // first is the drop), it has read the whole market.
    assert!(sim.server.stop(), "the simulator stopped cleanly");
    let lost = || connections_lost(&stderr.lock().unwrap());
    assert!(
        wait_until(LIMIT, || lost() >= 2),
        "the recorder never logged the simulator's close: {}",
        stderr.lock().unwrap()
    );
    let kill = Command::new("kill")
        .args(["-INT", &rec.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let st = child::wait_bounded(&mut rec, LIMIT).expect("record stops on SIGINT");
    for r in readers {
        r.join().unwrap();
    }
    let stdout = stdout.lock().unwrap().clone();
    let stderr = stderr.lock().unwrap().clone();
    assert!(st.success(), "record failed: {stdout}\n{stderr}");
    assert!(stdout.contains(" 0 dropped"), "{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("summary: "))
        .expect("a summary line");
    // One reconnect (after the drop); at the end the simulator's close is seen: the book waits
    // for a new connection.
    for want in [
        "reconnects=1",
        "book_state=resyncing",
        "feed=reconnecting",
        "dropped=0",
        "files=1",
    ] {
        assert!(summary.contains(want), "{want} not in {summary}");
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_string_lossy().ends_with(".obirec.zst"));

    let depth = 1000;
    let b = Command::new(bin)
        .args(["book", "--input"])
        .arg(&files[0])
        .args(["--depth", &depth.to_string()])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&b.stdout);
    assert!(
        b.status.success(),
        "book failed: {}",
        String::from_utf8_lossy(&b.stderr)
    );
    let last = csv.lines().last().expect("rows");
    let cols: Vec<&str> = last.split(',').collect();
    let mut bids = Vec::new();
    let mut asks = Vec::new();
    for i in 0..depth {
        let c = 4 + 4 * i;
        if !cols[c].is_empty() {
            bids.push((cols[c].to_string(), cols[c + 1].to_string()));
        }
        if !cols[c + 2].is_empty() {
            asks.push((cols[c + 2].to_string(), cols[c + 3].to_string()));
        }
    }
    let want_depth = if venue == Venue::Bybit { 50 } else { depth };
    let want = sim_book(&sim, venue, want_depth);
    assert!(
        bids.len() >= 50 && asks.len() >= 50,
        "{} {}",
        bids.len(),
        asks.len()
    );
    assert_eq!((bids, asks), want, "replayed book != simulator book");
    eprintln!("{stdout}{}", String::from_utf8_lossy(&b.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connections the recorder logged as lost (the sum of the `count=` of its "feed connection
/// lost" lines).
fn connections_lost(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("feed connection lost"))
        .map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("count="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1)
        })
        .sum()
}

/// Polls `done` every 10 ms until it holds (true) or `limit` passes (false).
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while !done() {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn coincheck_recording_replays_to_the_simulator_book() {
    record_and_replay(Venue::Coincheck);
}

#[test]
fn bybit_recording_replays_to_the_simulator_book() {
    record_and_replay(Venue::Bybit);
}

#[test]
fn record_fails_loudly_when_the_venue_cannot_be_reached() {
    let dir = temp_dir("unreachable");
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[market]\nvenue = \"bybit\"\nmarket = \"linear\"\nsymbol = \"BTCUSDT\"\nsource = \"live\"\n\
             ws_url = \"ws://127.0.0.1:{port}/v5/public/linear\"\nreconnect_initial_ms = 50\n"
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_obi-scalp");
    let t = Instant::now();
    let r = Command::new(bin)
        .args([
            "record",
            "--connect-timeout",
            "1",
            "--duration",
            "120",
            "--config",
        ])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        r.status.code(),
        Some(5),
        "venue_unreachable in the exit table: {err}"
    );
    assert!(
        err.contains("venue not reachable") && err.contains(&port.to_string()),
        "{err}"
    );
    // It gives up at the 1 s connect timeout, long before the 120 s recording would end (the
    // bound leaves room for a loaded machine; waiting out the duration would take 120 s).
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "gave up at the connect timeout, not at the end of the recording"
    );

    // A config without a live source is refused before connecting.
    std::fs::write(&cfg, "[market]\nsource = \"synthetic\"\n").unwrap();
    let r = Command::new(bin)
        .args(["record", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("market.source"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotated_recording_of_bybit_spot_replays_every_file() {
    let dir = temp_dir("rotate");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg_path = dir.join("rec.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[market]\nvenue = \"bybit\"\nmarket = \"spot\"\nsymbol = \"BTCUSDT\"\nsource = \"live\"\n\
             ws_url = \"ws://{addr}/v5/public/spot\"\nstream_depth = 50\nreconnect_initial_ms = 50\n\
             reconnect_max_ms = 400\nmax_silence_ms = 5000\n[record]\nrotate_bytes = 4096\nflush_ms = 100\n"
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let bin = env!("CARGO_BIN_EXE_obi-scalp");
    let child = Command::new(bin)
        .args(["record", "--duration", "3", "--config"])
        .arg(&cfg_path)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _sim = start_sim_on(
        &addr.to_string(),
        Venue::Bybit,
        15.0,
        None,
        false,
        &[],
        None,
    );
    let r = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let records: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("record: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("record count");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "rotated: {} files", files.len());
    let rep = Command::new(bin)
        .args(["replay", "--config"])
        .arg(&cfg_path)
        .arg("--out")
        .arg(dir.join("replay"))
        .arg("--input")
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rep.stdout);
    assert!(
        rep.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&rep.stderr)
    );
    // Every record of every file is a record of the spot connection.
    let replayed: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("replay bybit_spot BTCUSDT: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no replay line in {text}"));
    assert_eq!(replayed, records, "{text}");
    assert!(text.contains(" 0 gaps"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
