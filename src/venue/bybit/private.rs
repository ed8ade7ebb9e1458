//! Bybit v5 private REST requests, built and signed in one pre-sized buffer.
//!
//! Signing (bybit-exchange/docs `docs/v5/guide.mdx`, checked 2026-12-02 through the docs
//! index, page <https://bybit-exchange.github.io/docs/v5/guide>): headers `X-BAPI-API-KEY`,
//! `X-BAPI-TIMESTAMP` (UTC ms), `X-BAPI-RECV-WINDOW` (ms) and `X-BAPI-SIGN` = lowercase hex
//! HMAC-SHA256 of `timestamp + api_key + recv_window + payload`, where the payload is the JSON
//! body of a POST and the query string (unsorted, without `?`) of a GET. The venue accepts a
//! request when `server_time - recv_window <= timestamp < server_time + 1000`.
//!
//! Layout: the payload is written first, at a fixed offset of the buffer, and signed where it
//! lies; the request head (which carries the signature and the body's length) is then written
//! just before it. [`Request::bytes`] is one contiguous slice, head then payload, so the bytes
//! signed are exactly the bytes sent: nothing is copied after signing. After
//! [`BybitRequests::new`] nothing allocates.

use crate::exec::orders::ClientId;
use crate::exec::sign::{Cursor, Signer, SIG_HEX_LEN};
use crate::instrument::Market;
use crate::msg::{OrderSide, Tif};
use crate::num::Scale;
use arrayvec::ArrayString;
use std::fmt::{self, Write as _};

/// Place an order.
pub const CREATE_PATH: &str = "/v5/order/create";
/// Cancel one order (by `orderId` or `orderLinkId`).
pub const CANCEL_PATH: &str = "/v5/order/cancel";
/// Cancel every open order of a symbol.
pub const CANCEL_ALL_PATH: &str = "/v5/order/cancel-all";
/// Open and recent orders (the time-out recovery query, by `orderLinkId`).
pub const REALTIME_PATH: &str = "/v5/order/realtime";
/// Positions (start-up and continuous reconciliation).
pub const POSITION_PATH: &str = "/v5/position/list";
/// Wallet balances of the unified account.
pub const WALLET_PATH: &str = "/v5/account/wallet-balance";
/// Executions (a fill the private stream did not deliver, found by `orderLinkId`).
pub const EXECUTION_PATH: &str = "/v5/execution/list";
/// The venue's clock (public, unsigned): `result.timeSecond`, `result.timeNano`.
pub const TIME_PATH: &str = "/v5/market/time";
/// The private stream.
pub const PRIVATE_WS_PATH: &str = "/v5/private";
/// Default `X-BAPI-RECV-WINDOW` (the venue's own default).
pub const DEFAULT_RECV_WINDOW_MS: u32 = 5000;

/// Bytes reserved for the request head before the payload.
const HEAD_MAX: usize = 640;
/// Bytes for the payload (the longest order body is under 300).
const PAYLOAD_MAX: usize = 1024 - 64;
/// The request line's tail and headers after a GET's query string.
const TAIL_MAX: usize = 640;

/// Bybit's `category` for a market.
pub const fn category(market: Market) -> &'static str {
    match market {
        Market::Spot => "spot",
        Market::Linear => "linear",
        Market::Inverse => "inverse",
    }
}

const fn side_str(side: OrderSide) -> &'static str {
    match side {
        OrderSide::Buy => "Buy",
        OrderSide::Sell => "Sell",
    }
}

const fn tif_str(tif: Tif) -> &'static str {
    match tif {
        Tif::Gtc => "GTC",
        Tif::PostOnly => "PostOnly",
        Tif::Ioc => "IOC",
    }
}

/// A request did not fit its buffer (a symbol or host far longer than any venue uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request longer than its pre-sized buffer")
    }
}

/// One built request: the bytes to write to the connection, and where its signed payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    buf: &'a [u8],
    start: usize,
    payload: (usize, usize),
    pub timestamp_ms: u64,
    pub signature: [u8; SIG_HEX_LEN],
}

impl<'a> Request<'a> {
    /// The whole request as it goes on the wire.
    pub fn bytes(&self) -> &'a [u8] {
        &self.buf[self.start..]
    }

    /// The signed payload (JSON body, or GET query string), inside [`Request::bytes`].
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.payload.0..self.payload.1]
    }
}

/// Builds and signs one account's requests for one symbol.
pub struct BybitRequests {
    host: ArrayString<128>,
    api_key: ArrayString<64>,
    signer: Signer,
    recv_window_ms: u32,
    category: &'static str,
    symbol: ArrayString<24>,
    tick: Scale,
    lot: Scale,
    buf: Box<[u8]>,
    head: Box<[u8]>,
}

impl fmt::Debug for BybitRequests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BybitRequests")
            .field("host", &self.host)
            .field("category", &self.category)
            .field("symbol", &self.symbol)
            .finish_non_exhaustive()
    }
}

impl BybitRequests {
    /// Requests to `host` (the `Host` header, e.g. `api.bybit.com` or `127.0.0.1:8443`) for
    /// `symbol` in `market`, with prices in `tick` and sizes in `lot`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: &str,
        api_key: &str,
        secret: &[u8],
        recv_window_ms: u32,
        market: Market,
        symbol: &str,
        tick: Scale,
        lot: Scale,
    ) -> Result<BybitRequests, String> {
        Ok(BybitRequests {
            host: ArrayString::from(host).map_err(|_| format!("host '{host}' is too long"))?,
            api_key: ArrayString::from(api_key)
                .map_err(|_| "api_key is longer than 64 characters".to_string())?,
            signer: Signer::new(secret),
            recv_window_ms,
            category: category(market),
            symbol: ArrayString::from(symbol)
                .map_err(|_| format!("symbol '{symbol}' is too long"))?,
            tick,
            lot,
            buf: vec![0u8; HEAD_MAX + PAYLOAD_MAX + TAIL_MAX].into_boxed_slice(),
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

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn recv_window_ms(&self) -> u32 {
        self.recv_window_ms
    }

    /// `POST /v5/order/create` for a limit order.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &mut self,
        ts_ms: u64,
        link_id: &ClientId,
        side: OrderSide,
        px_ticks: i64,
        qty_lots: i64,
        tif: Tif,
        reduce_only: bool,
    ) -> Result<Request<'_>, TooLong> {
        let (cat, tick, lot) = (self.category, self.tick, self.lot);
        let sym = self.symbol;
        self.post(ts_ms, CREATE_PATH, |w| {
            write!(
                w,
                r#"{{"category":"{cat}","symbol":"{sym}","side":"{}","orderType":"Limit","qty":""#,
                side_str(side)
            )?;
            lot.write(qty_lots, w)?;
            w.write_str(r#"","price":""#)?;
            tick.write(px_ticks, w)?;
            write!(
                w,
                r#"","timeInForce":"{}","orderLinkId":"{link_id}""#,
                tif_str(tif)
            )?;
            if reduce_only {
                w.write_str(r#","reduceOnly":true"#)?;
            }
            w.write_str("}")
        })
    }

    /// `POST /v5/order/cancel` by client order id.
    pub fn cancel(&mut self, ts_ms: u64, link_id: &ClientId) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.post(ts_ms, CANCEL_PATH, |w| {
            write!(
                w,
                r#"{{"category":"{cat}","symbol":"{sym}","orderLinkId":"{link_id}"}}"#
            )
        })
    }

    /// `POST /v5/order/cancel-all` for the symbol.
    pub fn cancel_all(&mut self, ts_ms: u64) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.post(ts_ms, CANCEL_ALL_PATH, |w| {
            write!(w, r#"{{"category":"{cat}","symbol":"{sym}"}}"#)
        })
    }

    /// `GET /v5/order/realtime` for one client order id: how a request that timed out is
    /// resolved before anything is sent again.
    pub fn query(&mut self, ts_ms: u64, link_id: &ClientId) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.get(ts_ms, REALTIME_PATH, |w| {
            write!(w, "category={cat}&symbol={sym}&orderLinkId={link_id}")
        })
    }

    /// `GET /v5/order/realtime` for the symbol's open orders (the start-up credentials check).
    pub fn query_open(&mut self, ts_ms: u64) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.get(ts_ms, REALTIME_PATH, |w| {
            write!(w, "category={cat}&symbol={sym}")
        })
    }

    /// `GET /v5/order/realtime`: one page (up to 50) of the symbol's open orders, from
    /// `cursor` (empty: the first page; the answer's `nextPageCursor` is the next).
    pub fn open_orders(&mut self, ts_ms: u64, cursor: &str) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.get(ts_ms, REALTIME_PATH, |w| {
            write!(w, "category={cat}&symbol={sym}&openOnly=0&limit=50")?;
            if !cursor.is_empty() {
                write!(w, "&cursor={cursor}")?;
            }
            Ok(())
        })
    }

    /// `GET /v5/position/list` for the symbol (linear, inverse).
    pub fn positions(&mut self, ts_ms: u64) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.get(ts_ms, POSITION_PATH, |w| {
            write!(w, "category={cat}&symbol={sym}")
        })
    }

    /// `GET /v5/account/wallet-balance` of the unified account for `coins`
    /// (comma-separated, e.g. `USDT` or `BTC,USDT`).
    pub fn wallet(&mut self, ts_ms: u64, coins: &str) -> Result<Request<'_>, TooLong> {
        self.get(ts_ms, WALLET_PATH, |w| {
            write!(w, "accountType=UNIFIED&coin={coins}")
        })
    }

    /// `GET /v5/execution/list` of one client order id (up to 100 executions).
    pub fn executions(&mut self, ts_ms: u64, link_id: &str) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.get(ts_ms, EXECUTION_PATH, |w| {
            write!(
                w,
                "category={cat}&symbol={sym}&orderLinkId={link_id}&limit=100"
            )
        })
    }

    /// `POST /v5/order/cancel` by any client order id (one of an earlier start's).
    pub fn cancel_link(&mut self, ts_ms: u64, link_id: &str) -> Result<Request<'_>, TooLong> {
        let (cat, sym) = (self.category, self.symbol);
        self.post(ts_ms, CANCEL_PATH, |w| {
            write!(
                w,
                r#"{{"category":"{cat}","symbol":"{sym}","orderLinkId":"{link_id}"}}"#
            )
        })
    }

    /// The private WebSocket's auth frame: `{"op":"auth","args":[key, expires, sign]}` with
    /// sign = HMAC-SHA256 of `GET/realtime{expires}` (docs `v5/ws/connect`).
    pub fn ws_auth(&self, expires_ms: u64) -> String {
        let mut e = ArrayString::<20>::new();
        let _ = write!(e, "{expires_ms}");
        let mut sig = [0u8; SIG_HEX_LEN];
        self.signer
            .sign_hex(&[b"GET/realtime", e.as_bytes()], &mut sig);
        format!(
            r#"{{"op":"auth","args":["{}",{expires_ms},"{}"]}}"#,
            self.api_key,
            std::str::from_utf8(&sig).unwrap_or_default()
        )
    }

    fn post(
        &mut self,
        ts_ms: u64,
        path: &str,
        body: impl FnOnce(&mut Cursor<'_>) -> fmt::Result,
    ) -> Result<Request<'_>, TooLong> {
        let mut w = Cursor::new(&mut self.buf[HEAD_MAX..HEAD_MAX + PAYLOAD_MAX]);
        body(&mut w).map_err(|_| TooLong)?;
        let n = w.len;
        let payload = (HEAD_MAX, HEAD_MAX + n);
        let (ts, rw, sig) = self.sign(ts_ms, payload);
        let mut h = Cursor::new(&mut self.head);
        write!(
            h,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n",
            self.host
        )
        .map_err(|_| TooLong)?;
        auth_headers(&mut h, &self.api_key, &ts, &rw, &sig).map_err(|_| TooLong)?;
        write!(h, "Content-Length: {n}\r\n\r\n").map_err(|_| TooLong)?;
        let hl = h.len;
        let start = HEAD_MAX - hl;
        self.buf[start..HEAD_MAX].copy_from_slice(&self.head[..hl]);
        Ok(Request {
            buf: &self.buf[..HEAD_MAX + n],
            start,
            payload,
            timestamp_ms: ts_ms,
            signature: sig,
        })
    }

    fn get(
        &mut self,
        ts_ms: u64,
        path: &str,
        query: impl FnOnce(&mut Cursor<'_>) -> fmt::Result,
    ) -> Result<Request<'_>, TooLong> {
        let mut w = Cursor::new(&mut self.buf[HEAD_MAX..HEAD_MAX + PAYLOAD_MAX]);
        query(&mut w).map_err(|_| TooLong)?;
        let n = w.len;
        let payload = (HEAD_MAX, HEAD_MAX + n);
        let (ts, rw, sig) = self.sign(ts_ms, payload);
        // Before the query: the request line's start; after it: the rest of the head.
        let mut h = Cursor::new(&mut self.head);
        write!(h, "GET {path}?").map_err(|_| TooLong)?;
        let hl = h.len;
        let start = HEAD_MAX - hl;
        self.buf[start..HEAD_MAX].copy_from_slice(&self.head[..hl]);
        let end_q = HEAD_MAX + n;
        let mut t = Cursor::new(&mut self.buf[end_q..end_q + TAIL_MAX]);
        write!(t, " HTTP/1.1\r\nHost: {}\r\n", self.host).map_err(|_| TooLong)?;
        auth_headers(&mut t, &self.api_key, &ts, &rw, &sig).map_err(|_| TooLong)?;
        t.write_str("\r\n").map_err(|_| TooLong)?;
        let end = end_q + t.len;
        Ok(Request {
            buf: &self.buf[..end],
            start,
            payload,
            timestamp_ms: ts_ms,
            signature: sig,
        })
    }

    /// Signs `timestamp + api_key + recv_window + buf[payload]`.
    fn sign(
        &self,
        ts_ms: u64,
        payload: (usize, usize),
    ) -> (ArrayString<20>, ArrayString<10>, [u8; SIG_HEX_LEN]) {
        let mut ts = ArrayString::<20>::new();
        let _ = write!(ts, "{ts_ms}");
        let mut rw = ArrayString::<10>::new();
        let _ = write!(rw, "{}", self.recv_window_ms);
        let mut sig = [0u8; SIG_HEX_LEN];
        self.signer.sign_hex(
            &[
                ts.as_bytes(),
                self.api_key.as_bytes(),
                rw.as_bytes(),
                &self.buf[payload.0..payload.1],
            ],
            &mut sig,
        );
        (ts, rw, sig)
    }
}

fn auth_headers(
    w: &mut Cursor<'_>,
    key: &str,
    ts: &str,
    rw: &str,
    sig: &[u8; SIG_HEX_LEN],
) -> fmt::Result {
    let sig = std::str::from_utf8(sig).map_err(|_| fmt::Error)?;
    write!(
        w,
        "X-BAPI-API-KEY: {key}\r\nX-BAPI-TIMESTAMP: {ts}\r\nX-BAPI-RECV-WINDOW: {rw}\r\n\
         X-BAPI-SIGN: {sig}\r\n"
    )
}

/// Bybit's answer codes the gateway and the simulator act on (docs `v5/error.mdx`).
pub mod ret {
    pub const OK: i64 = 0;
    /// "Request parameter error."
    pub const PARAM: i64 = 10001;
    /// "The request time exceeds the time window range."
    pub const TIME_WINDOW: i64 = 10002;
    /// "API key is invalid."
    pub const API_KEY_INVALID: i64 = 10003;
    /// "Error sign, please check your signature generation algorithm."
    pub const ERROR_SIGN: i64 = 10004;
    /// "Too many visits. Exceeded the API Rate Limit."
    pub const TOO_MANY_VISITS: i64 = 10006;
    /// "Internal System Error."
    pub const INTERNAL: i64 = 10016;
    /// "Order does not exist"
    pub const ORDER_NOT_EXISTS: i64 = 110001;
    /// "Insufficient available balance"
    pub const INSUFFICIENT_AVAILABLE: i64 = 110007;
    /// "Order has been finished or canceled"
    pub const ORDER_FINISHED: i64 = 110008;
    /// "Duplicate orderId" (also a repeated `orderLinkId`).
    pub const DUPLICATE_ORDER: i64 = 110030;

    /// Whether the code means our credentials or clock are wrong: exit code 4 at start-up,
    /// a risk abort while running.
    pub const fn is_auth(code: i64) -> bool {
        matches!(code, 10002..=10005 | 10007 | 10010 | 33004)
    }

    /// The documented message of a code the simulator answers with.
    pub const fn message(code: i64) -> &'static str {
        match code {
            OK => "OK",
            PARAM => "Request parameter error.",
            TIME_WINDOW => "The request time exceeds the time window range.",
            API_KEY_INVALID => "API key is invalid.",
            ERROR_SIGN => "Error sign, please check your signature generation algorithm.",
            TOO_MANY_VISITS => "Too many visits. Exceeded the API Rate Limit.",
            INTERNAL => "Internal System Error.",
            ORDER_NOT_EXISTS => "Order does not exist",
            INSUFFICIENT_AVAILABLE => "Insufficient available balance",
            ORDER_FINISHED => "Order has been finished or canceled",
            DUPLICATE_ORDER => "Duplicate orderId",
            _ => "error",
        }
    }
}

#[cfg(test)]
mod tests;
