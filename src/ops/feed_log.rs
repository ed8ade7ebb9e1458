//! The feed's story in the log, told by the cold thread: connections opened and lost (with
//! the cause), sequence gaps, book resyncs, the book's state and the feed's status as they
//! change. The hot threads only count ([`HotCounters`], [`LiveStats`]); [`FeedLog::observe`]
//! compares those counters with the previous look (every ~100 ms) and writes one line per
//! change, so a burst of gaps between two looks is one line with its count.

use crate::msg::BookState;
use crate::net::DisconnectCause;
use crate::pipeline::live::LiveStats;
use crate::pipeline::stats::HotCounters;

/// What the previous look saw.
#[derive(Debug, Default)]
pub struct FeedLog {
    seen: Option<Seen>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Seen {
    connects: u64,
    disconnects: [u64; DisconnectCause::COUNT],
    feed: String,
    gaps: u64,
    resyncs: u64,
    book: u64,
}

impl FeedLog {
    pub fn new() -> FeedLog {
        FeedLog::default()
    }

    /// Logs what changed since the previous call (the first call logs nothing but the book's
    /// state if it is already synced).
    pub fn observe(&mut self, c: &HotCounters, live: Option<&LiveStats>) {
        let g = HotCounters::get;
        let mut now = Seen {
            gaps: g(&c.gaps),
            resyncs: g(&c.resyncs),
            book: c.book_state.get() as u64,
            ..Seen::default()
        };
        let snap = live.map(|l| l.snapshot());
        if let Some(s) = &snap {
            now.connects = s.ws.connects;
            now.disconnects = s.ws.disconnects;
            now.feed = s.status.as_str().to_owned();
        }
        let before = self.seen.take().unwrap_or_else(|| Seen {
            book: BookState::Resyncing as u64,
            ..now.clone()
        });
        if let Some(l) = live.filter(|_| snap.is_some()) {
            for cause in DisconnectCause::ALL {
                let i = cause.index();
                let n = now.disconnects[i].saturating_sub(before.disconnects[i]);
                if n > 0 {
                    tracing::warn!(
                        cause = cause.as_str(),
                        count = n,
                        error = %l.last_error(),
                        "feed connection lost or refused; reconnecting"
                    );
                }
            }
            if now.connects > before.connects {
                tracing::info!(
                    connects = now.connects,
                    reconnects = now.connects.saturating_sub(1),
                    "feed connected"
                );
            }
            if now.feed != before.feed && !before.feed.is_empty() {
                tracing::info!(from = %before.feed, to = %now.feed, "feed status");
            }
        }
        if now.gaps > before.gaps {
            tracing::warn!(
                count = now.gaps - before.gaps,
                total = now.gaps,
                "sequence gap: the book resyncs"
            );
        }
        if now.resyncs > before.resyncs {
            tracing::info!(
                count = now.resyncs - before.resyncs,
                total = now.resyncs,
                "book resync"
            );
        }
        if now.book != before.book {
            let name = |v: u64| match v {
                x if x == BookState::Synced as u64 => "synced",
                x if x == BookState::Stale as u64 => "stale",
                _ => "resyncing",
            };
            if now.book == BookState::Synced as u64 {
                tracing::info!(from = name(before.book), "book synced");
            } else {
                tracing::warn!(
                    from = name(before.book),
                    to = name(now.book),
                    "book not synced"
                );
            }
        }
        self.seen = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_line_per_change_with_counts() {
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_ansi(false)
            .finish();
        let c = HotCounters::default();
        let mut log = FeedLog::new();
        tracing::subscriber::with_default(sub, || {
            log.observe(&c, None);
            log.observe(&c, None);
            c.book_state.set(BookState::Synced);
            log.observe(&c, None);
            c.gaps.store(3, Ordering::Relaxed);
            c.resyncs.store(1, Ordering::Relaxed);
            c.book_state.set(BookState::Resyncing);
            log.observe(&c, None);
            log.observe(&c, None);
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[0].contains("INFO") && lines[0].contains("book synced"),
            "{out}"
        );
        assert!(
            lines[1].contains("WARN") && lines[1].contains("sequence gap"),
            "{out}"
        );
        assert!(lines[1].contains("count=3"), "{out}");
        assert!(
            lines[2].contains("book resync") && lines[2].contains("count=1"),
            "{out}"
        );
        assert!(
            lines[3].contains("WARN") && lines[3].contains("to=\"resyncing\""),
            "{out}"
        );
    }
}
