//! `WATCHDOG=1` only while every hot thread makes progress.
//!
//! `obi-scalp run`'s supervisor (`app::session::Session`) runs the real pipeline (four hot threads, all
//! parking when idle) over a source the test steers, with `$NOTIFY_SOCKET` pointing at a unix
//! datagram socket the test reads (a fake systemd) and `$WATCHDOG_USEC` asking for a ping every
//! 200 ms. The source's `next` can be made to block: that stalls the feed stage inside its
//! poll, as a deadlock or a stuck system call would, while the cold thread keeps running.
//!
//! Assertions wait for events: pings arriving while the market moves and while every thread is
//! parked idle; after the stall began (the source says when it blocked) at most one more ping
//! (a check whose baseline predates the stall), and none after; pings again once it resumes.
//! The one time window is the "no more pings" one, and a slow machine can only send fewer.

use obi_scalp::app::session::{Feed, Session};
use obi_scalp::config::{Config, WaitStrategy};
use obi_scalp::ops::{self, Ops, StatusBoard};
use obi_scalp::pipeline::layout::LayoutSpec;
use obi_scalp::pipeline::sources::{FrameSource, SourceEvent, SyntheticSource};
use obi_scalp::venue::AnyDecoder;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MARKET: u8 = 0;
const IDLE: u8 = 1;
const STALL: u8 = 2;

/// The synthetic market, idle, or stalled (blocking inside `next`), as the test says.
struct Steered {
    inner: SyntheticSource,
    mode: Arc<AtomicU8>,
    stalled: Arc<AtomicBool>,
}

impl FrameSource for Steered {
    fn next(&mut self, buf: &mut Vec<u8>, url: &mut String) -> SourceEvent {
        match self.mode.load(Ordering::Acquire) {
            MARKET => self.inner.next(buf, url),
            IDLE => SourceEvent::Idle,
            _ => {
                // Blocks the feed's hot thread until the test lets go (bounded: 60 s).
                self.stalled.store(true, Ordering::Release);
                let t = Instant::now();
                while self.mode.load(Ordering::Acquire) == STALL && t.elapsed() < STALL_LIMIT {
                    std::thread::sleep(Duration::from_millis(5));
                }
                self.stalled.store(false, Ordering::Release);
                SourceEvent::Idle
            }
        }
    }

    fn request_resync(&mut self) {
        self.inner.request_resync()
    }
}

const STALL_LIMIT: Duration = Duration::from_secs(60);
/// `$WATCHDOG_USEC`: pings every 200 ms.
const WATCHDOG_USEC: u64 = 400_000;
const PING_EVERY: Duration = Duration::from_millis(200);

/// Waits for `n` `WATCHDOG=1` datagrams (other messages are skipped) for up to `limit`.
fn pings(sock: &UnixDatagram, n: usize, limit: Duration) -> usize {
    let t = Instant::now();
    let mut got = 0;
    let mut buf = [0u8; 512];
    while got < n && t.elapsed() < limit {
        sock.set_read_timeout(Some(
            limit
                .saturating_sub(t.elapsed())
                .max(Duration::from_millis(1)),
        ))
        .unwrap();
        if let Ok(len) = sock.recv(&mut buf) {
            if buf[..len]
                .split(|&b| b == b'\n')
                .any(|l| l == b"WATCHDOG=1")
            {
                got += 1;
            }
        }
    }
    got
}

#[test]
fn watchdog_pings_stop_while_a_hot_thread_is_stuck_and_not_while_threads_park_idle() {
    let dir = std::env::temp_dir().join(format!("obi-watchdog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    // This test is alone in its binary: the environment is its own.
    std::env::set_var("NOTIFY_SOCKET", &sock_path);
    std::env::set_var("WATCHDOG_USEC", WATCHDOG_USEC.to_string());
    std::env::remove_var("WATCHDOG_PID");

    let mut cfg = Config::builtin();
    cfg.duration_ns = None;
    cfg.pipeline.layout = LayoutSpec::parse("4").unwrap();
    cfg.pipeline.wait = WaitStrategy::Park;
    cfg.pipeline.cores.clear();
    cfg.ops.http.enabled = false;
    cfg.ops.artifacts_dir = dir.join("artifacts");
    cfg.ops.audit.dir = dir.join("logs");
    cfg.ops.kill_file = dir.join("KILL");

    let mode = Arc::new(AtomicU8::new(MARKET));
    let stalled = Arc::new(AtomicBool::new(false));
    let src = Steered {
        inner: SyntheticSource::from_config(&cfg, 1).unwrap(),
        mode: mode.clone(),
        stalled: stalled.clone(),
    };
    let decoder = AnyDecoder::for_config(&cfg).unwrap();
    let shutdown = Arc::new(AtomicBool::new(false));
    let driver = {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            let kill = ops::KillSwitch::new();
            let secrets = Arc::new(ops::SecretStore::new(
                ops::SecretSources::new(None, None, "OBI_TEST_", |_| None),
                &[],
            ));
            let board = Arc::new(StatusBoard::new(ops::Status::new(
                "test",
                "",
                ops::Mode::Paper,
            )));
            let o = Ops::start(&cfg.ops, board.clone(), kill.clone(), secrets, None).unwrap();
            let mut session = Session::start(&cfg, o, shutdown, None).map_err(|e| e.msg)?;
            let r = session.run(src, decoder, Feed::Local);
            let _ = session.finish(r.clone());
            r.map(|o| (o.exit, o.reason)).map_err(|e| e.msg)
        })
    };
    let generous = Duration::from_secs(30);

    // The market moves: pings.
    assert_eq!(pings(&sock, 3, generous), 3, "pings while the market moves");

    // Nothing to do: all four hot threads park (woken by their timeouts), pings go on.
    mode.store(IDLE, Ordering::Release);
    assert_eq!(
        pings(&sock, 5, generous),
        5,
        "pings while every thread parks idle"
    );

    // The feed stage hangs inside its poll.
    mode.store(STALL, Ordering::Release);
    let t = Instant::now();
    while !stalled.load(Ordering::Acquire) {
        assert!(t.elapsed() < generous, "the source never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
    let late = pings(&sock, 2, PING_EVERY * 12);
    assert!(
        late <= 1,
        "{late} pings while the feed thread was stuck (at most one whose check began before the stall)"
    );
    assert!(stalled.load(Ordering::Acquire), "still stuck throughout");

    // It comes back: pings again.
    mode.store(IDLE, Ordering::Release);
    assert_eq!(
        pings(&sock, 2, generous),
        2,
        "pings once the thread moves again"
    );

    shutdown.store(true, Ordering::Relaxed);
    let (exit, reason) = driver.join().unwrap().unwrap();
    assert_eq!((exit, reason.as_str()), (ops::Exit::Ok, "signal"));
    let _ = std::fs::remove_dir_all(&dir);
}
