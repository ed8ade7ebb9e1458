//! A small URL parser for the four schemes the transport speaks (no `url` crate).
//!
//! Accepted: `scheme://host[:port][/path][?query][#fragment]` with scheme `ws`, `wss`, `http`
//! or `https` (any case), a DNS name, an IPv4 address or a bracketed IPv6 address. The fragment
//! is dropped; user info (`user:pass@`) is refused rather than silently sent.

use super::NetError;

/// URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Ws,
    Wss,
    Http,
    Https,
}

impl Scheme {
    /// Whether the scheme runs over TLS.
    pub const fn is_tls(self) -> bool {
        matches!(self, Scheme::Wss | Scheme::Https)
    }

    /// Whether the scheme is a WebSocket one.
    pub const fn is_ws(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    /// The port used when the URL names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Ws | Scheme::Http => 80,
            Scheme::Wss | Scheme::Https => 443,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// Host name (lowercase) or IP address; IPv6 without brackets.
    pub host: String,
    /// Explicit port, or the scheme's default.
    pub port: u16,
    /// Path and query, always starting with `/`.
    pub path: String,
}

impl Url {
    /// Parse `s`; the error says which part is wrong.
    pub fn parse(s: &str) -> Result<Url, NetError> {
        let err = |why: &str| NetError::Url(format!("{s:?}: {why}"));
        let s_trim = s.trim();
        let (scheme_str, rest) = s_trim
            .split_once("://")
            .ok_or_else(|| err("expected scheme://host (ws, wss, http or https)"))?;
        let scheme = match scheme_str.to_ascii_lowercase().as_str() {
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(err("unsupported scheme (expected ws, wss, http or https)")),
        };
        // Drop the fragment; it is never sent.
        let rest = rest.split('#').next().unwrap_or("");
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(auth_end);
        if authority.contains('@') {
            return Err(err("user info in the URL is not supported"));
        }
        let (host, port_str) = if let Some(after) = authority.strip_prefix('[') {
            let close = after
                .find(']')
                .ok_or_else(|| err("IPv6 address without closing ']'"))?;
            let host = &after[..close];
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(err("invalid IPv6 address"));
            }
            let tail = &after[close + 1..];
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p),
                None if tail.is_empty() => None,
                None => return Err(err("unexpected text after ']'")),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err("empty host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))
        {
            return Err(err("host contains characters that are not allowed"));
        }
        let port = match port_str {
            None => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(err("port must be a number from 1 to 65535")),
                Ok(n) => n,
            },
        };
        if path_query.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(err("path contains spaces or control characters"));
        }
        let path = if path_query.starts_with('/') {
            path_query.to_string()
        } else {
            format!("/{path_query}")
        };
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path,
        })
    }

    /// The `Host` header value: the host, with the port only when it is not the default,
    /// IPv6 in brackets.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// `host:port` for messages (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.host_header(),
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_venue_urls() {
        let u = Url::parse("wss://stream.bybit.com/v5/public/linear").unwrap();
        assert_eq!(u.scheme, Scheme::Wss);
        assert_eq!(u.host, "stream.bybit.com");
        assert_eq!(u.port, 443);
        assert_eq!(u.path, "/v5/public/linear");
        assert_eq!(u.host_header(), "stream.bybit.com");

        let u = Url::parse("wss://stream.binance.com:9443/ws/btcusdt@depth@100ms").unwrap();
        assert_eq!(u.port, 9443);
        assert_eq!(u.path, "/ws/btcusdt@depth@100ms");
        assert_eq!(u.host_header(), "stream.binance.com:9443");

        let u = Url::parse("wss://stream.bitbank.cc/socket.io/?EIO=4&transport=websocket").unwrap();
        assert_eq!(u.path, "/socket.io/?EIO=4&transport=websocket");

        let u = Url::parse("wss://ws-api.coincheck.com/").unwrap();
        assert_eq!(u.path, "/");

        let u =
            Url::parse("https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000").unwrap();
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.path, "/api/v3/depth?symbol=BTCUSDT&limit=5000");
    }

    #[test]
    fn defaults_and_edge_forms() {
        let u = Url::parse("ws://127.0.0.1:9001").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 9001, "/")
        );
        let u = Url::parse("HTTP://Example.COM?x=1#frag").unwrap();
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 80);
        assert_eq!(u.path, "/?x=1");
        let u = Url::parse("ws://[::1]:8080/a").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.authority(), "[::1]:8080");
        assert_eq!(u.host_header(), "[::1]:8080");
        let u = Url::parse("wss://[::1]/").unwrap();
        assert_eq!(u.port, 443);
        assert_eq!(u.host_header(), "[::1]");
    }

    #[test]
    fn rejects_bad_urls_with_reason() {
        for (s, why) in [
            ("stream.bybit.com", "scheme"),
            ("ftp://x", "unsupported scheme"),
            ("ws://", "empty host"),
            ("ws://:80/", "empty host"),
            ("ws://host:0/", "port"),
            ("ws://host:99999/", "port"),
            ("ws://host:abc/", "port"),
            ("ws://user:pw@host/", "user info"),
            ("ws://[::1/", "']'"),
            ("ws://[zz]/", "IPv6"),
            ("ws://ho st/", "not allowed"),
            ("ws://host/a b", "spaces"),
        ] {
            let e = Url::parse(s).unwrap_err();
            assert!(e.to_string().contains(why), "{s}: {e}");
        }
    }
}
