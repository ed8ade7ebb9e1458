//! Request signatures checked against HMAC-SHA256 computed by another tool (`openssl dgst
//! -sha256 -hmac`), over the documented string to sign rebuilt from the bytes we would send:
//! every venue and request kind. Also: building and signing allocates nothing after warm-up.
//!
//! Needs `openssl` (Debian package `openssl`, installed by `.ci/run`); without it the test is
//! skipped with a message, or fails under `OBI_REQUIRE_TOOLS=1`.

use obi_scalp::exec::orders::ClientId;
use obi_scalp::instrument::Market;
use obi_scalp::msg::{OrderSide, Tif};
use obi_scalp::num::Scale;
use obi_scalp::venue::bybit::private::BybitRequests;
use obi_scalp::venue::coincheck::private::{
    CoincheckRequests, BALANCE_PATH, OPENS_PATH, TRANSACTIONS_PATH,
};
use std::io::Write;
use std::process::{Command, Stdio};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/shared_data.rs"]
mod shared_data;

const KEY: &str = "obiTESTkey0001";
const SECRET: &str = "obi-test-secret-DO-NOT-USE";

/// HMAC-SHA256 of `msg` with `SECRET`, hex, as `openssl` computes it.
fn openssl_hmac(openssl: &std::path::Path, msg: &[u8]) -> String {
    openssl_hmac_with(openssl, SECRET, msg)
}

/// HMAC-SHA256 of `msg` with `secret`, hex, as `openssl` computes it.
fn openssl_hmac_with(openssl: &std::path::Path, secret: &str, msg: &[u8]) -> String {
    let mut child = Command::new(openssl)
        .args(["dgst", "-sha256", "-hmac", secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run openssl");
    child.stdin.take().unwrap().write_all(msg).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl failed");
    let text = String::from_utf8(out.stdout).unwrap();
    // "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.1).
    let hex = text.trim().rsplit("= ").next().unwrap().to_string();
    assert_eq!(hex.len(), 64, "unexpected openssl output {text:?}");
    hex
}

struct Sent {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Sent {
    fn parse(bytes: &[u8]) -> Sent {
        let at = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head end");
        let head = std::str::from_utf8(&bytes[..at]).unwrap();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap().to_string();
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").expect("header");
                (n.to_string(), v.to_string())
            })
            .collect();
        let body = bytes[at + 4..].to_vec();
        let s = Sent {
            request_line,
            headers,
            body,
        };
        if let Some(n) = s.get_opt("Content-Length") {
            assert_eq!(n.parse::<usize>().unwrap(), s.body.len());
        }
        s
    }
    fn get_opt(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn get(&self, name: &str) -> &str {
        self.get_opt(name).unwrap_or_else(|| panic!("no {name}"))
    }
    /// (method, path, query)
    fn target(&self) -> (&str, &str, &str) {
        let mut p = self.request_line.split(' ');
        let method = p.next().unwrap();
        let target = p.next().unwrap();
        let (path, q) = target.split_once('?').unwrap_or((target, ""));
        (method, path, q)
    }
}

fn bybit() -> BybitRequests {
    BybitRequests::new(
        "api.bybit.com",
        KEY,
        SECRET.as_bytes(),
        5000,
        Market::Linear,
        "BTCUSDT",
        Scale::from_step("0.1").unwrap(),
        Scale::from_step("0.001").unwrap(),
    )
    .unwrap()
}

/// Bybit: `timestamp + api_key + recv_window + (body | query string)`.
fn bybit_prestring(s: &Sent) -> Vec<u8> {
    let mut pre = Vec::new();
    pre.extend_from_slice(s.get("X-BAPI-TIMESTAMP").as_bytes());
    pre.extend_from_slice(s.get("X-BAPI-API-KEY").as_bytes());
    pre.extend_from_slice(s.get("X-BAPI-RECV-WINDOW").as_bytes());
    let (method, _, q) = s.target();
    if method == "GET" {
        pre.extend_from_slice(q.as_bytes());
    } else {
        pre.extend_from_slice(&s.body);
    }
    pre
}

#[test]
fn bybit_signatures_match_openssl_for_every_request_kind() {
    let Some(openssl) = shared_data::tool("openssl", "apt-get install openssl") else {
        return;
    };
    let mut r = bybit();
    let id = ClientId::from("obi1kx9ab-17").unwrap();
    let ts = 1_658_385_579_423;
    let sent = [
        r.create(ts, &id, OrderSide::Sell, 650_123, 5, Tif::Gtc, false)
            .unwrap()
            .bytes()
            .to_vec(),
        r.create(ts + 1, &id, OrderSide::Buy, 1, 1, Tif::PostOnly, true)
            .unwrap()
            .bytes()
            .to_vec(),
        r.cancel(ts + 2, &id).unwrap().bytes().to_vec(),
        r.cancel_all(ts + 3).unwrap().bytes().to_vec(),
        r.query(ts + 4, &id).unwrap().bytes().to_vec(),
    ];
    let paths = [
        "/v5/order/create",
        "/v5/order/create",
        "/v5/order/cancel",
        "/v5/order/cancel-all",
        "/v5/order/realtime",
    ];
    for (bytes, path) in sent.iter().zip(paths) {
        let s = Sent::parse(bytes);
        assert_eq!(s.target().1, path);
        assert_eq!(s.get("X-BAPI-API-KEY"), KEY);
        let want = openssl_hmac(&openssl, &bybit_prestring(&s));
        assert_eq!(s.get("X-BAPI-SIGN"), want, "{}", s.request_line);
    }
    // The first body, in full: a fixed vector.
    let s = Sent::parse(&sent[0]);
    assert_eq!(
        std::str::from_utf8(&s.body).unwrap(),
        r#"{"category":"linear","symbol":"BTCUSDT","side":"Sell","orderType":"Limit","qty":"0.005","price":"65012.3","timeInForce":"GTC","orderLinkId":"obi1kx9ab-17"}"#
    );
    // The private WebSocket's auth: HMAC of "GET/realtime" + expires.
    let frame = r.ws_auth(1_662_350_400_000);
    let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(v["op"], "auth");
    assert_eq!(v["args"][0], KEY);
    assert_eq!(v["args"][1], 1_662_350_400_000u64);
    assert_eq!(
        v["args"][2],
        openssl_hmac(&openssl, b"GET/realtime1662350400000").as_str()
    );
}

#[test]
fn coincheck_signatures_match_openssl_for_every_request_kind() {
    let Some(openssl) = shared_data::tool("openssl", "apt-get install openssl") else {
        return;
    };
    let base = "https://coincheck.com";
    let mut r = CoincheckRequests::new(
        base,
        KEY,
        SECRET.as_bytes(),
        "btc_jpy",
        Scale::from_step("1").unwrap(),
        Scale::from_step("0.00000001").unwrap(),
    )
    .unwrap();
    let now = 1_700_000_000_000;
    let sent = [
        r.create(now, OrderSide::Buy, 14_500_000, 1_000_000, Tif::PostOnly)
            .unwrap()
            .bytes()
            .to_vec(),
        r.create(now, OrderSide::Sell, 14_500_001, 123, Tif::Gtc)
            .unwrap()
            .bytes()
            .to_vec(),
        r.cancel(now, 12_345).unwrap().bytes().to_vec(),
        r.get(now, OPENS_PATH).unwrap().bytes().to_vec(),
        r.get(now, BALANCE_PATH).unwrap().bytes().to_vec(),
        r.get(now, TRANSACTIONS_PATH).unwrap().bytes().to_vec(),
        r.transactions_page(now, 25, Some(9876))
            .unwrap()
            .bytes()
            .to_vec(),
        r.cancel_status(now, 12_345).unwrap().bytes().to_vec(),
        r.market_buy(now, 5_000).unwrap().bytes().to_vec(),
        r.market_sell(now, 250_000).unwrap().bytes().to_vec(),
    ];
    let mut last_nonce = 0u64;
    for bytes in &sent {
        let s = Sent::parse(bytes);
        let (_, path, q) = s.target();
        let nonce = s.get("ACCESS-NONCE");
        let n: u64 = nonce.parse().unwrap();
        assert!(n > last_nonce, "nonces increase");
        last_nonce = n;
        // nonce + full URL (query string included) + body
        let mut pre = nonce.as_bytes().to_vec();
        pre.extend_from_slice(base.as_bytes());
        pre.extend_from_slice(path.as_bytes());
        if !q.is_empty() {
            pre.push(b'?');
            pre.extend_from_slice(q.as_bytes());
        }
        pre.extend_from_slice(&s.body);
        assert_eq!(
            s.get("ACCESS-SIGNATURE"),
            openssl_hmac(&openssl, &pre),
            "{}",
            s.request_line
        );
    }
    let s = Sent::parse(&sent[0]);
    assert_eq!(
        std::str::from_utf8(&s.body).unwrap(),
        r#"{"pair":"btc_jpy","order_type":"buy","rate":"14500000","amount":"0.01000000","time_in_force":"post_only"}"#
    );
    assert_eq!(
        Sent::parse(&sent[2]).request_line,
        "DELETE /api/exchange/orders/12345 HTTP/1.1"
    );
    assert_eq!(
        Sent::parse(&sent[6]).request_line,
        "GET /api/exchange/orders/transactions_pagination?limit=25&order=desc&starting_after=9876 HTTP/1.1"
    );
    assert_eq!(
        Sent::parse(&sent[7]).request_line,
        "GET /api/exchange/orders/cancel_status?id=12345 HTTP/1.1"
    );
    assert_eq!(
        std::str::from_utf8(&Sent::parse(&sent[8]).body).unwrap(),
        r#"{"pair":"btc_jpy","order_type":"market_buy","market_buy_amount":"5000"}"#
    );
    assert_eq!(
        std::str::from_utf8(&Sent::parse(&sent[9]).body).unwrap(),
        r#"{"pair":"btc_jpy","order_type":"market_sell","amount":"0.00250000"}"#
    );
    // A fixed vector, computed once with `printf %s "$pre" | openssl dgst -sha256 -hmac`:
    // the cancel_status request (nonce now + 7).
    let s7 = Sent::parse(&sent[7]);
    assert_eq!(s7.get("ACCESS-NONCE"), "1700000000007");
    assert_eq!(
        s7.get("ACCESS-SIGNATURE"),
        "546e2df8adf012566f839519dbc2f26a0c20d1f0af86e96a50c1a7364b91be17"
    );
}

#[test]
fn building_and_signing_allocates_nothing_after_warm_up() {
    let mut r = bybit();
    let id = ClientId::from("obi1kx9ab-17").unwrap();
    let mut total = 0usize;
    // Warm-up.
    total += r
        .create(1, &id, OrderSide::Buy, 1, 1, Tif::Gtc, true)
        .unwrap()
        .bytes()
        .len();
    let before = counting_alloc::thread_allocs();
    for i in 0..1000u64 {
        let side = if i % 2 == 0 {
            OrderSide::Buy
        } else {
            OrderSide::Sell
        };
        total += r
            .create(
                1_700_000_000_000 + i,
                &id,
                side,
                650_000 + i as i64,
                1 + i as i64,
                Tif::PostOnly,
                i % 3 == 0,
            )
            .unwrap()
            .bytes()
            .len();
        total += r.cancel(1_700_000_000_000 + i, &id).unwrap().bytes().len();
        total += r.query(1_700_000_000_000 + i, &id).unwrap().bytes().len();
    }
    total += r.cancel_all(2).unwrap().bytes().len();
    let allocs = counting_alloc::thread_allocs() - before;
    assert!(total > 0);
    assert_eq!(allocs, 0, "allocations while building and signing");
}

/// A SIGHUP reload re-keys the request builders in place (the live gateways' I/O threads call
/// `set_credentials`): no allocation, and the next request carries the new key and is signed
/// with the new secret (checked with `openssl`); a key too long for the field is refused and
/// the old pair kept.
#[test]
fn set_credentials_re_keys_without_allocating_for_every_venue() {
    const KEY2: &str = "obiROTATEDkey0002";
    const SECRET2: &str = "obi-rotated-secret-DO-NOT-USE";
    let long = "k".repeat(200);
    let openssl = shared_data::tool("openssl", "apt-get install openssl");
    // Bybit.
    let mut b = bybit();
    let id = ClientId::from("obi1kx9ab-17").unwrap();
    b.cancel(1, &id).unwrap();
    let before = counting_alloc::thread_allocs();
    b.set_credentials(KEY2, SECRET2.as_bytes()).unwrap();
    assert_eq!(
        counting_alloc::thread_allocs() - before,
        0,
        "bybit re-key allocated"
    );
    assert!(b.set_credentials(&long, b"x").is_err());
    let s = Sent::parse(b.cancel(1_700_000_000_000, &id).unwrap().bytes());
    assert_eq!(s.get("X-BAPI-API-KEY"), KEY2);
    if let Some(o) = &openssl {
        assert_eq!(
            s.get("X-BAPI-SIGN"),
            openssl_hmac_with(o, SECRET2, &bybit_prestring(&s))
        );
    }
    // Coincheck.
    let base = "https://coincheck.com";
    let mut c = CoincheckRequests::new(
        base,
        KEY,
        SECRET.as_bytes(),
        "btc_jpy",
        Scale::from_step("1").unwrap(),
        Scale::from_step("0.00000001").unwrap(),
    )
    .unwrap();
    c.cancel(1, 1).unwrap();
    let before = counting_alloc::thread_allocs();
    c.set_credentials(KEY2, SECRET2.as_bytes()).unwrap();
    assert_eq!(
        counting_alloc::thread_allocs() - before,
        0,
        "coincheck re-key allocated"
    );
    assert!(c.set_credentials(&long, b"x").is_err());
    let s = Sent::parse(c.cancel(1_700_000_000_000, 12_345).unwrap().bytes());
    assert_eq!(s.get("ACCESS-KEY"), KEY2);
    if let Some(o) = &openssl {
        let pre = format!("{}{base}/api/exchange/orders/12345", s.get("ACCESS-NONCE"));
        assert_eq!(
            s.get("ACCESS-SIGNATURE"),
            openssl_hmac_with(o, SECRET2, pre.as_bytes())
        );
    }
    // GMO Coin: timestamp + method + path without /private + body.
    let mut g = obi_scalp::venue::gmocoin::private::GmoRequests::new(
        "https://api.coin.z.com",
        KEY,
        SECRET.as_bytes(),
        "BTC_JPY",
        Scale::from_step("1").unwrap(),
        Scale::from_step("0.01").unwrap(),
    )
    .unwrap();
    g.cancel(1, 1).unwrap();
    let before = counting_alloc::thread_allocs();
    g.set_credentials(KEY2, SECRET2.as_bytes()).unwrap();
    assert_eq!(
        counting_alloc::thread_allocs() - before,
        0,
        "gmo re-key allocated"
    );
    assert!(g.set_credentials(&long, b"x").is_err());
    let s = Sent::parse(g.cancel(1_700_000_000_000, 777).unwrap().bytes());
    assert_eq!(s.get("API-KEY"), KEY2);
    assert_eq!(s.target().1, "/private/v1/cancelOrder");
    if let Some(o) = &openssl {
        let mut pre = format!("{}POST/v1/cancelOrder", s.get("API-TIMESTAMP")).into_bytes();
        pre.extend_from_slice(&s.body);
        assert_eq!(s.get("API-SIGN"), openssl_hmac_with(o, SECRET2, &pre));
    }
}
