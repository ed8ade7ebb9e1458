//! The byte stream under tungstenite: a non-blocking `mio` TCP socket, optionally wrapped in a
//! rustls client session. It stamps the receive time of every socket read that returned data
//! and counts the bytes that crossed the socket (TLS overhead included).

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use rustls::ClientConnection;

use super::recv_stamp_ns;

pub(crate) struct Conn {
    pub(crate) sock: TcpStream,
    pub(crate) tls: Option<Box<ClientConnection>>,
    /// Event time ([`super::recv_stamp_ns`]) right after the last socket read that returned bytes.
    pub(crate) last_read_ns: u64,
    /// Bytes read from / written to the socket since the client last collected them.
    pub(crate) bytes_rx: u64,
    pub(crate) bytes_tx: u64,
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Conn {
    pub(crate) fn new(sock: TcpStream) -> Self {
        Conn {
            sock,
            tls: None,
            last_read_ns: 0,
            bytes_rx: 0,
            bytes_tx: 0,
        }
    }

    /// Whether the TCP connect finished: `Ok(true)` connected, `Ok(false)` still in progress.
    pub(crate) fn check_connected(&self) -> io::Result<bool> {
        if let Some(e) = self.sock.take_error()? {
            return Err(e);
        }
        match self.sock.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Push pending TLS records to the socket. `Ok(true)` when nothing is left to write.
    fn write_tls_pending(&mut self) -> io::Result<bool> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(true);
        };
        while tls.wants_write() {
            match tls.write_tls(&mut self.sock) {
                Ok(n) => self.bytes_tx += n as u64,
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Read TLS records from the socket once and process them. `Ok(0)` is EOF; a rustls error
    /// is returned as `InvalidData` carrying the `rustls::Error` (after a best-effort alert).
    fn read_tls_once(&mut self) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(0);
        };
        let n = loop {
            match tls.read_tls(&mut self.sock) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Ok(0);
        }
        self.last_read_ns = recv_stamp_ns();
        self.bytes_rx += n as u64;
        if let Err(err) = tls.process_new_packets() {
            // Tell the peer why (an alert is queued by rustls); ignore failures to do so.
            let _ = self.write_tls_pending();
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
        Ok(n)
    }

    /// Advance the TLS handshake as far as the socket allows: `Ok(true)` when complete.
    pub(crate) fn drive_tls_handshake(&mut self) -> io::Result<bool> {
        loop {
            if !self.write_tls_pending()? {
                return Ok(false);
            }
            let Some(tls) = self.tls.as_ref() else {
                return Ok(true);
            };
            if !tls.is_handshaking() {
                return Ok(true);
            }
            match self.read_tls_once() {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    ))
                }
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether bytes are buffered for the socket (TLS records not yet written).
    pub(crate) fn wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.wants_write())
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            let n = self.sock.read(buf)?;
            if n > 0 {
                self.last_read_ns = recv_stamp_ns();
                self.bytes_rx += n as u64;
            }
            return Ok(n);
        }
        let mut saw_eof = false;
        loop {
            if let Some(tls) = self.tls.as_mut() {
                match tls.reader().read(buf) {
                    // Ok(0) here is a clean close_notify from the peer.
                    Ok(n) => return Ok(n),
                    Err(e) if would_block(&e) && saw_eof => {
                        return Err(io::ErrorKind::UnexpectedEof.into())
                    }
                    Err(e) if would_block(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            // No plaintext buffered: pull more records. EOF without close_notify is reported
            // by rustls' reader on the next turn (UnexpectedEof).
            saw_eof = self.read_tls_once()? == 0;
            // Key updates or session tickets may have queued records to send.
            if self.wants_write() {
                let _ = self.write_tls_pending()?;
            }
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tls.as_mut() {
            None => {
                let n = self.sock.write(buf)?;
                self.bytes_tx += n as u64;
                Ok(n)
            }
            Some(tls) => {
                let n = tls.writer().write(buf)?;
                // Push what the socket takes now; the rest goes out on flush.
                self.write_tls_pending()?;
                if n == 0 && !buf.is_empty() {
                    // rustls' plaintext buffer is full until the socket drains.
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.write_tls_pending()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.sock.flush()
    }
}
