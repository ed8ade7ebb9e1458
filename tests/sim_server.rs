//! The simulator server over real loopback sockets: WebSocket and REST, plain and TLS, and every
//! fault kind observed from the client side. A small sequenced test feed stands in for the
//! venue feeds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use obi_scalp::instrument::Venue;
use obi_scalp::sim::fault::FaultSpec;
use obi_scalp::sim::server::{SimConfig, SimHandle, SimServer, TlsSetup};
use obi_scalp::sim::{RestReply, Route, SimFeed};
use tungstenite::{Message, WebSocket};

const STREAM: Route = "/stream";
const OTHER: Route = "/other";

/// Produces `{"seq":N}` on `/stream` every `interval` of feed time, starting with the first
/// subscribe (so frame counts in fault triggers equal sequence numbers).
struct TestFeed {
    interval_ns: u64,
    pad: String,
    limit: Option<u64>,
    subscribed: bool,
    seq: u64,
    next_t: Option<u64>,
    last_t: u64,
}

impl TestFeed {
    fn new(interval: Duration) -> TestFeed {
        TestFeed {
            interval_ns: interval.as_nanos() as u64,
            pad: String::new(),
            limit: None,
            subscribed: false,
            seq: 0,
            next_t: None,
            last_t: 0,
        }
    }
}

impl SimFeed for TestFeed {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn routes(&self) -> &[Route] {
        &[STREAM, OTHER]
    }

    fn on_client_frame(&mut self, route: Route, frame: &str) -> Vec<String> {
        if frame.contains("\"subscribe\"") {
            if route == STREAM {
                self.subscribed = true;
            }
            vec![format!("{{\"ack\":\"subscribe\",\"at\":{}}}", self.seq)]
        } else if frame.contains("\"ping\"") {
            vec!["{\"pong\":true}".to_string()]
        } else {
            Vec::new()
        }
    }

    fn advance(&mut self, t_ns: u64, out: &mut Vec<(Route, String)>) -> bool {
        self.last_t = t_ns;
        if !self.subscribed {
            return true;
        }
        let next = self.next_t.get_or_insert(t_ns);
        while *next <= t_ns {
            if self.limit.is_some_and(|l| self.seq >= l) {
                return false;
            }
            self.seq += 1;
            out.push((
                STREAM,
                format!("{{\"seq\":{},\"pad\":\"{}\"}}", self.seq, self.pad),
            ));
            *next += self.interval_ns;
        }
        true
    }

    fn rest(&mut self, path_and_query: &str) -> RestReply {
        if path_and_query.starts_with("/api/snapshot") {
            RestReply {
                status: 200,
                body: format!("{{\"seq\":{}}}", self.seq),
            }
        } else {
            RestReply {
                status: 404,
                body: "{\"error\":\"unknown path\"}".into(),
            }
        }
    }

    fn book(&self, symbol: &str) -> Option<(Vec<(String, String)>, Vec<(String, String)>)> {
        match symbol {
            "TEST" => Some((
                vec![("100.5".into(), self.seq.to_string())],
                vec![("101".into(), "2".into())],
            )),
            "CLOCK" => Some((vec![(self.last_t.to_string(), "0".into())], Vec::new())),
            _ => None,
        }
    }

    fn crossed_frame(&mut self) -> Option<(Route, String)> {
        Some((
            STREAM,
            "{\"crossed\":true,\"bid\":\"102\",\"ask\":\"101\"}".to_string(),
        ))
    }
}

fn start_with(feed: TestFeed, faults: &[&str], tweak: impl FnOnce(&mut SimConfig)) -> SimServer {
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap());
    config.faults = faults
        .iter()
        .map(|f| FaultSpec::parse(f).unwrap())
        .collect();
    tweak(&mut config);
    SimServer::start(Box::new(feed), config).expect("server starts")
}

fn start(faults: &[&str]) -> SimServer {
    start_with(TestFeed::new(Duration::from_millis(2)), faults, |_| {})
}

type Ws = WebSocket<TcpStream>;

fn connect(addr: SocketAddr, path: &str) -> Ws {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let (ws, _) = tungstenite::client(format!("ws://{addr}{path}"), s).expect("ws handshake");
    ws
}

/// The next text frame (pings/pongs skipped); panics on timeout or close.
fn next_text<S: Read + Write>(ws: &mut WebSocket<S>) -> String {
    loop {
        match ws.read().expect("a frame within the read timeout") {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn subscribe<S: Read + Write>(ws: &mut WebSocket<S>) {
    ws.send(Message::text("{\"op\":\"subscribe\"}")).unwrap();
    let ack = next_text(ws);
    assert!(
        ack.contains("\"ack\""),
        "first answer should be the ack, got {ack}"
    );
}

fn seq(text: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("seq")?.as_u64()
}

/// What the client sees, one entry per text frame: `Seq(n)`, `Crossed`, `Garbage(text)`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Seq(u64),
    Crossed,
    Garbage(String),
}

fn classify(text: String) -> Seen {
    match serde_json::from_str::<serde_json::Value>(&text) {
        Err(_) => Seen::Garbage(text),
        Ok(v) if v.get("crossed").is_some() => Seen::Crossed,
        Ok(v) => Seen::Seq(v.get("seq").and_then(|s| s.as_u64()).expect("seq")),
    }
}

/// Reads frames until one carries a sequence number of at least `upto`.
fn collect_until(ws: &mut Ws, upto: u64) -> Vec<Seen> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let s = classify(next_text(ws));
        let done = matches!(s, Seen::Seq(n) if n >= upto);
        seen.push(s);
        if done {
            return seen;
        }
    }
    panic!("no frame with seq >= {upto} in time; saw {seen:?}");
}

fn seqs(r: impl IntoIterator<Item = u64>) -> Vec<Seen> {
    r.into_iter().map(Seen::Seq).collect()
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// One HTTP/1.1 GET over any stream; returns (status, headers lowercased, body).
fn http_get<S: Read + Write>(mut s: S, target: &str) -> (u16, String, String) {
    write!(s, "GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    s.flush().unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn rest(addr: SocketAddr, target: &str) -> (u16, String, String) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    http_get(s, target)
}

// ---------------------------------------------------------------------------------------------

#[test]
fn plain_websocket_streams_sequenced_frames_after_subscribe() {
    let server = start(&[]);
    let addr = server.local_addr();
    let h = server.handle();
    let mut ws = connect(addr, "/stream");

    // Nothing flows before the subscribe.
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    assert!(
        matches!(ws.read(), Err(tungstenite::Error::Io(_))),
        "no frame before subscribe"
    );
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();

    subscribe(&mut ws);
    assert_eq!(collect_until(&mut ws, 50), seqs(1..=50));

    // Protocol ping answered by a pong with the same payload; app-level ping by the feed.
    ws.send(Message::Ping(b"hi".to_vec().into())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        assert!(Instant::now() < deadline, "no pong");
        if let Message::Pong(p) = ws.read().unwrap() {
            assert_eq!(&p[..], b"hi");
            break;
        }
    }
    ws.send(Message::text("{\"op\":\"ping\"}")).unwrap();
    let mut last = 0;
    loop {
        let t = next_text(&mut ws);
        if t.contains("pong") {
            break;
        }
        let n = seq(&t).unwrap();
        assert!(last == 0 || n == last + 1, "gap {last} -> {n}");
        last = n;
    }

    // A second client on another route gets its ack and none of /stream's frames.
    let mut other = connect(addr, "/other");
    subscribe(&mut other);
    other
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    assert!(
        matches!(other.read(), Err(tungstenite::Error::Io(_))),
        "no /stream frames on /other"
    );

    // A URL that names its streams (query string) is subscribed without a subscribe frame.
    let mut by_url = connect(addr, "/stream?streams=test");
    let first = seq(&next_text(&mut by_url)).expect("a stream frame first");
    assert!(first > 50);

    // Unknown WebSocket routes are refused with 404.
    let s = TcpStream::connect(addr).unwrap();
    match tungstenite::client(format!("ws://{addr}/nope"), s) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
            assert_eq!(r.status(), 404)
        }
        other => panic!("expected a 404, got {:?}", other.map(|_| ())),
    }

    let book = h.feed_book("TEST").expect("the feed's book");
    assert_eq!(book.1, vec![("101".to_string(), "2".to_string())]);
    assert!(h.feed_book("NONE").is_none());
    let st = h.stats();
    assert_eq!(st.ws_sessions, 3);
    assert!(st.frames_sent >= 52, "{st:?}");
    assert!(st.client_frames >= 3, "{st:?}");
    assert_eq!((st.slow_clients_dropped, st.faults_injected), (0, 0));
    assert!(st.handshake_failures == 0 && st.connections >= 4, "{st:?}");
}

#[test]
fn rest_get_answers_with_content_length_and_close() {
    let server = start(&[]);
    let addr = server.local_addr();
    let (status, head, body) = rest(addr, "/api/snapshot?symbol=TEST");
    assert_eq!(status, 200);
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["seq"],
        0
    );

    let (status, _, body) = rest(addr, "/api/unknown");
    assert_eq!(status, 404);
    assert!(body.contains("unknown path"));

    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"POST /api/snapshot HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 405 "), "{raw}");

    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"garbage\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 400 "), "{raw}");
    assert_eq!(server.handle().stats().rest_requests, 3);
    assert_eq!(server.handle().stats().handshake_failures, 1);
}

// --- TLS ---------------------------------------------------------------------------------------

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::env::temp_dir().join(format!("obi-sim-{tag}-{}-{nanos}", std::process::id()))
}

fn client_config(ca: Option<&Path>) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca {
        for c in rustls_pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(cfg)
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_connect(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>, name: &str) -> TlsStream {
    let name = rustls_pki_types::ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(cfg.clone(), name).unwrap();
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    rustls::StreamOwned::new(conn, s)
}

#[test]
fn tls_self_signed_serves_wss_and_https_to_clients_trusting_the_ca() {
    let dir = temp_dir("tls");
    let server = start_with(TestFeed::new(Duration::from_millis(2)), &[], |c| {
        c.tls = Some(TlsSetup::SelfSigned { dir: dir.clone() });
    });
    assert!(server.is_tls());
    let addr = server.local_addr();
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        assert!(dir.join(f).is_file(), "{f} written");
    }
    let trusting = client_config(Some(&dir.join("ca.pem")));

    let tls = tls_connect(addr, &trusting, "localhost");
    let (mut ws, _) =
        tungstenite::client(format!("wss://localhost:{}/stream", addr.port()), tls).unwrap();
    subscribe(&mut ws);
    assert_eq!(collect_until_tls(&mut ws, 20), (1..=20).collect::<Vec<_>>());

    // The certificate also names the IP address; REST over TLS ends with close_notify.
    let (status, head, body) = http_get(tls_connect(addr, &trusting, "127.0.0.1"), "/api/snapshot");
    assert_eq!(status, 200);
    assert!(head.contains(&format!("content-length: {}", body.len())));

    // A client that does not trust the CA fails the handshake.
    let mut untrusting = tls_connect(addr, &client_config(None), "localhost");
    assert!(untrusting
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .and_then(|_| untrusting.flush())
        .is_err());
    wait_for(
        "the failed handshake to be counted",
        Duration::from_secs(3),
        || server.handle().stats().handshake_failures == 1,
    );

    // The same files served with --tls-cert/--tls-key.
    let files = start_with(TestFeed::new(Duration::from_millis(2)), &[], |c| {
        c.tls = Some(TlsSetup::Files {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        });
    });
    let (status, _, _) = http_get(
        tls_connect(files.local_addr(), &trusting, "localhost"),
        "/api/snapshot",
    );
    assert_eq!(status, 200);

    // A missing key file is an error naming it.
    let mut bad = SimConfig::new("127.0.0.1:0".parse().unwrap());
    bad.tls = Some(TlsSetup::Files {
        cert: dir.join("cert.pem"),
        key: dir.join("missing.pem"),
    });
    let e = SimServer::start(Box::new(TestFeed::new(Duration::from_millis(2))), bad)
        .err()
        .unwrap();
    assert!(e.contains("missing.pem"), "{e}");

    drop(ws);
    drop((server, files));
    let _ = std::fs::remove_dir_all(&dir);
}

fn collect_until_tls(ws: &mut WebSocket<TlsStream>, upto: u64) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        let n = seq(&next_text(ws)).expect("sequenced frame");
        out.push(n);
        if n >= upto {
            return out;
        }
    }
}

// --- Faults on the stream -----------------------------------------------------------------------

fn subscribed(server: &SimServer) -> Ws {
    let mut ws = connect(server.local_addr(), "/stream");
    subscribe(&mut ws);
    ws
}

#[test]
fn skip_creates_a_gap_and_repeats() {
    let server = start(&["skip@msg=10,every=10:2"]);
    let mut ws = subscribed(&server);
    let want: Vec<Seen> = seqs((1..=10).chain(13..=20).chain(23..=30).chain(33..=35));
    assert_eq!(collect_until(&mut ws, 35), want);
    assert!(
        server.handle().stats().faults_injected >= 6,
        "one per skipped frame"
    );
}

#[test]
fn dup_sends_a_frame_twice() {
    let server = start(&["dup@msg=10"]);
    let mut ws = subscribed(&server);
    assert_eq!(collect_until(&mut ws, 15), seqs((1..=11).chain(11..=15)));
}

#[test]
fn reorder_swaps_two_frames() {
    let server = start(&["reorder@msg=10"]);
    let mut ws = subscribed(&server);
    assert_eq!(
        collect_until(&mut ws, 15),
        seqs((1..=10).chain([12, 11]).chain(13..=15))
    );
}

#[test]
fn malformed_sends_a_truncated_frame_that_is_not_json() {
    let server = start(&["malformed@msg=10"]);
    let mut ws = subscribed(&server);
    let seen = collect_until(&mut ws, 15);
    assert_eq!(seen[..10], seqs(1..=10)[..]);
    let Seen::Garbage(g) = &seen[10] else {
        panic!("expected garbage at 11th place: {seen:?}")
    };
    assert!(
        "{\"seq\":11,\"pad\":\"\"}".starts_with(g.as_str()),
        "a cut copy of frame 11: {g}"
    );
    assert_eq!(seen[11..], seqs(11..=15)[..], "no gap after the garbage");
}

#[test]
fn crossed_frame_is_delivered_in_place() {
    let server = start(&["crossed@msg=10"]);
    let mut ws = subscribed(&server);
    let mut want = seqs(1..=10);
    want.push(Seen::Crossed);
    want.extend(seqs(11..=15));
    assert_eq!(collect_until(&mut ws, 15), want);
}

#[test]
fn drop_closes_every_connection_abruptly() {
    let server = start(&["drop@msg=10"]);
    let mut ws = subscribed(&server);
    let mut last = 0;
    let err = loop {
        match ws.read() {
            Ok(Message::Text(t)) => last = seq(&t).unwrap(),
            Ok(Message::Close(_)) => panic!("got a close frame; a drop must be abrupt"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(last <= 10, "frames after the drop point: {last}");
    assert!(
        matches!(
            err,
            tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake
            ) | tungstenite::Error::Io(_)
        ),
        "{err:?}"
    );
    assert_eq!(server.handle().stats().faults_injected, 1);
    // Reconnecting works.
    let mut again = subscribed(&server);
    assert!(seq(&next_text(&mut again)).unwrap() > 10);
}

/// Under `stall@msg=10:1s`: frames 1..=10, then the next frame's seq and the silence before it
/// (at least 800 ms: frame 10 came before the stall, the next after it).
fn silence_after_frame_10(ws: &mut Ws) -> (u64, Duration) {
    assert_eq!(collect_until(ws, 10), seqs(1..=10));
    let t10 = Instant::now();
    let next = seq(&next_text(ws)).unwrap();
    let silence = t10.elapsed();
    assert!(
        silence >= Duration::from_millis(800),
        "silence only {silence:?}: the next frame ({next}) came right after frame 10"
    );
    (next, silence)
}

#[test]
fn stall_goes_silent_then_resumes_with_a_gap() {
    let server = start(&["stall@msg=10:1s"]);
    let mut ws = subscribed(&server);
    let (next, silence) = silence_after_frame_10(&mut ws);
    assert!(silence < Duration::from_secs(3), "silence {silence:?}");
    assert!(
        next > 11 + 100,
        "frames due during the stall are lost: next was {next}"
    );
    let after = seq(&next_text(&mut ws)).unwrap();
    assert_eq!(after, next + 1, "the stream resumes in order");
}

/// Frames fanned out before a stall fires are on their way: the stall silences what comes after
/// them, not them. With frames every 20 µs and a 5 ms tick, frame 10 and the stall land in one
/// tick, so the connection writer sees the stall before it has written frame 10 (CI failed this
/// way under load: 'silence only 799µs', frames 1..=10 and the next arriving together).
#[test]
fn stall_keeps_the_frames_fanned_out_before_it() {
    let server = start_with(
        TestFeed::new(Duration::from_micros(20)),
        &["stall@msg=10:1s"],
        |c| c.tick = Duration::from_millis(5),
    );
    let mut ws = subscribed(&server);
    silence_after_frame_10(&mut ws);
}

#[test]
fn slow_delays_frames_for_its_window() {
    let server = start(&["slow:300ms,for=1500ms"]);
    let h = server.handle();
    let mut ws = connect(server.local_addr(), "/stream");
    let t = Instant::now();
    subscribe(&mut ws);
    let rtt = t.elapsed();
    assert!(
        rtt >= Duration::from_millis(280),
        "the ack was not delayed: {rtt:?}"
    );
    assert_eq!(
        collect_until(&mut ws, 100),
        seqs(1..=100),
        "delayed, not lost"
    );
    wait_for("the slow window to end", Duration::from_secs(5), || {
        h.elapsed() > Duration::from_millis(1600)
    });
    // Answers are prompt again (stream frames still queued from the window come first).
    ws.send(Message::text("{\"op\":\"ping\"}")).unwrap();
    let t = Instant::now();
    while !next_text(&mut ws).contains("pong") {}
    assert!(
        t.elapsed() < Duration::from_millis(280),
        "still slow: {:?}",
        t.elapsed()
    );
}

/// Tries a WebSocket handshake and a REST request; both must be closed on accept.
fn assert_two_refused(addr: SocketAddr) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert!(tungstenite::client(format!("ws://{addr}/stream"), s).is_err());
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = s.write_all(b"GET /api/snapshot HTTP/1.1\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(raw.is_empty(), "no answer while refusing");
}

/// Event-based (it used to race a 1.5 s window on a busy machine): `refuse:2` closes exactly
/// the next two connections and serves the third; `refuse:60s` refuses inside a window no
/// machine is too slow for. Each case waits for its fault to be armed before connecting.
#[test]
fn refuse_closes_new_connections_for_a_while() {
    let server = start(&["refuse:2"]);
    let addr = server.local_addr();
    let h = server.handle();
    wait_for("the fault armed", Duration::from_secs(10), || {
        h.stats().faults_injected == 1
    });
    assert_two_refused(addr);
    assert_eq!(h.stats().connections_refused, 2);
    let mut ws = subscribed(&server);
    assert_eq!(seq(&next_text(&mut ws)), Some(1));
    assert_eq!(h.stats().connections_refused, 2, "the third was served");

    let timed = start(&["refuse:60s"]);
    let h = timed.handle();
    wait_for("the fault armed", Duration::from_secs(10), || {
        h.stats().faults_injected == 1
    });
    assert_two_refused(timed.local_addr());
    assert_eq!(h.stats().connections_refused, 2);
}

// --- Faults on REST --------------------------------------------------------------------------------

#[test]
fn rest429_and_rest500_answer_the_next_requests() {
    let server = start(&["rest429", "rest500"]);
    let addr = server.local_addr();
    let (status, head, _) = rest(addr, "/api/snapshot");
    assert_eq!(status, 429);
    assert!(head.contains("retry-after"));
    assert_eq!(rest(addr, "/api/snapshot").0, 500);
    assert_eq!(rest(addr, "/api/snapshot").0, 200);
    assert_eq!(server.handle().stats().faults_injected, 2);

    let windowed = start(&["rest429:600ms"]);
    let h = windowed.handle();
    assert_eq!(rest(windowed.local_addr(), "/api/snapshot").0, 429);
    assert_eq!(rest(windowed.local_addr(), "/api/snapshot").0, 429);
    assert!(
        h.elapsed() < Duration::from_millis(600),
        "too slow to test inside the window"
    );
    wait_for("the window to end", Duration::from_secs(5), || {
        h.elapsed() > Duration::from_millis(700)
    });
    assert_eq!(rest(windowed.local_addr(), "/api/snapshot").0, 200);
}

#[test]
fn reststale_answers_with_the_first_body() {
    let server = start(&["reststale@msg=20"]);
    let addr = server.local_addr();
    let (status, _, first) = rest(addr, "/api/snapshot");
    assert_eq!((status, first.as_str()), (200, "{\"seq\":0}"));
    let mut ws = subscribed(&server);
    collect_until(&mut ws, 30);
    let (status, _, stale) = rest(addr, "/api/snapshot");
    assert_eq!(
        (status, stale.as_str()),
        (200, first.as_str()),
        "the stale body"
    );
    let (_, _, fresh) = rest(addr, "/api/snapshot");
    let n = seq(&fresh).unwrap();
    assert!(n >= 30, "fresh again after the one-shot: {fresh}");
}

// --- Server behaviour -----------------------------------------------------------------------------

#[test]
fn a_client_that_does_not_read_is_dropped_and_counted() {
    let mut feed = TestFeed::new(Duration::from_millis(1));
    feed.pad = "x".repeat(32 * 1024);
    let server = start_with(feed, &[], |c| c.queue_capacity = 4);
    let h = server.handle();
    let mut lazy = connect(server.local_addr(), "/stream");
    lazy.send(Message::text("{\"op\":\"subscribe\"}")).unwrap();
    wait_for(
        "the slow client to be dropped",
        Duration::from_secs(10),
        || h.stats().slow_clients_dropped == 1,
    );
    wait_for("the dropped session to end", Duration::from_secs(5), || {
        h.stats().ws_open == 0
    });
}

#[test]
fn speed_scales_feed_time() {
    let server = start_with(TestFeed::new(Duration::from_millis(2)), &[], |c| {
        c.speed = 4.0
    });
    let h = server.handle();
    thread::sleep(Duration::from_millis(300));
    let before = h.elapsed();
    let clock = h.feed_book("CLOCK").unwrap().0[0].0.parse::<u64>().unwrap();
    let after = h.elapsed();
    let lo = 4 * before.saturating_sub(Duration::from_millis(100)).as_nanos() as u64;
    let hi = 4 * after.as_nanos() as u64;
    assert!(
        clock >= lo && clock <= hi,
        "feed time {clock} not 4x wall time ({lo}..={hi})"
    );
}

#[test]
fn a_finite_feed_reports_exhaustion_after_its_last_frame() {
    let mut feed = TestFeed::new(Duration::from_millis(1));
    feed.limit = Some(40);
    let server = start_with(feed, &["reorder@msg=39"], |_| {});
    let h = server.handle();
    let mut ws = subscribed(&server);
    // The held frame of an unfinished reorder is still sent at the end.
    assert_eq!(collect_until(&mut ws, 40), seqs(1..=40));
    wait_for("exhaustion", Duration::from_secs(3), || h.feed_exhausted());
    assert_eq!(h.stats().frames_produced, 40);
}

#[test]
fn stop_is_bounded_with_open_and_half_open_connections() {
    let mut server = start(&[]);
    let addr = server.local_addr();
    let mut ws = subscribed(&server);
    let _idle = TcpStream::connect(addr).unwrap(); // never sends a request
    next_text(&mut ws);
    let t = Instant::now();
    assert!(server.stop(), "all threads joined");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "stop took {:?}",
        t.elapsed()
    );
    // The WebSocket client sees the end of the session.
    let end = loop {
        match ws.read() {
            Ok(Message::Close(_)) => break true,
            Ok(_) => continue,
            Err(_) => break true,
        }
    };
    assert!(end);
    assert!(
        TcpStream::connect(addr).is_err() || rest_fails(addr),
        "nothing listens any more"
    );
}

fn rest_fails(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return true;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.write_all(b"GET /api/snapshot HTTP/1.1\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    raw.is_empty()
}

#[allow(dead_code)]
fn _handle_is_send_and_clone(h: SimHandle) -> impl Send + Clone {
    h
}
