//! Transport tests: a tiny WebSocket/HTTP server on 127.0.0.1 (plain and TLS with a CA made by
//! rcgen) against `obi_scalp::net`. Every wait is bounded.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use obi_scalp::net::{
    self, mono_ns, rest, Backoff, DisconnectCause, FeedStatus, Keepalive, NetError, PollOutcome,
    WsClient, WsConfig, WsState,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Bytes, Message, WebSocket};

const LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Certificates

struct Pki {
    dir: PathBuf,
    ca_file: PathBuf,
    server: Arc<ServerConfig>,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "obi-net-test-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A CA and a server certificate for `localhost` / `127.0.0.1` signed by it; the CA is written
/// as PEM to a temp dir.
fn make_pki(tag: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("obi-scalp test CA {tag}"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();

    let dir = temp_dir(tag);
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    Pki {
        dir,
        ca_file,
        server: Arc::new(server),
    }
}

// ---------------------------------------------------------------------------------------------
// Server side

enum SrvStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Read for SrvStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SrvStream::Plain(s) => s.read(buf),
            SrvStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for SrvStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SrvStream::Plain(s) => s.write(buf),
            SrvStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            SrvStream::Plain(s) => s.flush(),
            SrvStream::Tls(s) => s.flush(),
        }
    }
}

fn listen() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    (l, port)
}

/// Accept one connection within `LIMIT`, blocking socket with 5 s read/write timeouts.
fn accept(l: &TcpListener, tls: Option<&Arc<ServerConfig>>) -> SrvStream {
    let t0 = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                return match tls {
                    None => SrvStream::Plain(s),
                    Some(cfg) => SrvStream::Tls(Box::new(StreamOwned::new(
                        ServerConnection::new(cfg.clone()).unwrap(),
                        s,
                    ))),
                };
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(
                    t0.elapsed() < LIMIT,
                    "server: no connection within {LIMIT:?}"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("server accept: {e}"),
        }
    }
}

type Ws = WebSocket<SrvStream>;

/// Serve `conns` WebSocket connections one after the other, calling `f(index, ws)` for each.
fn serve<F>(tls: Option<Arc<ServerConfig>>, conns: usize, mut f: F) -> (u16, JoinHandle<()>)
where
    F: FnMut(usize, &mut Ws) + Send + 'static,
{
    let (l, port) = listen();
    let h = std::thread::spawn(move || {
        for i in 0..conns {
            let s = accept(&l, tls.as_ref());
            let mut ws = tungstenite::accept(s).expect("server: WebSocket accept");
            f(i, &mut ws);
        }
    });
    (port, h)
}

fn expect_text(ws: &mut Ws, want: &str) {
    match ws.read() {
        Ok(Message::Text(t)) => assert_eq!(t.as_str(), want),
        other => panic!("server: expected text {want:?}, got {other:?}"),
    }
}

/// Keep reading (answering pings) until the client goes away or `max` passes.
fn hold(ws: &mut Ws, max: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < max {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client driver

#[derive(Default)]
struct Run {
    /// (recv_ns, mono ns at delivery, bytes)
    frames: Vec<(u64, u64, Vec<u8>)>,
    /// (mono ns, outcome) for turns that opened or lost a connection.
    events: Vec<(u64, PollOutcome)>,
}

impl Run {
    fn texts(&self) -> Vec<String> {
        self.frames
            .iter()
            .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned())
            .collect()
    }
}

/// Poll until `done` says so; panic after `LIMIT` with the client's stats. Returns the error
/// if the client closed itself.
fn drive(
    c: &mut WsClient,
    run: &mut Run,
    done: impl FnMut(&WsClient, &Run) -> bool,
) -> Result<(), NetError> {
    drive_with(c, run, Duration::from_millis(5), done)
}

/// [`drive`] with the poll timeout `wait` (`ZERO` = busy polling, as the spin runner does).
fn drive_with(
    c: &mut WsClient,
    run: &mut Run,
    wait: Duration,
    mut done: impl FnMut(&WsClient, &Run) -> bool,
) -> Result<(), NetError> {
    let t0 = Instant::now();
    while !done(c, run) {
        assert!(
            t0.elapsed() < LIMIT,
            "client: condition not met within {LIMIT:?}; stats {:?}; last error {:?}; {} frames",
            c.stats(),
            c.last_error(),
            run.frames.len()
        );
        let frames = &mut run.frames;
        let out = c.poll(mono_ns(), Some(wait), |ns, b: &mut [u8]| {
            frames.push((ns, mono_ns(), b.to_vec()))
        })?;
        if out.opened || out.disconnected.is_some() {
            run.events.push((mono_ns(), out));
        }
    }
    Ok(())
}

fn cfg(url: String) -> WsConfig {
    let mut c = WsConfig::new(url);
    c.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(500),
        multiplier: 2.0,
        jitter: 0.5,
    };
    c.connect_timeout = Duration::from_secs(5);
    c
}

// ---------------------------------------------------------------------------------------------
// Frames in order, plain and TLS

const SUB: &str = r#"{"op":"subscribe","args":["orderbook.1.BTCUSDT"]}"#;

fn frames_in_order(tls: Option<&Pki>, wait: Duration) {
    const N: usize = 300;
    let big = "x".repeat(100_000); // larger than the 16 KiB read buffer
    let big_s = big.clone();
    let (port, server) = serve(tls.map(|p| p.server.clone()), 1, move |_, ws| {
        expect_text(ws, SUB);
        for i in 0..N {
            ws.write(Message::text(format!(r#"{{"i":{i}}}"#))).unwrap();
            if i % 50 == 0 {
                ws.flush().unwrap();
            }
        }
        ws.write(Message::binary(vec![0u8, 1, 2, 255])).unwrap();
        ws.send(Message::text(big_s.clone())).unwrap();
        hold(ws, LIMIT);
    });
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let mut c = cfg(format!("{scheme}://127.0.0.1:{port}/v5/public/linear?x=1"));
    c.subscribe = vec![SUB.to_string()];
    c.extra_ca_pem = tls.map(|p| p.ca_file.clone());
    let mut client = WsClient::new(c).unwrap();
    assert_eq!(client.state(), WsState::Waiting);
    let t_start = net::recv_stamp_ns();
    let mut run = Run::default();
    drive_with(&mut client, &mut run, wait, |_, r| r.frames.len() >= N + 2).unwrap();
    let t_end = net::recv_stamp_ns();

    let texts = run.texts();
    for (i, t) in texts.iter().take(N).enumerate() {
        assert_eq!(t, &format!(r#"{{"i":{i}}}"#));
    }
    assert_eq!(run.frames[N].2, vec![0u8, 1, 2, 255]);
    assert_eq!(texts[N + 1], big);
    let mut prev = 0;
    for (ns, _, _) in &run.frames {
        assert!(
            *ns >= t_start && *ns <= t_end,
            "recv_ns {ns} outside the run"
        );
        assert!(*ns >= prev, "recv_ns went backwards");
        prev = *ns;
    }
    assert_eq!(client.state(), WsState::Open);
    assert_eq!(client.status(), FeedStatus::Active);
    let k = client.counters();
    assert_eq!(k.connects, 1);
    assert_eq!(k.connect_attempts, 1);
    assert_eq!(k.frames_rx, (N + 2) as u64);
    assert_eq!(k.frames_tx, 1);
    assert_eq!(k.disconnects_total(), 0);
    assert!(
        k.bytes_rx > 100_000 + N as u64 * 8,
        "bytes_rx {}",
        k.bytes_rx
    );
    assert!(k.bytes_tx > SUB.len() as u64);
    client.close();
    assert_eq!(client.state(), WsState::Closed);
    assert_eq!(client.counters().disconnects_by(DisconnectCause::Local), 1);
    assert!(matches!(
        client.poll(mono_ns(), Some(Duration::ZERO), |_, _: &mut [u8]| {}),
        Err(NetError::Closed)
    ));
    server.join().unwrap();
}

#[test]
fn plain_frames_arrive_in_order_after_subscribe() {
    frames_in_order(None, Duration::from_millis(5));
}

#[test]
fn plain_frames_arrive_in_order_when_busy_polling() {
    frames_in_order(None, Duration::ZERO);
}

#[test]
fn tls_frames_arrive_in_order_with_extra_ca() {
    let pki = make_pki("ok");
    frames_in_order(Some(&pki), Duration::from_millis(5));
}

#[test]
fn tls_frames_arrive_in_order_when_busy_polling() {
    let pki = make_pki("spin");
    frames_in_order(Some(&pki), Duration::ZERO);
}

// ---------------------------------------------------------------------------------------------
// TLS trust

fn untrusted(client_ca: Option<PathBuf>) {
    let pki = make_pki("srv");
    let (l, port) = listen();
    let srv_cfg = pki.server.clone();
    let server = std::thread::spawn(move || {
        let s = accept(&l, Some(&srv_cfg));
        // The client aborts the handshake; the server only sees an error.
        assert!(tungstenite::accept(s).is_err());
    });
    let mut c = cfg(format!("wss://127.0.0.1:{port}/"));
    c.extra_ca_pem = client_ca;
    c.give_up_after_failures = Some(1);
    let mut client = WsClient::new(c).unwrap();
    let err = drive(&mut client, &mut Run::default(), |_, _| false).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, NetError::Tls(_)), "{err:?}");
    assert!(
        msg.contains("certificate is not trusted") && msg.contains("UnknownIssuer"),
        "{msg}"
    );
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    let k = client.counters();
    assert_eq!(k.disconnects_by(DisconnectCause::Tls), 1);
    assert_eq!(k.disconnects_total(), 1);
    assert_eq!(k.connects, 0);
    assert_eq!(client.state(), WsState::Closed);
    assert_eq!(client.last_error().unwrap().0, DisconnectCause::Tls);
    server.join().unwrap();
}

#[test]
fn untrusted_certificate_fails_with_clear_error() {
    untrusted(None);
}

#[test]
fn certificate_from_another_ca_is_not_trusted() {
    let other = make_pki("other");
    untrusted(Some(other.ca_file.clone()));
}

// ---------------------------------------------------------------------------------------------
// Reconnects

#[test]
fn reconnects_with_backoff_after_server_drops() {
    let (port, server) = serve(None, 2, |i, ws| {
        expect_text(ws, SUB);
        for k in 0..3 {
            ws.send(Message::text(format!("c{i}-{k}"))).unwrap();
        }
        if i == 1 {
            hold(ws, LIMIT);
        }
        // i == 0: return; the socket is dropped without a close frame.
    });
    let mut c = cfg(format!("ws://127.0.0.1:{port}/"));
    c.subscribe = vec![SUB.to_string()];
    let mut client = WsClient::new(c).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| r.frames.len() >= 6).unwrap();
    assert_eq!(
        run.texts(),
        ["c0-0", "c0-1", "c0-2", "c1-0", "c1-1", "c1-2"]
    );
    let k = client.counters();
    assert_eq!(k.connects, 2);
    assert_eq!(
        k.frames_tx, 2,
        "subscribe is sent again after the reconnect"
    );
    assert_eq!(k.disconnects_by(DisconnectCause::Eof), 1, "{k:?}");
    assert_eq!(k.disconnects_total(), 1);
    assert_eq!(k.consecutive_failures, 1);
    // The second connection opened no sooner than the jittered initial delay (20 ms × 0.5).
    let lost = run
        .events
        .iter()
        .find(|(_, o)| o.disconnected.is_some())
        .unwrap()
        .0;
    let reopened = run.events.iter().rfind(|(_, o)| o.opened).unwrap().0;
    assert!(
        reopened - lost >= 10_000_000,
        "reconnected after {} µs",
        (reopened - lost) / 1000
    );
    client.close();
    server.join().unwrap();
}

#[test]
fn server_close_frame_ends_the_connection_and_reconnects() {
    let (port, server) = serve(None, 2, |i, ws| {
        if i == 0 {
            ws.close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "maintenance".into(),
            }))
            .unwrap();
            hold(ws, Duration::from_secs(2));
        } else {
            ws.send(Message::text("after")).unwrap();
            hold(ws, LIMIT);
        }
    });
    let mut client = WsClient::new(cfg(format!("ws://127.0.0.1:{port}/"))).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| !r.frames.is_empty()).unwrap();
    assert_eq!(run.texts(), ["after"]);
    let k = client.counters();
    assert_eq!(k.disconnects_by(DisconnectCause::ServerClose), 1, "{k:?}");
    assert_eq!(client.last_close_code(), Some(1001));
    let (cause, err) = client.last_error().unwrap();
    assert_eq!(*cause, DisconnectCause::ServerClose);
    assert!(err.to_string().contains("maintenance"), "{err}");
    client.close();
    server.join().unwrap();
}

#[test]
fn refused_connections_back_off_exponentially_then_give_up() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // dropped: nothing listens there now
    let mut c = cfg(format!("ws://127.0.0.1:{port}/"));
    c.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_secs(1),
        multiplier: 2.0,
        jitter: 0.0,
    };
    c.give_up_after_failures = Some(4);
    c.degraded_after_failures = 3;
    let mut client = WsClient::new(c).unwrap();
    let mut run = Run::default();
    let mut statuses = Vec::new();
    let err = drive(&mut client, &mut run, |c, r| {
        if statuses.len() < r.events.len() {
            statuses.push(c.status());
        }
        false
    })
    .unwrap_err();
    assert!(matches!(err, NetError::Connect(_)), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
    let k = client.counters();
    assert_eq!(k.connect_attempts, 4);
    assert_eq!(k.disconnects_by(DisconnectCause::Refused), 4, "{k:?}");
    assert_eq!(
        statuses,
        [
            FeedStatus::Reconnecting,
            FeedStatus::Reconnecting,
            FeedStatus::Degraded
        ]
    );
    assert_eq!(client.status(), FeedStatus::Degraded);
    // Failures at t, t+20, t+20+40, t+20+40+80 ms (each one after its connect attempt).
    let t: Vec<u64> = run.events.iter().map(|(t, _)| *t).collect();
    assert_eq!(t.len(), 3, "the 4th failure ends drive() with the error");
    assert!(t[1] - t[0] >= 20_000_000 - 1_000_000, "{:?}", t);
    assert!(t[2] - t[1] >= 40_000_000 - 1_000_000, "{:?}", t);
}

#[test]
fn silence_watchdog_fires_and_reconnects() {
    let (port, server) = serve(None, 2, |i, ws| {
        ws.send(Message::text(format!("hello{i}"))).unwrap();
        // Connection 0 stalls: open socket, nothing sent, until the client leaves.
        hold(ws, Duration::from_secs(5));
    });
    let mut c = cfg(format!("ws://127.0.0.1:{port}/"));
    c.max_silence = Some(Duration::from_millis(300));
    let mut client = WsClient::new(c).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| r.frames.len() >= 2).unwrap();
    assert_eq!(run.texts(), ["hello0", "hello1"]);
    let k = client.counters();
    assert_eq!(k.stale_events, 1);
    assert_eq!(k.disconnects_by(DisconnectCause::Silence), 1, "{k:?}");
    assert_eq!(k.connects, 2);
    let first_frame = run.frames[0].1;
    let fired = run
        .events
        .iter()
        .find(|(_, o)| o.disconnected == Some(DisconnectCause::Silence))
        .unwrap()
        .0;
    let after_ms = (fired - first_frame) / 1_000_000;
    assert!(
        (300..=500).contains(&after_ms),
        "watchdog fired {after_ms} ms after the last frame (max silence 300 ms)"
    );
    client.close();
    server.join().unwrap();
}

#[test]
fn caller_forced_reconnect_is_counted_as_resync() {
    let (port, server) = serve(None, 2, |i, ws| {
        ws.send(Message::text(format!("snap{i}"))).unwrap();
        hold(ws, Duration::from_secs(5));
    });
    let mut client = WsClient::new(cfg(format!("ws://127.0.0.1:{port}/"))).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| !r.frames.is_empty()).unwrap();
    client.reconnect(DisconnectCause::Resync);
    assert_eq!(client.state(), WsState::Waiting);
    drive(&mut client, &mut run, |_, r| r.frames.len() >= 2).unwrap();
    assert_eq!(run.texts(), ["snap0", "snap1"]);
    let k = client.counters();
    assert_eq!(k.disconnects_by(DisconnectCause::Resync), 1);
    assert_eq!(
        k.consecutive_failures, 0,
        "a resync is not a connection failure"
    );
    assert_eq!(k.connects, 2);
    client.close();
    server.join().unwrap();
}

#[test]
fn rejected_upgrade_names_the_http_status() {
    let (l, port) = listen();
    let server = std::thread::spawn(move || {
        let mut s = accept(&l, None);
        let req = read_request(&mut s);
        assert!(req.starts_with("GET /ws HTTP/1.1\r\n"), "{req}");
        s.write_all(b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 9\r\n\r\nslow down")
            .unwrap();
    });
    let mut c = cfg(format!("ws://127.0.0.1:{port}/ws"));
    c.give_up_after_failures = Some(1);
    let mut client = WsClient::new(c).unwrap();
    let err = drive(&mut client, &mut Run::default(), |_, _| false).unwrap_err();
    assert!(matches!(err, NetError::Handshake(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("429") && msg.contains("rate limited"), "{msg}");
    assert_eq!(
        client.counters().disconnects_by(DisconnectCause::Handshake),
        1
    );
    server.join().unwrap();
}

#[test]
fn stuck_handshake_times_out() {
    // The kernel completes the TCP handshake from the backlog; nobody ever answers.
    let (l, port) = listen();
    let mut c = cfg(format!("ws://127.0.0.1:{port}/"));
    c.connect_timeout = Duration::from_millis(200);
    c.give_up_after_failures = Some(2);
    let mut client = WsClient::new(c).unwrap();
    let t0 = Instant::now();
    let err = drive(&mut client, &mut Run::default(), |_, _| false).unwrap_err();
    assert!(matches!(err, NetError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("ws_handshake"), "{err}");
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        client.counters().disconnects_by(DisconnectCause::Timeout),
        2
    );
    drop(l);
}

// ---------------------------------------------------------------------------------------------
// Keepalive

#[test]
fn server_pings_are_answered() {
    let (port, server) = serve(None, 1, |_, ws| {
        for round in 0..3u8 {
            let payload = Bytes::from(vec![b'p', round]);
            ws.send(Message::Ping(payload.clone())).unwrap();
            // The server socket has a 5 s read timeout: a missing pong fails here.
            match ws.read() {
                Ok(Message::Pong(p)) => assert_eq!(p, payload),
                Ok(other) => panic!("expected a pong, got {other:?}"),
                Err(e) => panic!("no pong: {e}"),
            }
            ws.send(Message::text(format!("pong-ok{round}"))).unwrap();
        }
        hold(ws, LIMIT);
    });
    let mut client = WsClient::new(cfg(format!("ws://127.0.0.1:{port}/"))).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| r.frames.len() >= 3).unwrap();
    assert_eq!(run.texts(), ["pong-ok0", "pong-ok1", "pong-ok2"]);
    let k = client.counters();
    assert_eq!(k.pings_rx, 3);
    assert_eq!(k.pongs_tx, 3);
    client.close();
    server.join().unwrap();
}

#[test]
fn app_pings_are_sent_on_schedule() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (port, server) = serve(None, 1, move |_, ws| {
        let t0 = Instant::now();
        let mut times = Vec::new();
        if let SrvStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        }
        while t0.elapsed() < Duration::from_millis(650) {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    assert_eq!(t.as_str(), r#"{"op":"ping"}"#);
                    times.push(t0.elapsed());
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("server read: {e}"),
            }
        }
        ws.send(Message::text("done")).unwrap();
        tx.send(times).unwrap();
        hold(ws, LIMIT);
    });
    let mut c = cfg(format!("ws://127.0.0.1:{port}/"));
    c.keepalive = Keepalive::AppText {
        text: r#"{"op":"ping"}"#.to_string(),
        every: Duration::from_millis(100),
    };
    let mut client = WsClient::new(c).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| !r.frames.is_empty()).unwrap();
    let times = rx.recv_timeout(LIMIT).unwrap();
    assert!(
        (5..=7).contains(&times.len()),
        "{} pings in 650 ms at 100 ms: {times:?}",
        times.len()
    );
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(80) && gap <= Duration::from_millis(200),
            "ping gap {gap:?} (every 100 ms): {times:?}"
        );
    }
    let k = client.counters();
    assert!(k.pings_tx >= times.len() as u64);
    assert_eq!(k.frames_tx, k.pings_tx);
    client.close();
    server.join().unwrap();
}

/// bitbank's Engine.IO keepalive: each text `2` from the server is answered with `3` (and still
/// delivered as a frame); other texts are not answered.
#[test]
fn app_level_server_pings_are_answered() {
    let (port, server) = serve(None, 1, move |_, ws| {
        for _ in 0..3 {
            ws.send(Message::text("2")).unwrap();
            expect_text(ws, "3");
        }
        ws.send(Message::text("22")).unwrap();
        ws.send(Message::text("done")).unwrap();
        hold(ws, LIMIT);
    });
    let mut c = cfg(format!("ws://127.0.0.1:{port}/"));
    c.keepalive = Keepalive::Answer {
        ping: "2".into(),
        pong: "3".into(),
    };
    let mut client = WsClient::new(c).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| {
        r.texts().last().is_some_and(|t| t == "done")
    })
    .unwrap();
    assert_eq!(run.texts(), vec!["2", "2", "2", "22", "done"]);
    let k = client.counters();
    assert_eq!((k.pings_rx, k.pongs_tx), (3, 3));
    client.close();
    server.join().unwrap();
}

#[test]
fn protocol_pings_are_sent_and_pongs_counted() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (port, server) = serve(None, 1, move |_, ws| {
        if let SrvStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        }
        let t0 = Instant::now();
        let mut pings = 0;
        while t0.elapsed() < Duration::from_millis(400) {
            match ws.read() {
                Ok(Message::Ping(_)) => pings += 1, // tungstenite answers with a pong
                Ok(other) => panic!("unexpected {other:?}"),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("server read: {e}"),
            }
        }
        ws.send(Message::text("done")).unwrap();
        tx.send(pings).unwrap();
        hold(ws, LIMIT);
    });
    let mut c = cfg(format!("ws://127.0.0.1:{port}/"));
    c.keepalive = Keepalive::ProtocolPing {
        every: Duration::from_millis(50),
    };
    let mut client = WsClient::new(c).unwrap();
    let mut run = Run::default();
    drive(&mut client, &mut run, |_, r| !r.frames.is_empty()).unwrap();
    let pings = rx.recv_timeout(LIMIT).unwrap();
    assert!((5..=9).contains(&pings), "{pings} pings in 400 ms at 50 ms");
    let k = client.counters();
    assert!(k.pings_tx >= pings);
    assert!(k.pongs_rx >= pings - 1, "{k:?}");
    assert_eq!(k.frames_tx, 0);
    client.close();
    server.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Config errors

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let e = WsClient::new(WsConfig::new("http://x/")).err().unwrap();
    assert!(e.to_string().contains("ws:// or wss://"), "{e}");
    let mut c = WsConfig::new("wss://127.0.0.1:1/");
    c.extra_ca_pem = Some(PathBuf::from("does/not/exist.pem"));
    let e = WsClient::new(c).err().unwrap();
    assert!(e.to_string().contains("does/not/exist.pem"), "{e}");
    let mut c = WsConfig::new("ws://127.0.0.1:1/");
    c.max_silence = Some(Duration::ZERO);
    assert!(WsClient::new(c)
        .err()
        .unwrap()
        .to_string()
        .contains("max_silence"));
}

// ---------------------------------------------------------------------------------------------
// REST

fn body_of(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    let mut i = 0u32;
    while v.len() < n {
        v.extend_from_slice(format!("[\"{i}.5\",\"0.{i}\"],").as_bytes());
        i += 1;
    }
    v.truncate(n);
    v
}

fn read_request<S: Read>(s: &mut S) -> String {
    let mut req = Vec::new();
    let mut b = [0u8; 1];
    while !req.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => req.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&req).into_owned()
}

/// An HTTP server answering `n` requests in turn; the answer depends on the path.
fn http_server(tls: Option<Arc<ServerConfig>>, n: usize) -> (u16, JoinHandle<Vec<String>>) {
    let (l, port) = listen();
    let h = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for _ in 0..n {
            let mut s = accept(&l, tls.as_ref());
            let req = read_request(&mut s);
            let path = req.split(' ').nth(1).unwrap_or("").to_string();
            requests.push(req);
            let p = path.split('?').next().unwrap_or("");
            let _ = match p {
                "/cl" => {
                    let body = body_of(200_000);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    s.write_all(head.as_bytes()).unwrap();
                    s.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                    s.write_all(&body[..1000]).unwrap();
                    s.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                    s.write_all(&body[1000..])
                }
                "/chunked" => s.write_all(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                      5;ext=1\r\nhello\r\n1\r\n,\r\n10\r\n 0123456789abcde\r\n0\r\nX-Trailer: y\r\n\r\n",
                ),
                "/limited" => s.write_all(
                    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}",
                ),
                "/boom" => s.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\n\r\nmaintenance",
                ),
                "/missing" => {
                    s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
                }
                "/close" => s.write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil the end"),
                "/short" => s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"),
                "/slow" => {
                    std::thread::sleep(Duration::from_millis(600));
                    Ok(())
                }
                _ => s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
            };
            let _ = s.flush();
            if let SrvStream::Tls(t) = &mut s {
                t.conn.send_close_notify();
                let _ = t.flush();
            }
        }
        requests
    });
    (port, h)
}

#[test]
fn rest_get_bodies_statuses_and_errors() {
    let t = Duration::from_secs(5);
    let (port, server) = http_server(None, 8);
    let base = format!("http://127.0.0.1:{port}");

    let (status, body) =
        rest::get(&format!("{base}/cl?symbol=BTCUSDT&limit=5000"), None, t).unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, body_of(200_000));

    let (status, body) = rest::get(&format!("{base}/chunked"), None, t).unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, b"hello, 0123456789abcde");

    match rest::get(&format!("{base}/limited"), None, t) {
        Err(NetError::RateLimited {
            status: 429,
            retry_after_s: Some(7),
            ..
        }) => {}
        other => panic!("expected RateLimited, got {other:?}"),
    }
    let e = rest::get(&format!("{base}/boom"), None, t).unwrap_err();
    assert!(
        matches!(&e, NetError::ServerError { status: 503, body_head, .. } if body_head == "maintenance"),
        "{e:?}"
    );
    assert!(e.to_string().contains("HTTP 503"), "{e}");

    let (status, body) = rest::get(&format!("{base}/missing"), None, t).unwrap();
    assert_eq!((status, body.as_slice()), (404, &b"not found"[..]));

    let (status, body) = rest::get(&format!("{base}/close"), None, t).unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"until the end"[..]));

    let e = rest::get(&format!("{base}/short"), None, t).unwrap_err();
    assert!(
        e.to_string().contains("91 of 100 body bytes missing"),
        "{e}"
    );

    let t0 = Instant::now();
    let e = rest::get(&format!("{base}/slow"), None, Duration::from_millis(200)).unwrap_err();
    assert!(matches!(e, NetError::Timeout(_)), "{e:?}");
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );

    let requests = server.join().unwrap();
    assert!(
        requests[0].starts_with("GET /cl?symbol=BTCUSDT&limit=5000 HTTP/1.1\r\n"),
        "{}",
        requests[0]
    );
    assert!(requests[0].contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")));
    assert!(requests[0].contains("\r\nConnection: close\r\n"));
}

#[test]
fn rest_get_over_tls_trusts_only_the_given_ca() {
    let pki = make_pki("rest");
    let (port, server) = http_server(Some(pki.server.clone()), 3);
    let url = format!("https://127.0.0.1:{port}/chunked");
    let t = Duration::from_secs(5);
    let (status, body) = rest::get(&url, Some(&pki.ca_file), t).unwrap();
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"hello, 0123456789abcde"[..])
    );
    let (status, body) = rest::get(
        &format!("https://127.0.0.1:{port}/cl"),
        Some(&pki.ca_file),
        t,
    )
    .unwrap();
    assert_eq!((status, body.len()), (200, 200_000));
    let e = rest::get(&url, None, t).unwrap_err();
    assert!(matches!(e, NetError::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("certificate is not trusted"), "{e}");
    server.join().unwrap();
}

#[test]
fn rest_worker_hands_the_body_back_through_the_ring() {
    let (port, server) = http_server(None, 2);
    let mut w = rest::RestWorker::spawn(
        "rest-test",
        vec![
            format!("http://127.0.0.1:{port}/chunked"),
            format!("http://127.0.0.1:{port}/limited"),
        ],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(!w.request(2), "unknown index");
    assert!(w.request(0));
    assert!(w.request(1));
    let t0 = Instant::now();
    let mut replies = Vec::new();
    while replies.len() < 2 {
        assert!(t0.elapsed() < LIMIT, "no reply from the worker");
        match w.try_recv() {
            Some(r) => replies.push(r),
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    assert_eq!(replies[0].url_idx, 0);
    assert_eq!(
        replies[0].result.as_ref().unwrap(),
        &(200, b"hello, 0123456789abcde".to_vec())
    );
    assert!(replies[0].done_ns > 0);
    assert_eq!(replies[1].url_idx, 1);
    assert!(matches!(
        replies[1].result,
        Err(NetError::RateLimited { status: 429, .. })
    ));
    drop(w);
    server.join().unwrap();
}
