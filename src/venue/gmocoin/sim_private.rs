//! The simulator's GMO Coin private API (`obi-scalp sim --venue gmocoin --account FILE`): REST
//! `/private/v1/...` and the private WebSocket `/ws/private/v1/{token}` over the simulator's
//! [`Engine`] for leverage `BTC_JPY`.
//!
//! Checked against the venue's documentation as stored in the search index (api.coin.z.com/docs
//! and its mirror gmo-docs.shion1305.com, 2026-12-03): the signature (`API-KEY`,
//! `API-TIMESTAMP`, `API-SIGN` = HMAC-SHA256 hex of `timestamp + method + path-without-/private
//! + body`), the answer shape (`status`, `data`, `messages[].message_code`), the error codes of
//! VENUES.md §2.2, `executionEvents` fields (fee positive for a taker, negative for a maker)
//! and `orderEvents` fields (`orderStatus` ORDERED/CANCELED/EXPIRED, `cancelType`), the token
//! endpoint `ws-auth` (POST creates, PUT extends, 60 min) and the subscribe frame
//! `{"command":"subscribe","channel":"executionEvents"}`.
//! NOT verified (no stored copy found), the simulator's choice: the HTTP status of errors
//! (200 with `status` 1, except `ERR-5003` with HTTP 429 and the `order500` fault's 500), the
//! timestamp window (±5 s), what a crossing `SOK` order does (accepted, then `EXPIRED` with
//! `cancelType` `EXPIRED_SOK`), that the stream sends no subscribe acknowledgement, and that
//! an unknown token's upgrade is refused with HTTP 401.
//! The drill's reads (`obi-scalp drill`): `GET /public/v1/status` (`data.status` `OPEN`, and
//! `responsetime` from the venue's clock, which the `skew` fault shifts along with the
//! `API-TIMESTAMP` window), `GET /v1/account/margin` and `GET /v1/positionSummary` in the
//! fields client libraries read (`actualProfitLoss`, `availableAmount`, `margin`,
//! `profitLoss`; `averagePositionRate`, `positionLossGain`, `side`, `sumOrderQuantity`,
//! `sumPositionQuantity`, `symbol`). The simulator's choices there: the position is marked at
//! the engine's mid (no mid: no unrealized PnL) against the cost of the account file's
//! `entry_prices` (default 0, as for Bybit), the margin is half the position's cost and
//! half the open orders' value (its 2x rule).
//! `read429` / `read500` answer signed GETs with `ERR-5003` (HTTP 429) / HTTP 500.
//! Positions are netted by the engine (GMO keeps a counter-position for an opposite `/v1/order`
//! unless it is closed with `closeOrder`; the money is the same, the position list is not).
//!
//! `account/assets` (JPY `amount`, `available`, `conversionRate`) and `positionSummary`
//! (`side`, `sumPositionQuantity`, `sumOrderQuantity`, `averagePositionRate`,
//! `positionLossGain`) have the field names of ijufumi/gogmocoin's models; the simulator's
//! choice: the JPY `amount` of a leverage account is the starting balance plus the realized
//! profit and loss minus fees (and what `POST /sim/wallet` changed), `available` the same;
//! `positionSummary` is `{}` when flat (GMO's empty `data`), `averagePositionRate` the exact
//! average entry to 6 decimals past the tick, `positionLossGain` the unrealized PnL at mid.
//!
//! The simulator's own hooks (no auth, like `/sim/state`): `POST /sim/wallet`
//! `{"coin":"JPY","delta":"-500"}` changes the JPY balance behind the client's back, and
//! `POST /sim/position` `{"delta":"0.01"}` the position (no fill, no order). An account file's
//! `[[orders]]` rest from the start (GMO orders carry no client id: `link_id` must be empty).

use crate::instrument::Instrument;
use crate::msg::{Cbps, Money, OrderSide, Tif, MONEY_PER_TICK_LOT};
use crate::sim::private::keys::SimKeys;
use crate::sim::private::{
    AccountFile, BeforeOrder, Change, Engine, Fate, HttpRequest, PendingFaults, PrivateApi,
    PrivateFault, Refusal, SimFill, SimOrder, Status,
};
use crate::sim::{RestReply, Route, SimFeed};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::private::{
    side_str, tif_str, ACTIVE_ORDERS_PATH, ASSETS_PATH, CANCEL_PATH, EXECUTIONS_PATH,
    LATEST_EXECUTIONS_PATH, MARGIN_PATH, ORDERS_PATH, ORDER_PATH, POSITION_SUMMARY_PATH,
    PRIVATE_PREFIX, PRIVATE_WS_PATH, PUBLIC_STATUS_PATH, WS_AUTH_PATH,
};
use crate::venue::bybit::sim_private::{SIM_POSITION_PATH, SIM_WALLET_PATH};
use crate::venue::coincheck::private::{money_from_decimal, money_to_decimal};

/// Default fees of leverage `BTC_JPY` (no trading fee); an account file may set others
/// (spot `BTC` is maker -1 bp, taker 5 bp).
pub const DEFAULT_MAKER_CBPS: Cbps = 0;
pub const DEFAULT_TAKER_CBPS: Cbps = 0;
/// Accepted clock difference of `API-TIMESTAMP` (the simulator's choice).
pub const TIMESTAMP_WINDOW_MS: u64 = 5000;
/// A token lives this long (extended by PUT).
pub const TOKEN_LIFE_MS: u64 = 60 * 60 * 1000;

const ROUTES: &[Route] = &[PRIVATE_WS_PATH];

#[derive(Debug, Default, Clone)]
struct WsConn {
    exec: bool,
    order: bool,
}

/// The GMO Coin private API of one simulated account.
pub struct GmoPrivate {
    engine: Engine,
    keys: SimKeys,
    start_jpy: Money,
    faults: PendingFaults,
    tokens: BTreeMap<String, u64>,
    next_token: u64,
    ws: BTreeMap<u64, WsConn>,
    /// Orders announced `ORDERED` / ended on the stream.
    announced: Vec<bool>,
    ended: Vec<bool>,
    pub unanswered: u64,
    pub auth_failures: u64,
    pub rate_limited: u64,
    pub dropped_fills: u64,
    /// The execution ids `dropfill` left out of the stream.
    dropped_exec_ids: Vec<u64>,
    scratch: Vec<Change>,
}

fn err(http: u16, code: &str, msg: &str) -> (u16, Value) {
    (
        http,
        json!({"status": 1, "messages": [{"message_code": code, "message_string": msg}],
               "responsetime": iso_ms(crate::clock::wall_ns() / 1_000_000)}),
    )
}

/// The `order500` / `read500` answer.
fn internal_error() -> (u16, Value) {
    (
        500,
        json!({"status": 5, "messages": [{"message_code": "ERR-5201", "message_string": "MAINTENANCE"}]}),
    )
}

fn ok(data: Value, now_ms: u64) -> (u16, Value) {
    (
        200,
        json!({"status": 0, "data": data, "responsetime": iso_ms(now_ms)}),
    )
}

fn iso_ms(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let s = crate::ops::rfc3339(t);
    format!("{}Z", &s[..23])
}

impl GmoPrivate {
    pub fn new(account: &AccountFile, inst: Instrument) -> Result<GmoPrivate, String> {
        let fee = |v: &Option<String>, name: &str, d: Cbps| match v {
            Some(s) => parse_signed_bps(s, name),
            None => Ok(d),
        };
        let maker = fee(&account.maker_fee_bps, "maker_fee_bps", DEFAULT_MAKER_CBPS)?;
        let taker = fee(&account.taker_fee_bps, "taker_fee_bps", DEFAULT_TAKER_CBPS)?;
        if let Some(k) = account
            .balances
            .keys()
            .find(|k| !k.eq_ignore_ascii_case("JPY"))
        {
            return Err(format!(
                "balances.{k}: a GMO leverage account holds JPY only"
            ));
        }
        let start_jpy = match account.balances.iter().next() {
            Some((_, v)) => money_from_decimal(v, inst.tick, inst.lot)
                .map_err(|e| format!("balances.JPY: {e}"))?,
            None => 0,
        };
        let sym = inst.key.symbol.as_str();
        let mut start_pos = 0;
        for (k, v) in &account.positions {
            if k != sym {
                return Err(format!("positions.{k}: only {sym} is traded here"));
            }
            let (neg, abs) = v
                .strip_prefix('-')
                .map_or((false, v.as_str()), |a| (true, a));
            let lots = inst
                .lot
                .parse(abs.as_bytes())
                .map_err(|e| format!("positions.{k} = \"{v}\": {e}"))?;
            start_pos = if neg { -lots } else { lots };
        }
        let mut engine = Engine::new(inst, maker, taker, start_pos);
        if let Some(p) = account.entry_prices.get(sym) {
            let b = crate::exec::ledger::basis_at(&inst, p, start_pos)
                .map_err(|e| format!("entry_prices.{sym}: {e}"))?;
            engine.set_start_basis(b);
        }
        for (i, o) in account.orders.iter().enumerate() {
            let side = match o.side.to_ascii_uppercase().as_str() {
                "BUY" => OrderSide::Buy,
                "SELL" => OrderSide::Sell,
                other => {
                    return Err(format!(
                        "orders[{i}].side = \"{other}\": expected \"Buy\" or \"Sell\""
                    ))
                }
            };
            if !o.link_id.is_empty() {
                return Err(format!(
                    "orders[{i}].link_id: GMO Coin orders have no client order id (leave it out)"
                ));
            }
            let px = inst
                .tick
                .parse(o.price.as_bytes())
                .map_err(|e| format!("orders[{i}].price = \"{}\": {e}", o.price))?;
            let qty = inst
                .lot
                .parse(o.qty.as_bytes())
                .map_err(|e| format!("orders[{i}].qty = \"{}\": {e}", o.qty))?;
            engine
                .seed_order("", side, px, qty, 0)
                .map_err(|e| format!("orders[{i}]: {e:?}"))?;
        }
        Ok(GmoPrivate {
            engine,
            keys: SimKeys::new(&account.api_key, &account.api_secret),
            start_jpy,
            faults: PendingFaults::default(),
            tokens: BTreeMap::new(),
            next_token: 1,
            ws: BTreeMap::new(),
            announced: Vec::new(),
            ended: Vec::new(),
            unanswered: 0,
            auth_failures: 0,
            rate_limited: 0,
            dropped_fills: 0,
            dropped_exec_ids: Vec::new(),
            scratch: Vec::new(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn authenticate(
        &mut self,
        req: &HttpRequest<'_>,
        path: &str,
        now_ms: u64,
    ) -> Result<(), (u16, Value)> {
        let key = req.header("API-KEY").unwrap_or("");
        if key.is_empty() {
            return Err(err(200, "ERR-5011", "The API-KEY is empty."));
        }
        let ts_s = req.header("API-TIMESTAMP").unwrap_or("");
        let Ok(ts) = ts_s.parse::<u64>() else {
            return Err(err(
                200,
                "ERR-5007",
                "The API-TIMESTAMP is not set or not a number.",
            ));
        };
        if self.keys.find(key).is_none() {
            return Err(err(200, "ERR-5012", "The API authentication is invalid."));
        }
        let sig = req.header("API-SIGN").unwrap_or("");
        let signed = path.strip_prefix(PRIVATE_PREFIX).unwrap_or(path);
        if !self.keys.verify(
            key,
            &[
                ts_s.as_bytes(),
                req.method.as_bytes(),
                signed.as_bytes(),
                req.body,
            ],
            sig.as_bytes(),
        ) {
            return Err(err(200, "ERR-5010", "The API-SIGN (Signature) is invalid."));
        }
        if ts > now_ms + TIMESTAMP_WINDOW_MS {
            return Err(err(
                200,
                "ERR-5008",
                "The API-TIMESTAMP is later than the server time.",
            ));
        }
        if ts + TIMESTAMP_WINDOW_MS < now_ms {
            return Err(err(
                200,
                "ERR-5009",
                "The API-TIMESTAMP is earlier than the server time.",
            ));
        }
        Ok(())
    }

    fn status_str(o: &SimOrder) -> &'static str {
        match o.status {
            Status::New | Status::PartiallyFilled => "ORDERED",
            Status::Filled => "EXECUTED",
            Status::Cancelled if o.tif != Tif::Gtc => "EXPIRED",
            Status::Cancelled | Status::Rejected => "CANCELED",
        }
    }

    fn order_json(&self, o: &SimOrder) -> Value {
        let inst = &self.engine.inst;
        json!({
            "rootOrderId": o.order_id, "orderId": o.order_id,
            "symbol": inst.key.symbol.as_str(), "side": side_str(o.side),
            "orderType": "NORMAL", "executionType": "LIMIT", "settleType": "OPEN",
            "size": inst.lot.format(o.qty), "executedSize": inst.lot.format(o.cum),
            "price": inst.tick.format(o.px), "losscutPrice": "0",
            "status": Self::status_str(o), "timeInForce": tif_str(o.tif),
            "timestamp": iso_ms(o.created_ms),
        })
    }

    fn dec(&self, m: Money) -> String {
        let i = &self.engine.inst;
        money_to_decimal(m, i.tick, i.lot)
    }

    fn exec_json(&self, f: &SimFill) -> Value {
        let inst = &self.engine.inst;
        let side = self
            .engine
            .find_id(f.order_id)
            .map_or(OrderSide::Buy, |o| o.side);
        json!({
            "executionId": f.exec_id, "orderId": f.order_id, "positionId": f.order_id,
            "symbol": inst.key.symbol.as_str(), "side": side_str(side), "settleType": "OPEN",
            "size": inst.lot.format(f.qty), "price": inst.tick.format(f.px),
            "lossGain": "0", "fee": self.dec(f.fee), "timestamp": iso_ms(f.ts_ms),
        })
    }

    /// The JPY balance of the leverage account: the start, the realized profit and loss, the
    /// fees, and what `POST /sim/wallet` changed.
    pub fn jpy(&self) -> Money {
        let e = &self.engine;
        self.start_jpy + e.realized() - e.fees() + e.wallet_adjust()
    }

    fn assets_json(&self) -> Value {
        let j = self.dec(self.jpy());
        json!([{"symbol": "JPY", "amount": j, "available": j, "conversionRate": "1"}])
    }

    /// `positionSummary`: one item for the netted position (none when flat).
    fn position_json(&self) -> Value {
        let e = &self.engine;
        let inst = e.inst;
        let pos = e.position();
        if pos == 0 {
            return json!({});
        }
        // basis / |pos| in units of 10^-(tick decimals + 6), truncated.
        let units = e.basis().abs() * inst.tick.step_units() as i128
            / (pos.unsigned_abs() as i128 * MONEY_PER_TICK_LOT / 1_000_000);
        let mut avg = String::new();
        let _ = crate::num::write_units_trimmed(units, inst.tick.decimals() + 6, 0, &mut avg);
        let side = if pos > 0 {
            OrderSide::Buy
        } else {
            OrderSide::Sell
        };
        let ordered: i64 = e
            .orders()
            .iter()
            .filter(|o| o.status.is_open() && o.side != side)
            .map(|o| o.leaves())
            .sum();
        json!({"list": [{
            "symbol": inst.key.symbol.as_str(), "side": side_str(side),
            "sumPositionQuantity": inst.lot.format(pos.abs()),
            "sumOrderQuantity": inst.lot.format(ordered.min(pos.abs())),
            "averagePositionRate": avg, "positionLossGain": self.dec(self.unrealized()),
        }]})
    }

    /// `POST /sim/wallet` (`{"coin":"JPY","delta":"-500"}`) and `POST /sim/position`
    /// (`{"delta":"0.01"}`): see the module doc.
    fn adjust(&mut self, path: &str, body: &[u8]) -> Result<Value, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
        let inst = self.engine.inst;
        let d = v
            .get("delta")
            .and_then(Value::as_str)
            .ok_or("delta: a decimal string")?;
        let (neg, abs) = d.strip_prefix('-').map_or((false, d), |a| (true, a));
        if path == SIM_WALLET_PATH {
            let coin = v.get("coin").and_then(Value::as_str).unwrap_or("");
            if !coin.eq_ignore_ascii_case("JPY") {
                return Err(format!("coin \"{coin}\": only JPY is held here"));
            }
            let m = money_from_decimal(abs, inst.tick, inst.lot)
                .map_err(|e| format!("delta \"{d}\": {e}"))?;
            self.engine.adjust_wallet(if neg { -m } else { m });
            Ok(json!({"JPY": self.dec(self.jpy())}))
        } else {
            let lots = inst
                .lot
                .parse(abs.as_bytes())
                .map_err(|e| format!("delta \"{d}\": {e}"))?;
            self.engine.adjust_position(if neg { -lots } else { lots });
            Ok(json!({"position": inst.lot.format(self.engine.position())}))
        }
    }

    fn open_notional(&self) -> Money {
        self.engine
            .orders()
            .iter()
            .filter(|o| o.status.is_open())
            .map(|o| o.px as i128 * o.leaves() as i128 * MONEY_PER_TICK_LOT)
            .sum()
    }

    fn place(&mut self, body: &Value, now_ms: u64) -> (u16, Value) {
        let inst = self.engine.inst;
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let bad = |what: &str| {
            err(
                200,
                "ERR-5106",
                &format!("Invalid request parameter: {what}"),
            )
        };
        if s("symbol").as_deref() != Some(inst.key.symbol.as_str()) {
            return bad("symbol");
        }
        let side = match s("side").as_deref() {
            Some("BUY") => OrderSide::Buy,
            Some("SELL") => OrderSide::Sell,
            _ => return bad("side"),
        };
        if s("executionType").as_deref() != Some("LIMIT") {
            return bad("executionType (the simulator takes LIMIT only)");
        }
        let tif = match s("timeInForce").as_deref() {
            None | Some("FAS") => Tif::Gtc,
            Some("FAK") => Tif::Ioc,
            Some("SOK") => Tif::PostOnly,
            _ => return bad("timeInForce"),
        };
        let Some(px) = s("price").and_then(|p| inst.tick.parse(p.as_bytes()).ok()) else {
            return bad("price");
        };
        let Some(qty) = s("size").and_then(|p| inst.lot.parse(p.as_bytes()).ok()) else {
            return bad("size");
        };
        // Leverage 2x on the JPY balance (the simulator's margin rule).
        let need = self.open_notional() + px as i128 * qty as i128 * MONEY_PER_TICK_LOT;
        if self.start_jpy > 0 && need > 2 * (self.start_jpy + self.engine.cash()) {
            return err(200, "ERR-201", "Insufficient funds.");
        }
        match self.engine.place("", side, px, qty, tif, false, now_ms) {
            Ok(i) => ok(json!(self.engine.orders()[i].order_id.to_string()), now_ms),
            Err(Refusal::PostOnlyWouldCross) => {
                let id = self.engine.orders().last().map_or(0, |o| o.order_id);
                ok(json!(id.to_string()), now_ms)
            }
            Err(Refusal::Fault) => err(200, "ERR-201", "Insufficient funds."),
            Err(_) => bad("size or price"),
        }
    }

    /// Unrealized PnL of the position at the engine's mid (0 without one).
    fn unrealized(&self) -> Money {
        let e = &self.engine;
        match (e.bids_best(), e.asks().first()) {
            (Some(b), Some(&(a, _))) if e.position() != 0 => {
                let mid2 = i128::from(b) + i128::from(a);
                mid2 * i128::from(e.position()) * MONEY_PER_TICK_LOT / 2 - e.basis()
            }
            _ => 0,
        }
    }

    /// `GET /v1/account/margin`'s `data`.
    fn margin_json(&self) -> Value {
        let e = &self.engine;
        let upl = self.unrealized();
        let value = self.start_jpy + e.realized() - e.fees() + e.wallet_adjust() + upl;
        let margin = e.basis().abs() / 2 + self.open_notional() / 2;
        json!({
            "actualProfitLoss": self.dec(value),
            "availableAmount": self.dec(value - margin),
            "margin": self.dec(margin),
            "marginCallStatus": "NORMAL",
            "marginRatio": "0",
            "profitLoss": self.dec(upl),
            "transferableAmount": self.dec(value - margin),
        })
    }

    fn route(
        &mut self,
        req: &HttpRequest<'_>,
        path: &str,
        query: &str,
        now_ms: u64,
    ) -> (u16, Value) {
        let q: BTreeMap<&str, &str> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let v1 = path.strip_prefix(PRIVATE_PREFIX).unwrap_or(path);
        let body = || serde_json::from_slice::<Value>(req.body).unwrap_or(Value::Null);
        let list = |l: Vec<Value>| {
            if l.is_empty() {
                json!({})
            } else {
                json!({"pagination": {"currentPage": 1, "count": l.len()}, "list": l})
            }
        };
        match (req.method, v1) {
            ("POST", ORDER_PATH) => self.place(&body(), now_ms),
            ("POST", CANCEL_PATH) => {
                let id = super::private::id_of(&body(), "orderId").ok();
                match id.and_then(|id| self.engine.index_of_id(id)) {
                    Some(i) if self.engine.cancel(i, now_ms) => ok(Value::Null, now_ms),
                    Some(_) => err(
                        200,
                        "ERR-5122",
                        "The request is invalid due to the status of the specified order.",
                    ),
                    None => err(200, "ERR-5123", "The specified order doesn't exist."),
                }
            }
            ("GET", ORDERS_PATH) => {
                let ids: Vec<u64> = q
                    .get("orderId")
                    .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
                    .unwrap_or_default();
                let l = ids
                    .iter()
                    .filter_map(|id| self.engine.find_id(*id))
                    .map(|o| self.order_json(o))
                    .collect();
                ok(list(l), now_ms)
            }
            ("GET", MARGIN_PATH) => ok(self.margin_json(), now_ms),
            ("GET", ACTIVE_ORDERS_PATH) => {
                let l = self
                    .engine
                    .orders()
                    .iter()
                    .rev()
                    .filter(|o| o.status.is_open())
                    .take(100)
                    .map(|o| self.order_json(o))
                    .collect();
                ok(list(l), now_ms)
            }
            ("GET", EXECUTIONS_PATH) => {
                let oid: Option<u64> = q.get("orderId").and_then(|s| s.parse().ok());
                let l = self
                    .engine
                    .fills()
                    .iter()
                    .filter(|f| Some(f.order_id) == oid)
                    .map(|f| self.exec_json(f))
                    .collect();
                ok(list(l), now_ms)
            }
            ("GET", ASSETS_PATH) => ok(self.assets_json(), now_ms),
            ("GET", POSITION_SUMMARY_PATH) => {
                if q.get("symbol")
                    .is_some_and(|s| *s != self.engine.inst.key.symbol.as_str())
                {
                    return ok(json!({}), now_ms);
                }
                ok(self.position_json(), now_ms)
            }
            ("GET", LATEST_EXECUTIONS_PATH) => {
                let count = q
                    .get("count")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(100usize)
                    .clamp(1, 100);
                let l = self
                    .engine
                    .fills()
                    .iter()
                    .rev()
                    .take(count)
                    .map(|f| self.exec_json(f))
                    .collect();
                ok(list(l), now_ms)
            }
            ("POST", WS_AUTH_PATH) => {
                if self.tokens.len() >= 5 {
                    return err(200, "ERR-5106", "Too many access tokens.");
                }
                // 60 characters, like the venue's.
                let t = format!("{:0>60}", format!("simtoken{}x{now_ms}", self.next_token));
                self.next_token += 1;
                self.tokens.insert(t.clone(), now_ms + TOKEN_LIFE_MS);
                ok(json!(t), now_ms)
            }
            ("PUT", WS_AUTH_PATH) | ("DELETE", WS_AUTH_PATH) => {
                let t = body()
                    .get("token")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                match self.tokens.get_mut(&t) {
                    Some(exp) if *exp > now_ms => {
                        if req.method == "PUT" {
                            *exp = now_ms + TOKEN_LIFE_MS;
                        } else {
                            self.tokens.remove(&t);
                        }
                        ok(Value::Null, now_ms)
                    }
                    _ => err(200, "ERR-5106", "Invalid request parameter: token"),
                }
            }
            _ => (
                404,
                json!({"status": 5, "messages": [{"message_code": "ERR-5207", "message_string": "Not found"}]}),
            ),
        }
    }

    fn order_event(&self, o: &SimOrder, end: bool) -> String {
        let inst = &self.engine.inst;
        let mut v = json!({
            "channel": "orderEvents", "orderId": o.order_id,
            "symbol": inst.key.symbol.as_str(), "settleType": "OPEN", "executionType": "LIMIT",
            "side": side_str(o.side),
            "orderStatus": if end { Self::status_str(o) } else { "ORDERED" },
            "orderTimestamp": iso_ms(o.created_ms), "orderPrice": inst.tick.format(o.px),
            "orderSize": inst.lot.format(o.qty),
            "orderExecutedSize": inst.lot.format(if end { o.cum } else { 0 }),
            "losscutPrice": "0", "timeInForce": tif_str(o.tif),
            "msgType": if end { "COR" } else { "NOR" },
        });
        if end {
            v["cancelType"] = json!(match o.tif {
                Tif::Ioc => "EXPIRED_FAK",
                Tif::PostOnly => "EXPIRED_SOK",
                Tif::Gtc => "USER",
            });
        }
        v.to_string()
    }

    fn exec_event(&self, f: &SimFill) -> String {
        let inst = &self.engine.inst;
        let o = self.engine.find_id(f.order_id);
        let (side, opx, oqty, tif, ots) = o.map_or((OrderSide::Buy, 0, 0, Tif::Gtc, 0), |o| {
            (o.side, o.px, o.qty, o.tif, o.created_ms)
        });
        json!({
            "channel": "executionEvents", "orderId": f.order_id, "executionId": f.exec_id,
            "symbol": inst.key.symbol.as_str(), "settleType": "OPEN", "executionType": "LIMIT",
            "side": side_str(side), "executionPrice": inst.tick.format(f.px),
            "executionSize": inst.lot.format(f.qty), "positionId": f.order_id,
            "orderTimestamp": iso_ms(ots), "executionTimestamp": iso_ms(f.ts_ms),
            "lossGain": "0", "fee": self.dec(f.fee), "orderPrice": inst.tick.format(opx),
            "orderSize": inst.lot.format(oqty), "orderExecutedSize": inst.lot.format(oqty - f.leaves),
            "timeInForce": tif_str(tif), "msgType": "ER",
        })
        .to_string()
    }
}

/// Basis points that may be negative (a maker rebate: `"-1"`), in hundredths.
pub fn parse_signed_bps(s: &str, field: &str) -> Result<Cbps, String> {
    match s.strip_prefix('-') {
        Some(r) => crate::sim::private::parse_bps(r, field).map(|v| -v),
        None => crate::sim::private::parse_bps(s, field),
    }
}

impl PrivateApi for GmoPrivate {
    fn ws_routes(&self) -> &[Route] {
        ROUTES
    }

    fn handles(&self, path: &str) -> bool {
        path == "/sim/state"
            || path == PUBLIC_STATUS_PATH
            || path == SIM_WALLET_PATH
            || path == SIM_POSITION_PATH
            || path == crate::venue::bybit::sim_private::SIM_ROTATE_PATH
            || path.starts_with("/private/v1/")
    }

    fn ws_accept(&mut self, target: &str, now_ms: u64) -> Result<(), (u16, String)> {
        let token = target
            .split('?')
            .next()
            .unwrap_or("")
            .strip_prefix(PRIVATE_WS_PATH)
            .and_then(|t| t.strip_prefix('/'))
            .unwrap_or("");
        match self.tokens.get(token) {
            Some(exp) if *exp > now_ms => Ok(()),
            _ => Err((401, r#"{"error":"ERR-5012 invalid access token"}"#.into())),
        }
    }

    fn rest(&mut self, req: &HttpRequest<'_>, now_ms: u64) -> Fate {
        let (path, query) = req.target.split_once('?').unwrap_or((req.target, ""));
        let answer = |(status, v): (u16, Value)| Fate::Answer {
            reply: RestReply {
                status,
                body: v.to_string(),
            },
            headers: Vec::new(),
        };
        if path == "/sim/state" {
            return answer((200, self.state()));
        }
        if (path == SIM_WALLET_PATH || path == SIM_POSITION_PATH) && req.method == "POST" {
            return answer(match self.adjust(path, req.body) {
                Ok(v) => (200, v),
                Err(e) => (400, json!({ "error": e })),
            });
        }
        if req.method == "POST" && path == crate::venue::bybit::sim_private::SIM_ROTATE_PATH {
            return answer(match self.keys.rotate(req.body) {
                Ok(v) => (200, v),
                Err(e) => (400, json!({"error": e})),
            });
        }
        let venue_ms = self.faults.venue_ms(now_ms);
        if path == PUBLIC_STATUS_PATH {
            return answer(ok(json!({"status": "OPEN"}), venue_ms));
        }
        if let Err(e) = self.authenticate(req, path, venue_ms) {
            self.auth_failures += 1;
            return answer(e);
        }
        if req.method == "GET" {
            match self.faults.before_read() {
                Some(BeforeOrder::Order429) => {
                    self.rate_limited += 1;
                    return answer(err(429, "ERR-5003", "The API usage limits are exceeded."));
                }
                Some(_) => return answer(internal_error()),
                None => {}
            }
        }
        let v1 = path.strip_prefix(PRIVATE_PREFIX).unwrap_or(path);
        let is_order = req.method == "POST" && (v1 == ORDER_PATH || v1 == CANCEL_PATH);
        if is_order {
            match self.faults.before_order() {
                Some(BeforeOrder::Order429) => {
                    self.rate_limited += 1;
                    return answer(err(429, "ERR-5003", "The API usage limits are exceeded."));
                }
                Some(BeforeOrder::Order500) => return answer(internal_error()),
                Some(BeforeOrder::Timeout) => {
                    self.unanswered += 1;
                    return Fate::NoAnswer;
                }
                None => {}
            }
        }
        let out = self.route(req, path, query, now_ms);
        if is_order && self.faults.lose_ack() {
            self.unanswered += 1;
            return Fate::NoAnswer;
        }
        answer(out)
    }

    fn on_ws_frame(&mut self, conn: u64, text: &str, _now_ms: u64) -> Vec<String> {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return vec![r#"{"error":"ERR-5106 Invalid request parameter."}"#.into()];
        };
        let c = self.ws.entry(conn).or_default();
        let on = match v.get("command").and_then(Value::as_str) {
            Some("subscribe") => true,
            Some("unsubscribe") => false,
            _ => return vec![r#"{"error":"ERR-5106 Invalid request parameter."}"#.into()],
        };
        match v.get("channel").and_then(Value::as_str) {
            Some("executionEvents") => c.exec = on,
            Some("orderEvents") => c.order = on,
            Some("positionEvents") | Some("positionSummaryEvents") => {}
            _ => return vec![r#"{"error":"ERR-5106 Invalid request parameter."}"#.into()],
        }
        Vec::new()
    }

    fn ws_closed(&mut self, conn: u64) {
        self.ws.remove(&conn);
    }

    fn on_market(&mut self, feed: &dyn SimFeed, now_ms: u64) {
        if let Some((bids, asks)) = feed.book(self.engine.inst.key.symbol.as_str()) {
            self.engine.on_book(&bids, &asks, now_ms);
        }
    }

    fn drain_stream(&mut self, _now_ms: u64, out: &mut Vec<(u64, String)>) {
        let mut ch = std::mem::take(&mut self.scratch);
        self.engine.take_changes(&mut ch);
        let n = self.engine.orders().len();
        self.announced.resize(n, false);
        self.ended.resize(n, false);
        let mut frames: Vec<(bool, String)> = Vec::new();
        for (k, c) in ch.iter().enumerate() {
            match *c {
                Change::Fill(j) => {
                    if self.faults.drop_fill() {
                        self.dropped_fills += 1;
                        self.dropped_exec_ids.push(self.engine.fills()[j].exec_id);
                        continue;
                    }
                    let f = self.engine.fills()[j].clone();
                    frames.push((true, self.exec_event(&f)));
                }
                Change::Order(i) => {
                    let o = self.engine.orders()[i].clone();
                    if !self.announced[i] {
                        self.announced[i] = true;
                        frames.push((false, self.order_event(&o, false)));
                    }
                    let last = !ch[k + 1..].contains(&Change::Order(i));
                    let end = matches!(o.status, Status::Cancelled | Status::Rejected);
                    if last && end && !self.ended[i] {
                        self.ended[i] = true;
                        frames.push((false, self.order_event(&o, true)));
                    }
                }
            }
        }
        ch.clear();
        self.scratch = ch;
        for (exec, f) in frames {
            for (id, c) in &self.ws {
                if (exec && c.exec) || (!exec && c.order) {
                    out.push((*id, f.clone()));
                }
            }
        }
    }

    fn fault(&mut self, f: PrivateFault) {
        self.faults.arm(f, &mut self.engine)
    }

    fn state(&self) -> Value {
        self.engine.state_json(json!({
            "name": "gmocoin",
            "start_jpy": self.dec(self.start_jpy),
            "jpy": self.dec(self.jpy()),
            "jpy_money": self.jpy().to_string(),
            "unanswered_requests": self.unanswered,
            "auth_failures": self.auth_failures,
            "key_rotations": self.keys.rotations(),
            "keys": self.keys.state(),
            "rate_limited": self.rate_limited,
            "dropped_fills": self.dropped_fills,
            "dropped_exec_ids": self.dropped_exec_ids,
            "tokens": self.tokens.len(),
            "ws_connections": self.ws.len(),
            "maker_fee_cbps": self.engine.maker_fee,
            "taker_fee_cbps": self.engine.taker_fee,
        }))
    }
}
