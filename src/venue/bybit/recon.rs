//! Reconciliation with the venue's own view of the account (Bybit v5): what the signed reads
//! answer (`GET /v5/order/realtime`, `/v5/position/list`, `/v5/account/wallet-balance`,
//! `/v5/execution/list`; docs `v5/order/open-order`, `v5/position`, `v5/account/wallet-balance`,
//! `v5/order/execution`, checked 2026-12-03 through the docs index), parsed into exact
//! integers, and what the I/O thread shares with the cold thread and risk ([`ReconView`]).
//!
//! The rules (the I/O thread applies them, see `live.rs`):
//! - start-up, before the first order: open orders, the position and the wallet are read. An
//!   order whose `orderLinkId` starts with our `client_id_prefix` is ours, any other is
//!   foreign: reported and left alone. `[live] on_start` decides what happens to ours
//!   (`cancel_ours`, `adopt`, `refuse`); a position is adopted into the ledger at the venue's
//!   `avgPrice` and never flattened. `refuse` refuses to start when any of ours or a position
//!   is open. What cannot be explained (our order still open after its cancel, a position or
//!   order the answer does not let us read) is a start-up risk abort (`reconcile_mismatch`).
//! - continuously, every `[live] reconcile_interval_ms` and after every reconnect of the
//!   private stream, between orders (the reads delay an order that arrives meanwhile): wallet,
//!   position, open orders, wallet again (an account that moved between the two wallet reads is
//!   read again at the next interval), and every order of ours in flight longer than the
//!   interval (all of them when the position differs) is queried by its client id; executions
//!   the stream did not deliver are read from `/v5/execution/list`, booked once (execution ids
//!   are remembered) and noted for the audit log with how they were found. Foreign orders are
//!   noticed here too (a cancel-all then cancels ours one by one).
//!   The wallet drift is `|wallet - wallet at start - (realized - fees since start)|` (linear;
//!   spot: the cash change) plus the position difference valued at the venue's mark price; it
//!   feeds the `max_wallet_drift` row of the risk matrix. A position that still differs after
//!   the queries, or an open order of ours we do not track, at two reconciliations in a row is
//!   a risk abort (`reconcile_mismatch`).

use crate::exec::live::LiveStartError;
use crate::exec::orders::OrderTable;
use crate::instrument::Instrument;
use crate::msg::{Money, OrderSide};
use serde_json::Value;

/// Local ids of adopted orders start here (the strategy's ids are far below).
pub const ADOPTED_ID_BASE: u64 = 1 << 60;

/// One order as the venue lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueOrder {
    pub link_id: String,
    pub order_id: String,
    pub side: OrderSide,
    pub px: i64,
    pub qty: i64,
    /// Executed so far.
    pub cum: i64,
    pub status: String,
}

impl VenueOrder {
    /// From a `/v5/order/realtime` item (or the order stream's).
    pub fn parse(v: &Value, inst: &Instrument) -> Result<VenueOrder, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
        let side = match s("side") {
            "Buy" => OrderSide::Buy,
            "Sell" => OrderSide::Sell,
            o => return Err(format!("order {}: side \"{o}\"", s("orderId"))),
        };
        let num = |k: &str, sc: crate::num::Scale| {
            sc.parse(s(k).as_bytes())
                .map_err(|e| format!("order {}: {k} \"{}\": {e}", s("orderId"), s(k)))
        };
        Ok(VenueOrder {
            link_id: s("orderLinkId").to_string(),
            order_id: s("orderId").to_string(),
            side,
            px: num("price", inst.tick)?,
            qty: num("qty", inst.lot)?,
            cum: if s("cumExecQty").is_empty() {
                0
            } else {
                num("cumExecQty", inst.lot)?
            },
            status: s("orderStatus").to_string(),
        })
    }

    pub fn is_open(&self) -> bool {
        matches!(
            self.status.as_str(),
            "New" | "PartiallyFilled" | "Untriggered"
        )
    }
}

/// The symbol's position as `/v5/position/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VenuePosition {
    /// Lots, positive long.
    pub lots: i64,
    /// `avgPrice` as the venue wrote it.
    pub avg_price: String,
    /// The cost basis at `avg_price` (Money, signed like `lots`).
    pub basis: Money,
    /// `markPrice` in ticks (0 when absent).
    pub mark_px: i64,
}

impl VenuePosition {
    /// From a `/v5/position/list` result for one symbol (one-way mode: one item).
    pub fn parse(result: &Value, inst: &Instrument) -> Result<VenuePosition, String> {
        let list = result
            .get("list")
            .and_then(Value::as_array)
            .ok_or("position list: no list")?;
        let mut p = VenuePosition::default();
        for item in list {
            let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
            if s("symbol") != inst.key.symbol.as_str() {
                continue;
            }
            let size = if s("size").is_empty() {
                0
            } else {
                inst.lot
                    .parse(s("size").as_bytes())
                    .map_err(|e| format!("position size \"{}\": {e}", s("size")))?
            };
            let sign = match s("side") {
                "Buy" => 1,
                "Sell" => -1,
                _ if size == 0 => 0,
                o => return Err(format!("position side \"{o}\" with size {}", s("size"))),
            };
            if size == 0 {
                continue;
            }
            if p.lots != 0 {
                return Err("more than one position (hedge mode is not supported)".into());
            }
            p.lots = sign * size;
            p.avg_price = s("avgPrice").to_string();
            p.basis = crate::exec::ledger::basis_at(inst, &p.avg_price, p.lots)?;
            p.mark_px = inst.tick.parse(s("markPrice").as_bytes()).unwrap_or(0);
        }
        Ok(p)
    }
}

/// The `walletBalance` of `coin` from a `/v5/account/wallet-balance` result, in Money.
pub fn wallet_of(result: &Value, coin: &str, inst: &Instrument) -> Result<Money, String> {
    let coins = result
        .pointer("/list/0/coin")
        .and_then(Value::as_array)
        .ok_or("wallet balance: no list[0].coin")?;
    for c in coins {
        if c.get("coin").and_then(Value::as_str) == Some(coin) {
            let w = c.get("walletBalance").and_then(Value::as_str).unwrap_or("");
            let neg = w.starts_with('-');
            let m = crate::config::Config::money(inst, "walletBalance", w.trim_start_matches('-'))
                .map_err(|e| format!("walletBalance \"{w}\" of {coin}: {e}"))?;
            return Ok(if neg { -m } else { m });
        }
    }
    Ok(0)
}

/// What start-up reconciliation found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartReport {
    pub policy: &'static str,
    /// Our leftover orders (client-id prefix), as found.
    pub ours: Vec<VenueOrder>,
    /// Of ours: cancelled (`cancel_ours`), by client id (Bybit) or venue order id (venues
    /// without client ids).
    pub cancelled: Vec<String>,
    /// Of ours: adopted (`adopt`), with the local ids they got.
    pub adopted: Vec<(u64, VenueOrder)>,
    /// Everybody else's: reported, left alone.
    pub foreign: Vec<VenueOrder>,
    /// The position adopted into the ledger.
    pub position: VenuePosition,
    /// The quote coin's wallet balance at start (Money).
    pub wallet: Money,
}

impl StartReport {
    /// Puts the adopted orders in the order stage's `table` under their local ids; a refusal
    /// names the order by `name` (its client id or venue order id).
    pub fn adopt_into(
        &self,
        table: &mut OrderTable,
        name: impl Fn(&VenueOrder) -> String,
    ) -> Result<(), LiveStartError> {
        for (id, o) in &self.adopted {
            table
                .adopt(*id, o.side, o.px, o.qty, o.cum)
                .map_err(|e| LiveStartError::Config(format!("adopting {}: {e:?}", name(o))))?;
        }
        Ok(())
    }
}

pub use crate::exec::recon::{note, Note, ReconView};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{InstrumentTable, Market, Venue};
    use serde_json::json;

    fn inst() -> Instrument {
        *InstrumentTable::default()
            .get(Venue::Bybit, Market::Linear, "BTCUSDT")
            .unwrap()
    }

    #[test]
    fn answers_parse_to_exact_integers_or_name_the_field() {
        let i = inst();
        let p = VenuePosition::parse(
            &json!({"list": [{"symbol": "BTCUSDT", "side": "Sell", "size": "0.010",
                "avgPrice": "64000.05", "markPrice": "64010.1"}]}),
            &i,
        )
        .unwrap();
        assert_eq!(p.lots, -10);
        assert_eq!(p.basis, -6_400_005 * crate::msg::MONEY_PER_TICK_LOT);
        assert_eq!(p.mark_px, 640_101);
        let flat = VenuePosition::parse(
            &json!({"list": [{"symbol": "BTCUSDT", "side": "", "size": "0", "avgPrice": "0"}]}),
            &i,
        )
        .unwrap();
        assert_eq!(flat.lots, 0);
        let bad = VenuePosition::parse(
            &json!({"list": [{"symbol": "BTCUSDT", "side": "Buy", "size": "x"}]}),
            &i,
        );
        assert!(bad.unwrap_err().contains("size"));
        let w = wallet_of(
            &json!({"list": [{"coin": [{"coin": "USDT", "walletBalance": "100000.5"}]}]}),
            "USDT",
            &i,
        )
        .unwrap();
        assert_eq!(
            w,
            crate::config::Config::money(&i, "w", "100000.5").unwrap()
        );
        let o = VenueOrder::parse(
            &json!({"orderLinkId": "obi-x-1", "orderId": "9", "side": "Buy", "price": "50000.0",
                "qty": "0.002", "cumExecQty": "0.001", "orderStatus": "PartiallyFilled"}),
            &i,
        )
        .unwrap();
        assert_eq!((o.px, o.qty, o.cum, o.is_open()), (500_000, 2, 1, true));
        assert!(VenueOrder::parse(&json!({"side": "Up"}), &i).is_err());
    }
}
