//! Helpers for the tests that drive the `obi-scalp` binary as a child process: the environment
//! scrubbed from every child, output collection, one-shot HTTP, Prometheus samples, JSON files.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// Environment variables that would change what a command does; removed from every child.
pub const SCRUB_ENV: &[&str] = &[
    "CREDENTIALS_DIRECTORY",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "OBI_SCALP_LIVE",
    "OBI_SCALP_API_KEY",
    "OBI_SCALP_API_SECRET",
    "OBI_SCALP_KILL_TOKEN",
    "AUDIT_LOG_MAX_BYTES",
    "AUDIT_LOG_RETENTION",
];

/// `bin` to run in `dir` with logs at `info`, no stdin, stdout and stderr piped, and the
/// [`SCRUB_ENV`] variables removed.
pub fn command(bin: &str, dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(bin);
    c.current_dir(dir)
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for k in SCRUB_ENV {
        c.env_remove(k);
    }
    c
}

/// Waits for `child` to exit, at most `limit`; past it the child is killed and reaped, and the
/// answer is `None`.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let end = std::time::Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if std::time::Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Collects the lines of `r` into `into`; the first one also goes to `first`.
pub fn collect(
    r: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
    first: Option<mpsc::Sender<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut first = first;
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = first.take() {
                let _ = tx.send(line.clone());
            }
            let mut s = into.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    })
}

pub fn read_json(p: &Path) -> Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}\n{t}", p.display()))
}

pub struct Resp {
    pub code: u16,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request; the server answers and closes.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = if method == "POST" { "{}" } else { "" };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let (head, body) = buf
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {buf:?}")))?;
    let code = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    Ok(Resp {
        code,
        body: body.to_owned(),
    })
}

/// Prometheus text -> `name{labels}` -> value (samples only).
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// A spawned child with its stdout and stderr collected by reader threads, and its first line
/// of stdout.
pub struct Spawned {
    pub child: std::process::Child,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
    pub readers: Vec<std::thread::JoinHandle<()>>,
    pub first_line: String,
}

/// Spawns `cmd` (stdout and stderr piped) and waits, at most 30 s, for its first line of
/// stdout; past that the child is killed and the test panics with `what` and its stderr.
pub fn spawn_collecting(mut cmd: std::process::Command, what: &str) -> Spawned {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let readers = vec![
        collect(child.stdout.take().unwrap(), stdout.clone(), Some(tx)),
        collect(child.stderr.take().unwrap(), stderr.clone(), None),
    ];
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(first_line) => Spawned {
            child,
            stdout,
            stderr,
            readers,
            first_line,
        },
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: no first line within 30 s; stderr:\n{}",
                stderr.lock().unwrap()
            );
        }
    }
}
