//! The simulator's Coincheck private API over TLS on loopback, driven by the project's own
//! request builder (`CoincheckRequests`) and answer parser (`Answers`) through a rustls
//! client: place, cancel, opens, cancel_status, transactions (and the paginated form),
//! balance; a wrong signature and a stale nonce get Coincheck's errors; a `lostack` place is
//! found through `opens` and not sent again; balances agree with the fills and `/sim/state`
//! exactly.

use obi_scalp::instrument::{Instrument, InstrumentTable, Market, Venue};
use obi_scalp::msg::{OrderSide, Tif, MONEY_PER_TICK_LOT};
use obi_scalp::sim::fault::FaultSpec;
use obi_scalp::sim::private::{AccountFile, PrivateSide};
use obi_scalp::sim::server::{SimConfig, SimServer, TlsSetup};
use obi_scalp::sim::SyntheticFeed;
use obi_scalp::venue::coincheck::private::{
    AnswerError, Answers, CoincheckRequests, BALANCE_PATH, OPENS_PATH, TRANSACTIONS_PATH,
};
use obi_scalp::venue::coincheck::sim_private::CoincheckPrivate;
use rustls::{ClientConnection, StreamOwned};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "obiSIMcoincheckKEY01";
const SECRET: &str = "obi-sim-coincheck-secret-not-a-real-key";
const WAIT: Duration = Duration::from_secs(5);

type Tls = BufReader<StreamOwned<ClientConnection, TcpStream>>;

fn inst() -> Instrument {
    *InstrumentTable::default()
        .get(Venue::Coincheck, Market::Spot, "btc_jpy")
        .unwrap()
}

struct Sim {
    server: SimServer,
    ca: PathBuf,
    dir: PathBuf,
}

fn start(faults: &[&str]) -> Sim {
    // Maker 1 bp, taker 2 bp so that fees show in the arithmetic.
    let account: AccountFile = toml::from_str(&format!(
        "api_key = \"{KEY}\"\napi_secret = \"{SECRET}\"\nmaker_fee_bps = \"1\"\ntaker_fee_bps = \"2\"\n\
         [balances]\njpy = \"100000000\"\nbtc = \"1\"\n"
    ))
    .unwrap();
    let api = CoincheckPrivate::new(&account, inst(), "https").unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "obi-cc-priv-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = SimConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.tls = Some(TlsSetup::SelfSigned { dir: dir.clone() });
    cfg.private = Some(PrivateSide::new(Box::new(api)));
    cfg.faults = faults
        .iter()
        .map(|f| FaultSpec::parse(f).unwrap())
        .collect();
    let server = SimServer::start(
        Box::new(SyntheticFeed::default_for(Venue::Coincheck, 7).unwrap()),
        cfg,
    )
    .unwrap();
    Sim {
        server,
        ca: dir.join("ca.pem"),
        dir,
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Sim {
    fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.local_addr().port())
    }

    fn requests(&self, secret: &str) -> CoincheckRequests {
        let i = inst();
        CoincheckRequests::new(
            &self.base(),
            KEY,
            secret.as_bytes(),
            "btc_jpy",
            i.tick,
            i.lot,
        )
        .unwrap()
    }

    fn connect(&self) -> Tls {
        let cfg = obi_scalp::net::tls::client_config(Some(&self.ca)).unwrap();
        let name = obi_scalp::net::tls::server_name("127.0.0.1").unwrap();
        let conn = ClientConnection::new(Arc::clone(&cfg), name).unwrap();
        let tcp = TcpStream::connect(self.server.local_addr()).unwrap();
        BufReader::new(StreamOwned::new(conn, tcp))
    }

    fn state(&self) -> Value {
        let mut c = self.connect();
        let req = b"GET /sim/state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        serde_json::from_slice(&exchange(&mut c, req, WAIT).unwrap().1).unwrap()
    }

    /// The best (bid, ask) once the market has one.
    fn touch(&self) -> (i64, i64) {
        let i = inst();
        for _ in 0..500 {
            if let Some((b, a)) = self.server.handle().feed_book("btc_jpy") {
                if let (Some(b), Some(a)) = (b.first(), a.first()) {
                    return (
                        i.tick.parse(b.0.as_bytes()).unwrap(),
                        i.tick.parse(a.0.as_bytes()).unwrap(),
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the simulator's market never showed a book");
    }
}

/// Writes `req`, reads one answer: (status, body); `None` when none came within `wait`.
fn exchange(c: &mut Tls, req: &[u8], wait: Duration) -> Option<(u16, Vec<u8>)> {
    c.get_mut().sock.set_read_timeout(Some(wait)).unwrap();
    c.get_mut().write_all(req).unwrap();
    c.get_mut().flush().unwrap();
    let mut line = String::new();
    c.read_line(&mut line).ok()?;
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut len = 0;
    loop {
        line.clear();
        match c.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("Content-Length: ") {
            len = v.parse().unwrap();
        }
    }
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).ok()?;
    Some((status, body))
}

fn now_ms() -> u64 {
    obi_scalp::clock::wall_ns() / 1_000_000
}

fn answers() -> Answers {
    let i = inst();
    Answers::new("btc_jpy", i.tick, i.lot).unwrap()
}

#[test]
fn place_cancel_opens_transactions_and_balance_over_tls_and_the_books_balance() {
    let sim = start(&[]);
    let a = answers();
    let mut r = sim.requests(SECRET);
    let mut c = sim.connect();
    let (bid, ask) = sim.touch();
    let lots = |s: &str| inst().lot.parse(s.as_bytes()).unwrap();

    // A resting buy far below the market: accepted, listed in opens, holds rate * amount.
    let px = bid - 100_000;
    let (st, body) = exchange(
        &mut c,
        r.create(now_ms(), OrderSide::Buy, px, lots("0.01"), Tif::PostOnly)
            .unwrap()
            .bytes(),
        WAIT,
    )
    .unwrap();
    let ack = a.order(st, &body).unwrap();
    assert_eq!(
        (ack.rate_ticks, ack.amount_lots),
        (Some(px), Some(lots("0.01")))
    );
    let (st, body) = exchange(&mut c, r.get(now_ms(), OPENS_PATH).unwrap().bytes(), WAIT).unwrap();
    let opens = a.opens(st, &body).unwrap();
    assert_eq!(opens.len(), 1);
    assert_eq!((opens[0].id, opens[0].pending_lots), (ack.id, lots("0.01")));
    let (st, body) =
        exchange(&mut c, r.get(now_ms(), BALANCE_PATH).unwrap().bytes(), WAIT).unwrap();
    let b = a.balance(st, &body).unwrap();
    let held = px as i128 * lots("0.01") as i128 * MONEY_PER_TICK_LOT;
    assert_eq!(b.quote_reserved, held);
    let start_jpy = obi_scalp::venue::coincheck::private::money_from_decimal(
        "100000000",
        inst().tick,
        inst().lot,
    )
    .unwrap();
    assert_eq!(b.quote, start_jpy - held);
    assert_eq!((b.base_lots, b.base_reserved_lots), (lots("1"), 0));

    // Cancel, cancel again (the venue's not-found error), cancel_status says cancelled.
    let (st, body) = exchange(&mut c, r.cancel(now_ms(), ack.id).unwrap().bytes(), WAIT).unwrap();
    assert_eq!(a.cancel(st, &body), Ok(ack.id));
    let (st, body) = exchange(&mut c, r.cancel(now_ms(), ack.id).unwrap().bytes(), WAIT).unwrap();
    match a.cancel(st, &body) {
        Err(AnswerError::Venue(e)) => assert_eq!(e.status, 404, "{e:?}"),
        other => panic!("second cancel: {other:?}"),
    }
    let (st, body) = exchange(
        &mut c,
        r.cancel_status(now_ms(), ack.id).unwrap().bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(a.cancel_status(st, &body), Ok((ack.id, true)));

    // A buy through the ask takes liquidity (taker); a market sell takes bids back.
    let (st, body) = exchange(
        &mut c,
        r.create(
            now_ms(),
            OrderSide::Buy,
            ask + 5_000,
            lots("0.002"),
            Tif::Gtc,
        )
        .unwrap()
        .bytes(),
        WAIT,
    )
    .unwrap();
    let buy = a.order(st, &body).unwrap();
    let (st, body) = exchange(
        &mut c,
        r.market_sell(now_ms(), lots("0.001")).unwrap().bytes(),
        WAIT,
    )
    .unwrap();
    let sell = a.order(st, &body).unwrap();
    assert_eq!(sell.order_type, "market_sell");

    let (st, body) = exchange(
        &mut c,
        r.get(now_ms(), TRANSACTIONS_PATH).unwrap().bytes(),
        WAIT,
    )
    .unwrap();
    let fills = a.transactions(st, &body).unwrap();
    assert!(
        fills.iter().any(|f| f.order_id == buy.id) && fills.iter().any(|f| f.order_id == sell.id),
        "both orders filled: {fills:?}"
    );
    // The paginated form lists the same fills, newest first.
    let (st, body) = exchange(
        &mut c,
        r.transactions_page(now_ms(), 100, None).unwrap().bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(a.transactions(st, &body).unwrap(), fills);
    let (st, body) = exchange(
        &mut c,
        r.transactions_page(now_ms(), 1, Some(fills[0].id))
            .unwrap()
            .bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(a.transactions(st, &body).unwrap(), fills[1..2].to_vec());

    // Every fill's quote change is its value and fee exactly; the balance is the start plus
    // the fills, less what the still-open rest of the buy holds.
    let mut btc = lots("1");
    let mut jpy = start_jpy;
    for f in &fills {
        assert!(!f.maker, "both orders took liquidity");
        let value = f.rate_ticks as i128 * f.qty_lots as i128 * MONEY_PER_TICK_LOT;
        let fee = f.rate_ticks as i128 * f.qty_lots as i128 * 200; // 2 bp
        assert_eq!(f.fee, fee);
        match f.side {
            OrderSide::Buy => {
                assert_eq!(f.quote_change, -value - fee);
                btc += f.qty_lots;
            }
            OrderSide::Sell => {
                assert_eq!(f.quote_change, value - fee);
                btc -= f.qty_lots;
            }
        }
        jpy += f.quote_change;
    }
    let (st, body) = exchange(&mut c, r.get(now_ms(), OPENS_PATH).unwrap().bytes(), WAIT).unwrap();
    let opens = a.opens(st, &body).unwrap();
    let held: i128 = opens
        .iter()
        .map(|o| o.rate_ticks as i128 * o.pending_lots as i128 * MONEY_PER_TICK_LOT)
        .sum();
    let (st, body) =
        exchange(&mut c, r.get(now_ms(), BALANCE_PATH).unwrap().bytes(), WAIT).unwrap();
    let b = a.balance(st, &body).unwrap();
    assert_eq!((b.base_lots, b.base_reserved_lots), (btc, 0));
    assert_eq!((b.quote, b.quote_reserved), (jpy - held, held));
    // And /sim/state agrees to the unit.
    let s = sim.state();
    let fees: i128 = fills.iter().map(|f| f.fee).sum();
    assert_eq!(
        s["fees_money"].as_str().unwrap().parse::<i128>().unwrap(),
        fees
    );
    assert_eq!(
        s["venue"]["balance_money"]["available"].as_str().unwrap(),
        (jpy - held).to_string()
    );
    assert_eq!(s["venue"]["balance_lots"]["available"], btc);
    assert_eq!(s["venue"]["auth_failures"], 0);
}

#[test]
fn a_wrong_signature_and_a_stale_nonce_get_coincheck_errors() {
    let sim = start(&[]);
    let a = answers();
    let mut c = sim.connect();
    let mut bad = sim.requests("not-the-secret");
    let (st, body) = exchange(
        &mut c,
        bad.get(now_ms(), BALANCE_PATH).unwrap().bytes(),
        WAIT,
    )
    .unwrap();
    match a.balance(st, &body) {
        Err(AnswerError::Venue(e)) => {
            assert_eq!(
                (e.status, e.error.as_str()),
                (401, "invalid authentication")
            );
            assert!(e.is_auth());
        }
        other => panic!("wrong secret: {other:?}"),
    }
    // A good request, then one from a second client whose nonce is lower: refused.
    let t = now_ms();
    let mut good = sim.requests(SECRET);
    let (st, body) = exchange(&mut c, good.get(t, BALANCE_PATH).unwrap().bytes(), WAIT).unwrap();
    a.balance(st, &body).unwrap();
    let mut behind = sim.requests(SECRET);
    let (st, body) =
        exchange(&mut c, behind.get(t - 1, OPENS_PATH).unwrap().bytes(), WAIT).unwrap();
    match a.opens(st, &body) {
        Err(AnswerError::Venue(e)) => {
            assert_eq!(e.status, 401);
            assert!(e.is_stale_nonce(), "{e:?}");
        }
        other => panic!("stale nonce: {other:?}"),
    }
    // The same nonce again is refused too (strictly increasing).
    let (st, body) = exchange(&mut c, behind.get(t, OPENS_PATH).unwrap().bytes(), WAIT).unwrap();
    assert!(matches!(a.opens(st, &body), Err(AnswerError::Venue(e)) if e.is_stale_nonce()));
    // A body changed after signing fails the signature.
    let mut tampered = good
        .create(now_ms(), OrderSide::Buy, 1_000, 100_000, Tif::Gtc)
        .unwrap()
        .bytes()
        .to_vec();
    let at = tampered.windows(4).position(|w| w == b"1000").unwrap();
    tampered[at] = b'2';
    let (st, body) = exchange(&mut c, &tampered, WAIT).unwrap();
    assert!(
        matches!(a.order(st, &body), Err(AnswerError::Venue(e)) if e.error == "invalid authentication")
    );
    let s = sim.state();
    assert_eq!(s["venue"]["auth_failures"], 4);
    assert_eq!(s["orders"].as_array().unwrap().len(), 0);
}

#[test]
fn a_lost_ack_is_found_in_opens_and_not_sent_again() {
    let sim = start(&["lostack"]);
    let a = answers();
    let (bid, _) = sim.touch();
    let mut r = sim.requests(SECRET);
    let px = bid - 50_000;
    let qty = 1_000_000;
    let mut c = sim.connect();
    let lost = exchange(
        &mut c,
        r.create(now_ms(), OrderSide::Buy, px, qty, Tif::PostOnly)
            .unwrap()
            .bytes(),
        Duration::from_millis(500),
    );
    assert!(lost.is_none(), "lostack answered: {lost:?}");
    // The client's recovery: ask what is open before sending anything again.
    let mut c = sim.connect();
    let (st, body) = exchange(&mut c, r.get(now_ms(), OPENS_PATH).unwrap().bytes(), WAIT).unwrap();
    let opens = a.opens(st, &body).unwrap();
    let found: Vec<_> = opens
        .iter()
        .filter(|o| o.side == OrderSide::Buy && o.rate_ticks == px && o.pending_lots == qty)
        .collect();
    assert_eq!(found.len(), 1, "the lost order is open once: {opens:?}");
    let s = sim.state();
    assert_eq!(s["place_requests"], 1, "nothing was sent twice: {s}");
    assert_eq!(s["orders"].as_array().unwrap().len(), 1);
    assert_eq!(s["venue"]["unanswered_requests"], 1);
    // It is the simulator's order, and can be cancelled by that id.
    let (st, body) = exchange(
        &mut c,
        r.cancel(now_ms(), found[0].id).unwrap().bytes(),
        WAIT,
    )
    .unwrap();
    assert_eq!(a.cancel(st, &body), Ok(found[0].id));
}
