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

use super::{wall_ms, GOrder, Io, Read};
use crate::config::OnStart;
use crate::exec::ledger::value;
use crate::exec::live::{LiveSettings, LiveStartError, LiveStats};
use crate::exec::recon::note;
use crate::msg::Money;
use crate::net::mono_ns;
use crate::venue::bybit::recon::{StartReport, VenueOrder, VenuePosition, ADOPTED_ID_BASE};
use crate::venue::gmocoin::private::GmoOrder;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

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

// ---------------------------------------------------------------------------------------------
// The I/O thread's reconciliation (a child module of `live.rs`: it sees the I/O thread's state).

impl Io {
    /// Start-up reconciliation on the open orders `active` (read by `startup`, which checked
    /// the credentials with that read): the position, ours and foreign, `on_start`, the record
    /// rewritten, the wallet.
    pub(super) fn start_reconcile(
        &mut self,
        s: &LiveSettings,
        active: &[GmoOrder],
    ) -> Result<StartReport, LiveStartError> {
        let what = self.http.url.authority();
        let unreachable = |e: String| LiveStartError::Unreachable(format!("{what}: {e}"));
        let position = self
            .position()
            .map_err(|e| unreachable(format!("start-up positionSummary read: {e}")))?;
        let known = self.ours.load();
        let view = |o: &GmoOrder| VenueOrder {
            link_id: String::new(),
            order_id: o.order_id.to_string(),
            side: o.side,
            px: o.px,
            qty: o.qty,
            cum: o.executed,
            status: o.status.clone(),
        };
        let mut rep = StartReport {
            policy: s.on_start.as_str(),
            ..StartReport::default()
        };
        let (ours, foreign): (Vec<&GmoOrder>, Vec<&GmoOrder>) =
            active.iter().partition(|o| known.contains(&o.order_id));
        rep.ours = ours.iter().map(|o| view(o)).collect();
        rep.foreign = foreign.iter().map(|o| view(o)).collect();
        for o in active {
            self.max_known_order = self.max_known_order.max(o.order_id);
        }
        match s.on_start {
            OnStart::Refuse if !ours.is_empty() || position.lots != 0 => {
                return Err(LiveStartError::Refused(format!(
                    "on_start = \"refuse\": our order(s) [{}] open at the venue (their ids are in {}), position {} {}; \
                     cancel them / close it at the venue or set live.on_start = \"cancel_ours\" or \"adopt\"",
                    rep.ours.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>().join(","),
                    OURS_FILE,
                    self.inst.lot.format(position.lots),
                    s.inst.key.symbol
                )))
            }
            OnStart::Refuse => {}
            OnStart::Adopt => {
                for (n, o) in ours.iter().enumerate() {
                    let id = ADOPTED_ID_BASE + n as u64;
                    self.orders.push(GOrder {
                        id,
                        venue_id: Some(o.order_id),
                        side: o.side,
                        px: o.px,
                        qty: o.qty,
                        filled: o.executed,
                        known_before: 0,
                        since_ns: mono_ns(),
                    });
                    rep.adopted.push((id, view(o)));
                }
            }
            OnStart::CancelOurs => {
                for o in &ours {
                    self.wait_post();
                    let Ok(r) = self.req.cancel(wall_ms(), o.order_id) else {
                        continue;
                    };
                    LiveStats::inc(&self.stats.cancels);
                    match self.http.send(r.bytes()) {
                        Ok(a) => {
                            let (st, b) = (a.status, a.body.to_vec());
                            if let Err(e) = self.ans.ok(st, &b) {
                                tracing::warn!(order = o.order_id, error = %e, "gmocoin: start-up cancel refused");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(order = o.order_id, error = %e, "gmocoin: start-up cancel failed")
                        }
                    }
                    rep.cancelled.push(o.order_id.to_string());
                }
                if !ours.is_empty() {
                    let left: Vec<String> = self
                        .read_orders(Read::Active)
                        .map_err(|e| unreachable(e.to_string()))?
                        .iter()
                        .filter(|o| known.contains(&o.order_id))
                        .map(|o| o.order_id.to_string())
                        .collect();
                    if !left.is_empty() {
                        return Err(LiveStartError::Mismatch(format!(
                            "reconcile_mismatch: our order(s) [{}] still open at the venue after their cancel",
                            left.join(",")
                        )));
                    }
                }
            }
        }
        // The record keeps what may still be ours: the orders adopted (or, cancelled, none).
        let keep: Vec<u64> = self.orders.iter().filter_map(|o| o.venue_id).collect();
        self.ours
            .rewrite(&keep)
            .map_err(|e| LiveStartError::Config(format!("{}: {e}", self.ours.path().display())))?;
        self.ledger.adopt(0, position.lots, position.basis);
        rep.position = position;
        self.wallet0 = self
            .wallet()
            .map_err(|e| unreachable(format!("start-up account/assets read: {e}")))?;
        rep.wallet = self.wallet0;
        Ok(rep)
    }

    /// The JPY balance (`account/assets`).
    pub(super) fn wallet(&mut self) -> Result<Money, String> {
        let (st, b) = self.read(Read::Assets).map_err(|e| e.to_string())?;
        self.ans.jpy_amount(st, &b).map_err(|e| e.to_string())
    }

    /// The symbol's net position (`positionSummary`) with its entry cost.
    pub(super) fn position(&mut self) -> Result<VenuePosition, String> {
        let (st, b) = self.read(Read::Position).map_err(|e| e.to_string())?;
        let (lots, avg) = self.ans.position(st, &b).map_err(|e| e.to_string())?;
        let basis = crate::exec::ledger::basis_at(&self.inst, &avg, lots)
            .map_err(|e| format!("positionSummary averagePositionRate: {e}"))?;
        Ok(VenuePosition {
            lots,
            avg_price: avg,
            basis,
            mark_px: 0,
        })
    }

    /// Continuous reconciliation (see `recon.rs`): on the I/O thread, between requests.
    /// Returns whether it was done (skipped: tried again soon, not an interval later).
    pub(super) fn reconcile(&mut self) -> bool {
        match self.try_reconcile() {
            Ok(()) => true,
            Err(e) => {
                self.recon.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "gmocoin: reconciliation skipped");
                false
            }
        }
    }

    pub(super) fn try_reconcile(&mut self) -> Result<(), String> {
        self.poll_ws(Duration::ZERO);
        let booked = self.booked_fills;
        let w1 = self.wallet()?;
        let mut pos = self.position()?;
        let mut wallet = self.wallet()?;
        if w1 != wallet {
            return Err("the JPY balance moved between the reads".into());
        }
        // What the stream brought meanwhile is ours already, not yet the reads'.
        self.poll_ws(Duration::ZERO);
        if self.booked_fills != booked {
            return Err("a fill arrived between the reads".into());
        }
        // Orders in flight longer than the interval (all of them when the position differs)
        // are read at the venue: fills the stream did not deliver are found this way.
        let now = mono_ns();
        let differs = pos.lots != self.ledger.position();
        let due: Vec<(u64, u64)> = self
            .orders
            .iter()
            .filter(|o| differs || now.saturating_sub(o.since_ns) >= self.recon_every_ns)
            .filter_map(|o| o.venue_id.map(|v| (o.id, v)))
            .collect();
        let mut found = 0;
        for (id, vid) in due {
            found += self.query_order(id, vid)?;
        }
        if found > 0 {
            pos = self.position()?;
            wallet = self.wallet()?;
        }
        let expected = self.ledger.realized() - self.ledger.fees();
        let dpos = pos.lots - self.ledger.position();
        let px = if self.last_px != 0 {
            self.last_px
        } else {
            crate::exec::ledger::basis_at(&self.inst, &pos.avg_price, 1)
                .map_or(0, |b| b / crate::msg::MONEY_PER_TICK_LOT) as i64
        };
        let drift =
            (wallet - self.wallet0 - expected).abs() + (dpos as i128).abs() * value(px, 1).abs();
        self.recon.venue_position.store(pos.lots, Ordering::Relaxed);
        self.recon.set_drift(drift);
        if dpos != 0 {
            self.strikes += 1;
            if self.strikes >= 2 && !self.recon.mismatch.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    venue = pos.lots,
                    ours = self.ledger.position(),
                    "gmocoin: the venue's position differs from ours and no order read explains it"
                );
                let lot = self.inst.lot;
                self.recon.note(note(&[
                    ("outcome", "mismatch".into()),
                    ("reason_code", "reconcile_mismatch".into()),
                    ("venue_position", lot.format(pos.lots).into()),
                    ("our_position", lot.format(self.ledger.position()).into()),
                    ("unexplained", lot.format(dpos).into()),
                ]));
            }
        } else {
            self.strikes = 0;
        }
        Ok(())
    }

    /// Reads our order `id` (`vid`) at the venue; executions the stream did not deliver are
    /// read and booked (once) and noted for the audit log, an end the stream did not bring is
    /// reported. Returns how many fills it found.
    pub(super) fn query_order(&mut self, id: u64, vid: u64) -> Result<usize, String> {
        let list = self
            .read_orders(Read::Order(vid))
            .map_err(|e| format!("orders?orderId={vid}: {e}"))?;
        let Some(o) = list.into_iter().find(|o| o.order_id == vid) else {
            return Ok(0);
        };
        let filled = self
            .orders
            .iter()
            .find(|x| x.id == id)
            .map_or(0, |x| x.filled);
        let mut found = 0;
        if filled < o.executed {
            found = self.find_fills(
                id,
                vid,
                "reconciliation: GET /private/v1/orders + /private/v1/executions?orderId=",
            )?;
        }
        if !o.is_open() && o.status != "EXECUTED" && self.orders.iter().any(|x| x.id == id) {
            self.finish(id, vid, &o);
        }
        if let Some(x) = self.orders.iter_mut().find(|x| x.id == id) {
            x.since_ns = mono_ns();
        }
        Ok(found)
    }

    /// Reads the executions of our order `id` (`vid`) and books those the stream has not
    /// brought, once (execution ids are remembered), each noted for the audit log as found by
    /// `found_by`. Returns how many it booked.
    pub(super) fn find_fills(
        &mut self,
        id: u64,
        vid: u64,
        found_by: &str,
    ) -> Result<usize, String> {
        let execs = self
            .read_execs(Read::Execs(vid))
            .map_err(|e| format!("executions?orderId={vid}: {e}"))?;
        let mut found = 0;
        for e in execs {
            if self.seen_execs.contains(&e.execution_id) {
                continue;
            }
            found += 1;
            LiveStats::inc(&self.stats.polled_fills);
            self.recon.found_fills.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                execution = e.execution_id,
                order = vid,
                found_by,
                "gmocoin: a fill the private stream did not deliver"
            );
            self.recon.note(note(&[
                ("outcome", "fill_found".into()),
                ("found_by", found_by.into()),
                ("venue_order_id", vid.to_string().into()),
                ("exec_id", e.execution_id.to_string().into()),
                ("qty", self.inst.lot.format(e.qty).into()),
            ]));
            self.fill(id, &e);
        }
        Ok(found)
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
