use super::*;

fn reqs() -> BybitRequests {
    BybitRequests::new(
        "api.bybit.com",
        "XXXXXXXXXX",
        b"secret",
        5000,
        Market::Linear,
        "BTCUSDT",
        Scale::from_step("0.1").unwrap(),
        Scale::from_step("0.001").unwrap(),
    )
    .unwrap()
}

fn split(req: &[u8]) -> (&str, &[u8]) {
    let at = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (std::str::from_utf8(&req[..at]).unwrap(), &req[at + 4..])
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("no {name} in {head}"))
}

#[test]
fn a_create_request_is_head_then_the_signed_body() {
    let mut r = reqs();
    let id = ClientId::from("obi1-7").unwrap();
    let req = r
        .create(
            1_658_385_579_423,
            &id,
            OrderSide::Buy,
            650_001,
            12,
            Tif::PostOnly,
            true,
        )
        .unwrap();
    let (head, body) = split(req.bytes());
    assert_eq!(body, req.payload());
    assert_eq!(
        std::str::from_utf8(body).unwrap(),
        r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.012","price":"65000.1","timeInForce":"PostOnly","orderLinkId":"obi1-7","reduceOnly":true}"#
    );
    assert!(head.starts_with("POST /v5/order/create HTTP/1.1\r\nHost: api.bybit.com\r\n"));
    assert_eq!(header(head, "Content-Length"), body.len().to_string());
    assert_eq!(header(head, "X-BAPI-TIMESTAMP"), "1658385579423");
    assert_eq!(header(head, "X-BAPI-RECV-WINDOW"), "5000");
    assert_eq!(header(head, "X-BAPI-API-KEY"), "XXXXXXXXXX");
    let sig = header(head, "X-BAPI-SIGN");
    assert_eq!(sig.as_bytes(), &req.signature);
    let mut pre = b"1658385579423XXXXXXXXXX5000".to_vec();
    pre.extend_from_slice(body);
    assert!(Signer::new(b"secret").verify_hex(&[&pre], sig.as_bytes()));
}

#[test]
fn a_query_signs_its_query_string_in_the_request_line() {
    let mut r = reqs();
    let id = ClientId::from("obi1-8").unwrap();
    let req = r.query(1_700_000_000_000, &id).unwrap();
    let (head, body) = split(req.bytes());
    assert!(body.is_empty());
    assert_eq!(
        head.lines().next().unwrap(),
        "GET /v5/order/realtime?category=linear&symbol=BTCUSDT&orderLinkId=obi1-8 HTTP/1.1"
    );
    assert_eq!(
        req.payload(),
        b"category=linear&symbol=BTCUSDT&orderLinkId=obi1-8"
    );
    let mut pre = b"1700000000000XXXXXXXXXX5000".to_vec();
    pre.extend_from_slice(req.payload());
    assert!(Signer::new(b"secret").verify_hex(&[&pre], header(head, "X-BAPI-SIGN").as_bytes()));
}

#[test]
fn requests_reuse_the_buffer_without_leftovers() {
    let mut r = reqs();
    let id = ClientId::from("obi1-9").unwrap();
    let long = r
        .create(1, &id, OrderSide::Sell, 1, 1, Tif::Gtc, false)
        .unwrap()
        .bytes()
        .len();
    let short = r.cancel_all(2).unwrap();
    assert!(short.bytes().len() < long);
    let (_, body) = split(short.bytes());
    assert_eq!(body, br#"{"category":"linear","symbol":"BTCUSDT"}"#);
}

#[test]
fn auth_codes_are_the_documented_ones() {
    for c in [
        ret::TIME_WINDOW,
        ret::API_KEY_INVALID,
        ret::ERROR_SIGN,
        10005,
        10010,
        33004,
    ] {
        assert!(ret::is_auth(c), "{c}");
    }
    for c in [
        ret::OK,
        ret::TOO_MANY_VISITS,
        ret::ORDER_NOT_EXISTS,
        ret::PARAM,
    ] {
        assert!(!ret::is_auth(c), "{c}");
    }
}
