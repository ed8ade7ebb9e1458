//! `STATUS=` follows the health verdict `/healthz` answers with: `READY=1` goes out with a
//! line that does not say "trading" while `/healthz` is 503 (the book not yet synced), and the
//! line changes to "trading" when `/healthz` turns 200. A fake systemd (a unix datagram socket
//! named by `$NOTIFY_SOCKET`) receives the messages; this test is alone in its binary, so the
//! environment is its own.

use obi_scalp::ops::{
    self, FeedStatus, KillSwitch, Mode, Ops, OpsConfig, Phase, SecretStore, Status, StatusBoard,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Duration;

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 1024];
    let n = sock.recv(&mut buf).expect("a datagram within 10 s");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn healthz(addr: SocketAddr) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (code, body)
}

#[test]
fn status_says_trading_only_once_healthz_answers_200() {
    let root = std::env::temp_dir().join(format!("obi-sdstatus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let sock_path = root.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::env::set_var("NOTIFY_SOCKET", &sock_path);
    std::env::remove_var("WATCHDOG_USEC");

    let mut cfg = OpsConfig {
        artifacts_dir: root.join("var/artifacts"),
        kill_file: root.join("var/KILL"),
        ..OpsConfig::default()
    };
    cfg.http.addr = "127.0.0.1:0".into();
    cfg.audit.dir = root.join("var/logs");
    let mut status = Status::new("0.1.0", "d", Mode::Paper);
    status.awaiting_first_sync = true;
    let board = Arc::new(StatusBoard::new(status));
    let secrets = Arc::new(SecretStore::new(
        ops::SecretSources::new(None, None, "OBI_TEST_", |_| None),
        &[],
    ));
    let mut o = Ops::start(&cfg, board.clone(), KillSwitch::new(), secrets, None).unwrap();
    let addr = o.http_addr().unwrap();

    // Started, feed connected, book still resyncing.
    board.update(|s| {
        s.phase = Phase::Running;
        s.feed = FeedStatus::Active;
    });
    o.ready("bybit BTCUSDT (paper)");
    assert_eq!(
        recv(&sock),
        "READY=1\nSTATUS=not trading bybit BTCUSDT (paper): book_not_synced_yet"
    );
    let (code, body) = healthz(addr);
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("book_not_synced_yet"), "{body}");
    o.tick(true);

    // The collector saw the book synced.
    board.update(|s| s.awaiting_first_sync = false);
    o.tick(true);
    assert_eq!(recv(&sock), "STATUS=trading bybit BTCUSDT (paper)");
    assert_eq!(healthz(addr).0, 200);
    // No change, no new line; the next one is the kill switch's.
    o.tick(true);
    o.kill().trigger(ops::KillSource::File, "test");
    o.tick(true);
    let line = recv(&sock);
    assert!(
        line.starts_with("STATUS=not trading bybit BTCUSDT (paper): kill_switch:"),
        "{line}"
    );
    assert_eq!(healthz(addr).0, 503);
    o.finish(ops::RunComplete {
        stop_reason: "test".into(),
        exit: ops::Exit::Ok,
        clean: true,
        kill: None,
        status: None,
    })
    .unwrap();
    assert_eq!(recv(&sock), "STOPPING=1");
    let _ = std::fs::remove_dir_all(&root);
}
