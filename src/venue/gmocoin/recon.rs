//! Reconciliation with GMO Coin's own view of the account (leverage `BTC_JPY`): the rules the
//! I/O thread of `live.rs` applies, and the record that tells our orders from everybody
//! else's.
//!
//! **GMO Coin orders carry no client order id** (`POST /v1/order` takes none, and `orders`,
//! `activeOrders` and `orderEvents` show none: VENUES.md §2.2, api.coin.z.com/docs). Ours are
//! recognised by their venue `orderId`s, which the I/O thread appends (and syncs) to
//! `<[ops] artifacts_dir>/gmocoin-our-orders.txt` ([`OURS_FILE`]) at every acknowledgement,
//! before the order stage hears of it. An open order of the symbol whose id is in that file
//! is ours; any other is foreign: reported and left alone. Residual: an order the venue
//! accepted whose answer never reached us (a crash mid-request) is not in the file and is
//! taken for foreign; a lost file makes every open order foreign.
//!
//! - Start-up, before the first order: `activeOrders`, `positionSummary` and
//!   `account/assets` are read. `[live] on_start`: `refuse` refuses to start (exit code 10)
//!   when any of ours or a position is open; `cancel_ours` cancels ours (one still open after
//!   its cancel is a risk abort, `reconcile_mismatch`); `adopt` takes ours into the order
//!   table. A position is adopted into the ledger at the venue's `averagePositionRate`,
//!   never flattened. The file is then rewritten with what is still ours.
//! - Continuously, every `[live] reconcile_interval_ms` and right after the private stream
//!   reopens, between orders: the JPY balance, the position, the JPY balance again (a balance
//!   that moved between the two reads, or a fill the stream brought meanwhile, skips this
//!   round: it is read again soon). Every order of ours in flight longer than the interval
//!   (all of them when the position differs from ours) is read with `orders?orderId=`;
//!   executions the stream did not deliver are read from `executions?orderId=`, booked once
//!   (execution ids are remembered) and noted for the audit log with how they were found.
//!   The wallet drift is `|JPY change - (realized - fees of our fills)| + |venue position -
//!   ours| x the last fill's price`, the `max_wallet_drift` row's input; a position that
//!   still differs at two reconciliations in a row is a risk abort (`reconcile_mismatch`).
//!   NOT verified against the venue (no stored copy of the field's semantics found): that a
//!   leverage account's JPY `amount` moves by the realized profit and loss and the fees at
//!   each close and not by the open position's valuation (the simulator does so); swap
//!   interest (`leverage fee`) charged daily at GMO moves it too: size `max_wallet_drift` for
//!   it. Counter-positions (GMO keeps one per opposite order unless `closeOrder` is used) are
//!   netted, the entry price being the larger side's.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Our orders' venue ids, one a line, in `[ops] artifacts_dir`.
pub const OURS_FILE: &str = "gmocoin-our-orders.txt";

/// The record of our orders' venue ids (see the module doc).
#[derive(Debug)]
pub struct OurOrders {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl OurOrders {
    /// The record in `dir` (nothing is read or written yet).
    pub fn in_dir(dir: &Path) -> OurOrders {
        OurOrders {
            path: dir.join(OURS_FILE),
            file: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ids recorded (none when the file does not exist yet).
    pub fn load(&self) -> BTreeSet<u64> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Replaces the record with `ids` (write + rename) and opens it for appending.
    pub fn rewrite(&mut self, ids: &[u64]) -> std::io::Result<()> {
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = Some(std::fs::OpenOptions::new().append(true).open(&self.path)?);
        Ok(())
    }

    /// Appends `vid` and syncs it (before the order stage hears of the order, so that a crash
    /// right after still finds it ours).
    pub fn remember(&mut self, vid: u64) {
        if let Some(f) = &mut self.file {
            if let Err(e) = writeln!(f, "{vid}").and_then(|()| f.sync_data()) {
                tracing::error!(error = %e, order = vid, "gmocoin: cannot record our order id; a restart will take it for foreign");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_what_was_remembered_and_rewrites_atomically() {
        let d = std::env::temp_dir().join(format!("obi-gmo-ours-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let mut o = OurOrders::in_dir(&d);
        assert!(o.load().is_empty(), "no file yet: nothing is ours");
        o.remember(1); // not open yet: dropped
        o.rewrite(&[7, 9]).unwrap();
        o.remember(11);
        assert_eq!(o.load().into_iter().collect::<Vec<_>>(), vec![7, 9, 11]);
        o.rewrite(&[]).unwrap();
        assert!(o.load().is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
