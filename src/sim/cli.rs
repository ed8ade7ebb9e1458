//! `obi-scalp sim`: run the local exchange simulator from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::instrument::Venue;
use crate::ops::Exit;

use super::fault::{parse_duration, FaultSpec, FAULT_HELP};
use super::server::{SimConfig, SimServer, TlsSetup};

/// Serve a venue's WebSocket and REST market data on a loopback port, from the synthetic market
/// or a recording, with scripted faults.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = FAULT_HELP)]
pub struct SimArgs {
    /// Venue protocol to speak.
    #[arg(long, value_name = "coincheck|bybit|binance|binance_usdm|gmocoin|bitbank|bitflyer", value_parser = parse_venue)]
    pub venue: Venue,

    /// Address to listen on, e.g. 127.0.0.1:8443 (port 0 picks a free port; the bound address
    /// is printed on stdout).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,

    /// TLS certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM); needs --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve TLS with a freshly generated CA and a localhost/127.0.0.1 certificate; writes
    /// DIR/ca.pem (for clients to trust), DIR/cert.pem and DIR/key.pem.
    #[arg(long, value_name = "DIR")]
    pub tls_self_signed: Option<PathBuf>,

    /// Replay this recording instead of the synthetic market.
    #[arg(long, value_name = "RECORDING", conflicts_with = "synthetic")]
    pub input: Option<PathBuf>,

    /// Run the synthetic market with this seed.
    #[arg(long, value_name = "SEED")]
    pub synthetic: Option<u64>,

    /// Run feed time this many times faster than wall time.
    #[arg(long, value_name = "X", default_value = "1", value_parser = parse_speed)]
    pub speed: f64,

    /// Inject a fault (repeatable); grammar below.
    #[arg(long, value_name = "SPEC", value_parser = FaultSpec::parse)]
    pub fault: Vec<FaultSpec>,

    /// Serve the venue's private API (order entry, private stream, `GET /sim/state`) for the
    /// account in FILE (TOML: api_key, api_secret, `[balances]`, `[positions]`, maker_fee_bps,
    /// taker_fee_bps). Bybit (linear BTCUSDT) and Coincheck (spot btc_jpy).
    #[arg(long, value_name = "FILE")]
    pub account: Option<PathBuf>,

    /// Stop after this many seconds (wall time; fractions allowed). Without it the simulator
    /// runs until interrupted, or until a recording ends.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: Option<Duration>,
}

fn parse_venue(s: &str) -> Result<Venue, String> {
    let v: Venue = s.parse()?;
    if super::synthetic::simulated().any(|s| s == v) {
        return Ok(v);
    }
    Err(format!(
        "the simulator does not serve {v} yet (expected {})",
        super::synthetic::simulated_list()
    ))
}

/// The private API of `venue` for the account in `path`, from the venue's
/// [`SimVenue`](super::SimVenue).
fn private_side(
    venue: Venue,
    path: &std::path::Path,
    scheme: &'static str,
) -> Result<super::private::PrivateSide, String> {
    let account = super::private::AccountFile::load(path)?;
    let sim = venue.connector().and_then(|c| c.sim());
    let Some((sim, (market, symbol))) = sim.and_then(|s| s.private_instrument().map(|i| (s, i)))
    else {
        let served: Vec<&str> = Venue::ALL
            .into_iter()
            .filter(|v| {
                v.connector()
                    .and_then(|c| c.sim())
                    .is_some_and(|s| s.private_instrument().is_some())
            })
            .map(Venue::as_str)
            .collect();
        return Err(format!(
            "--account: the simulator serves the private API of {} only so far (not {venue})",
            crate::venue::table::or_list(&served)
        ));
    };
    let table = crate::instrument::InstrumentTable::default();
    let inst = table.get(venue, market, symbol).ok_or_else(|| {
        format!(
            "no built-in {venue} {} {symbol} instrument",
            market.as_str()
        )
    })?;
    let api = sim
        .private_api(&account, *inst, scheme)
        .map_err(|e| format!("account file {}: {e}", path.display()))?;
    Ok(super::private::PrivateSide::new(api))
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!(
            "'{s}' is not a speed (expected a number above 0, e.g. 1, 10, 0.5)"
        )),
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    parse_duration(&format!("{s}s"))
        .map_err(|_| format!("'{s}' is not a number of seconds (e.g. 60 or 2.5)"))
}

impl SimArgs {
    pub fn tls_setup(&self) -> Option<TlsSetup> {
        match (&self.tls_cert, &self.tls_key, &self.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(TlsSetup::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, Some(dir)) => Some(TlsSetup::SelfSigned { dir: dir.clone() }),
            _ => None,
        }
    }
}

/// Runs the simulator until `--duration` passes, SIGINT/SIGTERM arrives, or a recording ends
/// (and its frames have been handed to the connections).
/// Why `obi-scalp sim` failed: the code from the one exit-code table and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    pub exit: Exit,
    pub msg: String,
}

impl From<String> for SimError {
    /// Bad arguments or files (exit 2).
    fn from(msg: String) -> Self {
        SimError {
            exit: Exit::Config,
            msg,
        }
    }
}

pub fn run(args: SimArgs) -> Result<(), SimError> {
    let feed = super::feed_for(args.venue, args.input.as_deref(), args.synthetic)?;
    let mut config = SimConfig::new(args.listen);
    config.tls = args.tls_setup();
    config.speed = args.speed;
    config.faults = args.fault.clone();
    if let Some(path) = &args.account {
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        config.private = Some(private_side(args.venue, path, scheme)?);
    }

    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone()).map_err(|e| SimError {
            exit: Exit::Internal,
            msg: format!("cannot install the signal handler: {e}"),
        })?;
    }

    let listener = std::net::TcpListener::bind(args.listen).map_err(|e| SimError {
        exit: Exit::Bind,
        msg: format!("cannot listen on {}: {e}", args.listen),
    })?;
    let mut server = SimServer::start_on(feed, config, listener)?;
    let handle = server.handle();
    let addr = server.local_addr();
    let (ws, http) = if server.is_tls() {
        ("wss", "https")
    } else {
        ("ws", "http")
    };
    println!(
        "obi-scalp sim: {} listening on {ws}://{addr} and {http}://{addr}",
        args.venue
    );
    if let Some(dir) = &args.tls_self_signed {
        println!(
            "obi-scalp sim: clients trust {}",
            dir.join("ca.pem").display()
        );
    }
    for f in &args.fault {
        println!("obi-scalp sim: fault {f}");
    }

    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut exhausted_at: Option<Instant> = None;
    let why = loop {
        thread::sleep(Duration::from_millis(20));
        if interrupted.load(Ordering::SeqCst) {
            break "interrupted";
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break "duration reached";
        }
        if handle.feed_exhausted() {
            let since = *exhausted_at.get_or_insert_with(Instant::now);
            let drained =
                handle.queued_frames() == 0 && since.elapsed() >= Duration::from_millis(500);
            if drained || since.elapsed() >= Duration::from_secs(5) {
                break "input exhausted";
            }
        }
    };
    let clean = server.stop();
    let s = handle.stats();
    println!(
        "obi-scalp sim: stopped ({why}{}): {} connections ({} refused), {} WebSocket sessions, \
         {} REST requests, {} frames produced, {} frames sent, {} slow clients dropped, \
         {} faults injected",
        if clean {
            ""
        } else {
            ", some connection threads did not finish in time"
        },
        s.connections,
        s.connections_refused,
        s.ws_sessions,
        s.rest_requests,
        s.frames_produced,
        s.frames_sent,
        s.slow_clients_dropped,
        s.faults_injected
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    #[derive(Parser, Debug)]
    #[command(name = "obi-scalp")]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(Subcommand, Debug)]
    enum Cmd {
        Sim(SimArgs),
    }

    fn parse(args: &[&str]) -> Result<SimArgs, String> {
        let mut v = vec!["obi-scalp", "sim"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v)
            .map(|c| match c.cmd {
                Cmd::Sim(a) => a,
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn full_command_line_parses() {
        let a = parse(&[
            "--venue",
            "bybit",
            "--listen",
            "127.0.0.1:0",
            "--tls-self-signed",
            "certs",
            "--synthetic",
            "7",
            "--speed",
            "2.5",
            "--fault",
            "drop@5s",
            "--fault",
            "skip@msg=10,every=20",
            "--duration",
            "1.5",
        ])
        .unwrap();
        assert_eq!(a.venue, Venue::Bybit);
        assert_eq!(a.listen.port(), 0);
        assert_eq!(
            a.tls_setup(),
            Some(TlsSetup::SelfSigned {
                dir: "certs".into()
            })
        );
        assert_eq!((a.synthetic, a.speed), (Some(7), 2.5));
        assert_eq!(a.fault.len(), 2);
        assert_eq!(a.duration, Some(Duration::from_millis(1500)));
        let b = parse(&[
            "--venue",
            "binance",
            "--listen",
            "127.0.0.1:9000",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--input",
            "rec.jsonl",
        ])
        .unwrap();
        assert_eq!(
            b.tls_setup(),
            Some(TlsSetup::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        assert_eq!(b.speed, 1.0);
    }

    #[test]
    fn bad_arguments_are_named() {
        let base = ["--venue", "coincheck", "--listen", "127.0.0.1:0"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            parse(&v).unwrap_err()
        };
        assert!(with(&["--fault", "explode@5s"]).contains("unknown fault kind 'explode'"));
        assert!(with(&["--fault", "stall@5s"]).contains("stall needs a duration"));
        assert!(with(&["--speed", "0"]).contains("not a speed"));
        assert!(with(&["--duration", "soon"]).contains("not a number of seconds"));
        assert!(with(&["--tls-cert", "c.pem"]).contains("--tls-key"));
        assert!(with(&[
            "--tls-self-signed",
            "d",
            "--tls-cert",
            "c",
            "--tls-key",
            "k"
        ])
        .contains("cannot be used with"));
        assert!(with(&["--input", "r", "--synthetic", "1"]).contains("cannot be used with"));
        let a = parse(&["--venue", "bitflyer", "--listen", "127.0.0.1:0"]).unwrap();
        assert_eq!(a.venue, Venue::Bitflyer);
        let e = parse(&["--venue", "kraken", "--listen", "127.0.0.1:0"]).unwrap_err();
        assert!(e.contains("unknown venue `kraken`"), "{e}");
        let e = parse(&["--venue", "bybit", "--listen", "nowhere"]).unwrap_err();
        assert!(e.contains("--listen"), "{e}");
    }

    #[test]
    fn the_private_side_comes_from_the_venue() {
        let dir = std::env::temp_dir().join(format!("obi-sim-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("account.toml");
        std::fs::write(&path, "api_key = \"k\"\napi_secret = \"s\"\n").unwrap();
        for v in [Venue::Bybit, Venue::Coincheck, Venue::GmoCoin] {
            let side = private_side(v, &path, "http");
            assert!(side.is_ok(), "{v}: {:?}", side.err());
        }
        let e = private_side(Venue::Binance, &path, "http").unwrap_err();
        assert_eq!(
            e,
            "--account: the simulator serves the private API of coincheck, bybit or gmocoin \
             only so far (not binance)"
        );
        std::fs::write(
            &path,
            "api_key = \"k\"\napi_secret = \"s\"\nmaker_fee_bps = \"x\"\n",
        )
        .unwrap();
        let e = private_side(Venue::Bybit, &path, "http").unwrap_err();
        assert!(
            e.starts_with(&format!("account file {}: ", path.display())),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn help_documents_the_fault_grammar() {
        let mut cmd = Cli::command();
        let sim = cmd.find_subcommand_mut("sim").expect("sim subcommand");
        let help = sim.render_long_help().to_string();
        for want in [
            "Fault grammar",
            "KIND[@TRIGGER][:ARG]",
            "every=PERIOD",
            "reststale",
            "--tls-self-signed",
        ] {
            assert!(help.contains(want), "help lacks {want}:\n{help}");
        }
    }
}
