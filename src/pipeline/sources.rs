//! Frame sources for the feed stage that need no network: recordings and the synthetic market.

use crate::record::{Record, RecordKind};
use crate::venue::Decoder;

/// What a source produced on one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEvent {
    /// A frame is in the buffer, received at `recv_ns`.
    Frame { recv_ns: u64 },
    /// A REST response body is in the buffer; its URL in the url buffer.
    Rest { recv_ns: u64 },
    /// The connection dropped; books must resync. The buffer may hold the cause as text.
    Disconnected { now_ns: u64 },
    /// A connection opened (its address in the url buffer). The decoder needs nothing: the
    /// books already resync since the last `Disconnected` (or start-up).
    Connected { now_ns: u64 },
    /// Nothing ready now.
    Idle,
    /// The source is finished (end of a recording, run duration reached).
    End,
}

/// Where frames come from: the synthetic market, a recording, or a venue WebSocket.
pub trait FrameSource: Send + 'static {
    /// Writes the next frame (or REST body) into `buf` (and its URL into `url`) if one is ready.
    fn next(&mut self, buf: &mut Vec<u8>, url: &mut String) -> SourceEvent;

    /// The sync rules want a fresh snapshot (resubscribe, reconnect or REST fetch).
    fn request_resync(&mut self);

    /// Whether the source is connected and delivering.
    fn active(&self) -> bool {
        true
    }

    /// True for recorded input: watchdog timers then run on the frames' own receive times
    /// (exactly as the single-thread replay does), not on the wall clock.
    fn replay_clock(&self) -> bool {
        false
    }

    /// Called by the feed stage after every poll, with the decoder: a source that fetches REST
    /// snapshots takes the decoder's requests here ([`Decoder::take_snapshot_book`]). Must be
    /// cheap when there is nothing to do.
    #[inline]
    fn on_decoder<D: Decoder>(&mut self, decoder: &mut D) {
        let _ = decoder;
    }
}

/// Recorded frames of one connection, as fast as the pipeline takes them (latency benches and
/// the threaded-vs-replay agreement test). REST records are handed over as REST bodies.
pub struct RecordingSource {
    records: Vec<Record>,
    next: usize,
    /// Resync requests seen (a recording cannot honour them; counted for the report).
    pub resync_requests: u64,
}

impl RecordingSource {
    /// `records` in receive order; only `Recv`, `Http`, `Connect` and `Disconnect` are used.
    pub fn new(records: Vec<Record>) -> RecordingSource {
        RecordingSource {
            records,
            next: 0,
            resync_requests: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl FrameSource for RecordingSource {
    #[inline]
    fn next(&mut self, buf: &mut Vec<u8>, url: &mut String) -> SourceEvent {
        while let Some(r) = self.records.get(self.next) {
            self.next += 1;
            match r.kind {
                RecordKind::Recv => {
                    buf.clear();
                    buf.extend_from_slice(&r.data);
                    return SourceEvent::Frame { recv_ns: r.ts_ns };
                }
                RecordKind::Http => {
                    buf.clear();
                    buf.extend_from_slice(&r.data);
                    url.clear();
                    url.push_str(r.url_or_addr.as_deref().unwrap_or(""));
                    return SourceEvent::Rest { recv_ns: r.ts_ns };
                }
                RecordKind::Connect | RecordKind::Disconnect => {
                    return SourceEvent::Disconnected { now_ns: r.ts_ns };
                }
                _ => continue,
            }
        }
        SourceEvent::End
    }

    fn request_resync(&mut self) {
        self.resync_requests += 1;
    }

    fn replay_clock(&self) -> bool {
        true
    }
}

/// The built-in synthetic Coincheck market, paced in real time (or `speed` times faster): the
/// default source of `obi-scalp run`, needing no network. Frames carry the local time at which
/// the feed takes them; a resync request is answered with a fresh REST-format snapshot of the
/// exchange's book, as Coincheck's `/api/order_books` would.
pub struct SyntheticSource {
    frames: crate::sim::CoincheckFrames,
    fmt: crate::sim::wire::LevelFmt,
    text: String,
    pending: Option<(u64, crate::sim::FrameKind)>,
    start_wall_ns: u64,
    speed: u64,
    url: String,
    resync: bool,
    /// Frames delivered.
    pub delivered: u64,
}

impl SyntheticSource {
    /// The synthetic market of `cfg` (`[synthetic]` seed, pace and start price).
    pub fn from_config(cfg: &crate::config::Config, speed: u64) -> Result<SyntheticSource, String> {
        use crate::sim::market::{Schedule, SyntheticConfig};
        let inst = cfg.market.instrument;
        let mut sc = SyntheticConfig::coincheck_btc_jpy(cfg.synthetic.seed);
        sc.instrument = inst;
        sc.start_px_ticks = cfg.synthetic.start_px;
        sc.schedule = Schedule::Random {
            median_ns: cfg.synthetic.mean_interval_ns,
        };
        let frames = crate::sim::CoincheckFrames::with_config(sc, 50, true)?;
        let venue = inst.key.venue.require_connector("synthetic market")?;
        let rest_base = venue.rest_snapshot().map_or("", |r| r.base);
        Ok(SyntheticSource {
            fmt: crate::sim::wire::LevelFmt::for_venue(&inst, 0),
            frames,
            text: String::with_capacity(1 << 16),
            pending: None,
            start_wall_ns: 0,
            speed: speed.max(1),
            url: venue.snapshot_url(rest_base, &inst.key.symbol),
            resync: false,
            delivered: 0,
        })
    }

    /// The exchange's own book (bids, asks best-first), for tests.
    pub fn market(&self) -> &crate::sim::SyntheticMarket {
        self.frames.market()
    }
}

impl FrameSource for SyntheticSource {
    #[inline]
    fn next(&mut self, buf: &mut Vec<u8>, url: &mut String) -> SourceEvent {
        use crate::msg::Side;
        use crate::sim::FrameKind;
        let now = crate::clock::now_ns();
        if self.start_wall_ns == 0 {
            self.start_wall_ns = now;
        }
        if self.resync {
            self.resync = false;
            self.text.clear();
            let m = self.frames.market();
            crate::sim::wire::coincheck::order_books(
                &mut self.text,
                &self.fmt,
                m.levels(Side::Bid),
                m.levels(Side::Ask),
                50,
            );
            buf.clear();
            buf.extend_from_slice(self.text.as_bytes());
            url.clear();
            url.push_str(&self.url);
            return SourceEvent::Rest { recv_ns: now };
        }
        if self.pending.is_none() {
            self.pending = self.frames.next_frame(&mut self.text);
        }
        let Some((t, kind)) = self.pending else {
            return SourceEvent::End;
        };
        if now < self.start_wall_ns + t / self.speed {
            return SourceEvent::Idle;
        }
        self.pending = None;
        self.delivered += 1;
        buf.clear();
        buf.extend_from_slice(self.text.as_bytes());
        match kind {
            FrameKind::RestSnapshot => {
                url.clear();
                url.push_str(&self.url);
                SourceEvent::Rest { recv_ns: now }
            }
            _ => SourceEvent::Frame { recv_ns: now },
        }
    }

    fn request_resync(&mut self) {
        self.resync = true;
    }
}
