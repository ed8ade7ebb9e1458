//! Coincheck private REST requests, built and signed in one pre-sized buffer.
//!
//! Signing (docs/VENUES.md §2.4, from the venue's API documentation "auth" section as cited by
//! client libraries): headers `ACCESS-KEY`, `ACCESS-NONCE` and `ACCESS-SIGNATURE` = lowercase
//! hex HMAC-SHA256 of `nonce + full_request_url + body`; the nonce increases strictly on every
//! request for that key. [`CoincheckRequests`] keeps the nonce: it is the larger of the
//! wall-clock milliseconds and the last nonce + 1, so two requests in one millisecond, or a
//! clock that steps back, still send increasing nonces.
//!
//! As for Bybit, the body is written at a fixed offset and signed where it lies, and the head
//! is written just before it: the signed body bytes are the sent bytes. The URL that is signed
//! is `base_url + path` (`https://coincheck.com/api/exchange/orders`); the request line carries
//! the path.

use crate::exec::sign::{Cursor, Signer, SIG_HEX_LEN};
use crate::msg::{Money, OrderSide, Tif};
use crate::num::Scale;
use arrayvec::ArrayString;
use serde_json::Value;
use std::fmt::{self, Write as _};

/// Place an order.
pub const ORDERS_PATH: &str = "/api/exchange/orders";
/// Open orders.
pub const OPENS_PATH: &str = "/api/exchange/orders/opens";
/// Our fills.
pub const TRANSACTIONS_PATH: &str = "/api/exchange/orders/transactions";
/// Our fills, paginated (`limit`, `order`, `starting_after`, `ending_before`).
pub const TRANSACTIONS_PAGINATION_PATH: &str = "/api/exchange/orders/transactions_pagination";
/// Whether an order was cancelled (`?id=N`).
pub const CANCEL_STATUS_PATH: &str = "/api/exchange/orders/cancel_status";
/// Balances.
pub const BALANCE_PATH: &str = "/api/accounts/balance";

const HEAD_MAX: usize = 640;
const BODY_MAX: usize = 512;

/// One built request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    buf: &'a [u8],
    start: usize,
    body: (usize, usize),
    pub nonce: u64,
    pub signature: [u8; SIG_HEX_LEN],
}

impl<'a> Request<'a> {
    pub fn bytes(&self) -> &'a [u8] {
        &self.buf[self.start..]
    }

    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.body.0..self.body.1]
    }
}

/// A request did not fit its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// Builds and signs one account's requests for one pair.
pub struct CoincheckRequests {
    /// `https://coincheck.com` (or the simulator's base): the signed URL's prefix.
    base_url: ArrayString<128>,
    host: ArrayString<128>,
    api_key: ArrayString<64>,
    signer: Signer,
    pair: ArrayString<24>,
    tick: Scale,
    lot: Scale,
    last_nonce: u64,
    buf: Box<[u8]>,
    head: Box<[u8]>,
}

impl fmt::Debug for CoincheckRequests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoincheckRequests")
            .field("base_url", &self.base_url)
            .field("pair", &self.pair)
            .finish_non_exhaustive()
    }
}

fn arr<const N: usize>(s: &str, what: &str) -> Result<ArrayString<N>, String> {
    ArrayString::from(s).map_err(|_| format!("{what} '{s}' is longer than {N} bytes"))
}

impl CoincheckRequests {
    /// Requests to `base_url` (`https://coincheck.com`) for `pair` (`btc_jpy`).
    pub fn new(
        base_url: &str,
        api_key: &str,
        secret: &[u8],
        pair: &str,
        tick: Scale,
        lot: Scale,
    ) -> Result<CoincheckRequests, String> {
        let host = base_url
            .split_once("://")
            .map_or(base_url, |(_, h)| h)
            .trim_end_matches('/');
        Ok(CoincheckRequests {
            base_url: arr(base_url.trim_end_matches('/'), "base URL")?,
            host: arr(host, "host")?,
            api_key: arr(api_key, "api_key")?,
            signer: Signer::new(secret),
            pair: arr(pair, "pair")?,
            tick,
            lot,
            last_nonce: 0,
            buf: vec![0u8; HEAD_MAX + BODY_MAX].into_boxed_slice(),
            head: vec![0u8; HEAD_MAX].into_boxed_slice(),
        })
    }

    /// New credentials (a SIGHUP reload), used from the next request built: the key is copied
    /// into the pre-sized field and the HMAC key expanded in place (no allocation). A key longer
    /// than the field is refused and the old pair kept (the message names no value).
    pub fn set_credentials(&mut self, api_key: &str, secret: &[u8]) -> Result<(), String> {
        self.api_key = ArrayString::from(api_key)
            .map_err(|_| "api_key is longer than 64 characters".to_string())?;
        self.signer = Signer::new(secret);
        Ok(())
    }

    /// The next nonce at wall time `now_ms`: strictly above every nonce sent before.
    pub fn next_nonce(&mut self, now_ms: u64) -> u64 {
        self.last_nonce = now_ms.max(self.last_nonce + 1);
        self.last_nonce
    }

    /// `POST /api/exchange/orders`: a limit order (`post_only` for a post-only one).
    pub fn create(
        &mut self,
        now_ms: u64,
        side: OrderSide,
        px_ticks: i64,
        qty_lots: i64,
        tif: Tif,
    ) -> Result<Request<'_>, TooLong> {
        let (pair, tick, lot) = (self.pair, self.tick, self.lot);
        let order_type = match side {
            OrderSide::Buy => "buy",
            OrderSide::Sell => "sell",
        };
        self.build(now_ms, "POST", ORDERS_PATH, None, |w| {
            write!(
                w,
                r#"{{"pair":"{pair}","order_type":"{order_type}","rate":""#
            )?;
            tick.write(px_ticks, w)?;
            w.write_str(r#"","amount":""#)?;
            lot.write(qty_lots, w)?;
            w.write_str("\"")?;
            match tif {
                Tif::PostOnly => w.write_str(r#","time_in_force":"post_only""#)?,
                Tif::Ioc => w.write_str(r#","time_in_force":"immediate_or_cancel""#)?,
                Tif::Gtc => {}
            }
            w.write_str("}")
        })
    }

    /// `POST /api/exchange/orders` with `order_type` `market_buy`: spend `jpy` whole units of
    /// the quote currency (`market_buy_amount`).
    pub fn market_buy(&mut self, now_ms: u64, jpy: i64) -> Result<Request<'_>, TooLong> {
        let pair = self.pair;
        self.build(now_ms, "POST", ORDERS_PATH, None, |w| {
            write!(
                w,
                r#"{{"pair":"{pair}","order_type":"market_buy","market_buy_amount":"{jpy}"}}"#
            )
        })
    }

    /// `POST /api/exchange/orders` with `order_type` `market_sell` of `qty_lots`.
    pub fn market_sell(&mut self, now_ms: u64, qty_lots: i64) -> Result<Request<'_>, TooLong> {
        let (pair, lot) = (self.pair, self.lot);
        self.build(now_ms, "POST", ORDERS_PATH, None, |w| {
            write!(
                w,
                r#"{{"pair":"{pair}","order_type":"market_sell","amount":""#
            )?;
            lot.write(qty_lots, w)?;
            w.write_str("\"}")
        })
    }

    /// `DELETE /api/exchange/orders/{id}` (the venue's order id).
    pub fn cancel(&mut self, now_ms: u64, order_id: u64) -> Result<Request<'_>, TooLong> {
        self.build(now_ms, "DELETE", ORDERS_PATH, Some(order_id), |_| Ok(()))
    }

    /// `GET` of a path without a body (opens, transactions, balance).
    pub fn get(&mut self, now_ms: u64, path: &'static str) -> Result<Request<'_>, TooLong> {
        self.build(now_ms, "GET", path, None, |_| Ok(()))
    }

    /// `GET /api/exchange/orders/cancel_status?id={id}`.
    pub fn cancel_status(&mut self, now_ms: u64, order_id: u64) -> Result<Request<'_>, TooLong> {
        let mut q = ArrayString::<32>::new();
        let _ = write!(q, "?id={order_id}");
        self.build_q(now_ms, "GET", CANCEL_STATUS_PATH, None, &q, |_| Ok(()))
    }

    /// `GET /api/exchange/orders/transactions_pagination?limit={limit}` (newest first), and
    /// `&starting_after={id}` when given (the fills older than `id`).
    pub fn transactions_page(
        &mut self,
        now_ms: u64,
        limit: u32,
        starting_after: Option<u64>,
    ) -> Result<Request<'_>, TooLong> {
        let mut q = ArrayString::<64>::new();
        let _ = write!(q, "?limit={limit}&order=desc");
        if let Some(id) = starting_after {
            let _ = write!(q, "&starting_after={id}");
        }
        self.build_q(
            now_ms,
            "GET",
            TRANSACTIONS_PAGINATION_PATH,
            None,
            &q,
            |_| Ok(()),
        )
    }

    fn build(
        &mut self,
        now_ms: u64,
        method: &str,
        path: &str,
        id: Option<u64>,
        body: impl FnOnce(&mut Cursor<'_>) -> fmt::Result,
    ) -> Result<Request<'_>, TooLong> {
        self.build_q(now_ms, method, path, id, "", body)
    }

    /// Builds a request; `query` (`?a=b`, or empty) follows the path in the request line and
    /// in the signed URL.
    fn build_q(
        &mut self,
        now_ms: u64,
        method: &str,
        path: &str,
        id: Option<u64>,
        query: &str,
        body: impl FnOnce(&mut Cursor<'_>) -> fmt::Result,
    ) -> Result<Request<'_>, TooLong> {
        let mut w = Cursor::new(&mut self.buf[HEAD_MAX..]);
        body(&mut w).map_err(|_| TooLong)?;
        let n = w.len;
        let nonce = self.next_nonce(now_ms);
        let mut nonce_s = ArrayString::<20>::new();
        let _ = write!(nonce_s, "{nonce}");
        let mut id_s = ArrayString::<21>::new();
        if let Some(id) = id {
            let _ = write!(id_s, "/{id}");
        }
        let mut sig = [0u8; SIG_HEX_LEN];
        self.signer.sign_hex(
            &[
                nonce_s.as_bytes(),
                self.base_url.as_bytes(),
                path.as_bytes(),
                id_s.as_bytes(),
                query.as_bytes(),
                &self.buf[HEAD_MAX..HEAD_MAX + n],
            ],
            &mut sig,
        );
        let sig_s = std::str::from_utf8(&sig).map_err(|_| TooLong)?;
        let mut h = Cursor::new(&mut self.head);
        write!(
            h,
            "{method} {path}{id_s}{query} HTTP/1.1\r\nHost: {}\r\nACCESS-KEY: {}\r\nACCESS-NONCE: {nonce_s}\r\n\
             ACCESS-SIGNATURE: {sig_s}\r\n",
            self.host, self.api_key
        )
        .map_err(|_| TooLong)?;
        if n > 0 {
            write!(h, "Content-Type: application/json\r\n").map_err(|_| TooLong)?;
        }
        write!(h, "Content-Length: {n}\r\n\r\n").map_err(|_| TooLong)?;
        let hl = h.len;
        let start = HEAD_MAX - hl;
        self.buf[start..HEAD_MAX].copy_from_slice(&self.head[..hl]);
        Ok(Request {
            buf: &self.buf[..HEAD_MAX + n],
            start,
            body: (HEAD_MAX, HEAD_MAX + n),
            nonce,
            signature: sig,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Answers (cold path: parsed with serde_json when they arrive, not on the order thread's
// building path).

/// Coincheck's error answer: `{"success":false,"error":"..."}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueError {
    pub status: u16,
    pub error: String,
}

impl VenueError {
    /// `invalid authentication`, `disabled API Key`, a stale nonce, or HTTP 401: the key,
    /// secret or nonce is wrong (exit code 4 at start-up, a risk abort while running).
    pub fn is_auth(&self) -> bool {
        self.status == 401
            || self.error == "invalid authentication"
            || self.error == "disabled API Key"
            || self.is_stale_nonce()
    }

    /// `Nonce must be incremented`.
    pub fn is_stale_nonce(&self) -> bool {
        self.error == "Nonce must be incremented"
    }

    /// HTTP 429: back off.
    pub fn is_rate_limited(&self) -> bool {
        self.status == 429
    }
}

/// Why an answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The venue said no.
    Venue(VenueError),
    /// The answer is not what the documentation describes (the field is named).
    Malformed(String),
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Venue(e) => write!(f, "coincheck HTTP {}: {}", e.status, e.error),
            AnswerError::Malformed(m) => write!(f, "coincheck answer malformed: {m}"),
        }
    }
}

/// `POST /api/exchange/orders` accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAck {
    pub id: u64,
    /// `buy`, `sell`, `market_buy`, `market_sell`.
    pub order_type: String,
    /// Limit price in ticks (`None` for market orders: `rate` is null).
    pub rate_ticks: Option<i64>,
    /// Size in lots (`None` for a market buy, which has a JPY amount).
    pub amount_lots: Option<i64>,
}

/// One entry of `GET /api/exchange/orders/opens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    pub id: u64,
    pub side: OrderSide,
    pub rate_ticks: i64,
    /// Size not yet filled.
    pub pending_lots: i64,
}

/// One of our fills (`transactions`, `transactions_pagination`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: u64,
    pub order_id: u64,
    pub side: OrderSide,
    pub rate_ticks: i64,
    /// Size filled (positive).
    pub qty_lots: i64,
    /// Change of the quote currency, fee included (negative for a buy).
    pub quote_change: Money,
    /// Fee in the quote currency (`fee_currency` must be the quote).
    pub fee: Money,
    /// `liquidity` `M` (maker) or `T` (taker).
    pub maker: bool,
}

/// `GET /api/accounts/balance` for one pair's two currencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Available base (`btc`), in lots.
    pub base_lots: i64,
    /// Base held by open sell orders (`btc_reserved`), in lots.
    pub base_reserved_lots: i64,
    /// Available quote (`jpy`).
    pub quote: Money,
    /// Quote held by open buy orders (`jpy_reserved`).
    pub quote_reserved: Money,
}

/// Reads Coincheck's answers for one pair in exact units.
#[derive(Debug, Clone)]
pub struct Answers {
    tick: Scale,
    lot: Scale,
    base: String,
    quote: String,
}

fn malformed(what: impl Into<String>) -> AnswerError {
    AnswerError::Malformed(what.into())
}

/// A JSON string or number as text (Coincheck sends both: `"rate": 26890` and `"30010.0"`).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id_of(v: &Value, field: &str) -> Result<u64, AnswerError> {
    match v.get(field) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| malformed(format!("`{field}` is not an id")))
}

/// Exact [`Money`] from a decimal amount of the quote currency (`"-4096.135"`), for an
/// instrument whose tick and lot are `tick` and `lot`. Nothing is rounded: an amount finer
/// than one `Money` unit is an error.
pub fn money_from_decimal(s: &str, tick: Scale, lot: Scale) -> Result<Money, String> {
    let places = tick.decimals() as u32 + lot.decimals() as u32 + 6;
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !(frac.is_empty() || digits(frac)) || int.len() > 20 {
        return Err(format!("'{s}' is not a decimal amount"));
    }
    let (keep, extra) = frac.split_at(frac.len().min(places as usize));
    if extra.bytes().any(|b| b != b'0') {
        return Err(format!("'{s}' has more than {places} decimal places"));
    }
    let mut units: i128 = int.parse::<i128>().map_err(|e| format!("'{s}': {e}"))?;
    for b in keep.bytes() {
        units = units * 10 + (b - b'0') as i128;
    }
    units *= 10i128.pow(places - keep.len() as u32);
    let per = tick.step_units() as i128 * lot.step_units() as i128;
    if units % per != 0 {
        return Err(format!("'{s}' is not a whole number of money units"));
    }
    Ok(if neg { -units / per } else { units / per })
}

/// [`Money`] as a decimal of the quote currency, trailing zeros dropped (`"-4096.135"`).
pub fn money_to_decimal(m: Money, tick: Scale, lot: Scale) -> String {
    let places = tick.decimals() + lot.decimals() + 6;
    let units = m * tick.step_units() as i128 * lot.step_units() as i128;
    let mut s = String::new();
    let _ = crate::num::write_units_trimmed(units, places, 0, &mut s);
    s
}

impl Answers {
    /// Answers for `pair` (`btc_jpy`: base `btc`, quote `jpy`).
    pub fn new(pair: &str, tick: Scale, lot: Scale) -> Result<Answers, String> {
        let (base, quote) = pair
            .split_once('_')
            .ok_or_else(|| format!("pair '{pair}' is not BASE_QUOTE"))?;
        Ok(Answers {
            tick,
            lot,
            base: base.to_string(),
            quote: quote.to_string(),
        })
    }

    /// The JSON of a successful answer, or the venue's error.
    pub fn check(&self, status: u16, body: &[u8]) -> Result<Value, AnswerError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            if status >= 300 {
                AnswerError::Venue(VenueError {
                    status,
                    error: String::from_utf8_lossy(body).into_owned(),
                })
            } else {
                malformed(format!("not JSON: {e}"))
            }
        })?;
        let ok = v.get("success").and_then(Value::as_bool);
        if status >= 300 || ok != Some(true) {
            let error = v
                .get("error")
                .and_then(text_of)
                .unwrap_or_else(|| format!("no `error` in {v}"));
            return Err(AnswerError::Venue(VenueError { status, error }));
        }
        Ok(v)
    }

    fn ticks(&self, v: &Value, field: &str) -> Result<i64, AnswerError> {
        let t = v.get(field).and_then(text_of);
        t.as_deref()
            .and_then(|t| self.tick.parse(t.as_bytes()).ok())
            .ok_or_else(|| malformed(format!("`{field}` is not a price: {t:?}")))
    }

    fn lots(&self, v: &Value, field: &str) -> Result<i64, AnswerError> {
        let t = v.get(field).and_then(text_of);
        let t = t.as_deref().map(|t| t.trim_start_matches('-'));
        t.and_then(|t| self.lot.parse(t.as_bytes()).ok())
            .ok_or_else(|| malformed(format!("`{field}` is not a size: {t:?}")))
    }

    fn money(&self, v: &Value, field: &str) -> Result<Money, AnswerError> {
        let t = v
            .get(field)
            .and_then(text_of)
            .ok_or_else(|| malformed(format!("no `{field}`")))?;
        money_from_decimal(&t, self.tick, self.lot)
            .map_err(|e| malformed(format!("`{field}`: {e}")))
    }

    fn side(v: &Value, field: &str) -> Result<OrderSide, AnswerError> {
        match v.get(field).and_then(Value::as_str) {
            Some("buy") => Ok(OrderSide::Buy),
            Some("sell") => Ok(OrderSide::Sell),
            other => Err(malformed(format!("`{field}` is {other:?}"))),
        }
    }

    /// `POST /api/exchange/orders`.
    pub fn order(&self, status: u16, body: &[u8]) -> Result<OrderAck, AnswerError> {
        let v = self.check(status, body)?;
        let order_type = v
            .get("order_type")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("no `order_type`"))?
            .to_string();
        let rate_ticks = match v.get("rate") {
            None | Some(Value::Null) => None,
            Some(_) => Some(self.ticks(&v, "rate")?),
        };
        let amount_lots = match v.get("amount") {
            None | Some(Value::Null) => None,
            Some(_) => Some(self.lots(&v, "amount")?),
        };
        Ok(OrderAck {
            id: id_of(&v, "id")?,
            order_type,
            rate_ticks,
            amount_lots,
        })
    }

    /// `DELETE /api/exchange/orders/{id}`: the id cancelled.
    pub fn cancel(&self, status: u16, body: &[u8]) -> Result<u64, AnswerError> {
        id_of(&self.check(status, body)?, "id")
    }

    /// `GET /api/exchange/orders/cancel_status`: (id, whether it was cancelled).
    pub fn cancel_status(&self, status: u16, body: &[u8]) -> Result<(u64, bool), AnswerError> {
        let v = self.check(status, body)?;
        let c = v
            .get("cancel")
            .and_then(Value::as_bool)
            .ok_or_else(|| malformed("`cancel` is not a boolean"))?;
        Ok((id_of(&v, "id")?, c))
    }

    /// `GET /api/exchange/orders/opens` (limit orders of this pair; market orders and other
    /// pairs are left out).
    pub fn opens(&self, status: u16, body: &[u8]) -> Result<Vec<OpenOrder>, AnswerError> {
        let v = self.check(status, body)?;
        let list = v
            .get("orders")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("`orders` is not a list"))?;
        let pair = format!("{}_{}", self.base, self.quote);
        let mut out = Vec::with_capacity(list.len());
        for o in list {
            if o.get("pair").and_then(Value::as_str) != Some(pair.as_str()) {
                continue;
            }
            if matches!(o.get("rate"), None | Some(Value::Null)) {
                continue;
            }
            out.push(OpenOrder {
                id: id_of(o, "id")?,
                side: Self::side(o, "order_type")?,
                rate_ticks: self.ticks(o, "rate")?,
                pending_lots: self.lots(o, "pending_amount")?,
            });
        }
        Ok(out)
    }

    fn transaction(&self, t: &Value) -> Result<Transaction, AnswerError> {
        let funds = t.get("funds").ok_or_else(|| malformed("no `funds`"))?;
        let fee_currency = t.get("fee_currency").and_then(Value::as_str).unwrap_or("");
        if !fee_currency.eq_ignore_ascii_case(&self.quote) {
            return Err(malformed(format!(
                "`fee_currency` {fee_currency:?} is not the quote {}",
                self.quote
            )));
        }
        let maker = match t.get("liquidity").and_then(Value::as_str) {
            Some("M") => true,
            Some("T") => false,
            other => return Err(malformed(format!("`liquidity` is {other:?}"))),
        };
        Ok(Transaction {
            id: id_of(t, "id")?,
            order_id: id_of(t, "order_id")?,
            side: Self::side(t, "side")?,
            rate_ticks: self.ticks(t, "rate")?,
            qty_lots: self.lots(funds, &self.base)?,
            quote_change: self.money(funds, &self.quote)?,
            fee: self.money(t, "fee")?,
            maker,
        })
    }

    /// `GET /api/exchange/orders/transactions` (`transactions`) or
    /// `transactions_pagination` (`data`), newest first as the venue sends them.
    pub fn transactions(&self, status: u16, body: &[u8]) -> Result<Vec<Transaction>, AnswerError> {
        let v = self.check(status, body)?;
        let list = v
            .get("transactions")
            .or_else(|| v.get("data"))
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("neither `transactions` nor `data` is a list"))?;
        list.iter().map(|t| self.transaction(t)).collect()
    }

    /// `GET /api/accounts/balance`.
    pub fn balance(&self, status: u16, body: &[u8]) -> Result<Balance, AnswerError> {
        let v = self.check(status, body)?;
        let reserved = |c: &str| format!("{c}_reserved");
        Ok(Balance {
            base_lots: self.lots(&v, &self.base)?,
            base_reserved_lots: self.lots(&v, &reserved(&self.base))?,
            quote: self.money(&v, &self.quote)?,
            quote_reserved: self.money(&v, &reserved(&self.quote))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Answers {
        Answers::new(
            "btc_jpy",
            Scale::from_step("1").unwrap(),
            Scale::from_step("0.00000001").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn answers_parse_the_documented_shapes_exactly() {
        let a = answers();
        // The documentation's example fill (as ccxt quotes it): a taker buy of 0.1 BTC at
        // 40900 with a 6.135 JPY fee.
        let t = a
            .transactions(
                200,
                br#"{"success":true,"transactions":[{"id":38,"order_id":49,"created_at":"2015-11-18T07:02:21.000Z","funds":{"btc":"0.1","jpy":"-4096.135"},"pair":"btc_jpy","rate":"40900.0","fee_currency":"JPY","fee":"6.135","liquidity":"T","side":"buy"}]}"#,
            )
            .unwrap();
        assert_eq!(t.len(), 1);
        let f = &t[0];
        assert_eq!(
            (f.id, f.order_id, f.side, f.maker),
            (38, 49, OrderSide::Buy, false)
        );
        assert_eq!((f.rate_ticks, f.qty_lots), (40_900, 10_000_000));
        // 1 Money = 1e-14 JPY here (tick 1, lot 1e-8, 6 more places).
        assert_eq!(f.fee, 613_500_000_000_000);
        assert_eq!(f.quote_change, -409_613_500_000_000_000);
        assert_eq!(money_to_decimal(f.quote_change, a.tick, a.lot), "-4096.135");
        let o = a
            .opens(
                200,
                br#"{"success":true,"orders":[{"id":202835,"order_type":"buy","rate":26890,"pair":"btc_jpy","pending_amount":"0.5527","pending_market_buy_amount":null,"stop_loss_rate":null,"created_at":"2015-01-10T05:55:38.000Z"},{"id":5,"order_type":"market_buy","rate":null,"pair":"btc_jpy","pending_amount":null,"pending_market_buy_amount":"1000","stop_loss_rate":null,"created_at":"2015-01-10T05:55:38.000Z"}]}"#,
            )
            .unwrap();
        assert_eq!(
            o,
            vec![OpenOrder {
                id: 202835,
                side: OrderSide::Buy,
                rate_ticks: 26890,
                pending_lots: 55_270_000
            }]
        );
        let ack = a
            .order(
                200,
                br#"{"success":true,"id":12345,"rate":"30010.0","amount":"1.3","order_type":"sell","time_in_force":"good_til_cancelled","stop_loss_rate":null,"pair":"btc_jpy","created_at":"2015-01-10T05:55:38.000Z"}"#,
            )
            .unwrap();
        assert_eq!(
            (ack.id, ack.rate_ticks, ack.amount_lots),
            (12345, Some(30010), Some(130_000_000))
        );
        assert_eq!(a.cancel(200, br#"{"success":true,"id":12345}"#), Ok(12345));
        assert_eq!(
            a.cancel_status(
                200,
                br#"{"success":true,"id":12345,"cancel":true,"created_at":"2020-07-29T17:09:33.000Z"}"#
            ),
            Ok((12345, true))
        );
        let b = a
            .balance(
                200,
                br#"{"success":true,"jpy":"0.8401","btc":"7.75052654","jpy_reserved":"3000.0","btc_reserved":"3.5002","jpy_lend_in_use":"0"}"#,
            )
            .unwrap();
        assert_eq!(b.base_lots, 775_052_654);
        assert_eq!(b.base_reserved_lots, 350_020_000);
        assert_eq!(b.quote, 84_010_000_000_000);
        assert_eq!(money_to_decimal(b.quote_reserved, a.tick, a.lot), "3000");
    }

    #[test]
    fn venue_errors_and_malformed_answers_are_told_apart() {
        let a = answers();
        let e = a
            .order(
                401,
                br#"{"success":false,"error":"Nonce must be incremented"}"#,
            )
            .unwrap_err();
        let AnswerError::Venue(v) = e else {
            panic!("{e:?}")
        };
        assert!(v.is_stale_nonce() && v.is_auth());
        let e = a
            .balance(
                200,
                br#"{"success":false,"error":"invalid authentication"}"#,
            )
            .unwrap_err();
        assert!(matches!(&e, AnswerError::Venue(v) if v.is_auth()), "{e:?}");
        let e = a.opens(502, b"<html>bad gateway</html>").unwrap_err();
        assert!(
            matches!(&e, AnswerError::Venue(v) if v.status == 502),
            "{e:?}"
        );
        let e = a.opens(200, br#"{"success":true}"#).unwrap_err();
        assert!(
            matches!(&e, AnswerError::Malformed(m) if m.contains("orders")),
            "{e:?}"
        );
        let e = a
            .transactions(
                200,
                br#"{"success":true,"transactions":[{"id":1,"order_id":2,"funds":{"btc":"0.1","jpy":"-1"},"rate":"10","fee_currency":"BTC","fee":"0","liquidity":"M","side":"buy"}]}"#,
            )
            .unwrap_err();
        assert!(
            matches!(&e, AnswerError::Malformed(m) if m.contains("fee_currency")),
            "{e:?}"
        );
        // Finer than a money unit, or not a number: refused, not rounded.
        let (t, l) = (a.tick, a.lot);
        assert!(money_from_decimal("0.000000000000001", t, l).is_err());
        assert!(money_from_decimal("1e5", t, l).is_err());
        assert_eq!(money_from_decimal("-0.00000000000001", t, l), Ok(-1));
    }

    #[test]
    fn nonces_increase_strictly_even_when_the_clock_steps_back() {
        let mut r = CoincheckRequests::new(
            "https://coincheck.com",
            "k",
            b"s",
            "btc_jpy",
            Scale::from_step("1").unwrap(),
            Scale::from_step("0.00000001").unwrap(),
        )
        .unwrap();
        let a = r.next_nonce(1000);
        let b = r.next_nonce(1000);
        let c = r.next_nonce(900);
        let d = r.next_nonce(5000);
        assert!(a < b && b < c && c < d, "{a} {b} {c} {d}");
        assert_eq!(d, 5000);
    }
}
