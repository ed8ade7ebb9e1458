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
use crate::msg::{OrderSide, Tif};
use crate::num::Scale;
use arrayvec::ArrayString;
use std::fmt::{self, Write as _};

/// Place an order.
pub const ORDERS_PATH: &str = "/api/exchange/orders";
/// Open orders.
pub const OPENS_PATH: &str = "/api/exchange/orders/opens";
/// Our fills.
pub const TRANSACTIONS_PATH: &str = "/api/exchange/orders/transactions";
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

    /// `DELETE /api/exchange/orders/{id}` (the venue's order id).
    pub fn cancel(&mut self, now_ms: u64, order_id: u64) -> Result<Request<'_>, TooLong> {
        self.build(now_ms, "DELETE", ORDERS_PATH, Some(order_id), |_| Ok(()))
    }

    /// `GET` of a path without a body (opens, transactions, balance).
    pub fn get(&mut self, now_ms: u64, path: &'static str) -> Result<Request<'_>, TooLong> {
        self.build(now_ms, "GET", path, None, |_| Ok(()))
    }

    fn build(
        &mut self,
        now_ms: u64,
        method: &str,
        path: &str,
        id: Option<u64>,
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
                &self.buf[HEAD_MAX..HEAD_MAX + n],
            ],
            &mut sig,
        );
        let sig_s = std::str::from_utf8(&sig).map_err(|_| TooLong)?;
        let mut h = Cursor::new(&mut self.head);
        write!(
            h,
            "{method} {path}{id_s} HTTP/1.1\r\nHost: {}\r\nACCESS-KEY: {}\r\nACCESS-NONCE: {nonce_s}\r\n\
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

#[cfg(test)]
mod tests {
    use super::*;

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
