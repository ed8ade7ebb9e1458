//! The trade journal: every signal, order, ack, fill, cancel, reject, closed trade, risk transition,
//! a periodic equity snapshot and the latency percentiles, kept in an embedded SQLite file (WAL
//! mode, no server) written by the cold thread only.
//!
//! - [`Journal::open`] creates or upgrades the file ([`schema`]), checks free space and that it
//!   can be written: a failure is a start-up error naming the path.
//! - [`Journal::record`] / [`Journal::equity`] buffer in memory; [`Journal::flush`] (every
//!   `[store] flush_ms`) writes the buffer in one transaction. A SIGKILL loses at most what was
//!   buffered since the last flush; a transaction is whole or absent, never torn. A failed flush
//!   (a full disk) keeps the records pending, marks the journal degraded, and is retried.
//! - [`carry::risk_carry`] rebuilds the daily loss, the drawdown from the equity peak and the
//!   latched abort reasons from the journal for the next `run`.

pub mod backup;
pub mod carry;
pub mod chart;
pub mod cold;
mod glyphs;
pub mod journal;
pub mod metrics;
pub mod pg;
pub mod report;
pub mod schema;

pub use journal::{EquitySnap, Journal, JournalStats, RunEnd, RunInfo, RunKind};

use std::fmt;
use std::path::Path;

/// A journal error, naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl StoreError {
    pub fn msg(path: &Path, m: impl fmt::Display) -> StoreError {
        StoreError(format!("journal {}: {m}", path.display()))
    }
    pub fn at(path: &Path, what: &str, e: rusqlite::Error) -> StoreError {
        StoreError(format!("journal {}: {what}: {e}", path.display()))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Wall-clock nanoseconds since the epoch (stamps only).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
