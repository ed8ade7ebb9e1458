//! The simulator's Bybit private API over loopback: signed order entry checked as Bybit checks
//! it (key, time window, signature), matching with fills, `GET /sim/state`, the private
//! stream, and the `lostack` / `timeout` faults (an unanswered place is found by querying its
//! `orderLinkId`; a second send of it is refused and counted as a duplicate), and the account
//! reads (open orders, position, wallet, executions) answered from the account state fills change.

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

#[test]
fn account_reads_come_from_the_account_state_that_fills_change() {
    // Seeded: a long of 0.010 at 65000.05, one resting order, 100000 USDT.
    let account: AccountFile = toml::from_str(&format!(
        "api_key = \"{KEY}\"\napi_secret = \"{SECRET}\"\nmaker_fee_bps = \"2\"\ntaker_fee_bps = \"5.5\"\n\
         [balances]\nUSDT = \"100000\"\n[positions]\nBTCUSDT = \"0.010\"\n\
         [entry_prices]\nBTCUSDT = \"65000.05\"\n\
         [[orders]]\nlink_id = \"obi-old-1\"\nside = \"Buy\"\nprice = \"1000.0\"\nqty = \"0.002\"\n"
    ))
    .unwrap();
    let inst = *InstrumentTable::default()
        .get(Venue::Bybit, Market::Linear, "BTCUSDT")
        .unwrap();
    let mut cfg = SimConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.private = Some(PrivateSide::new(Box::new(
        BybitPrivate::new(&account, inst).unwrap(),
    )));
    let server = SimServer::start(
        Box::new(SyntheticFeed::default_for(Venue::Bybit, 7).unwrap()),
        cfg,
    )
    .unwrap();
    let addr = server.local_addr().to_string();
    let mut r = requests(&addr, SECRET);
    let mut c = connect(&server);
    let get = |c: &mut BufReader<TcpStream>, req: &[u8]| {
        let (_, v) = exchange(c, req, WAIT).unwrap();
        assert_eq!(v["retCode"], 0, "{v}");
        v["result"].clone()
    };
    let open = get(&mut c, r.open_orders(now_ms(), "").unwrap().bytes());
    assert_eq!(open["list"][0]["orderLinkId"], "obi-old-1");
    assert_eq!(open["list"][0]["orderStatus"], "New");
    let p = get(&mut c, r.positions(now_ms()).unwrap().bytes());
    assert_eq!(p["list"][0]["side"], "Buy");
    assert_eq!(p["list"][0]["size"], "0.010");
    assert_eq!(
        p["list"][0]["avgPrice"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        65000.05
    );
    let w = get(&mut c, r.wallet(now_ms(), "USDT").unwrap().bytes());
    assert_eq!(
        w["list"][0]["coin"][0]["walletBalance"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        100000.0
    );
    // Sell the position through the bid: realized PnL and the taker fee change the wallet,
    // the position is flat, and the execution is listed by its client id.
    let bid = loop {
        if let Some((bids, _)) = server.handle().feed_book("BTCUSDT") {
            if let Some(b) = bids.first() {
                break b.0.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(50));
    let px = inst.tick.parse(bid.as_bytes()).unwrap() - 50;
    let id = ClientId::from("obi-new-1").unwrap();
    let (_, v) = exchange(
        &mut c,
        r.create(now_ms(), &id, OrderSide::Sell, px, 10, Tif::Ioc, true)
            .unwrap()
            .bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(v["retCode"], 0, "{v}");
    let s = state(&server);
    assert_eq!(s["position_lots"], 0, "{s}");
    let realized: i128 = s["realized_money"].as_str().unwrap().parse().unwrap();
    let fees: i128 = s["fees_money"].as_str().unwrap().parse().unwrap();
    let start = obi_scalp::config::Config::money(&inst, "w", "100000").unwrap();
    let w = get(&mut c, r.wallet(now_ms(), "USDT").unwrap().bytes());
    let wallet = obi_scalp::config::Config::money(
        &inst,
        "w",
        w["list"][0]["coin"][0]["walletBalance"]
            .as_str()
            .unwrap()
            .trim_start_matches('-'),
    )
    .unwrap();
    assert_eq!(
        wallet,
        start + realized - fees,
        "wallet = start + realized - fees"
    );
    // The fills' value against the entry's: realized is exact.
    let sold: i128 = s["fills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["px_ticks"].as_i64().unwrap() as i128 * f["qty_lots"].as_i64().unwrap() as i128)
        .sum::<i128>()
        * 1_000_000;
    assert_eq!(realized, sold - 6_500_005 * 1_000_000);
    let p = get(&mut c, r.positions(now_ms()).unwrap().bytes());
    assert_eq!(p["list"][0]["size"], "0.000");
    assert_eq!(p["list"][0]["side"], "");
    let ex = get(&mut c, r.executions(now_ms(), "obi-new-1").unwrap().bytes());
    let n = ex["list"].as_array().unwrap().len();
    assert_eq!(n, s["fills"].as_array().unwrap().len());
    assert_eq!(ex["list"][0]["orderLinkId"], "obi-new-1");
    assert_eq!(ex["list"][0]["execType"], "Trade");
    // Unsigned or badly signed reads are refused as orders are.
    let mut bad = requests(&addr, "wrong");
    let (_, v) = exchange(&mut c, bad.wallet(now_ms(), "USDT").unwrap().bytes(), WAIT).unwrap();
    assert_eq!(v["retCode"], 10004);
}
