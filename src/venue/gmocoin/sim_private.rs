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
//! Positions are netted by the engine (GMO keeps a counter-position for an opposite `/v1/order`
//! unless it is closed with `closeOrder`; the money is the same, the position list is not).

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
    side_str, tif_str, ACTIVE_ORDERS_PATH, CANCEL_PATH, EXECUTIONS_PATH, LATEST_EXECUTIONS_PATH,
    ORDERS_PATH, ORDER_PATH, PRIVATE_PREFIX, PRIVATE_WS_PATH, WS_AUTH_PATH,
};
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
    scratch: Vec<Change>,
}

fn err(http: u16, code: &str, msg: &str) -> (u16, Value) {
    (
        http,
        json!({"status": 1, "messages": [{"message_code": code, "message_string": msg}],
               "responsetime": iso_ms(crate::clock::wall_ns() / 1_000_000)}),
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
        if !account.orders.is_empty() {
            return Err("orders: not supported for gmocoin".into());
        }
        Ok(GmoPrivate {
            engine: Engine::new(inst, maker, taker, start_pos),
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
        if req.method == "POST" && path == crate::venue::bybit::sim_private::SIM_ROTATE_PATH {
            return answer(match self.keys.rotate(req.body) {
                Ok(v) => (200, v),
                Err(e) => (400, json!({"error": e})),
            });
        }
        if let Err(e) = self.authenticate(req, path, now_ms) {
            self.auth_failures += 1;
            return answer(e);
        }
        let v1 = path.strip_prefix(PRIVATE_PREFIX).unwrap_or(path);
        let is_order = req.method == "POST" && (v1 == ORDER_PATH || v1 == CANCEL_PATH);
        if is_order {
            match self.faults.before_order() {
                Some(BeforeOrder::Order429) => {
                    self.rate_limited += 1;
                    return answer(err(429, "ERR-5003", "The API usage limits are exceeded."));
                }
                Some(BeforeOrder::Order500) => {
                    return answer((
                        500,
                        json!({"status": 5, "messages": [{"message_code": "ERR-5201", "message_string": "MAINTENANCE"}]}),
                    ))
                }
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
            "unanswered_requests": self.unanswered,
            "auth_failures": self.auth_failures,
            "key_rotations": self.keys.rotations(),
            "keys": self.keys.state(),
            "rate_limited": self.rate_limited,
            "dropped_fills": self.dropped_fills,
            "tokens": self.tokens.len(),
            "ws_connections": self.ws.len(),
            "maker_fee_cbps": self.engine.maker_fee,
            "taker_fee_cbps": self.engine.taker_fee,
        }))
    }
}
