//! `obi-scalp bench-latency`: the threaded pipeline over a recording, as fast as it goes (or at
//! a set rate), with internal tick-to-trade and per-stage latency from the hot threads' samples.

use super::AppError;
use crate::config::{Config, WaitStrategy};
use crate::pipeline::build::{FrameClock, Pipeline, StartError};
use crate::pipeline::layout::LayoutSpec;
use crate::pipeline::sources::RecordingSource;
use crate::pipeline::stats::{Flags, LatencyKind};
use crate::record::RecordKind;
use crate::replay::input;
use crate::venue::{AnyDecoder, Decoder};
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Config file (instrument, strategy, pipeline wait strategy and cores).
    #[arg(long)]
    pub config: PathBuf,
    /// Recording of the config's venue.
    #[arg(long)]
    pub input: PathBuf,
    /// Play the recording this many times back to back (each pass starts from its snapshots).
    #[arg(long, default_value_t = 20)]
    pub repeat: u32,
    /// Frames per second to offer (0: as fast as the pipeline takes them).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Override the config's wait strategy: auto, spin, spin_yield or park.
    #[arg(long)]
    pub wait: Option<String>,
    /// Override the config's thread layout: auto, 1 to 4 hot threads, or groups like
    /// "feed|book,signal,order".
    #[arg(long)]
    pub layout: Option<String>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "var/artifacts/bench_latency.json")]
    pub out: PathBuf,
}

/// A recording source that offers frames no faster than a set rate.
struct Paced {
    inner: RecordingSource,
    every_ns: u64,
    next_ns: u64,
}

impl crate::pipeline::feed::FrameSource for Paced {
    #[inline]
    fn next(&mut self, buf: &mut Vec<u8>, url: &mut String) -> crate::pipeline::feed::SourceEvent {
        if self.every_ns > 0 {
            let now = crate::clock::now_ns();
            if now < self.next_ns {
                return crate::pipeline::feed::SourceEvent::Idle;
            }
            self.next_ns = now.max(self.next_ns) + self.every_ns;
        }
        self.inner.next(buf, url)
    }
    fn request_resync(&mut self) {
        self.inner.request_resync()
    }
}

pub fn run(a: BenchArgs) -> Result<(), AppError> {
    let mut cfg = Config::load(&a.config)?;
    if let Some(w) = &a.wait {
        cfg.pipeline.wait = match w.as_str() {
            "auto" => WaitStrategy::Auto,
            "spin" => WaitStrategy::Spin,
            "spin_yield" => WaitStrategy::SpinYield,
            "park" => WaitStrategy::Park,
            _ => {
                return Err(AppError::usage(
                    "--wait: expected auto, spin, spin_yield or park",
                ))
            }
        };
    }
    if let Some(l) = &a.layout {
        cfg.pipeline.layout =
            LayoutSpec::parse(l).map_err(|e| AppError::usage(format!("--layout: {e}")))?;
    }
    let cores = core_affinity::get_core_ids().map(|c| c.len()).unwrap_or(1);
    let k = cfg.market.instrument.key;
    let loaded = input::load(std::slice::from_ref(&a.input), Some(k.venue), None)
        .map_err(|e| AppError::usage(e.0))?;
    let ours = loaded.records_for(k.venue, k.market);
    let per_pass = ours.iter().filter(|r| r.kind == RecordKind::Recv).count();
    if per_pass == 0 {
        return Err(AppError::usage(format!(
            "no {k} frames in {}",
            a.input.display()
        )));
    }
    let mut records = Vec::with_capacity(ours.len() * a.repeat.max(1) as usize);
    for _ in 0..a.repeat.max(1) {
        records.extend(ours.iter().cloned());
    }
    let decoder = AnyDecoder::for_config(&cfg).map_err(AppError::usage)?;
    let flags = Arc::new(Flags::default());
    flags.feed_active.store(true, Ordering::Relaxed);
    let src = Paced {
        inner: RecordingSource::new(records),
        every_ns: 1_000_000_000u64.checked_div(a.rate).unwrap_or(0),
        next_ns: 0,
    };
    let t0 = Instant::now();
    let running = Pipeline::new(&cfg, src, decoder)
        .clock(FrameClock::Local)
        .flags(flags)
        .start()
        .map_err(|e| match e {
            StartError::Plan(e) => AppError::exit(crate::ops::Exit::Config, format!("config: {e}")),
            e => AppError::exit(
                crate::ops::Exit::Internal,
                format!("cannot start the pipeline: {e}"),
            ),
        })?;
    let plan = running.plan.clone();
    let fin = running
        .join(&mut |_| {}, &mut |_| {})
        .map_err(|_| AppError::exit(crate::ops::Exit::Internal, "a pipeline thread panicked"))?;
    let secs = t0.elapsed().as_secs_f64();
    let frames = fin.feed.decoder.counters().frames;
    let orders = fin.order.sent;
    let report = serde_json::json!({
        "machine": {
            "cores": cores,
            "hot_threads": plan.threads.len(),
            "layout": plan.to_json(),
            "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        },
        "input": a.input.display().to_string(),
        "instrument": k.to_string(),
        "repeat": a.repeat,
        "offered_rate_fps": a.rate,
        "frames": frames,
        "book_updates": fin.book.books.counters.first().map(|c| c.updates).unwrap_or(0),
        "orders": orders,
        "elapsed_s": format!("{secs:.3}"),
        "throughput_fps": format!("{:.0}", frames as f64 / secs.max(1e-9)),
        "latency_ns": fin.latencies.to_json(),
        "note": "feed, signal, order: time one message spent in that stage (hand-off into its input ring to its own hand-off; feed from the frame's receive stamp); book_since_receive, decision_since_receive, tick_to_trade: cumulative from the frame's receive stamp (tick_to_trade ends when the order is handed to the gateway)",
    });
    let text = serde_json::to_string_pretty(&report).expect("json") + "\n";
    if let Some(dir) = a.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    crate::ops::artifacts::write_atomic(&a.out, text.as_bytes()).map_err(|e| {
        AppError::exit(
            crate::ops::Exit::Io,
            format!("cannot write {}: {e}", a.out.display()),
        )
    })?;
    println!(
        "bench-latency: {frames} frames in {secs:.3} s = {:.0} frames/s; {orders} orders; {}",
        frames as f64 / secs.max(1e-9),
        plan.describe(),
    );
    println!(
        "{:<22} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "ns", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for kind in LatencyKind::ALL {
        let h = fin.latencies.get(kind);
        println!(
            "{:<22} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            kind.as_str(),
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
    println!("wrote {}", a.out.display());
    Ok(())
}
