//! The simulator's Bybit v5 private API (`obi-scalp sim --venue bybit --account FILE`): the
//! protocol over the simulator's [`Engine`].
//!
//! REST: `POST /v5/order/create`, `/v5/order/cancel`, `/v5/order/cancel-all`,
//! `GET /v5/order/realtime`, `/v5/position/list`, `/v5/account/wallet-balance`,
//! `/v5/execution/list`, the public `GET /v5/market/time` (`result.timeSecond` and
//! `timeNano`, the venue's clock; the `skew` fault shifts it), and `GET /sim/state` (ours). Each order request is checked as
//! Bybit documents (docs `v5/guide`, `v5/error`, checked 2026-12-02 through the docs index):
//! `X-BAPI-API-KEY` must be the account's key (`10003` "API key is invalid."), the timestamp
//! must satisfy `server_time - recv_window <= timestamp < server_time + 1000` (`10002`), and
//! `X-BAPI-SIGN` must be the HMAC of `timestamp + key + recv_window + body|query` (`10004`
//! "Error sign, ..."); `recv_window` is the header's value, 5000 when absent (and then not in
//! the signed string). Errors are HTTP 200 with the JSON `retCode`, as Bybit answers them.
//! Every answer carries `X-Bapi-Limit`, `X-Bapi-Limit-Status` and
//! `X-Bapi-Limit-Reset-Timestamp`; each endpoint has its documented per-UID limit of 10 per
//! second for linear (a token bucket; beyond it `10006` "Too many visits...").
//! A repeated `orderLinkId` is `110072` "OrderLinkedID is duplicate" (not in the docs copy in
//! the index; the code and message as ccxt's Bybit error map and several clients have them);
//! a cancel of an order that is not open is `110001` "Order does not exist"; a reduce-only
//! order that would not reduce is `110017`; a `reject` fault answers `110007` "Insufficient
//! available balance". A crossing post-only order is accepted (`retCode` 0) and then
//! cancelled (order stream `Cancelled`, `rejectReason` `EC_PostOnlyWillTakeLiquidity`) — from
//! Bybit's order-stream enum, not re-checked here.
//!
//! Private WebSocket `/v5/private`: `{"op":"auth","args":[key, expires, sign]}` with sign =
//! HMAC of `GET/realtime{expires}` and `expires` in the future; then `subscribe` to `order`,
//! `execution`, `position`, `wallet`; `ping` is answered with `pong`. Frames have the
//! documented shapes (`topic`, `id`, `creationTime`, `data: [...]`, docs
//! `v5/websocket/private/execution`); amounts are exact decimals.

use crate::exec::rate::TokenBucket;
use crate::instrument::{Instrument, Market};
use crate::msg::{Cbps, OrderSide, Tif};
use crate::sim::private::keys::SimKeys;
use crate::sim::private::{
    AccountFile, BeforeOrder, Change, Engine, Fate, HttpRequest, PendingFaults, PrivateApi,
    PrivateFault, Refusal, SimOrder, Status,
};
use crate::sim::{RestReply, Route, SimFeed};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::private::{
    category, ret, CANCEL_ALL_PATH, CANCEL_PATH, CREATE_PATH, EXECUTION_PATH, POSITION_PATH,
    PRIVATE_WS_PATH, REALTIME_PATH, TIME_PATH, WALLET_PATH,
};

/// The simulator's own control hook (no auth, like `/sim/state`): `POST /sim/wallet` with
/// `{"coin":"USDT","delta":"-25.5"}` changes the wallet behind the client's back.
pub const SIM_WALLET_PATH: &str = "/sim/wallet";
/// `POST /sim/position` with `{"delta":"0.005"}` changes the position the same way (no fill).
pub const SIM_POSITION_PATH: &str = "/sim/position";
/// `POST /sim/rotate` with `{"api_key":"..","api_secret":".."}`: the account's credentials are
/// rotated (the old pair is refused from then on, REST and private stream alike); with
/// `"keep_old":true` the old pair stays accepted until `{"retire_old":true}`
/// ([`crate::sim::private::keys`]; every venue's simulator serves it).
pub const SIM_ROTATE_PATH: &str = "/sim/rotate";

/// Documented per-UID limit of the order endpoints for linear (requests per second).
pub const ORDER_LIMIT_PER_SEC: u32 = 10;
/// Bybit's default fees for linear perpetuals (non-VIP): maker 0.02 %, taker 0.055 %.
pub const DEFAULT_MAKER_CBPS: Cbps = 200;
pub const DEFAULT_TAKER_CBPS: Cbps = 550;

const ROUTES: &[Route] = &[PRIVATE_WS_PATH];

#[derive(Debug, Default)]
struct WsConn {
    authed: bool,
    topics: Vec<String>,
}

/// The Bybit private API of one simulated account.
pub struct BybitPrivate {
    engine: Engine,
    keys: SimKeys,
    market: Market,
    buckets: BTreeMap<&'static str, TokenBucket>,
    ws: BTreeMap<u64, WsConn>,
    faults: PendingFaults,
    changes: Vec<Change>,
    /// Answers the API withheld (`timeout`: not executed; `lostack`: executed).
    pub unanswered: u64,
    /// Executions left out of the private stream (`dropfill`).
    pub dropped_fills: u64,
    /// Requests refused for their key, signature or time window.
    auth_failures: u64,
    start_quote: String,
    /// The starting quote balance in Money.
    start_quote_money: crate::msg::Money,
}

impl BybitPrivate {
    /// The private API for `account` trading `inst` (a linear or spot Bybit instrument).
    pub fn new(account: &AccountFile, inst: Instrument) -> Result<BybitPrivate, String> {
        let maker = match &account.maker_fee_bps {
            Some(s) => crate::sim::private::parse_bps(s, "maker_fee_bps")?,
            None => DEFAULT_MAKER_CBPS,
        };
        let taker = match &account.taker_fee_bps {
            Some(s) => crate::sim::private::parse_bps(s, "taker_fee_bps")?,
            None => DEFAULT_TAKER_CBPS,
        };
        let sym = inst.key.symbol.as_str();
        let start_position = match account.positions.get(sym) {
            Some(p) => inst
                .lot
                .parse(p.as_bytes())
                .map_err(|e| format!("positions.{sym} = \"{p}\": {e}"))?,
            None => 0,
        };
        let start_quote = account
            .balances
            .get(inst.quote.as_str())
            .cloned()
            .unwrap_or_else(|| "0".into());
        let start_quote_money = crate::config::Config::money(&inst, "balances", &start_quote)
            .map_err(|e| format!("balances.{} = \"{start_quote}\": {e}", inst.quote))?;
        let mut engine = Engine::new(inst, maker, taker, start_position);
        if let Some(p) = account.entry_prices.get(sym) {
            let b = crate::exec::ledger::basis_at(&inst, p, start_position)
                .map_err(|e| format!("entry_prices.{sym}: {e}"))?;
            engine.set_start_basis(b);
        }
        for (i, o) in account.orders.iter().enumerate() {
            let side = match o.side.as_str() {
                "Buy" => OrderSide::Buy,
                "Sell" => OrderSide::Sell,
                other => {
                    return Err(format!(
                        "orders[{i}].side = \"{other}\": expected \"Buy\" or \"Sell\""
                    ))
                }
            };
            let px = inst
                .tick
                .parse(o.price.as_bytes())
                .map_err(|e| format!("orders[{i}].price = \"{}\": {e}", o.price))?;
            let qty = inst
                .lot
                .parse(o.qty.as_bytes())
                .map_err(|e| format!("orders[{i}].qty = \"{}\": {e}", o.qty))?;
            if o.link_id.len() > 36 {
                return Err(format!("orders[{i}].link_id: longer than 36 characters"));
            }
            engine
                .seed_order(&o.link_id, side, px, qty, 0)
                .map_err(|e| format!("orders[{i}]: {e:?}"))?;
        }
        let mut buckets = BTreeMap::new();
        for p in [
            CREATE_PATH,
            CANCEL_PATH,
            CANCEL_ALL_PATH,
            REALTIME_PATH,
            POSITION_PATH,
            WALLET_PATH,
            EXECUTION_PATH,
        ] {
            buckets.insert(
                p,
                TokenBucket::new(ORDER_LIMIT_PER_SEC, ORDER_LIMIT_PER_SEC),
            );
        }
        Ok(BybitPrivate {
            engine,
            keys: SimKeys::new(&account.api_key, &account.api_secret),
            market: inst.key.market,
            buckets,
            ws: BTreeMap::new(),
            faults: PendingFaults::default(),
            changes: Vec::new(),
            unanswered: 0,
            dropped_fills: 0,
            auth_failures: 0,
            start_quote,
            start_quote_money,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn answer(&self, code: i64, result: Value, now_ms: u64, limit: (u32, u64)) -> Fate {
        let body = json!({
            "retCode": code,
            "retMsg": ret::message(code),
            "result": result,
            "retExtInfo": {},
            "time": now_ms,
        });
        Fate::Answer {
            reply: RestReply {
                status: 200,
                body: body.to_string(),
            },
            headers: vec![
                ("X-Bapi-Limit".into(), ORDER_LIMIT_PER_SEC.to_string()),
                ("X-Bapi-Limit-Status".into(), limit.0.to_string()),
                ("X-Bapi-Limit-Reset-Timestamp".into(), limit.1.to_string()),
            ],
        }
    }

    /// Checks key, time window and signature; the error code if any.
    fn authenticate(
        &mut self,
        req: &HttpRequest<'_>,
        payload: &[u8],
        now_ms: u64,
    ) -> Result<(), i64> {
        let now_ms = self.faults.venue_ms(now_ms);
        let key = req.header("X-BAPI-API-KEY").unwrap_or("");
        if self.keys.find(key).is_none() {
            return Err(ret::API_KEY_INVALID);
        }
        let ts_s = req.header("X-BAPI-TIMESTAMP").unwrap_or("");
        let ts: u64 = ts_s.parse().map_err(|_| ret::PARAM)?;
        let rw_s = req.header("X-BAPI-RECV-WINDOW");
        let rw: u64 = match rw_s {
            Some(s) => s.parse().map_err(|_| ret::PARAM)?,
            None => 5000,
        };
        if !(now_ms.saturating_sub(rw) <= ts && ts < now_ms + 1000) {
            return Err(ret::TIME_WINDOW);
        }
        let sig = req.header("X-BAPI-SIGN").unwrap_or("");
        let parts: [&[u8]; 4] = [
            ts_s.as_bytes(),
            key.as_bytes(),
            rw_s.unwrap_or("").as_bytes(),
            payload,
        ];
        if !self.keys.verify(key, &parts, sig.as_bytes()) {
            return Err(ret::ERROR_SIGN);
        }
        Ok(())
    }

    fn order_json(&self, o: &SimOrder) -> Value {
        let inst = &self.engine.inst;
        let status = match o.status {
            Status::New => "New",
            Status::PartiallyFilled => "PartiallyFilled",
            Status::Filled => "Filled",
            Status::Cancelled if o.cum > 0 => "PartiallyFilledCanceled",
            Status::Cancelled => "Cancelled",
            Status::Rejected => "Rejected",
        };
        let avg = if o.cum > 0 {
            // Exact average: value / qty in ticks may not be whole; shown as a decimal.
            let units = o.cum_value * inst.tick.step_units() as i128
                / (o.cum as i128 * crate::msg::MONEY_PER_TICK_LOT);
            let mut s = String::new();
            let _ = crate::num::write_units(units, inst.tick.decimals(), &mut s);
            s
        } else {
            String::new()
        };
        json!({
            "category": category(self.market),
            "symbol": inst.key.symbol.as_str(),
            "orderId": o.order_id.to_string(),
            "orderLinkId": o.link_id,
            "side": match o.side { OrderSide::Buy => "Buy", OrderSide::Sell => "Sell" },
            "orderType": "Limit",
            "price": inst.tick.format(o.px),
            "qty": inst.lot.format(o.qty),
            "timeInForce": match o.tif { Tif::Gtc => "GTC", Tif::PostOnly => "PostOnly", Tif::Ioc => "IOC" },
            "orderStatus": status,
            "cumExecQty": inst.lot.format(o.cum),
            "cumExecValue": self.engine.money_str(o.cum_value),
            "cumExecFee": self.engine.money_str(o.fees),
            "leavesQty": inst.lot.format(o.leaves()),
            "avgPrice": avg,
            "reduceOnly": o.reduce_only,
            "rejectReason": if o.status == Status::Cancelled && o.cum == 0 && o.tif == Tif::PostOnly && o.created_ms == o.updated_ms { "EC_PostOnlyWillTakeLiquidity" } else { "EC_NoError" },
            "createdTime": o.created_ms.to_string(),
            "updatedTime": o.updated_ms.to_string(),
        })
    }

    fn create(&mut self, body: &Value, now_ms: u64) -> (i64, Value) {
        let inst = self.engine.inst;
        let s = |k: &str| body.get(k).and_then(Value::as_str);
        if s("category") != Some(category(self.market))
            || s("symbol") != Some(inst.key.symbol.as_str())
            || s("orderType") != Some("Limit")
        {
            return (ret::PARAM, json!({}));
        }
        let side = match s("side") {
            Some("Buy") => OrderSide::Buy,
            Some("Sell") => OrderSide::Sell,
            _ => return (ret::PARAM, json!({})),
        };
        let tif = match s("timeInForce").unwrap_or("GTC") {
            "GTC" => Tif::Gtc,
            "PostOnly" => Tif::PostOnly,
            "IOC" => Tif::Ioc,
            _ => return (ret::PARAM, json!({})),
        };
        let (Some(px), Some(qty)) = (
            s("price").and_then(|p| inst.tick.parse(p.as_bytes()).ok()),
            s("qty").and_then(|q| inst.lot.parse(q.as_bytes()).ok()),
        ) else {
            return (ret::PARAM, json!({}));
        };
        let link = s("orderLinkId").unwrap_or("");
        if link.len() > 36 {
            return (ret::PARAM, json!({}));
        }
        let reduce_only = body
            .get("reduceOnly")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match self
            .engine
            .place(link, side, px, qty, tif, reduce_only, now_ms)
        {
            Ok(i) => {
                let o = &self.engine.orders()[i];
                (
                    ret::OK,
                    json!({"orderId": o.order_id.to_string(), "orderLinkId": o.link_id}),
                )
            }
            Err(Refusal::PostOnlyWouldCross) => {
                let o = self.engine.orders().last().expect("entered then cancelled");
                (
                    ret::OK,
                    json!({"orderId": o.order_id.to_string(), "orderLinkId": o.link_id}),
                )
            }
            Err(Refusal::DuplicateLinkId) => (110072, json!({})),
            Err(Refusal::Invalid) => (ret::PARAM, json!({})),
            Err(Refusal::ReduceOnly) => (110017, json!({})),
            Err(Refusal::Fault) => (ret::INSUFFICIENT_AVAILABLE, json!({})),
        }
    }

    fn find(&self, by_link: Option<&str>, by_id: Option<&str>) -> Option<usize> {
        match (by_link, by_id) {
            (Some(l), _) if !l.is_empty() => self.engine.index_of_link(l),
            (_, Some(id)) => id.parse().ok().and_then(|id| self.engine.index_of_id(id)),
            _ => None,
        }
    }

    fn route(
        &mut self,
        path: &str,
        req: &HttpRequest<'_>,
        query: &str,
        now_ms: u64,
    ) -> (i64, Value) {
        match (req.method, path) {
            ("POST", CREATE_PATH) | ("POST", CANCEL_PATH) | ("POST", CANCEL_ALL_PATH) => {
                let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
                    return (ret::PARAM, json!({}));
                };
                match path {
                    CREATE_PATH => self.create(&body, now_ms),
                    CANCEL_PATH => {
                        let s = |k: &str| body.get(k).and_then(Value::as_str);
                        match self.find(s("orderLinkId"), s("orderId")) {
                            Some(i) if self.engine.cancel(i, now_ms) => {
                                let o = &self.engine.orders()[i];
                                (
                                    ret::OK,
                                    json!({"orderId": o.order_id.to_string(), "orderLinkId": o.link_id}),
                                )
                            }
                            _ => (ret::ORDER_NOT_EXISTS, json!({})),
                        }
                    }
                    _ => {
                        let done = self.engine.cancel_all(now_ms);
                        let list: Vec<Value> = done
                            .iter()
                            .map(|&i| {
                                let o = &self.engine.orders()[i];
                                json!({"orderId": o.order_id.to_string(), "orderLinkId": o.link_id})
                            })
                            .collect();
                        (ret::OK, json!({"list": list, "success": "1"}))
                    }
                }
            }
            ("GET", REALTIME_PATH) => {
                let q = query_map(query);
                let list: Vec<Value> =
                    match self.find(q.get("orderLinkId").copied(), q.get("orderId").copied()) {
                        Some(i) => vec![self.order_json(&self.engine.orders()[i])],
                        None if q.contains_key("orderLinkId") || q.contains_key("orderId") => {
                            Vec::new()
                        }
                        None => self
                            .engine
                            .orders()
                            .iter()
                            .filter(|o| o.status.is_open())
                            .map(|o| self.order_json(o))
                            .collect(),
                    };
                (
                    ret::OK,
                    json!({"list": list, "nextPageCursor": "", "category": category(self.market)}),
                )
            }
            ("GET", POSITION_PATH) => {
                let q = query_map(query);
                if q.get("category").copied() != Some(category(self.market))
                    || self.market == Market::Spot
                {
                    return (ret::PARAM, json!({}));
                }
                let list = match q.get("symbol") {
                    Some(s) if *s != self.engine.inst.key.symbol.as_str() => Vec::new(),
                    _ => vec![self.position_json()],
                };
                (
                    ret::OK,
                    json!({"list": list, "nextPageCursor": "", "category": category(self.market)}),
                )
            }
            ("GET", WALLET_PATH) => {
                let q = query_map(query);
                if q.get("accountType").copied() != Some("UNIFIED") {
                    return (ret::PARAM, json!({}));
                }
                let want = |c: &str| {
                    q.get("coin")
                        .is_none_or(|l| l.split(',').any(|x| x.eq_ignore_ascii_case(c)))
                };
                (ret::OK, json!({"list": [self.wallet_json(&want)]}))
            }
            ("GET", EXECUTION_PATH) => {
                let q = query_map(query);
                let order = self.find(q.get("orderLinkId").copied(), q.get("orderId").copied());
                let list: Vec<Value> = match order {
                    Some(i) => {
                        let oid = self.engine.orders()[i].order_id;
                        self.engine
                            .fills()
                            .iter()
                            .filter(|f| f.order_id == oid)
                            .map(|f| self.exec_json(f))
                            .collect()
                    }
                    None if q.contains_key("orderLinkId") || q.contains_key("orderId") => {
                        Vec::new()
                    }
                    None => self
                        .engine
                        .fills()
                        .iter()
                        .map(|f| self.exec_json(f))
                        .collect(),
                };
                (
                    ret::OK,
                    json!({"list": list, "nextPageCursor": "", "category": category(self.market)}),
                )
            }
            _ => (10017, json!({})),
        }
    }

    /// The symbol's position (`/v5/position/list` item): size, side, exact average entry
    /// price, the engine's mid as mark price.
    fn position_json(&self) -> Value {
        let e = &self.engine;
        let inst = &e.inst;
        let pos = e.position();
        let side = match pos.signum() {
            1 => "Buy",
            -1 => "Sell",
            _ => "",
        };
        let avg = if pos != 0 {
            // basis / (|pos| * MONEY_PER_TICK_LOT) ticks, as a decimal at 6 more places.
            let units = e.basis().abs() * inst.tick.step_units() as i128
                / (pos.unsigned_abs() as i128 * crate::msg::MONEY_PER_TICK_LOT / 1_000_000);
            let mut s = String::new();
            let _ = crate::num::write_units(units, inst.tick.decimals() + 6, &mut s);
            s
        } else {
            "0".into()
        };
        let mark = match (e.bids_best(), e.asks().first()) {
            (Some(b), Some(&(a, _))) => inst.tick.format((b + a) / 2),
            _ => String::new(),
        };
        json!({
            "positionIdx": 0,
            "symbol": inst.key.symbol.as_str(),
            "side": side,
            "size": inst.lot.format(pos.abs()),
            "avgPrice": avg,
            "positionValue": e.money_str(e.basis().abs()),
            "markPrice": mark,
            "cumRealisedPnl": e.money_str(e.realized() - e.fees()),
            "updatedTime": "0",
        })
    }

    /// The unified account's wallet (`/v5/account/wallet-balance` item). Linear: the quote
    /// coin's `walletBalance` is the start plus realized PnL minus fees; spot: the start plus
    /// the cash spent and received. Plus what
    /// `POST /sim/wallet` changed.
    fn wallet_json(&self, want: &dyn Fn(&str) -> bool) -> Value {
        let e = &self.engine;
        let inst = &e.inst;
        let quote = if self.market == Market::Spot {
            self.start_quote_money + e.cash()
        } else {
            self.start_quote_money + e.realized() - e.fees()
        } + e.wallet_adjust();
        let mut coins = Vec::new();
        if want(inst.quote.as_str()) {
            coins.push(json!({
                "coin": inst.quote.as_str(),
                "walletBalance": e.money_str(quote),
                "equity": e.money_str(quote),
                "cumRealisedPnl": e.money_str(e.realized() - e.fees()),
            }));
        }
        json!({"accountType": "UNIFIED", "coin": coins})
    }

    /// One execution as `/v5/execution/list` and the `execution` topic show it.
    fn exec_json(&self, f: &crate::sim::private::SimFill) -> Value {
        let inst = &self.engine.inst;
        let o = self.engine.find_id(f.order_id);
        let value = f.px as i128 * f.qty as i128 * crate::msg::MONEY_PER_TICK_LOT;
        let mut rate = String::new();
        let _ = crate::num::write_units(f.fee_rate as i128, 6, &mut rate);
        json!({
            "category": category(self.market),
            "symbol": inst.key.symbol.as_str(),
            "execFee": self.engine.money_str(f.fee),
            "execId": f.exec_id.to_string(),
            "execPrice": inst.tick.format(f.px),
            "execQty": inst.lot.format(f.qty),
            "execType": "Trade",
            "execValue": self.engine.money_str(value),
            "isMaker": f.maker,
            "feeRate": rate,
            "leavesQty": inst.lot.format(f.leaves),
            "orderId": f.order_id.to_string(),
            "orderLinkId": o.map(|o| o.link_id.as_str()).unwrap_or(""),
            "orderPrice": o.map(|o| inst.tick.format(o.px)).unwrap_or_default(),
            "orderQty": o.map(|o| inst.lot.format(o.qty)).unwrap_or_default(),
            "orderType": "Limit",
            "side": match o.map(|o| o.side) { Some(OrderSide::Sell) => "Sell", _ => "Buy" },
            "execTime": f.ts_ms.to_string(),
        })
    }

    /// `POST /sim/wallet`: `{"coin":"USDT","delta":"-25.5"}`.
    fn adjust_wallet(&mut self, body: &[u8]) -> Result<Value, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
        let inst = self.engine.inst;
        let coin = v.get("coin").and_then(Value::as_str).unwrap_or("");
        if coin != inst.quote.as_str() {
            return Err(format!("coin: only {} can be changed", inst.quote));
        }
        let d = v
            .get("delta")
            .and_then(Value::as_str)
            .ok_or("delta: a decimal string")?;
        let neg = d.starts_with('-');
        let m = crate::config::Config::money(&inst, "delta", d.trim_start_matches('-'))
            .map_err(|e| e.to_string())?;
        self.engine.adjust_wallet(if neg { -m } else { m });
        Ok(json!({"wallet_adjust": self.engine.money_str(self.engine.wallet_adjust())}))
    }

    /// `POST /sim/position`: `{"delta":"-0.005"}` in the instrument's size.
    fn adjust_position(&mut self, body: &[u8]) -> Result<Value, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
        let inst = self.engine.inst;
        let d = v
            .get("delta")
            .and_then(Value::as_str)
            .ok_or("delta: a decimal string")?;
        let lots = inst
            .lot
            .parse(d.trim_start_matches('-').as_bytes())
            .map_err(|e| format!("delta \"{d}\": {e}"))?;
        self.engine
            .adjust_position(if d.starts_with('-') { -lots } else { lots });
        Ok(json!({"position": inst.lot.format(self.engine.position())}))
    }

    fn topic_frame(&self, topic: &str, data: Vec<Value>, now_ms: u64, seq: u64) -> String {
        json!({"id": format!("sim-{topic}-{seq}"), "topic": topic, "creationTime": now_ms, "data": data}).to_string()
    }
}

impl PrivateApi for BybitPrivate {
    fn ws_routes(&self) -> &[Route] {
        ROUTES
    }

    fn handles(&self, path: &str) -> bool {
        path == "/sim/state"
            || path == TIME_PATH
            || path == SIM_WALLET_PATH
            || path == SIM_POSITION_PATH
            || path == SIM_ROTATE_PATH
            || path.starts_with("/v5/execution/")
            || path.starts_with("/v5/order/")
            || path.starts_with("/v5/position/")
            || path.starts_with("/v5/account/")
    }

    fn rest(&mut self, req: &HttpRequest<'_>, now_ms: u64) -> Fate {
        let (path, query) = req.target.split_once('?').unwrap_or((req.target, ""));
        if path == "/sim/state" {
            return Fate::Answer {
                reply: RestReply {
                    status: 200,
                    body: self.state().to_string(),
                },
                headers: Vec::new(),
            };
        }
        if path == TIME_PATH {
            // Public, unsigned: the venue's clock.
            let t = self.faults.venue_ms(now_ms);
            let body = json!({
                "retCode": ret::OK,
                "retMsg": "OK",
                "result": {
                    "timeSecond": (t / 1000).to_string(),
                    "timeNano": (u128::from(t) * 1_000_000).to_string(),
                },
                "retExtInfo": {},
                "time": t,
            });
            return Fate::Answer {
                reply: RestReply {
                    status: 200,
                    body: body.to_string(),
                },
                headers: Vec::new(),
            };
        }
        if (path == SIM_WALLET_PATH || path == SIM_POSITION_PATH || path == SIM_ROTATE_PATH)
            && req.method == "POST"
        {
            let r = if path == SIM_WALLET_PATH {
                self.adjust_wallet(req.body)
            } else if path == SIM_ROTATE_PATH {
                self.keys.rotate(req.body)
            } else {
                self.adjust_position(req.body)
            };
            let (status, body) = match r {
                Ok(v) => (200, v.to_string()),
                Err(e) => (400, json!({"error": e}).to_string()),
            };
            return Fate::Answer {
                reply: RestReply { status, body },
                headers: Vec::new(),
            };
        }
        let payload = if req.method == "GET" {
            query.as_bytes()
        } else {
            req.body
        };
        let key = self.buckets.keys().find(|k| **k == path).copied();
        let limit = |b: Option<&mut TokenBucket>| -> (bool, u32) {
            match b {
                Some(b) => {
                    let ok = b.try_take(now_ms * 1_000_000);
                    (ok, b.available(now_ms * 1_000_000) as u32)
                }
                None => (true, ORDER_LIMIT_PER_SEC),
            }
        };
        if let Err(code) = self.authenticate(req, payload, now_ms) {
            self.auth_failures += 1;
            return self.answer(code, json!({}), now_ms, (ORDER_LIMIT_PER_SEC, now_ms));
        }
        let (ok, left) = limit(key.and_then(|k| self.buckets.get_mut(k)));
        let reset = now_ms + if ok { 0 } else { 1000 };
        if !ok {
            return self.answer(ret::TOO_MANY_VISITS, json!({}), now_ms, (0, reset));
        }
        let is_order = req.method == "POST";
        if is_order {
            match self.faults.before_order() {
                Some(BeforeOrder::Order429) => {
                    return self.answer(ret::TOO_MANY_VISITS, json!({}), now_ms, (0, now_ms + 1000))
                }
                Some(BeforeOrder::Order500) => {
                    return self.answer(ret::INTERNAL, json!({}), now_ms, (left, reset))
                }
                Some(BeforeOrder::Timeout) => {
                    self.unanswered += 1;
                    return Fate::NoAnswer;
                }
                None => {}
            }
        } else {
            match self.faults.before_read() {
                Some(BeforeOrder::Order429) => {
                    return self.answer(ret::TOO_MANY_VISITS, json!({}), now_ms, (0, now_ms + 1000))
                }
                Some(BeforeOrder::Order500) => {
                    return self.answer(ret::INTERNAL, json!({}), now_ms, (left, reset))
                }
                _ => {}
            }
        }
        let (code, result) = self.route(path, req, query, now_ms);
        if is_order && self.faults.lose_ack() {
            self.unanswered += 1;
            return Fate::NoAnswer;
        }
        self.answer(code, result, now_ms, (left, reset))
    }

    fn on_ws_frame(&mut self, conn: u64, text: &str, now_ms: u64) -> Vec<String> {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return vec![
                json!({"success": false, "ret_msg": "Params Error", "conn_id": conn.to_string()})
                    .to_string(),
            ];
        };
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        let req_id = v
            .get("req_id")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        let c = self.ws.entry(conn).or_default();
        match op {
            "auth" => {
                let args = v.get("args").and_then(Value::as_array);
                let ok = args.is_some_and(|a| {
                    let key = a.first().and_then(Value::as_str);
                    let expires = a.get(1).and_then(Value::as_u64);
                    let sig = a.get(2).and_then(Value::as_str).unwrap_or("");
                    match (key, expires) {
                        (Some(k), Some(e)) if e > now_ms => self
                            .keys
                            .verify(k, &[b"GET/realtime", e.to_string().as_bytes()], sig.as_bytes()),
                        _ => false,
                    }
                });
                let c = self.ws.entry(conn).or_default();
                c.authed = ok;
                let msg = if ok { "" } else { "Request not authorized" };
                vec![json!({"success": ok, "ret_msg": msg, "op": "auth", "conn_id": conn.to_string(), "req_id": req_id}).to_string()]
            }
            "subscribe" => {
                let ok = c.authed;
                if ok {
                    for t in v.get("args").and_then(Value::as_array).into_iter().flatten() {
                        if let Some(t) = t.as_str() {
                            c.topics.push(t.to_string());
                        }
                    }
                }
                let msg = if ok { "" } else { "Request not authorized" };
                vec![json!({"success": ok, "ret_msg": msg, "op": "subscribe", "conn_id": conn.to_string(), "req_id": req_id}).to_string()]
            }
            "ping" => vec![json!({"req_id": req_id, "op": "pong", "args": [now_ms.to_string()], "conn_id": conn.to_string()}).to_string()],
            _ => vec![json!({"success": false, "ret_msg": format!("unknown op '{op}'"), "conn_id": conn.to_string()}).to_string()],
        }
    }

    fn ws_closed(&mut self, conn: u64) {
        self.ws.remove(&conn);
    }

    fn on_market(&mut self, feed: &dyn SimFeed, now_ms: u64) {
        if let Some((bids, asks)) = feed.book(self.engine.inst.key.symbol.as_str()) {
            self.engine.on_book(&bids, &asks, now_ms);
        }
    }

    fn drain_stream(&mut self, now_ms: u64, out: &mut Vec<(u64, String)>) {
        self.engine.take_changes(&mut self.changes);
        if self.changes.is_empty() {
            return;
        }
        let inst = self.engine.inst;
        let mut frames: Vec<(&str, String)> = Vec::new();
        let mut seq = 0;
        let mut filled = false;
        for ch in std::mem::take(&mut self.changes) {
            seq += 1;
            match ch {
                Change::Order(i) => {
                    let o = &self.engine.orders()[i];
                    frames.push((
                        "order",
                        self.topic_frame("order", vec![self.order_json(o)], now_ms, seq),
                    ));
                }
                Change::Fill(i) => {
                    filled = true;
                    if self.faults.drop_fill() {
                        self.dropped_fills += 1;
                        continue;
                    }
                    let f = &self.engine.fills()[i];
                    let Some(o) = self.engine.find_id(f.order_id) else {
                        continue;
                    };
                    let value = f.px as i128 * f.qty as i128 * crate::msg::MONEY_PER_TICK_LOT;
                    let mut rate = String::new();
                    let _ = crate::num::write_units(f.fee_rate as i128, 6, &mut rate);
                    let d = json!({
                        "category": category(self.market),
                        "symbol": inst.key.symbol.as_str(),
                        "execFee": self.engine.money_str(f.fee),
                        "execId": f.exec_id.to_string(),
                        "execPrice": inst.tick.format(f.px),
                        "execQty": inst.lot.format(f.qty),
                        "execType": "Trade",
                        "execValue": self.engine.money_str(value),
                        "isMaker": f.maker,
                        "feeRate": rate,
                        "leavesQty": inst.lot.format(f.leaves),
                        "orderId": o.order_id.to_string(),
                        "orderLinkId": o.link_id,
                        "orderPrice": inst.tick.format(o.px),
                        "orderQty": inst.lot.format(o.qty),
                        "orderType": "Limit",
                        "side": match o.side { OrderSide::Buy => "Buy", OrderSide::Sell => "Sell" },
                        "execTime": f.ts_ms.to_string(),
                    });
                    frames.push((
                        "execution",
                        self.topic_frame("execution", vec![d], now_ms, seq),
                    ));
                }
            }
        }
        if filled {
            let pos = self.engine.position();
            let side = if pos > 0 {
                "Buy"
            } else if pos < 0 {
                "Sell"
            } else {
                ""
            };
            frames.push((
                "position",
                self.topic_frame(
                    "position",
                    vec![json!({
                        "category": category(self.market),
                        "symbol": inst.key.symbol.as_str(),
                        "side": side,
                        "size": inst.lot.format(pos.abs()),
                        "positionIdx": 0,
                        "updatedTime": now_ms.to_string(),
                    })],
                    now_ms,
                    seq + 1,
                ),
            ));
            frames.push((
                "wallet",
                self.topic_frame(
                    "wallet",
                    vec![json!({
                        "accountType": "UNIFIED",
                        "coin": [{
                            "coin": inst.quote.as_str(),
                            "walletBalanceChange": self.engine.money_str(self.engine.cash()),
                            "cumFees": self.engine.money_str(self.engine.fees()),
                        }],
                    })],
                    now_ms,
                    seq + 2,
                ),
            ));
        }
        for (id, c) in &self.ws {
            if !c.authed {
                continue;
            }
            for (topic, text) in &frames {
                if c.topics.iter().any(|t| t == topic) {
                    out.push((*id, text.clone()));
                }
            }
        }
    }

    fn fault(&mut self, f: PrivateFault) {
        self.faults.arm(f, &mut self.engine)
    }

    fn state(&self) -> Value {
        self.engine.state_json(json!({
            "name": "bybit",
            "category": category(self.market),
            "start_balance": {self.engine.inst.quote.as_str(): self.start_quote},
            "unanswered_requests": self.unanswered,
            "dropped_fills": self.dropped_fills,
            "key_rotations": self.keys.rotations(),
            "keys": self.keys.state(),
            "auth_failures": self.auth_failures,
            "maker_fee_cbps": self.engine.maker_fee,
            "taker_fee_cbps": self.engine.taker_fee,
        }))
    }
}

fn query_map(query: &str) -> BTreeMap<&str, &str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect()
}
