//! A small blocking HTTP/1.1 GET client for REST snapshots (cold path), and a worker thread
//! that runs it for the feed thread.
//!
//! [`get`] sends `GET` with `Connection: close` and `Accept-Encoding: identity`, reads the
//! answer with an overall deadline, and decodes `Content-Length`, chunked, or read-to-close
//! bodies. HTTP 429 (and Binance's 418 ban) come back as [`NetError::RateLimited`], 5xx as
//! [`NetError::ServerError`]; every other status is returned with its body for the caller
//! to judge.
//!
//! [`RestWorker`] owns a helper thread and two `rtrb` rings: the feed thread pushes the index
//! of a pre-registered URL and later pops the [`RestReply`]; it never blocks or locks.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::{recv_stamp_ns, tls, NetError, Url};

/// Largest response header block accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest body accepted (a Binance 5000-level depth snapshot is well under 1 MiB).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// GET `url` (http or https), trusting the webpki roots plus `extra_ca` (PEM file), within
/// `timeout` for the whole exchange. Returns the status and the body.
pub fn get(
    url: &str,
    extra_ca: Option<&Path>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), NetError> {
    let parsed = Url::parse(url)?;
    let tls_config = if parsed.scheme.is_tls() {
        Some(tls::client_config(extra_ca)?)
    } else {
        None
    };
    get_url(&parsed, tls_config.as_ref(), timeout)
}

/// POST the JSON `body` to `url` (as [`get`]; the simulator's control hooks, tests).
pub fn post_json(
    url: &str,
    extra_ca: Option<&Path>,
    body: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), NetError> {
    let parsed = Url::parse(url)?;
    let tls_config = if parsed.scheme.is_tls() {
        Some(tls::client_config(extra_ca)?)
    } else {
        None
    };
    exchange(&parsed, tls_config.as_ref(), Some(body), timeout)
}

/// [`get`] with a parsed URL and a prepared TLS configuration (required for https).
pub fn get_url(
    url: &Url,
    tls_config: Option<&Arc<ClientConfig>>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), NetError> {
    exchange(url, tls_config, None, timeout)
}

/// One request: a GET, or a POST of a JSON body.
fn exchange(
    url: &Url,
    tls_config: Option<&Arc<ClientConfig>>,
    post: Option<&str>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), NetError> {
    if url.scheme.is_ws() {
        return Err(NetError::Url(format!(
            "{url}: REST needs an http:// or https:// URL"
        )));
    }
    let deadline = Instant::now() + timeout;
    let stream = connect(url, tls_config, deadline)?;
    let mut conn = Buffered {
        stream,
        buf: Vec::with_capacity(16 * 1024),
        pos: 0,
        deadline,
        url,
    };
    let (method, extra) = match post {
        None => ("GET", String::new()),
        Some(b) => (
            "POST",
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ),
        ),
    };
    let request = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: obi-scalp/{}\r\nAccept: application/json, */*\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n{extra}\r\n{}",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        post.unwrap_or("")
    );
    conn.set_timeouts()?;
    conn.stream
        .write_all(request.as_bytes())
        .and_then(|_| conn.stream.flush())
        .map_err(|e| conn.io_error(e, "sending the request"))?;

    // Skip interim 1xx answers (100 Continue); a GET should not get them, but may.
    let head = loop {
        let head = conn.read_head()?;
        if !(100..200).contains(&head.status) {
            break head;
        }
    };
    let body = if head.status == 204 || head.status == 304 {
        Vec::new()
    } else if head.chunked {
        conn.read_chunked()?
    } else if let Some(len) = head.content_length {
        conn.read_exact_body(len)?
    } else {
        conn.read_to_close()?
    };
    match head.status {
        429 | 418 => Err(NetError::RateLimited {
            status: head.status,
            retry_after_s: head.retry_after_s,
            url: url.to_string(),
        }),
        500..=599 => Err(NetError::ServerError {
            status: head.status,
            url: url.to_string(),
            body_head: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        }),
        s => Ok((s, body)),
    }
}

/// A client connection, plain or TLS (the REST client's and the live gateways').
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let now = Instant::now();
    (deadline > now).then(|| deadline - now)
}

fn connect(
    url: &Url,
    tls_config: Option<&Arc<ClientConfig>>,
    deadline: Instant,
) -> Result<Stream, NetError> {
    let authority = url.authority();
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| NetError::Connect(format!("{authority}: cannot resolve host: {e}")))?
        .collect();
    let mut last = None;
    let mut sock = None;
    for addr in &addrs {
        let Some(left) = remaining(deadline) else {
            break;
        };
        match TcpStream::connect_timeout(addr, left) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let sock = match sock {
        Some(s) => s,
        None => {
            return Err(match last {
                Some(e) if e.kind() == io::ErrorKind::TimedOut => {
                    NetError::Timeout(format!("{authority}: connect: {e}"))
                }
                Some(e) => NetError::Connect(format!("{authority}: {e}")),
                None if addrs.is_empty() => {
                    NetError::Connect(format!("{authority}: host resolves to no address"))
                }
                None => NetError::Timeout(format!("{authority}: no time left to connect")),
            })
        }
    };
    let _ = sock.set_nodelay(true);
    if !url.scheme.is_tls() {
        return Ok(Stream::Plain(sock));
    }
    let config = tls_config
        .ok_or_else(|| NetError::Config(format!("{authority}: https needs a TLS configuration")))?;
    let session = ClientConnection::new(config.clone(), tls::server_name(&url.host)?)
        .map_err(|e| NetError::Tls(tls::describe(&e, &authority)))?;
    Ok(Stream::Tls(Box::new(StreamOwned::new(session, sock))))
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    retry_after_s: Option<u64>,
}

/// The stream with a read buffer and the request deadline.
struct Buffered<'a> {
    stream: Stream,
    buf: Vec<u8>,
    pos: usize,
    deadline: Instant,
    url: &'a Url,
}

impl Buffered<'_> {
    fn set_timeouts(&self) -> Result<(), NetError> {
        let left = remaining(self.deadline).ok_or_else(|| self.timeout("waiting"))?;
        let tcp = self.stream.tcp();
        tcp.set_read_timeout(Some(left))
            .and_then(|_| tcp.set_write_timeout(Some(left)))
            .map_err(|e| NetError::Io(format!("{}: {e}", self.url.authority())))
    }

    fn timeout(&self, what: &str) -> NetError {
        NetError::Timeout(format!("{}: no complete answer in time ({what})", self.url))
    }

    fn io_error(&self, e: io::Error, what: &str) -> NetError {
        let authority = self.url.authority();
        if let Some(t) = tls::rustls_error(&e) {
            return NetError::Tls(tls::describe(t, &authority));
        }
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.timeout(what),
            _ => NetError::Io(format!("{authority}: {what}: {e}")),
        }
    }

    /// Read more bytes into the buffer; `Ok(0)` at end of stream.
    fn fill(&mut self, what: &str) -> Result<usize, NetError> {
        self.set_timeouts()?;
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let start = self.buf.len();
        self.buf.resize(start + 16 * 1024, 0);
        let r = self.stream.read(&mut self.buf[start..]);
        let n = match r {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            // Servers often end `Connection: close` answers without TLS close_notify.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => {
                self.buf.truncate(start);
                return Err(self.io_error(e, what));
            }
        };
        self.buf.truncate(start + n);
        Ok(n)
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn protocol(&self, why: String) -> NetError {
        NetError::Protocol(format!("{}: {why}", self.url))
    }

    /// One CRLF-terminated line (without the CRLF).
    fn read_line(&mut self, what: &str) -> Result<String, NetError> {
        loop {
            if let Some(i) = self.unread().windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.unread()[..i]).into_owned();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.unread().len() > MAX_HEADER_BYTES {
                return Err(
                    self.protocol(format!("{what}: line longer than {MAX_HEADER_BYTES} bytes"))
                );
            }
            if self.fill(what)? == 0 {
                return Err(self.protocol(format!("{what}: connection closed mid-line")));
            }
        }
    }

    fn read_head(&mut self) -> Result<Head, NetError> {
        let status_line = self.read_line("status line")?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let code = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(self.protocol(format!("not an HTTP/1.x status line: {status_line:?}")));
        }
        let status = code
            .parse::<u16>()
            .ok()
            .filter(|s| (100..1000).contains(s))
            .ok_or_else(|| self.protocol(format!("bad status code in {status_line:?}")))?;
        let mut head = Head {
            status,
            content_length: None,
            chunked: false,
            retry_after_s: None,
        };
        let mut total = status_line.len();
        loop {
            let line = self.read_line("headers")?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            if total > MAX_HEADER_BYTES {
                return Err(self.protocol(format!("headers longer than {MAX_HEADER_BYTES} bytes")));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(self.protocol(format!("malformed header line {line:?}")));
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    let n = value.parse::<usize>().map_err(|_| {
                        self.protocol(format!("Content-Length is not a number: {value:?}"))
                    })?;
                    if head.content_length.is_some_and(|old| old != n) {
                        return Err(self.protocol("conflicting Content-Length headers".into()));
                    }
                    head.content_length = Some(n);
                }
                "transfer-encoding" => {
                    let last = value.rsplit(',').next().unwrap_or("").trim();
                    if last.eq_ignore_ascii_case("chunked") {
                        head.chunked = true;
                    } else if !last.eq_ignore_ascii_case("identity") {
                        return Err(
                            self.protocol(format!("unsupported Transfer-Encoding {value:?}"))
                        );
                    }
                }
                "content-encoding"
                    if !value.is_empty() && !value.eq_ignore_ascii_case("identity") =>
                {
                    return Err(self.protocol(format!(
                        "unsupported Content-Encoding {value:?} (asked for identity)"
                    )));
                }
                "retry-after" => head.retry_after_s = value.parse::<u64>().ok(),
                _ => {}
            }
        }
        Ok(head)
    }

    fn take(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), NetError> {
        let mut left = n;
        while left > 0 {
            if self.unread().is_empty() && self.fill("body")? == 0 {
                return Err(self.protocol(format!(
                    "connection closed with {left} of {n} body bytes missing"
                )));
            }
            let k = left.min(self.unread().len());
            out.extend_from_slice(&self.unread()[..k]);
            self.pos += k;
            left -= k;
        }
        Ok(())
    }

    fn read_exact_body(&mut self, len: usize) -> Result<Vec<u8>, NetError> {
        if len > MAX_BODY_BYTES {
            return Err(self.protocol(format!(
                "Content-Length {len} exceeds the {MAX_BODY_BYTES}-byte limit"
            )));
        }
        let mut body = Vec::with_capacity(len);
        self.take(len, &mut body)?;
        Ok(body)
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, NetError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line("chunk size")?;
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| self.protocol(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                // Trailers until the empty line.
                while !self.read_line("trailer")?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > MAX_BODY_BYTES {
                return Err(self.protocol(format!(
                    "chunked body exceeds the {MAX_BODY_BYTES}-byte limit"
                )));
            }
            self.take(size, &mut body)?;
            let end = self.read_line("chunk end")?;
            if !end.is_empty() {
                return Err(self.protocol("chunk data not followed by CRLF".into()));
            }
        }
    }

    fn read_to_close(&mut self) -> Result<Vec<u8>, NetError> {
        let mut body = self.unread().to_vec();
        self.pos = self.buf.len();
        loop {
            if body.len() > MAX_BODY_BYTES {
                return Err(self.protocol(format!("body exceeds the {MAX_BODY_BYTES}-byte limit")));
            }
            if self.fill("body")? == 0 {
                return Ok(body);
            }
            body.extend_from_slice(self.unread());
            self.pos = self.buf.len();
        }
    }
}

/// The answer to one [`RestWorker::request`].
#[derive(Debug)]
pub struct RestReply {
    /// Index of the URL in the list given to [`RestWorker::spawn`].
    pub url_idx: usize,
    /// Event time ([`super::recv_stamp_ns`]) when the answer was complete.
    pub done_ns: u64,
    pub result: Result<(u16, Vec<u8>), NetError>,
}

/// A helper thread that fetches pre-registered URLs on request, so the feed thread never
/// blocks: [`request`](Self::request) pushes an index into a ring and wakes the thread,
/// [`try_recv`](Self::try_recv) pops the reply. Dropping the worker stops the thread (after
/// the request in flight, if any, ends or times out).
pub struct RestWorker {
    requests: rtrb::Producer<u32>,
    replies: rtrb::Consumer<RestReply>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    url_count: usize,
}

impl RestWorker {
    /// Check the URLs, build the TLS configuration once and start the thread `name`.
    pub fn spawn(
        name: &str,
        urls: Vec<String>,
        extra_ca: Option<PathBuf>,
        timeout: Duration,
    ) -> Result<RestWorker, NetError> {
        let parsed = urls
            .iter()
            .map(|u| Url::parse(u))
            .collect::<Result<Vec<Url>, NetError>>()?;
        if let Some(u) = parsed.iter().find(|u| u.scheme.is_ws()) {
            return Err(NetError::Url(format!(
                "{u}: REST needs an http:// or https:// URL"
            )));
        }
        let tls_config = if parsed.iter().any(|u| u.scheme.is_tls()) {
            Some(tls::client_config(extra_ca.as_deref())?)
        } else {
            None
        };
        let (requests, mut req_rx) = rtrb::RingBuffer::<u32>::new(16);
        let (mut reply_tx, replies) = rtrb::RingBuffer::<RestReply>::new(16);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_w = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                while !stop_w.load(Ordering::Acquire) {
                    let Ok(idx) = req_rx.pop() else {
                        std::thread::park_timeout(Duration::from_millis(100));
                        continue;
                    };
                    let url_idx = idx as usize;
                    let result = get_url(&parsed[url_idx], tls_config.as_ref(), timeout);
                    let mut reply = RestReply {
                        url_idx,
                        done_ns: recv_stamp_ns(),
                        result,
                    };
                    // The consumer pops regularly; wait for room rather than drop an answer.
                    loop {
                        match reply_tx.push(reply) {
                            Ok(()) => break,
                            Err(rtrb::PushError::Full(r)) => {
                                if stop_w.load(Ordering::Acquire) {
                                    return;
                                }
                                reply = r;
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                    }
                }
            })
            .map_err(|e| NetError::Io(format!("cannot start thread {name}: {e}")))?;
        Ok(RestWorker {
            requests,
            replies,
            stop,
            thread: Some(thread),
            url_count: urls.len(),
        })
    }

    /// Ask for URL number `url_idx`. `false` if the index is unknown or 16 requests are
    /// already queued. Lock-free; wakes the worker (one futex wake at most).
    pub fn request(&mut self, url_idx: usize) -> bool {
        if url_idx >= self.url_count || self.requests.push(url_idx as u32).is_err() {
            return false;
        }
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
        true
    }

    /// The next finished request, if any. Lock-free.
    pub fn try_recv(&mut self) -> Option<RestReply> {
        self.replies.pop().ok()
    }
}

impl Drop for RestWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
