//! Allocation guard for the WebSocket read path: after the connection is set up, receiving
//! frames must not allocate on the feed thread (beyond what tungstenite does, which in steady
//! state is nothing for small unfragmented frames). A counting global allocator counts only
//! the client thread's allocations, and only inside the measured window.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use obi_scalp::net::{mono_ns, WsClient, WsConfig};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tungstenite::Message;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

/// A server certificate signed by a fresh CA; returns (server config, CA PEM path).
fn tls_setup() -> (Arc<rustls::ServerConfig>, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("obi-net-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    (Arc::new(cfg), ca_file)
}

/// Send `count` Bybit-like deltas of varying size, flushed every `burst` frames (with TLS,
/// every flush ends a TLS record).
fn serve_frames<S: Read + Write>(s: S, count: usize, burst: usize) {
    let mut ws = tungstenite::accept(s).unwrap();
    for i in 0..count {
        let pad = "9".repeat(i % 300);
        let m = format!(
            r#"{{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{{"b":[["65140.{pad}","0.8"]],"u":{i}}}}}"#
        );
        ws.write(Message::text(m)).unwrap();
        if i % burst == burst - 1 {
            ws.flush().unwrap();
        }
    }
    ws.flush().unwrap();
    // Wait for the client's close.
    while ws.read().is_ok() {}
}

/// Allocations on this thread while the client receives `N` frames after `WARM` frames.
fn count_allocs(tls: bool) -> u64 {
    const WARM: usize = 200;
    const N: usize = 5000;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (server_cfg, ca_file) = if tls {
        let (c, f) = tls_setup();
        (Some(c), Some(f))
    } else {
        (None, None)
    };
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        match server_cfg {
            None => serve_frames(s, WARM + N, 50),
            // One TLS record per frame, as exchanges send them.
            Some(cfg) => serve_frames(
                rustls::StreamOwned::new(rustls::ServerConnection::new(cfg).unwrap(), s),
                WARM + N,
                1,
            ),
        }
    });

    let scheme = if tls { "wss" } else { "ws" };
    let mut cfg = WsConfig::new(format!("{scheme}://127.0.0.1:{port}/"));
    cfg.extra_ca_pem = ca_file.clone();
    let mut client = WsClient::new(cfg).unwrap();
    let mut got = 0usize;
    let mut bytes = 0usize;
    let t0 = Instant::now();
    let mut start: Option<u64> = None;
    while got < WARM + N {
        assert!(t0.elapsed() < Duration::from_secs(10), "only {got} frames");
        if start.is_none() && got >= WARM {
            start = Some(counting_alloc::thread_allocs());
        }
        client
            .poll(
                mono_ns(),
                Some(Duration::from_millis(5)),
                |_, b: &mut [u8]| {
                    got += 1;
                    bytes += b.len();
                },
            )
            .unwrap();
    }
    let allocs = counting_alloc::thread_allocs() - start.expect("the measured window began");
    client.close();
    server.join().unwrap();
    if let Some(f) = ca_file {
        let _ = std::fs::remove_dir_all(f.parent().unwrap());
    }
    assert!(bytes > N * 70);
    eprintln!("{scheme}: {allocs} allocations while reading {N} frames after set-up");
    // rustls 0.23 copies every decrypted application-data record into a new Vec (its
    // `received_plaintext` queue; the unbuffered API does the same): one allocation per TLS
    // record, which here is one per frame. Everything else (this module, tungstenite) may add
    // at most one allocation per 100 frames.
    let inherent = if tls { N as u64 } else { 0 };
    assert!(
        allocs <= inherent + N as u64 / 100,
        "{scheme}: {allocs} allocations while reading {N} frames"
    );
    allocs
}

#[test]
fn the_counter_counts() {
    let (v, n) = counting_alloc::counted(|| std::hint::black_box(vec![1u8; 10]));
    drop(v);
    assert_eq!(n, 1);
}

#[test]
fn reading_plain_frames_does_not_allocate_after_setup() {
    count_allocs(false);
}

#[test]
fn reading_tls_frames_does_not_allocate_after_setup() {
    count_allocs(true);
}
