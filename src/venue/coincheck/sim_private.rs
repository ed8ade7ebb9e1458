//! The simulator's Coincheck private REST API (`obi-scalp sim --venue coincheck --account
//! FILE`): the protocol over the simulator's [`Engine`] for spot `btc_jpy`.
//!
//! Checked against the venue's documentation (coincheck.com/ja/documents/exchange/api, the
//! "認証" section, through the search index, 2026-12-03): headers `ACCESS-KEY`, `ACCESS-NONCE`
//! (a positive integer that must increase on every request, at most 9223372036854775807,
//! kept per API key) and `ACCESS-SIGNATURE` = HMAC-SHA256 of nonce + request URL + body.
//! The error shape `{"success":false,"error":"..."}` with `invalid authentication` and
//! `Nonce must be incremented` (HTTP 401) as ccxt's Coincheck error map and bitrinjani/r2#41
//! show them. The answer bodies follow the documentation's examples as ccxt quotes them (new
//! order, opens, transactions with `funds`/`fee_currency`/`liquidity`, transactions_pagination
//! with `pagination`/`data`, balance with `*_reserved`, cancel `{"success":true,"id":N}`).
//! NOT verified (no stored copy found): the HTTP statuses other than 401, the messages of
//! parameter, balance and not-found errors, cancel_status's shape, and what a crossing
//! `post_only` order does (here: accepted, then cancelled without trading). Coincheck has no
//! client order id, so a client that lost an answer finds its order through `opens`.
//!
//! The signed URL is `scheme://Host + target` (the request's own `Host` header; the scheme is
//! the one the simulator serves). A request whose signature fails does not advance the nonce.
//! Every answer carries an HTTP `Date` from the venue's clock (which the `skew` fault moves
//! ahead): the drill reads the clock there, Coincheck documenting no time endpoint.
//! `read429` / `read500` answer signed GETs with HTTP 429 / 500 (the simulator's bodies).
//! Balances: `jpy`/`btc` are what is available, `*_reserved` what open orders hold (a buy
//! holds rate × amount, a sell its amount); a place beyond what is available is refused.

use crate::instrument::Instrument;
use crate::msg::{Cbps, Money, OrderSide, Tif, MONEY_PER_TICK_LOT};
use crate::sim::private::keys::SimKeys;
use crate::sim::private::{
    AccountFile, BeforeOrder, Engine, Fate, HttpRequest, PendingFaults, PrivateApi, PrivateFault,
    Refusal, SimFill, SimOrder,
};
use crate::sim::{RestReply, Route, SimFeed};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::private::{
    money_from_decimal, money_to_decimal, BALANCE_PATH, CANCEL_STATUS_PATH, OPENS_PATH,
    ORDERS_PATH, TRANSACTIONS_PAGINATION_PATH, TRANSACTIONS_PATH,
};

/// Default fees for `btc_jpy` (maker 0 %, taker 0 %, as ccxt lists them); an account file may
/// set others.
pub const DEFAULT_MAKER_CBPS: Cbps = 0;
pub const DEFAULT_TAKER_CBPS: Cbps = 0;

/// The Coincheck private API of one simulated account.
pub struct CoincheckPrivate {
    engine: Engine,
    keys: SimKeys,
    scheme: &'static str,
    base: String,
    quote: String,
    start_base_lots: i64,
    start_quote: Money,
    last_nonce: u64,
    faults: PendingFaults,
    pub unanswered: u64,
    pub auth_failures: u64,
    scratch: Vec<crate::sim::private::Change>,
    /// Fills the `dropfill` fault leaves out of `transactions_pagination` (the listing the
    /// client polls; `transactions` still has them), and how many fills were looked at.
    hidden: std::collections::BTreeSet<u64>,
    seen_fills: usize,
}

fn err(status: u16, error: &str) -> (u16, Value) {
    (status, json!({"success": false, "error": error}))
}

/// `2015-01-10T05:55:38.000Z` from Unix milliseconds.
fn iso_ms(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let s = crate::ops::rfc3339(t);
    format!("{}Z", &s[..23])
}

impl CoincheckPrivate {
    /// The private API for `account` trading the spot instrument `inst` (`btc_jpy`), served
    /// over `scheme` (`https` or `http`: the signed URL's scheme).
    pub fn new(
        account: &AccountFile,
        inst: Instrument,
        scheme: &'static str,
    ) -> Result<CoincheckPrivate, String> {
        let fee = |v: &Option<String>, name: &str, d: Cbps| match v {
            Some(s) => crate::sim::private::parse_bps(s, name),
            None => Ok(d),
        };
        let maker = fee(&account.maker_fee_bps, "maker_fee_bps", DEFAULT_MAKER_CBPS)?;
        let taker = fee(&account.taker_fee_bps, "taker_fee_bps", DEFAULT_TAKER_CBPS)?;
        let pair = inst.key.symbol.as_str();
        let (base, quote) = pair
            .split_once('_')
            .ok_or_else(|| format!("pair '{pair}' is not BASE_QUOTE"))?;
        if let Some(k) = account
            .balances
            .keys()
            .find(|k| !k.eq_ignore_ascii_case(base) && !k.eq_ignore_ascii_case(quote))
        {
            return Err(format!(
                "balances.{k}: only {base} and {quote} are traded here"
            ));
        }
        if !account.positions.is_empty() {
            return Err("positions: Coincheck spot has balances, not positions".into());
        }
        let get = |c: &str| {
            account
                .balances
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(c))
                .map(|(_, v)| v.as_str())
        };
        let start_base_lots = match get(base) {
            Some(v) => inst
                .lot
                .parse(v.as_bytes())
                .map_err(|e| format!("balances.{base} = \"{v}\": {e}"))?,
            None => 0,
        };
        let start_quote = match get(quote) {
            Some(v) => money_from_decimal(v, inst.tick, inst.lot)
                .map_err(|e| format!("balances.{quote}: {e}"))?,
            None => 0,
        };
        Ok(CoincheckPrivate {
            engine: Engine::new(inst, maker, taker, 0),
            keys: SimKeys::new(&account.api_key, &account.api_secret),
            scheme,
            base: base.to_string(),
            quote: quote.to_string(),
            start_base_lots,
            start_quote,
            last_nonce: 0,
            faults: PendingFaults::default(),
            unanswered: 0,
            auth_failures: 0,
            scratch: Vec::new(),
            hidden: std::collections::BTreeSet::new(),
            seen_fills: 0,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// (available base lots, reserved base lots, available quote, reserved quote).
    pub fn balances(&self) -> (i64, i64, Money, Money) {
        let (mut rb, mut rq) = (0i64, 0 as Money);
        for o in self.engine.orders().iter().filter(|o| o.status.is_open()) {
            match o.side {
                OrderSide::Sell => rb += o.leaves(),
                OrderSide::Buy => rq += o.px as i128 * o.leaves() as i128 * MONEY_PER_TICK_LOT,
            }
        }
        let base = self.start_base_lots + self.engine.position() - rb;
        let quote = self.start_quote + self.engine.cash() + self.engine.wallet_adjust() - rq;
        (base, rb, quote, rq)
    }

    /// `POST /sim/wallet` (the simulator's own hook, no auth, like `/sim/state`): the quote
    /// balance changes behind the client's back by `{"coin":"jpy","delta":"-500"}`, or the base
    /// balance by `{"coin":"btc","delta":"0.005"}` (a deposit, a withdrawal, a trade in the web
    /// UI; no fill, no order). `POST /sim/position` with `{"delta":"0.005"}` is the base balance's
    /// change too (spot: the position is the base balance).
    fn adjust(&mut self, path: &str, body: &[u8]) -> Result<Value, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
        let inst = self.engine.inst;
        let coin = match path {
            crate::venue::bybit::sim_private::SIM_POSITION_PATH => self.base.clone(),
            _ => v
                .get("coin")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase(),
        };
        let d = v
            .get("delta")
            .and_then(Value::as_str)
            .ok_or("delta: a decimal string")?;
        let neg = d.starts_with('-');
        let abs = d.trim_start_matches('-');
        if coin == self.quote {
            let m = money_from_decimal(abs, inst.tick, inst.lot)
                .map_err(|e| format!("delta \"{d}\": {e}"))?;
            self.engine.adjust_wallet(if neg { -m } else { m });
        } else if coin == self.base {
            let lots = inst
                .lot
                .parse(abs.as_bytes())
                .map_err(|e| format!("delta \"{d}\": {e}"))?;
            self.engine.adjust_position(if neg { -lots } else { lots });
        } else {
            return Err(format!("coin: {} or {}", self.quote, self.base));
        }
        let (b, _, q, _) = self.balances();
        Ok(
            json!({"success": true, self.base.as_str(): inst.lot.format(b), self.quote.as_str(): self.dec(q)}),
        )
    }

    /// Fills made since the last look meet the `dropfill` fault.
    fn look_at_fills(&mut self) {
        while self.seen_fills < self.engine.fills().len() {
            let id = self.engine.fills()[self.seen_fills].exec_id;
            self.seen_fills += 1;
            if self.faults.drop_fill() {
                self.hidden.insert(id);
            }
        }
    }

    fn dec(&self, m: Money) -> String {
        let i = &self.engine.inst;
        money_to_decimal(m, i.tick, i.lot)
    }

    fn authenticate(&mut self, req: &HttpRequest<'_>) -> Result<(), (u16, Value)> {
        let bad = || err(401, "invalid authentication");
        let key = req.header("ACCESS-KEY").unwrap_or("");
        if self.keys.find(key).is_none() {
            return Err(bad());
        }
        let nonce_s = req.header("ACCESS-NONCE").unwrap_or("");
        let nonce = match nonce_s.parse::<u64>() {
            Ok(n) if n > 0 && n <= i64::MAX as u64 && !nonce_s.starts_with('+') => n,
            _ => return Err(bad()),
        };
        let host = req.header("Host").unwrap_or("");
        let sig = req.header("ACCESS-SIGNATURE").unwrap_or("");
        let parts: [&[u8]; 5] = [
            nonce_s.as_bytes(),
            self.scheme.as_bytes(),
            b"://",
            host.as_bytes(),
            req.target.as_bytes(),
        ];
        let mut msg = Vec::new();
        for p in parts {
            msg.extend_from_slice(p);
        }
        if !self.keys.verify(key, &[&msg, req.body], sig.as_bytes()) {
            return Err(bad());
        }
        if nonce <= self.last_nonce {
            return Err(err(401, "Nonce must be incremented"));
        }
        self.last_nonce = nonce;
        Ok(())
    }

    fn order_json(&self, o: &SimOrder) -> Value {
        let inst = &self.engine.inst;
        json!({
            "id": o.order_id,
            "order_type": match o.side { OrderSide::Buy => "buy", OrderSide::Sell => "sell" },
            "rate": inst.tick.format(o.px),
            "pair": inst.key.symbol.as_str(),
            "pending_amount": inst.lot.format(o.leaves()),
            "pending_market_buy_amount": null,
            "stop_loss_rate": null,
            "created_at": iso_ms(o.created_ms),
        })
    }

    fn fill_json(&self, f: &SimFill) -> Value {
        let inst = &self.engine.inst;
        let side = self
            .engine
            .find_id(f.order_id)
            .map_or(OrderSide::Buy, |o| o.side);
        let value = f.px as i128 * f.qty as i128 * MONEY_PER_TICK_LOT;
        let (btc, jpy) = match side {
            OrderSide::Buy => (f.qty, -value - f.fee),
            OrderSide::Sell => (-f.qty, value - f.fee),
        };
        let mut funds = serde_json::Map::new();
        funds.insert(self.base.clone(), json!(inst.lot.format(btc)));
        funds.insert(self.quote.clone(), json!(self.dec(jpy)));
        json!({
            "id": f.exec_id,
            "order_id": f.order_id,
            "created_at": iso_ms(f.ts_ms),
            "funds": funds,
            "pair": inst.key.symbol.as_str(),
            "rate": inst.tick.format(f.px),
            "fee_currency": self.quote.to_ascii_uppercase(),
            "fee": self.dec(f.fee),
            "liquidity": if f.maker { "M" } else { "T" },
            "side": match side { OrderSide::Buy => "buy", OrderSide::Sell => "sell" },
        })
    }

    fn create(&mut self, body: &Value, now_ms: u64) -> (u16, Value) {
        let inst = self.engine.inst;
        let s = |k: &str| match body.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if s("pair").as_deref() != Some(inst.key.symbol.as_str()) {
            return err(400, "pair is invalid");
        }
        let order_type = s("order_type").unwrap_or_default();
        let tif = match s("time_in_force").as_deref() {
            None | Some("good_til_cancelled") => Tif::Gtc,
            Some("post_only") => Tif::PostOnly,
            Some(_) => return err(400, "time_in_force is invalid"),
        };
        let lots = |k: &str| s(k).and_then(|v| inst.lot.parse(v.as_bytes()).ok());
        let (side, px, qty, tif) = match order_type.as_str() {
            "buy" | "sell" => {
                let Some(px) = s("rate").and_then(|v| inst.tick.parse(v.as_bytes()).ok()) else {
                    return err(400, "rate is invalid");
                };
                let Some(qty) = lots("amount") else {
                    return err(400, "amount is invalid");
                };
                let side = if order_type == "buy" {
                    OrderSide::Buy
                } else {
                    OrderSide::Sell
                };
                (side, px, qty, tif)
            }
            "market_sell" => {
                let Some(qty) = lots("amount") else {
                    return err(400, "amount is invalid");
                };
                (OrderSide::Sell, 1, qty, Tif::Ioc)
            }
            "market_buy" => {
                let Some(budget) = s("market_buy_amount")
                    .and_then(|v| money_from_decimal(&v, inst.tick, inst.lot).ok())
                else {
                    return err(400, "market_buy_amount is invalid");
                };
                if budget > self.balances().2 {
                    return err(400, "Insufficient balance");
                }
                // Walk the asks: the lots the JPY amount buys, the worst price reached.
                let (mut left, mut qty, mut px) = (budget, 0i64, 0i64);
                for &(p, q) in self.engine.asks() {
                    let per =
                        p as i128 * (MONEY_PER_TICK_LOT + self.engine.taker_fee.max(0) as i128);
                    let n = (left / per).min(q as i128) as i64;
                    if n == 0 {
                        break;
                    }
                    left -= per * n as i128;
                    qty += n;
                    px = p;
                }
                if qty == 0 {
                    return err(400, "Amount is too small");
                }
                (OrderSide::Buy, px, qty, Tif::Ioc)
            }
            _ => return err(400, "order_type is invalid"),
        };
        if qty <= 0 || px <= 0 {
            return err(400, "amount is invalid");
        }
        let (base, _, quote, _) = self.balances();
        let need_quote =
            px as i128 * qty as i128 * (MONEY_PER_TICK_LOT + self.engine.taker_fee.max(0) as i128);
        let short = match side {
            OrderSide::Buy => order_type == "buy" && need_quote > quote,
            OrderSide::Sell => qty > base,
        };
        if short {
            return err(400, "Insufficient balance");
        }
        let placed = self.engine.place("", side, px, qty, tif, false, now_ms);
        let i = match placed {
            Ok(i) => i,
            Err(Refusal::PostOnlyWouldCross) => self.engine.orders().len() - 1,
            Err(Refusal::Fault) => return err(400, "Insufficient balance"),
            Err(_) => return err(400, "amount is invalid"),
        };
        let o = &self.engine.orders()[i];
        let market = order_type.starts_with("market");
        (
            200,
            json!({
                "success": true,
                "id": o.order_id,
                "rate": if market { Value::Null } else { json!(inst.tick.format(o.px)) },
                "amount": if order_type == "market_buy" { Value::Null } else { json!(inst.lot.format(o.qty)) },
                "order_type": order_type,
                "time_in_force": if tif == Tif::PostOnly { "post_only" } else { "good_til_cancelled" },
                "stop_loss_rate": null,
                "pair": inst.key.symbol.as_str(),
                "created_at": iso_ms(o.created_ms),
            }),
        )
    }

    fn fills_desc(&self) -> impl Iterator<Item = &SimFill> {
        self.engine.fills().iter().rev()
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
        match (req.method, path) {
            ("POST", ORDERS_PATH) => match serde_json::from_slice::<Value>(req.body) {
                Ok(body) => self.create(&body, now_ms),
                Err(_) => err(400, "body is not JSON"),
            },
            ("DELETE", p) if p.starts_with("/api/exchange/orders/") => {
                let id = p["/api/exchange/orders/".len()..].parse::<u64>().ok();
                match id.and_then(|id| self.engine.index_of_id(id)) {
                    Some(i) if self.engine.cancel(i, now_ms) => (
                        200,
                        json!({"success": true, "id": self.engine.orders()[i].order_id}),
                    ),
                    _ => err(404, "The order doesn't exist."),
                }
            }
            ("GET", OPENS_PATH) => {
                let orders: Vec<Value> = self
                    .engine
                    .orders()
                    .iter()
                    .filter(|o| o.status.is_open())
                    .map(|o| self.order_json(o))
                    .collect();
                (200, json!({"success": true, "orders": orders}))
            }
            ("GET", CANCEL_STATUS_PATH) => {
                let o = q
                    .get("id")
                    .and_then(|id| id.parse().ok())
                    .and_then(|id| self.engine.find_id(id));
                match o {
                    Some(o) => (
                        200,
                        json!({"success": true, "id": o.order_id,
                               "cancel": o.status == crate::sim::private::Status::Cancelled,
                               "created_at": iso_ms(o.created_ms)}),
                    ),
                    None => err(404, "The order doesn't exist."),
                }
            }
            ("GET", TRANSACTIONS_PATH) => {
                let list: Vec<Value> = self.fills_desc().map(|f| self.fill_json(f)).collect();
                (200, json!({"success": true, "transactions": list}))
            }
            ("GET", TRANSACTIONS_PAGINATION_PATH) => {
                let limit = q
                    .get("limit")
                    .and_then(|l| l.parse::<usize>().ok())
                    .unwrap_or(25)
                    .clamp(1, 100);
                let asc = q.get("order") == Some(&"asc");
                let after: Option<u64> = q.get("starting_after").and_then(|v| v.parse().ok());
                let before: Option<u64> = q.get("ending_before").and_then(|v| v.parse().ok());
                let mut all: Vec<&SimFill> = self
                    .fills_desc()
                    .filter(|f| !self.hidden.contains(&f.exec_id))
                    .collect();
                if asc {
                    all.reverse();
                }
                // starting_after: the page after that id in this order; ending_before: before.
                let list: Vec<Value> = all
                    .into_iter()
                    .filter(|f| match (after, asc) {
                        (Some(a), false) => f.exec_id < a,
                        (Some(a), true) => f.exec_id > a,
                        (None, _) => true,
                    })
                    .filter(|f| match (before, asc) {
                        (Some(b), false) => f.exec_id > b,
                        (Some(b), true) => f.exec_id < b,
                        (None, _) => true,
                    })
                    .take(limit)
                    .map(|f| self.fill_json(f))
                    .collect();
                (
                    200,
                    json!({"success": true,
                           "pagination": {"limit": limit, "order": if asc { "asc" } else { "desc" },
                                          "starting_after": after, "ending_before": before},
                           "data": list}),
                )
            }
            ("GET", BALANCE_PATH) => {
                let inst = &self.engine.inst;
                let (b, rb, jq, rq) = self.balances();
                let mut m = serde_json::Map::new();
                m.insert("success".into(), json!(true));
                m.insert(self.quote.clone(), json!(self.dec(jq)));
                m.insert(self.base.clone(), json!(inst.lot.format(b)));
                m.insert(format!("{}_reserved", self.quote), json!(self.dec(rq)));
                m.insert(
                    format!("{}_reserved", self.base),
                    json!(inst.lot.format(rb)),
                );
                for c in [&self.quote, &self.base] {
                    for k in ["lend_in_use", "lent", "debt"] {
                        m.insert(format!("{c}_{k}"), json!("0"));
                    }
                }
                (200, Value::Object(m))
            }
            _ => err(404, "Not found"),
        }
    }
}

impl PrivateApi for CoincheckPrivate {
    fn ws_routes(&self) -> &[Route] {
        &[]
    }

    fn handles(&self, path: &str) -> bool {
        path == "/sim/state"
            || path == crate::venue::bybit::sim_private::SIM_WALLET_PATH
            || path == crate::venue::bybit::sim_private::SIM_POSITION_PATH
            || path == crate::venue::bybit::sim_private::SIM_ROTATE_PATH
            || path == ORDERS_PATH
            || path.starts_with("/api/exchange/orders/")
            || path.starts_with("/api/accounts")
    }

    fn rest(&mut self, req: &HttpRequest<'_>, now_ms: u64) -> Fate {
        let (path, query) = req.target.split_once('?').unwrap_or((req.target, ""));
        let date = crate::venue::drill::http_date(self.faults.venue_ms(now_ms));
        let answer = |(status, v): (u16, Value)| Fate::Answer {
            reply: RestReply {
                status,
                body: v.to_string(),
            },
            headers: vec![("Date".to_string(), date.clone())],
        };
        if path == "/sim/state" {
            return answer((200, self.state()));
        }
        if req.method == "POST"
            && matches!(
                path,
                crate::venue::bybit::sim_private::SIM_WALLET_PATH
                    | crate::venue::bybit::sim_private::SIM_POSITION_PATH
            )
        {
            return answer(match self.adjust(path, req.body) {
                Ok(v) => (200, v),
                Err(e) => err(400, &e),
            });
        }
        if req.method == "POST" && path == crate::venue::bybit::sim_private::SIM_ROTATE_PATH {
            return answer(match self.keys.rotate(req.body) {
                Ok(v) => (200, v),
                Err(e) => err(400, &e),
            });
        }
        if let Err(e) = self.authenticate(req) {
            self.auth_failures += 1;
            return answer(e);
        }
        if req.method == "GET" {
            match self.faults.before_read() {
                Some(BeforeOrder::Order429) => return answer(err(429, "too many requests")),
                Some(_) => return answer(err(500, "internal server error")),
                None => {}
            }
        }
        let is_order = matches!(req.method, "POST" | "DELETE");
        if is_order {
            match self.faults.before_order() {
                Some(BeforeOrder::Order429) => return answer(err(429, "too many requests")),
                Some(BeforeOrder::Order500) => return answer(err(500, "internal server error")),
                Some(BeforeOrder::Timeout) => {
                    self.unanswered += 1;
                    return Fate::NoAnswer;
                }
                None => {}
            }
        }
        self.look_at_fills();
        let out = self.route(req, path, query, now_ms);
        self.look_at_fills();
        if is_order && self.faults.lose_ack() {
            self.unanswered += 1;
            return Fate::NoAnswer;
        }
        answer(out)
    }

    fn on_ws_frame(&mut self, _conn: u64, _text: &str, _now_ms: u64) -> Vec<String> {
        Vec::new()
    }

    fn ws_closed(&mut self, _conn: u64) {}

    fn on_market(&mut self, feed: &dyn SimFeed, now_ms: u64) {
        if let Some((bids, asks)) = feed.book(self.engine.inst.key.symbol.as_str()) {
            self.engine.on_book(&bids, &asks, now_ms);
        }
        self.look_at_fills();
    }

    fn drain_stream(&mut self, _now_ms: u64, _out: &mut Vec<(u64, String)>) {
        // No private stream served (yet): the changes are dropped so they do not pile up.
        self.engine.take_changes(&mut self.scratch);
        self.scratch.clear();
    }

    fn fault(&mut self, f: PrivateFault) {
        self.faults.arm(f, &mut self.engine)
    }

    fn state(&self) -> Value {
        let inst = &self.engine.inst;
        let (b, rb, q, rq) = self.balances();
        self.engine.state_json(json!({
            "name": "coincheck",
            "start_balance": {
                self.base.as_str(): inst.lot.format(self.start_base_lots),
                self.quote.as_str(): self.dec(self.start_quote),
            },
            "balance": {
                self.base.as_str(): inst.lot.format(b),
                format!("{}_reserved", self.base): inst.lot.format(rb),
                self.quote.as_str(): self.dec(q),
                format!("{}_reserved", self.quote): self.dec(rq),
            },
            "balance_lots": {"available": b, "reserved": rb},
            "balance_money": {"available": q.to_string(), "reserved": rq.to_string()},
            "unanswered_requests": self.unanswered,
            "hidden_fills": self.hidden.len(),
            "auth_failures": self.auth_failures,
            "key_rotations": self.keys.rotations(),
            "keys": self.keys.state(),
            "last_nonce": self.last_nonce,
            "maker_fee_cbps": self.engine.maker_fee,
            "taker_fee_cbps": self.engine.taker_fee,
        }))
    }
}
