//! The cold thread's collector: latency samples into histograms, trader events to their sinks,
//! counters into a snapshot. It is the only place hot-thread data becomes logs and files.

use super::stats::{Flags, HotCounters, LatencyKind, LatencySample};
use crate::trader::TraderEvent;
use hdrhistogram::Histogram;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Latency histograms, one per [`LatencyKind`], in nanoseconds.
#[derive(Debug, Clone)]
pub struct Latencies {
    pub hist: Vec<Histogram<u64>>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            hist: LatencyKind::ALL
                .iter()
                .map(|_| Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds"))
                .collect(),
        }
    }
}

impl Latencies {
    pub fn record(&mut self, s: LatencySample) {
        let h = &mut self.hist[s.kind as usize];
        let _ = h.record(s.ns.clamp(1, 60_000_000_000));
    }

    pub fn get(&self, k: LatencyKind) -> &Histogram<u64> {
        &self.hist[k as usize]
    }

    /// `{kind: {count, p50, p90, p99, p999, max}}` in nanoseconds.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for k in LatencyKind::ALL {
            let h = self.get(k);
            m.insert(
                k.as_str().to_string(),
                serde_json::json!({
                    "count": h.len(),
                    "p50_ns": h.value_at_quantile(0.50),
                    "p90_ns": h.value_at_quantile(0.90),
                    "p99_ns": h.value_at_quantile(0.99),
                    "p999_ns": h.value_at_quantile(0.999),
                    "max_ns": h.max(),
                }),
            );
        }
        serde_json::Value::Object(m)
    }
}

/// What the cold thread collects from the hot threads.
pub struct Collector {
    pub lat_rings: Vec<rtrb::Consumer<LatencySample>>,
    pub events: rtrb::Consumer<TraderEvent>,
    pub latencies: Latencies,
    pub counters: Arc<HotCounters>,
    pub flags: Arc<Flags>,
}

impl Collector {
    /// Drains every ring; `on_event` sees each trader event in order. Returns events drained.
    pub fn drain(&mut self, on_event: &mut dyn FnMut(&TraderEvent)) -> usize {
        for r in &mut self.lat_rings {
            while let Ok(s) = r.pop() {
                self.latencies.record(s);
            }
        }
        let mut n = 0;
        while let Ok(e) = self.events.pop() {
            on_event(&e);
            n += 1;
        }
        n
    }

    pub fn stop_requested(&self) -> bool {
        self.flags.stop.load(Ordering::Relaxed)
    }
}
