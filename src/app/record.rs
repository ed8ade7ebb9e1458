//! `obi-scalp record`: record a live feed's raw frames to obirec files.
//!
//! It connects exactly like `obi-scalp run` with `market.source = "live"`: the same
//! [`LiveSource`] and the same decoder in the same feed stage, so the venue's sync rules ask
//! for REST snapshots, resubscribe after gaps and reconnect after silence as they would while
//! trading, and the recording holds everything the live decoder saw, in its order: every
//! frame with its receive time, every REST answer (as `http` records with their URL),
//! connects and disconnects. The feed stage runs on its own thread and copies each event onto
//! a byte ring ([`crate::pipeline::tap`]); this (cold) thread writes them with a
//! [`RecordWriter`](crate::record::RecordWriter): zstd, rotated by `[record] rotate_bytes` /
//! `rotate_ms`, flushed every `[record] flush_ms`. A crash loses at most the last flush interval
//! (plus what was still on the ring). Recordings replay with `obi-scalp replay` and
//! `obi-scalp book`.
//!
//! Exit codes: 0 done, 2 bad config or arguments, 3 the venue could not be reached at start-up,
//! 1 writing failed.

use super::AppError;
use crate::config::{Config, Source, WaitStrategy};
use crate::msg::{BookOp, BookState, MdEvent};
use crate::pipeline::feed::FeedStage;
use crate::pipeline::live::LiveSource;
use crate::pipeline::runner::spawn;
use crate::pipeline::stats::{Flags, HotCounters, LatencySample};
use crate::pipeline::tap::Recorder;
use crate::venue::AnyDecoder;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of the ring between the feed thread and the writer.
const RING_BYTES: usize = 64 << 20;

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Config file: `[market]` venue, market, symbol, `source = "live"`, ws_url, rest_url,
    /// ca_file, timings; `[record]` rotation and flush interval.
    #[arg(long)]
    pub config: PathBuf,
    /// Directory for the obirec files (created if missing; overrides `[record] dir`).
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this many seconds (fractions allowed); default: until SIGINT/SIGTERM.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Seconds to wait for the first connection before giving up (exit code 5, venue_unreachable).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub connect_timeout: f64,
}

fn seconds(what: &str, s: f64) -> Result<Duration, AppError> {
    if s.is_finite() && s > 0.0 && s < 1e9 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(AppError::usage(format!(
            "{what}: expected a number of seconds above 0, got {s}"
        )))
    }
}

pub fn run(a: RecordArgs) -> Result<(), AppError> {
    let duration = a.duration.map(|d| seconds("--duration", d)).transpose()?;
    let connect_timeout = seconds("--connect-timeout", a.connect_timeout)?;
    let cfg = Config::load(&a.config)?;
    if cfg.market.source != Source::Live {
        return Err(AppError::usage(format!(
            "{}: market.source: record needs \"live\" (a venue or simulator WebSocket)",
            a.config.display()
        )));
    }
    let decoder = AnyDecoder::for_config(&cfg)
        .map_err(|e| AppError::usage(format!("{}: {e}", a.config.display())))?;
    let mut source = LiveSource::for_config(&cfg, &decoder)
        .map_err(|e| AppError::usage(format!("{}: {e}", a.config.display())))?;
    let (tap, mut recorder) = Recorder::for_config(&cfg, &a.out, source.ws_url(), RING_BYTES)
        .map_err(|e| AppError::exit(crate::ops::Exit::Io, format!("recorder: {e}")))?;
    let live = source.stats();
    source.connect_first(connect_timeout).map_err(|e| {
        AppError::exit(
            crate::ops::Exit::VenueUnreachable,
            format!("venue not reachable: {e}"),
        )
    })?;
    eprintln!(
        "record: connected to {}; writing {} ({})",
        source.ws_url(),
        a.out.display(),
        recorder
            .files()
            .last()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );

    let counters = Arc::new(HotCounters::default());
    let flags = Arc::new(Flags::default());
    let cap = cfg.pipeline.ring_capacity.max(1024);
    let (md_tx, mut md_rx) = crate::pipeline::ring::ring::<MdEvent>(cap);
    let (lat_tx, mut lat_rx) = crate::pipeline::ring::ring::<LatencySample>(4096);
    let mut feed = FeedStage::new(
        source,
        decoder,
        md_tx,
        lat_tx,
        counters.clone(),
        flags.clone(),
    );
    feed.tap = Some(tap);
    let feed = spawn(feed, WaitStrategy::Park, None, flags.clone(), 0).map_err(|e| {
        AppError::exit(
            crate::ops::Exit::Internal,
            format!("cannot start the feed thread: {e}"),
        )
    })?;

    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone()).map_err(|e| {
            AppError::exit(
                crate::ops::Exit::Internal,
                format!("cannot install signal handler: {e}"),
            )
        })?;
    }
    let started = Instant::now();
    let mut last_status = Instant::now();
    // Connections lost and made, gaps and resyncs in the log, as `run` tells them.
    let mut feed_log = crate::ops::feed_log::FeedLog::new();
    let mut last_look = Instant::now();
    let mut write_err = None;
    // The recorded instrument's book state, as the book stage would see it.
    let mut book_state = BookState::Resyncing;
    let status = |counters: &HotCounters, book_state: BookState| {
        let s = live.snapshot();
        let g = HotCounters::get;
        format!(
            "frames={} bytes={} gaps={} resyncs={} reconnects={} disconnects={} malformed={} \
             stale={} rest={} rest_errors={} resubscribes={} book_state={} feed={}",
            g(&counters.frames),
            g(&counters.bytes),
            g(&counters.gaps),
            g(&counters.resyncs),
            s.ws.connects.saturating_sub(1),
            s.ws.disconnects_total(),
            g(&counters.malformed),
            g(&counters.stale),
            s.rest.delivered,
            s.rest.errors,
            s.resubscribes,
            book_state.as_str(),
            s.status.as_str()
        )
    };
    while !feed.is_finished() {
        let mut busy = false;
        // Book events are only watched for the book state; the ring never overflows.
        while let Ok(e) = md_rx.pop() {
            busy = true;
            if e.book == 0 {
                match e.op {
                    BookOp::Commit { .. } => book_state = BookState::Synced,
                    BookOp::State(s) => book_state = s,
                    _ => {}
                }
            }
        }
        while lat_rx.pop().is_ok() {}
        match recorder.drain() {
            Ok(n) => busy |= n > 0,
            Err(e) => {
                write_err = Some(e);
                flags.stop.store(true, Ordering::Relaxed);
            }
        }
        let stop =
            interrupted.load(Ordering::Relaxed) || duration.is_some_and(|d| started.elapsed() >= d);
        if stop {
            flags.stop.store(true, Ordering::Relaxed);
        }
        if last_look.elapsed() >= Duration::from_millis(100) {
            last_look = Instant::now();
            feed_log.observe(&counters, Some(&live));
        }
        if last_status.elapsed() >= Duration::from_secs(5) {
            last_status = Instant::now();
            eprintln!("record: {}", status(&counters, book_state));
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut feed = feed
        .join()
        .map_err(|_| AppError::exit(crate::ops::Exit::Internal, "the feed thread panicked"))?;
    let line = status(&counters, book_state);
    feed.source.close();
    let last_error = live.last_error();
    drop(feed);
    if let Some(e) = write_err {
        return Err(AppError::exit(
            crate::ops::Exit::Io,
            format!("recorder: {e}"),
        ));
    }
    let summary = recorder
        .finish()
        .map_err(|e| AppError::exit(crate::ops::Exit::Io, format!("recorder: {e}")))?;
    if !last_error.is_empty() {
        eprintln!("record: last disconnect: {last_error}");
    }
    println!(
        "record: {} records, {} dropped (ring full), {} file(s): {}",
        summary.records,
        summary.dropped,
        summary.files.len(),
        summary
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "summary: {line} records={} dropped={} files={}",
        summary.records,
        summary.dropped,
        summary.files.len()
    );
    Ok(())
}
