//! What a live gateway's reconciliation shares with the cold thread and risk: the measured
//! wallet drift, a mismatch no missed report explains, counters, and findings for the audit
//! log. Venue-neutral: each venue's gateway fills it from its own account reads.

use crate::msg::Money;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// A finding for the audit log (`kind = "reconcile"`), with its fields.
pub type Note = Vec<(String, Value)>;

/// What the I/O thread's reconciliation shares (atomics, written by the I/O thread; the
/// notes' lock is taken by the I/O and cold threads only, never by a hot stage).
#[derive(Debug)]
pub struct ReconView {
    /// The last measured wallet drift (Money, saturated to i64; `i64::MIN`: not measured yet).
    drift: AtomicI64,
    /// Reconciliations done (a new drift value came with each).
    pub reconciles: AtomicU64,
    /// Fills found by querying orders (the private stream had not delivered them).
    pub found_fills: AtomicU64,
    /// Reconciliations skipped because the account moved between the reads or a read failed.
    pub skipped: AtomicU64,
    /// The venue's position at the last reconciliation.
    pub venue_position: AtomicI64,
    /// A difference no missed report explains: risk aborts (`reconcile_mismatch`).
    pub mismatch: AtomicBool,
    notes: Mutex<Vec<Note>>,
}

impl Default for ReconView {
    fn default() -> Self {
        ReconView {
            drift: AtomicI64::new(i64::MIN),
            reconciles: AtomicU64::new(0),
            found_fills: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            venue_position: AtomicI64::new(0),
            mismatch: AtomicBool::new(false),
            notes: Mutex::new(Vec::new()),
        }
    }
}

impl ReconView {
    pub fn set_drift(&self, d: Money) {
        let v = i64::try_from(d).unwrap_or(i64::MAX).max(i64::MIN + 1);
        self.drift.store(v, Ordering::Relaxed);
        self.reconciles.fetch_add(1, Ordering::Release);
    }

    /// The last wallet drift (Money), `None` before the first reconciliation.
    pub fn drift(&self) -> Option<Money> {
        match self.drift.load(Ordering::Relaxed) {
            i64::MIN => None,
            v => Some(v as Money),
        }
    }

    /// Adds a finding for the audit log.
    pub fn note(&self, n: Note) {
        if let Ok(mut v) = self.notes.lock() {
            if v.len() < 10_000 {
                v.push(n);
            }
        }
    }

    /// Takes the findings noted since the last call.
    pub fn take_notes(&self) -> Vec<Note> {
        self.notes
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// A note's fields from `(key, value)` pairs.
pub fn note(fields: &[(&str, Value)]) -> Note {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}
