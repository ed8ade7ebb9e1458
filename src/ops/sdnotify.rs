//! systemd notification protocol (`sd_notify`) without libsystemd.
//!
//! With `Type=notify` systemd sets `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket)
//! and waits for `READY=1`. With `WatchdogSec=` it also sets `$WATCHDOG_USEC` (and
//! `$WATCHDOG_PID`) and kills the service unless `WATCHDOG=1` arrives within that time; send it
//! from the cold thread at [`watchdog_interval`] (half the timeout), and only while the pipeline
//! is making progress, so a stuck pipeline gets restarted.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct SdNotify {
    sock: UnixDatagram,
    addr: SocketAddr,
}

impl SdNotify {
    /// From `$NOTIFY_SOCKET`; `Ok(None)` when unset (not run by systemd, or not `Type=notify`).
    pub fn from_env() -> io::Result<Option<SdNotify>> {
        match std::env::var("NOTIFY_SOCKET") {
            Ok(v) if !v.is_empty() => SdNotify::new(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// For a socket path (`/run/systemd/notify`) or an abstract address (`@name`).
    pub fn new(socket: &str) -> io::Result<SdNotify> {
        let addr = if let Some(name) = socket.strip_prefix('@') {
            abstract_addr(name.as_bytes())?
        } else if socket.starts_with('/') {
            SocketAddr::from_pathname(socket)?
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("NOTIFY_SOCKET {socket:?}: expected an absolute path or @abstract name"),
            ));
        };
        let sock = UnixDatagram::unbound()?;
        Ok(SdNotify { sock, addr })
    }

    /// Sends raw `KEY=VALUE` lines.
    pub fn notify(&self, state: &str) -> io::Result<()> {
        let n = self.sock.send_to_addr(state.as_bytes(), &self.addr)?;
        if n != state.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short datagram write",
            ));
        }
        Ok(())
    }

    /// `READY=1`: start-up finished (systemd marks the unit active).
    pub fn ready(&self) -> io::Result<()> {
        self.notify("READY=1")
    }

    /// `STATUS=...`: one line shown by `systemctl status` (newlines become spaces).
    pub fn status(&self, text: &str) -> io::Result<()> {
        self.notify(&format!("STATUS={}", one_line(text)))
    }

    /// `READY=1` and `STATUS=...` in one datagram.
    pub fn ready_with_status(&self, text: &str) -> io::Result<()> {
        self.notify(&format!("READY=1\nSTATUS={}", one_line(text)))
    }

    /// `WATCHDOG=1`: keep-alive.
    pub fn watchdog(&self) -> io::Result<()> {
        self.notify("WATCHDOG=1")
    }

    /// `STOPPING=1`: shutdown began.
    pub fn stopping(&self) -> io::Result<()> {
        self.notify("STOPPING=1")
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract unix sockets need Linux",
    ))
}

/// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, or `None` when the watchdog is
/// off or meant for another process (`$WATCHDOG_PID`). Invalid values are logged and ignored.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    match parse_watchdog(usec.as_deref(), pid.as_deref(), std::process::id()) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring systemd watchdog settings");
            None
        }
    }
}

/// Parses `WATCHDOG_USEC`/`WATCHDOG_PID` (as passed) into the keep-alive interval (half the
/// timeout). `Ok(None)` when unset or for another pid.
pub fn parse_watchdog(
    usec: Option<&str>,
    pid: Option<&str>,
    my_pid: u32,
) -> Result<Option<Duration>, String> {
    let Some(usec) = usec else { return Ok(None) };
    if let Some(pid) = pid {
        let p: u32 = pid
            .trim()
            .parse()
            .map_err(|_| format!("WATCHDOG_PID {pid:?}: expected a process id"))?;
        if p != my_pid {
            return Ok(None);
        }
    }
    let us: u64 = usec
        .trim()
        .parse()
        .map_err(|_| format!("WATCHDOG_USEC {usec:?}: expected microseconds"))?;
    if us == 0 {
        return Err(format!(
            "WATCHDOG_USEC {usec:?}: expected a positive number"
        ));
    }
    Ok(Some(Duration::from_micros(us / 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn path_socket_receives_messages() {
        let dir = std::env::temp_dir().join(format!("obi-sdn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let n = SdNotify::new(path.to_str().unwrap()).unwrap();
        n.ready().unwrap();
        assert_eq!(recv(&server), "READY=1");
        n.status("feed active\nbook synced").unwrap();
        assert_eq!(recv(&server), "STATUS=feed active book synced");
        n.ready_with_status("up").unwrap();
        assert_eq!(recv(&server), "READY=1\nSTATUS=up");
        n.watchdog().unwrap();
        assert_eq!(recv(&server), "WATCHDOG=1");
        n.stopping().unwrap();
        assert_eq!(recv(&server), "STOPPING=1");
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            n.ready().is_err(),
            "no listener: an error, not a silent success"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_receives_messages() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!(
            "obi-scalp-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        );
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let n = SdNotify::new(&format!("@{name}")).unwrap();
        n.ready().unwrap();
        assert_eq!(recv(&server), "READY=1");
        n.watchdog().unwrap();
        assert_eq!(recv(&server), "WATCHDOG=1");
    }

    #[test]
    fn rejects_relative_socket() {
        assert!(SdNotify::new("relative/sock").is_err());
    }

    #[test]
    fn watchdog_parsing() {
        assert_eq!(parse_watchdog(None, None, 7), Ok(None));
        assert_eq!(
            parse_watchdog(Some("30000000"), None, 7),
            Ok(Some(Duration::from_secs(15)))
        );
        assert_eq!(
            parse_watchdog(Some("2000000"), Some("7"), 7),
            Ok(Some(Duration::from_secs(1)))
        );
        assert_eq!(parse_watchdog(Some("2000000"), Some("8"), 7), Ok(None));
        assert!(parse_watchdog(Some("abc"), None, 7)
            .unwrap_err()
            .contains("WATCHDOG_USEC"));
        assert!(parse_watchdog(Some("0"), None, 7).is_err());
        assert!(parse_watchdog(Some("5"), Some("x"), 7)
            .unwrap_err()
            .contains("WATCHDOG_PID"));
    }
}
