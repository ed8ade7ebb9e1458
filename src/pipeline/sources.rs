//! Frame sources for the feed stage that need no network: recordings and the synthetic market.

use super::feed::{FrameSource, SourceEvent};
use crate::record::{Record, RecordKind};

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
