//! HTTP/1.1 with keep-alive for the private REST API: read a request (head and
//! `Content-Length` body), let the venue's [`PrivateApi`](super::PrivateApi) answer it, write
//! the answer, and wait for the next request on the same connection (a live gateway keeps its
//! TLS connection warm). An idle connection is closed after [`IDLE`]; a request the API leaves
//! unanswered (`timeout`, `lostack`) holds the connection silent until the client gives up.

use super::{Fate, HttpRequest, PrivateSide};
use crate::clock::wall_ms;
use crate::sim::server::{parse_head, reason, Io, Request};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// An idle keep-alive connection is closed after this long.
pub const IDLE: Duration = Duration::from_secs(30);
/// Longest request (head and body) accepted.
const MAX_REQUEST: usize = 64 * 1024;

/// Serves `first` (whose head is read; `leftover` holds the bytes after it) and the requests
/// that follow on the connection.
pub(in crate::sim) fn serve(
    p: &PrivateSide,
    stopping: &AtomicBool,
    mut io: Io<TcpStream>,
    first: Request,
    leftover: Vec<u8>,
) -> Result<(), String> {
    let mut buf = leftover;
    let mut req = first;
    loop {
        let len = match req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            None => 0,
            Some((_, v)) => v
                .parse::<usize>()
                .map_err(|_| format!("bad Content-Length '{v}'"))?,
        };
        if len > MAX_REQUEST {
            let _ = write_answer(
                &mut io,
                413,
                &[],
                "{\"retCode\":10001,\"retMsg\":\"body too long\"}",
                false,
            );
            return Err(format!("body of {len} bytes"));
        }
        fill(&mut io, &mut buf, len, stopping)?;
        let body: Vec<u8> = buf.drain(..len).collect();
        let fate = p.lock().rest(
            &HttpRequest {
                method: &req.method,
                target: &req.target,
                headers: &req.headers,
                body: &body,
            },
            wall_ms(),
        );
        match fate {
            Fate::Answer { reply, headers } => {
                write_answer(&mut io, reply.status, &headers, &reply.body, true)
                    .map_err(|e| format!("writing the answer: {e}"))?;
            }
            Fate::NoAnswer => {
                // Silent until the client closes (its time-out), or the server stops.
                let deadline = Instant::now() + IDLE;
                let mut sink = [0u8; 512];
                while Instant::now() < deadline && !stopping.load(Ordering::SeqCst) {
                    match io.read(&mut sink) {
                        Ok(0) => return Ok(()),
                        Ok(_) => {}
                        Err(e) if retry(&e) => {}
                        Err(_) => return Ok(()),
                    }
                }
                io.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
        // The next request on this connection.
        let head = match read_head(&mut io, &mut buf, stopping)? {
            Some(h) => h,
            None => return Ok(()),
        };
        req = parse_head(&head)?;
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Reads until `buf` holds at least `len` bytes.
fn fill(
    io: &mut Io<TcpStream>,
    buf: &mut Vec<u8>,
    len: usize,
    stopping: &AtomicBool,
) -> Result<(), String> {
    let deadline = Instant::now() + IDLE;
    let mut chunk = [0u8; 4096];
    while buf.len() < len {
        if stopping.load(Ordering::SeqCst) || Instant::now() > deadline {
            return Err("body not complete".into());
        }
        match io.read(&mut chunk) {
            Ok(0) => return Err("peer closed inside a body".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if retry(&e) => {}
            Err(e) => return Err(format!("reading a body: {e}")),
        }
    }
    Ok(())
}

/// The next request head, or `None` when the peer closed (or stayed idle too long).
fn read_head(
    io: &mut Io<TcpStream>,
    buf: &mut Vec<u8>,
    stopping: &AtomicBool,
) -> Result<Option<String>, String> {
    let deadline = Instant::now() + IDLE;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..end + 4).collect();
            let head =
                String::from_utf8(head).map_err(|_| "request head is not UTF-8".to_string())?;
            return Ok(Some(head[..end].to_string()));
        }
        if buf.len() > MAX_REQUEST {
            return Err("request head too long".into());
        }
        if stopping.load(Ordering::SeqCst) || Instant::now() > deadline {
            return Ok(None);
        }
        match io.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if retry(&e) => {}
            Err(_) => return Ok(None),
        }
    }
}

fn write_answer(
    io: &mut Io<TcpStream>,
    status: u16,
    headers: &[(String, String)],
    body: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (n, v) in headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    io.write_all(head.as_bytes())?;
    io.write_all(body.as_bytes())?;
    io.flush()
}
