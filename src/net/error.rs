//! Transport errors and the causes of disconnects.

use std::fmt;

/// Why a connection ended or a connection attempt failed. Every end is counted under exactly
/// one cause (see [`super::WsCounters::disconnects`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectCause {
    /// The peer closed the TCP connection (or the TLS session) without a WebSocket close frame.
    Eof,
    /// The connection was reset or aborted by the network or the peer (RST, broken pipe).
    Reset,
    /// TLS failed: untrusted or invalid certificate, alert, decrypt error.
    Tls,
    /// The WebSocket upgrade failed: bad HTTP status, bad accept key, malformed response.
    Handshake,
    /// The peer broke the WebSocket protocol, or a message was too large.
    Protocol,
    /// Connecting or a handshake did not complete within the configured time.
    Timeout,
    /// The silence watchdog fired: no frame within the configured maximum silence.
    Silence,
    /// The TCP connection could not be established: refused, unreachable, name not resolved.
    Refused,
    /// The server sent a WebSocket close frame.
    ServerClose,
    /// The caller forced a reconnect because the data went bad (sequence gap, bad checksum).
    Resync,
    /// The caller closed or restarted the connection for its own reasons (shutdown, operator).
    Local,
}

impl DisconnectCause {
    /// Number of causes (the length of per-cause counter arrays).
    pub const COUNT: usize = 11;
    /// All causes, in counter-array order.
    pub const ALL: [DisconnectCause; Self::COUNT] = [
        DisconnectCause::Eof,
        DisconnectCause::Reset,
        DisconnectCause::Tls,
        DisconnectCause::Handshake,
        DisconnectCause::Protocol,
        DisconnectCause::Timeout,
        DisconnectCause::Silence,
        DisconnectCause::Refused,
        DisconnectCause::ServerClose,
        DisconnectCause::Resync,
        DisconnectCause::Local,
    ];

    /// Index into per-cause counter arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Stable lowercase name (metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            DisconnectCause::Eof => "eof",
            DisconnectCause::Reset => "reset",
            DisconnectCause::Tls => "tls",
            DisconnectCause::Handshake => "handshake",
            DisconnectCause::Protocol => "protocol",
            DisconnectCause::Timeout => "timeout",
            DisconnectCause::Silence => "silence",
            DisconnectCause::Refused => "refused",
            DisconnectCause::ServerClose => "server_close",
            DisconnectCause::Resync => "resync",
            DisconnectCause::Local => "local",
        }
    }
}

impl fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport error. Messages name the host, the stage and the reason; they are built only
/// when something fails (the cold side of a disconnect), never per frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// The URL is malformed or uses an unsupported scheme.
    Url(String),
    /// A configuration value is invalid (missing or malformed CA file, bad backoff bounds).
    Config(String),
    /// The TCP connection could not be established (name resolution, refused, unreachable).
    Connect(String),
    /// TLS failed; the message includes rustls' reason.
    Tls(String),
    /// The WebSocket upgrade failed.
    Handshake(String),
    /// The peer broke the WebSocket or HTTP protocol.
    Protocol(String),
    /// The connection ended (EOF, reset, close frame) or a socket call failed.
    Io(String),
    /// An operation did not complete in time (connect, handshake, REST request, silence).
    Timeout(String),
    /// HTTP 429 Too Many Requests (or Binance's 418 "IP banned"): back off before retrying.
    RateLimited {
        status: u16,
        /// `Retry-After` in seconds, when the server sent one as a number.
        retry_after_s: Option<u64>,
        url: String,
    },
    /// HTTP 5xx: the server failed; retry later.
    ServerError {
        status: u16,
        url: String,
        /// The first bytes of the body, lossily decoded, for the log.
        body_head: String,
    },
    /// The operation needs an open WebSocket connection.
    NotOpen,
    /// The client was closed (by [`super::WsClient::close`] or after giving up).
    Closed,
}

impl NetError {
    /// The disconnect cause this error is counted under when it ends a connection.
    pub fn cause(&self) -> DisconnectCause {
        match self {
            NetError::Url(_) | NetError::Config(_) => DisconnectCause::Local,
            NetError::Connect(_) => DisconnectCause::Refused,
            NetError::Tls(_) => DisconnectCause::Tls,
            NetError::Handshake(_)
            | NetError::RateLimited { .. }
            | NetError::ServerError { .. } => DisconnectCause::Handshake,
            NetError::Protocol(_) => DisconnectCause::Protocol,
            NetError::Io(_) => DisconnectCause::Reset,
            NetError::Timeout(_) => DisconnectCause::Timeout,
            NetError::NotOpen | NetError::Closed => DisconnectCause::Local,
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Url(m) => write!(f, "bad URL: {m}"),
            NetError::Config(m) => write!(f, "bad network config: {m}"),
            NetError::Connect(m) => write!(f, "connect failed: {m}"),
            NetError::Tls(m) => write!(f, "TLS error: {m}"),
            NetError::Handshake(m) => write!(f, "WebSocket handshake failed: {m}"),
            NetError::Protocol(m) => write!(f, "protocol error: {m}"),
            NetError::Io(m) => write!(f, "connection error: {m}"),
            NetError::Timeout(m) => write!(f, "timeout: {m}"),
            NetError::RateLimited {
                status,
                retry_after_s,
                url,
            } => {
                write!(f, "rate limited: HTTP {status} from {url}")?;
                if let Some(s) = retry_after_s {
                    write!(f, " (Retry-After: {s} s)")?;
                }
                Ok(())
            }
            NetError::ServerError {
                status,
                url,
                body_head,
            } => write!(f, "server error: HTTP {status} from {url}: {body_head}"),
            NetError::NotOpen => f.write_str("the WebSocket connection is not open"),
            NetError::Closed => f.write_str("the WebSocket client is closed"),
        }
    }
}

impl std::error::Error for NetError {}
