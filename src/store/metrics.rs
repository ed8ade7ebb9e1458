//! The journal's and the PostgreSQL sink's gauges, in the process's default Prometheus registry
//! (rendered by `/metrics` after the board's families).

use super::pg::PgStats;
use super::JournalStats;
use prometheus::{IntGauge, Opts};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

struct Gauges {
    pending: IntGauge,
    write_errors: IntGauge,
    dropped: IntGauge,
    degraded: IntGauge,
    pg_behind: IntGauge,
    pg_connected: IntGauge,
    pg_errors: IntGauge,
}

fn gauge(name: &str, help: &str) -> IntGauge {
    let g = IntGauge::with_opts(Opts::new(name, help)).expect("valid metric name");
    // A second registration (tests start several journals in one process) keeps the first.
    let _ = prometheus::default_registry().register(Box::new(g.clone()));
    g
}

fn gauges() -> &'static Gauges {
    static G: OnceLock<Gauges> = OnceLock::new();
    G.get_or_init(|| Gauges {
        pending: gauge(
            "obi_scalp_journal_pending_records",
            "Journal records buffered in memory, not yet committed to the SQLite file.",
        ),
        write_errors: gauge(
            "obi_scalp_journal_write_errors",
            "Journal flushes that failed since start (records stayed pending).",
        ),
        dropped: gauge(
            "obi_scalp_journal_dropped_records",
            "Journal records dropped since start because too many were pending.",
        ),
        degraded: gauge(
            "obi_scalp_journal_degraded",
            "1 when the last journal flush failed.",
        ),
        pg_behind: gauge(
            "obi_scalp_store_postgres_behind_records",
            "Journal rows not yet copied to PostgreSQL (as of the sink's last look).",
        ),
        pg_connected: gauge(
            "obi_scalp_store_postgres_connected",
            "1 when the PostgreSQL sink's last sync succeeded.",
        ),
        pg_errors: gauge(
            "obi_scalp_store_postgres_errors",
            "PostgreSQL sink connection or statement failures since start.",
        ),
    })
}

/// Registers the gauges (at 0) so `/metrics` exports them from the first scrape.
pub fn register() {
    gauges();
}

/// Publishes the journal's health and, when configured, the sink's.
pub fn publish(j: &JournalStats, pg: Option<&PgStats>) {
    let g = gauges();
    g.pending.set(j.pending as i64);
    g.write_errors.set(j.write_errors as i64);
    g.dropped.set(j.dropped as i64);
    g.degraded.set(j.degraded as i64);
    if let Some(p) = pg {
        g.pg_behind.set(p.behind.load(Relaxed));
        g.pg_connected.set(p.connected.load(Relaxed) as i64);
        g.pg_errors.set(p.errors.load(Relaxed) as i64);
    }
}
