//! The simulator's Bybit private API over loopback: signed order entry checked as Bybit checks
//! it (key, time window, signature), matching with fills, `GET /sim/state`, the private
//! stream, and the `lostack` / `timeout` faults (an unanswered place is found by querying its
//! `orderLinkId`; a second send of it is refused and counted as a duplicate).

use obi_scalp::exec::orders::ClientId;
use obi_scalp::instrument::{InstrumentTable, Market, Venue};
use obi_scalp::msg::{OrderSide, Tif};
use obi_scalp::sim::fault::FaultSpec;
use obi_scalp::sim::private::{AccountFile, PrivateSide};
use obi_scalp::sim::server::{SimConfig, SimServer};
use obi_scalp::sim::SyntheticFeed;
use obi_scalp::venue::bybit::private::BybitRequests;
use obi_scalp::venue::bybit::sim_private::BybitPrivate;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const KEY: &str = "obiSIMbybitKEY01";
const SECRET: &str = "obi-sim-bybit-secret-not-a-real-key";

fn start(faults: &[&str]) -> SimServer {
    let account: AccountFile = toml::from_str(&format!(
        "api_key = \"{KEY}\"\napi_secret = \"{SECRET}\"\n[balances]\nUSDT = \"100000\"\n"
    ))
    .unwrap();
    let inst = *InstrumentTable::default()
        .get(Venue::Bybit, Market::Linear, "BTCUSDT")
        .unwrap();
    let api = BybitPrivate::new(&account, inst).unwrap();
    let mut cfg = SimConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.private = Some(PrivateSide::new(Box::new(api)));
    cfg.faults = faults
        .iter()
        .map(|f| FaultSpec::parse(f).unwrap())
        .collect();
    SimServer::start(
        Box::new(SyntheticFeed::default_for(Venue::Bybit, 7).unwrap()),
        cfg,
    )
    .unwrap()
}

fn requests(addr: &str, secret: &str) -> BybitRequests {
    let inst = *InstrumentTable::default()
        .get(Venue::Bybit, Market::Linear, "BTCUSDT")
        .unwrap();
    BybitRequests::new(
        addr,
        KEY,
        secret.as_bytes(),
        5000,
        Market::Linear,
        "BTCUSDT",
        inst.tick,
        inst.lot,
    )
    .unwrap()
}

fn now_ms() -> u64 {
    obi_scalp::clock::wall_ns() / 1_000_000
}

/// Writes `req` and reads one answer (headers, JSON); `None` when none came within `wait`.
fn exchange(
    conn: &mut BufReader<TcpStream>,
    req: &[u8],
    wait: Duration,
) -> Option<(Vec<String>, Value)> {
    conn.get_mut().set_read_timeout(Some(wait)).unwrap();
    conn.get_mut().write_all(req).unwrap();
    let mut headers = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    loop {
        line.clear();
        match conn.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let l = line.trim_end().to_string();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("Content-Length: ") {
            len = v.parse().unwrap();
        }
        headers.push(l);
    }
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).ok()?;
    Some((headers, serde_json::from_slice(&body).unwrap()))
}

fn connect(server: &SimServer) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(server.local_addr()).unwrap())
}

fn state(server: &SimServer) -> Value {
    let mut c = connect(server);
    let req = b"GET /sim/state HTTP/1.1\r\nHost: x\r\n\r\n";
    exchange(&mut c, req, Duration::from_secs(5)).unwrap().1
}

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn signed_requests_are_checked_as_bybit_checks_them() {
    let server = start(&[]);
    let addr = server.local_addr().to_string();
    let mut c = connect(&server);
    let mut good = requests(&addr, SECRET);
    let id = ClientId::from("obitest-1").unwrap();
    // A valid place far from the market: accepted, rate-limit headers present.
    let (h, v) = exchange(
        &mut c,
        good.create(now_ms(), &id, OrderSide::Buy, 10, 1, Tif::PostOnly, false)
            .unwrap()
            .bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(v["retCode"], 0, "{v}");
    assert_eq!(v["result"]["orderLinkId"], "obitest-1");
    assert!(
        h.iter().any(|l| l.starts_with("X-Bapi-Limit-Status: ")),
        "{h:?}"
    );
    // The same connection serves the next request (keep-alive): a wrong secret → 10004.
    let mut bad = requests(&addr, "not-the-secret");
    let id2 = ClientId::from("obitest-2").unwrap();
    let (_, v) = exchange(
        &mut c,
        bad.create(now_ms(), &id2, OrderSide::Buy, 10, 1, Tif::Gtc, false)
            .unwrap()
            .bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(v["retCode"], 10004, "{v}");
    // A timestamp older than the recv window → 10002.
    let (_, v) = exchange(
        &mut c,
        good.create(
            now_ms() - 60_000,
            &id2,
            OrderSide::Buy,
            10,
            1,
            Tif::Gtc,
            false,
        )
        .unwrap()
        .bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(v["retCode"], 10002, "{v}");
    // A tampered body (signature over the original) → 10004.
    let mut tampered = good
        .create(now_ms(), &id2, OrderSide::Buy, 10, 1, Tif::Gtc, false)
        .unwrap()
        .bytes()
        .to_vec();
    let at = tampered.windows(3).position(|w| w == b"Buy").unwrap();
    tampered[at..at + 3].copy_from_slice(b"Bux");
    let (_, v) = exchange(&mut c, &tampered, WAIT).unwrap();
    assert_eq!(v["retCode"], 10004, "{v}");
    // Query by orderLinkId, cancel, cancel again (110001).
    let (_, v) = exchange(&mut c, good.query(now_ms(), &id).unwrap().bytes(), WAIT).unwrap();
    assert_eq!(v["result"]["list"][0]["orderStatus"], "New", "{v}");
    let (_, v) = exchange(&mut c, good.cancel(now_ms(), &id).unwrap().bytes(), WAIT).unwrap();
    assert_eq!(v["retCode"], 0, "{v}");
    let (_, v) = exchange(&mut c, good.cancel(now_ms(), &id).unwrap().bytes(), WAIT).unwrap();
    assert_eq!(v["retCode"], 110001, "{v}");
    let s = state(&server);
    assert_eq!(s["orders"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["orders"][0]["status"], "cancelled");
}

#[test]
fn a_crossing_order_fills_and_the_state_and_stream_agree() {
    let server = start(&[]);
    let addr = server.local_addr().to_string();
    // Private stream: auth, subscribe.
    let (mut ws, _) = tungstenite::connect(format!("ws://{addr}/v5/private")).unwrap();
    let good = requests(&addr, SECRET);
    ws.send(tungstenite::Message::text(good.ws_auth(now_ms() + 10_000)))
        .unwrap();
    let auth: Value = serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(auth["success"], true, "{auth}");
    ws.send(tungstenite::Message::text(
        r#"{"op":"subscribe","args":["order","execution"]}"#,
    ))
    .unwrap();
    let sub: Value = serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(sub["success"], true, "{sub}");
    // Wait for the market (the sim's book), then buy through the best ask.
    let (ask, _) = loop {
        if let Some((_, asks)) = server.handle().feed_book("BTCUSDT") {
            if let Some(a) = asks.first() {
                break a.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(50));
    let inst = *InstrumentTable::default()
        .get(Venue::Bybit, Market::Linear, "BTCUSDT")
        .unwrap();
    let px = inst.tick.parse(ask.as_bytes()).unwrap() + 50;
    let mut good = requests(&addr, SECRET);
    let mut c = connect(&server);
    let id = ClientId::from("obitest-x").unwrap();
    let (_, v) = exchange(
        &mut c,
        good.create(now_ms(), &id, OrderSide::Buy, px, 3, Tif::Ioc, false)
            .unwrap()
            .bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(v["retCode"], 0, "{v}");
    let s = state(&server);
    let fills = s["fills"].as_array().unwrap();
    assert!(!fills.is_empty(), "a buy through the ask fills: {s}");
    let filled: i64 = fills.iter().map(|f| f["qty_lots"].as_i64().unwrap()).sum();
    assert_eq!(s["position_lots"].as_i64().unwrap(), filled);
    let fees: i128 = fills
        .iter()
        .map(|f| f["fee_money"].as_str().unwrap().parse::<i128>().unwrap())
        .sum();
    assert_eq!(
        s["fees_money"].as_str().unwrap().parse::<i128>().unwrap(),
        fees
    );
    // The stream carries the executions.
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
        s.set_read_timeout(Some(WAIT)).unwrap();
    }
    let mut exec_qty = 0;
    while exec_qty < filled {
        let m: Value = serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
        if m["topic"] == "execution" {
            exec_qty += inst
                .lot
                .parse(m["data"][0]["execQty"].as_str().unwrap().as_bytes())
                .unwrap();
            assert_eq!(m["data"][0]["orderLinkId"], "obitest-x");
        }
    }
    assert_eq!(exec_qty, filled);
}

#[test]
fn lostack_and_timeout_leave_no_answer_and_a_query_tells_what_happened() {
    let server = start(&["lostack", "timeout@1500ms"]);
    let addr = server.local_addr().to_string();
    let mut good = requests(&addr, SECRET);
    // lostack: executed, not answered.
    let a = ClientId::from("obitest-lost").unwrap();
    let mut c = connect(&server);
    let r = exchange(
        &mut c,
        good.create(now_ms(), &a, OrderSide::Buy, 10, 1, Tif::Gtc, false)
            .unwrap()
            .bytes(),
        Duration::from_millis(500),
    );
    assert!(r.is_none(), "lostack answered: {r:?}");
    let mut c = connect(&server);
    let (_, v) = exchange(&mut c, good.query(now_ms(), &a).unwrap().bytes(), WAIT).unwrap();
    assert_eq!(
        v["result"]["list"][0]["orderLinkId"], "obitest-lost",
        "the order exists: {v}"
    );
    // A client that sent it again anyway is refused, and the simulator counts the duplicate.
    let (_, v) = exchange(
        &mut c,
        good.create(now_ms(), &a, OrderSide::Buy, 10, 1, Tif::Gtc, false)
            .unwrap()
            .bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(v["retCode"], 110072, "{v}");
    assert_eq!(state(&server)["duplicate_places"], 1);
    // timeout: not executed, not answered; the query finds nothing.
    while server.handle().elapsed() < Duration::from_millis(1600) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let b = ClientId::from("obitest-timeout").unwrap();
    let mut c = connect(&server);
    let r = exchange(
        &mut c,
        good.create(now_ms(), &b, OrderSide::Buy, 10, 1, Tif::Gtc, false)
            .unwrap()
            .bytes(),
        Duration::from_millis(500),
    );
    assert!(r.is_none(), "timeout answered: {r:?}");
    let mut c = connect(&server);
    let (_, v) = exchange(&mut c, good.query(now_ms(), &b).unwrap().bytes(), WAIT).unwrap();
    assert_eq!(v["result"]["list"].as_array().unwrap().len(), 0, "{v}");
    let s = state(&server);
    assert_eq!(s["venue"]["unanswered_requests"], 2, "{s}");
    assert_eq!(s["orders"].as_array().unwrap().len(), 1);
}
