//! API credentials and other secrets, read from files or the environment, never printed.
//!
//! Lookup order for a secret called `name` (for example `api_key`):
//! 1. `$CREDENTIALS_DIRECTORY/<name>` (systemd `LoadCredential=`),
//! 2. `/run/secrets/<name>` (container secrets),
//! 3. the environment variable `OBI_SCALP_<NAME>` (for example `OBI_SCALP_API_KEY`),
//! 4. a fallback value from the config file, when the caller gave one
//!    ([`SecretSources::with_config_value`]; `run` does this for `[ops] kill_token`).
//!
//! A file that exists but cannot be read, or is empty, is an error (it never falls through to
//! the next source silently). Surrounding whitespace (a trailing newline) is trimmed.
//!
//! [`Secret`] prints as `[redacted]` under `Debug` and `Display` and is not `Serialize`, so it
//! cannot end up in status JSON, metrics, artifacts or the audit log by accident. It is not
//! `Clone`: the store hands out `Arc<Secret>`, so each value lives in one allocation, which is
//! zeroised (`zeroize`) when the last reference goes.
//!
//! [`SecretStore::reload`] re-reads everything on demand (the cold thread calls it on SIGHUP);
//! consumers watch [`SecretStore::generation`] to pick up new values.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::status::Mode;

/// Name of the API key secret.
pub const API_KEY: &str = "api_key";
/// Name of the API secret (signing key).
pub const API_SECRET: &str = "api_secret";
/// Name of the bearer token that `POST /kill` requires.
pub const KILL_TOKEN: &str = "kill_token";
/// Shortest kill token accepted (bytes): 32 random bytes, or their 64-character hex form.
pub const MIN_KILL_TOKEN_BYTES: usize = 32;

/// A secret value. `Debug`/`Display` print `[redacted]`; read it with [`Secret::expose`].
#[derive(PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the code that signs or compares with it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with `other` (for tokens).
    /// (`subtle`; only the lengths are compared in variable time).
    pub fn matches(&self, other: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // The whole capacity, with writes the optimiser may not remove.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Where a secret was found (safe to log: names a path or variable, never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    CredentialsDirectory(PathBuf),
    RunSecrets(PathBuf),
    Env(String),
    /// A config file key (the fallback of [`SecretSources::with_config_value`]).
    Config(String),
}

impl fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretOrigin::CredentialsDirectory(p) => write!(f, "credential file {}", p.display()),
            SecretOrigin::RunSecrets(p) => write!(f, "secret file {}", p.display()),
            SecretOrigin::Env(v) => write!(f, "environment variable {v}"),
            SecretOrigin::Config(k) => write!(f, "config key {k}"),
        }
    }
}

/// Why a secret could not be loaded.
#[derive(Debug)]
pub enum SecretError {
    /// The name is not `[a-z0-9_-]+`.
    InvalidName(String),
    /// A file exists but could not be read.
    Unreadable { path: PathBuf, error: io::Error },
    /// The source exists but holds nothing after trimming.
    Empty(SecretOrigin),
    /// No source has it; `tried` lists where we looked.
    Missing { name: String, tried: Vec<String> },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::InvalidName(n) => {
                write!(f, "invalid secret name {n:?}: expected [a-z0-9_-]+")
            }
            SecretError::Unreadable { path, error } => {
                write!(f, "cannot read secret file {}: {error}", path.display())
            }
            SecretError::Empty(o) => write!(f, "secret from {o} is empty"),
            SecretError::Missing { name, tried } => {
                write!(f, "secret {name:?} not found (tried {})", tried.join(", "))
            }
        }
    }
}

impl std::error::Error for SecretError {}

type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where to look for secrets.
#[derive(Clone)]
pub struct SecretSources {
    /// `$CREDENTIALS_DIRECTORY` (set by systemd when the unit has `LoadCredential=`).
    pub credentials_dir: Option<PathBuf>,
    /// `/run/secrets` by default.
    pub run_secrets_dir: Option<PathBuf>,
    /// Environment variable prefix: `OBI_SCALP` gives `OBI_SCALP_API_KEY`.
    pub env_prefix: String,
    env: Arc<EnvLookup>,
    /// Last-resort values from the config file: secret name -> (config key, value).
    config: BTreeMap<String, (String, Arc<Secret>)>,
}

impl fmt::Debug for SecretSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSources")
            .field("credentials_dir", &self.credentials_dir)
            .field("run_secrets_dir", &self.run_secrets_dir)
            .field("env_prefix", &self.env_prefix)
            .finish()
    }
}

impl SecretSources {
    /// The production sources: `$CREDENTIALS_DIRECTORY`, `/run/secrets`, `OBI_SCALP_*`.
    pub fn from_env() -> SecretSources {
        SecretSources {
            credentials_dir: std::env::var_os("CREDENTIALS_DIRECTORY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            run_secrets_dir: Some(PathBuf::from("/run/secrets")),
            env_prefix: "OBI_SCALP".to_owned(),
            env: Arc::new(|k| std::env::var(k).ok()),
            config: BTreeMap::new(),
        }
    }

    /// Explicit directories and an environment lookup (tests, or a config that overrides them).
    pub fn new(
        credentials_dir: Option<PathBuf>,
        run_secrets_dir: Option<PathBuf>,
        env_prefix: impl Into<String>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> SecretSources {
        SecretSources {
            credentials_dir,
            run_secrets_dir,
            env_prefix: env_prefix.into(),
            env: Arc::new(env),
            config: BTreeMap::new(),
        }
    }

    /// Adds `value` (from config key `key`) as the last source for secret `name`: used only
    /// when no file or environment variable has it, so an operator can move the value out of
    /// the config file without editing it.
    pub fn with_config_value(mut self, name: &str, key: &str, value: &str) -> SecretSources {
        self.config.insert(
            name.to_owned(),
            (key.to_owned(), Arc::new(Secret::new(value))),
        );
        self
    }

    /// The environment variable for `name`: `OBI_SCALP_API_KEY` for `api_key`.
    pub fn env_var_name(&self, name: &str) -> String {
        let upper = name.to_ascii_uppercase().replace('-', "_");
        if self.env_prefix.is_empty() {
            upper
        } else {
            format!("{}_{upper}", self.env_prefix)
        }
    }

    /// Looks `name` up in order. `Ok(None)` when no source has it.
    pub fn lookup(&self, name: &str) -> Result<Option<(Secret, SecretOrigin)>, SecretError> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(SecretError::InvalidName(name.to_owned()));
        }
        let dirs = [
            (
                &self.credentials_dir,
                SecretOrigin::CredentialsDirectory as fn(PathBuf) -> _,
            ),
            (
                &self.run_secrets_dir,
                SecretOrigin::RunSecrets as fn(PathBuf) -> _,
            ),
        ];
        for (dir, origin) in dirs {
            let Some(dir) = dir else { continue };
            let path = dir.join(name);
            if let Some(value) = read_secret_file(&path)? {
                return finish(value, origin(path)).map(Some);
            }
        }
        let var = self.env_var_name(name);
        if let Some(v) = (self.env)(&var) {
            return finish(v, SecretOrigin::Env(var)).map(Some);
        }
        match self.config.get(name) {
            Some((key, v)) => {
                finish(v.expose().to_owned(), SecretOrigin::Config(key.clone())).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Like [`SecretSources::lookup`] but a missing secret is an error naming where we looked.
    pub fn require(&self, name: &str) -> Result<(Secret, SecretOrigin), SecretError> {
        self.lookup(name)?.ok_or_else(|| SecretError::Missing {
            name: name.to_owned(),
            tried: self.tried(name),
        })
    }

    fn tried(&self, name: &str) -> Vec<String> {
        let mut t = Vec::new();
        if let Some(d) = &self.credentials_dir {
            t.push(d.join(name).display().to_string());
        } else {
            t.push("$CREDENTIALS_DIRECTORY (unset)".to_owned());
        }
        if let Some(d) = &self.run_secrets_dir {
            t.push(d.join(name).display().to_string());
        }
        t.push(format!("${}", self.env_var_name(name)));
        t
    }
}

fn finish(value: String, origin: SecretOrigin) -> Result<(Secret, SecretOrigin), SecretError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(SecretError::Empty(origin));
    }
    let s = if trimmed.len() == value.len() {
        Secret(value)
    } else {
        let t = Secret(trimmed.to_owned());
        drop(Secret(value));
        t
    };
    Ok((s, origin))
}

/// `Ok(None)` when the file does not exist (or its directory does not).
fn read_secret_file(path: &Path) -> Result<Option<String>, SecretError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
            let mut b = e.into_bytes();
            b.fill(0);
            SecretError::Unreadable {
                path: path.to_owned(),
                error: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"),
            }
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
        Err(error) => Err(SecretError::Unreadable {
            path: path.to_owned(),
            error,
        }),
    }
}

/// API key and secret for the venue.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub api_key: Arc<Secret>,
    pub api_secret: Arc<Secret>,
}

/// Secrets loaded once and reloaded on demand, shared by the cold side (`Arc<SecretStore>`).
pub struct SecretStore {
    sources: SecretSources,
    names: Vec<String>,
    current: Mutex<BTreeMap<String, (Arc<Secret>, SecretOrigin)>>,
    generation: AtomicU64,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded: Vec<String> = self.lock().keys().cloned().collect();
        f.debug_struct("SecretStore")
            .field("sources", &self.sources)
            .field("loaded", &loaded)
            .field("generation", &self.generation())
            .finish()
    }
}

/// What a (re)load found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Names loaded, with where from.
    pub loaded: Vec<(String, SecretOrigin)>,
    /// Names no source has.
    pub missing: Vec<String>,
    /// Names whose source is broken (the previous value, if any, is kept).
    pub errors: Vec<(String, SecretError)>,
    /// Whether any value changed.
    pub changed: bool,
}

impl SecretStore {
    /// A store for `names` (for example `[API_KEY, API_SECRET, KILL_TOKEN]`). Nothing is read
    /// until [`SecretStore::reload`].
    pub fn new(sources: SecretSources, names: &[&str]) -> SecretStore {
        SecretStore {
            sources,
            names: names.iter().map(|s| (*s).to_owned()).collect(),
            current: Mutex::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Arc<Secret>, SecretOrigin)>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// (Re)reads every name. A secret that disappeared or broke keeps its previous value (a
    /// half-rotated secret must not stop a running process); the report says what happened.
    pub fn reload(&self) -> LoadReport {
        let mut report = LoadReport::default();
        // Files are read before the lock is taken: a reader of the store (a live gateway's
        // I/O thread picking up new credentials) never waits on a file system.
        let found: Vec<_> = self
            .names
            .iter()
            .map(|n| (n, self.sources.lookup(n)))
            .collect();
        let mut cur = self.lock();
        for (name, found) in found {
            match found {
                Ok(Some((secret, origin))) => {
                    let changed = match cur.get(name) {
                        Some((old, o)) => **old != secret || *o != origin,
                        None => true,
                    };
                    if changed {
                        cur.insert(name.clone(), (Arc::new(secret), origin.clone()));
                        report.changed = true;
                    }
                    report.loaded.push((name.clone(), origin));
                }
                Ok(None) => report.missing.push(name.clone()),
                Err(e) => report.errors.push((name.clone(), e)),
            }
        }
        drop(cur);
        if report.changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        for (name, origin) in &report.loaded {
            tracing::info!(secret = %name, from = %origin, "secret loaded");
        }
        for name in &report.missing {
            tracing::info!(secret = %name, "secret not configured");
        }
        for (name, e) in &report.errors {
            tracing::warn!(secret = %name, error = %e, "secret not (re)loaded");
        }
        report
    }

    /// Increments whenever a reload changed a value (starts at 0, 1 after the first load).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current value (shared, not copied).
    pub fn get(&self, name: &str) -> Option<Arc<Secret>> {
        self.lock().get(name).map(|(s, _)| Arc::clone(s))
    }

    pub fn origin(&self, name: &str) -> Option<SecretOrigin> {
        self.lock().get(name).map(|(_, o)| o.clone())
    }

    /// The API credentials if both are loaded, read under one lock (a reload cannot come
    /// between the key and the secret and pair an old one with a new one).
    pub fn credentials(&self) -> Option<Credentials> {
        let cur = self.lock();
        let get = |name: &str| cur.get(name).map(|(s, _)| Arc::clone(s));
        Some(Credentials {
            api_key: get(API_KEY)?,
            api_secret: get(API_SECRET)?,
        })
    }

    /// Start-up check: in live mode both API secrets must be present (else exit code 3,
    /// `Exit::MissingSecret`); in paper mode they are optional.
    pub fn require_credentials(&self, mode: Mode) -> Result<Option<Credentials>, SecretError> {
        match (self.credentials(), mode) {
            (Some(c), _) => Ok(Some(c)),
            (None, Mode::Paper) => Ok(None),
            (None, Mode::Live) => {
                let name = if self.get(API_KEY).is_none() {
                    API_KEY
                } else {
                    API_SECRET
                };
                Err(SecretError::Missing {
                    name: name.to_owned(),
                    tried: self.sources.tried(name),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("obi-secrets-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn redacted_everywhere() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let s = Arc::new(s);
        let c = Credentials {
            api_key: Arc::clone(&s),
            api_secret: Arc::new(Secret::new("x")),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(s.matches(b"hunter2"));
        assert!(!s.matches(b"hunter3"));
        assert!(!s.matches(b"hunter"));
    }

    #[test]
    fn config_value_is_the_last_resort() {
        let creds = tmpdir("cfgval");
        let token = "cfg-token-7d1e";
        let src = SecretSources::new(
            Some(creds.clone()),
            None,
            "OBI_SCALP",
            env(&[("OBI_SCALP_API_KEY", "from-env")]),
        )
        .with_config_value(KILL_TOKEN, "ops.kill_token", token)
        .with_config_value(API_KEY, "x.api_key", "from-config");
        let (s, o) = src.require(KILL_TOKEN).unwrap();
        assert_eq!(s.expose(), token);
        assert_eq!(o, SecretOrigin::Config("ops.kill_token".into()));
        assert_eq!(o.to_string(), "config key ops.kill_token");
        assert!(!format!("{src:?}").contains(token));
        // The environment wins over the config...
        assert_eq!(src.require(API_KEY).unwrap().0.expose(), "from-env");
        // ...and a credential file over both.
        std::fs::write(creds.join(KILL_TOKEN), "from-file\n").unwrap();
        let store = SecretStore::new(src, &[KILL_TOKEN]);
        store.reload();
        assert_eq!(store.get(KILL_TOKEN).unwrap().expose(), "from-file");
        assert!(!format!("{store:?}").contains(token));
    }

    #[test]
    fn lookup_order_creds_dir_then_run_secrets_then_env() {
        let creds = tmpdir("creds");
        let run = tmpdir("run");
        let src = SecretSources::new(
            Some(creds.clone()),
            Some(run.clone()),
            "OBI_SCALP",
            env(&[
                ("OBI_SCALP_API_KEY", "from-env"),
                ("OBI_SCALP_API_SECRET", "  "),
            ]),
        );
        let (s, o) = src.require(API_KEY).unwrap();
        assert_eq!(
            (s.expose(), o),
            ("from-env", SecretOrigin::Env("OBI_SCALP_API_KEY".into()))
        );

        std::fs::write(run.join(API_KEY), "from-run\n").unwrap();
        let (s, o) = src.require(API_KEY).unwrap();
        assert_eq!(s.expose(), "from-run");
        assert_eq!(o, SecretOrigin::RunSecrets(run.join(API_KEY)));

        std::fs::write(creds.join(API_KEY), "from-creds\r\n").unwrap();
        let (s, o) = src.require(API_KEY).unwrap();
        assert_eq!(s.expose(), "from-creds");
        assert_eq!(o, SecretOrigin::CredentialsDirectory(creds.join(API_KEY)));

        // Whitespace-only is an error, not a silent fallthrough or an empty key.
        let e = src.require(API_SECRET).unwrap_err();
        assert!(matches!(e, SecretError::Empty(SecretOrigin::Env(_))), "{e}");
        std::fs::write(run.join(API_SECRET), "\n").unwrap();
        let e = src.require(API_SECRET).unwrap_err();
        assert!(
            matches!(e, SecretError::Empty(SecretOrigin::RunSecrets(_))),
            "{e}"
        );

        let e = src.require("kill_token").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("kill_token") && msg.contains("$OBI_SCALP_KILL_TOKEN"),
            "{msg}"
        );
        assert!(matches!(
            src.lookup("../etc/passwd"),
            Err(SecretError::InvalidName(_))
        ));
        // A directory where a file is expected cannot be read: an error, not a fallthrough.
        std::fs::create_dir_all(creds.join("weird")).unwrap();
        assert!(matches!(
            src.lookup("weird"),
            Err(SecretError::Unreadable { .. })
        ));
        std::fs::remove_dir_all(&creds).unwrap();
        std::fs::remove_dir_all(&run).unwrap();
    }

    #[test]
    fn store_reload_and_live_requirement() {
        let dir = tmpdir("store");
        let src = SecretSources::new(Some(dir.clone()), None, "OBI_SCALP", env(&[]));
        let store = SecretStore::new(src, &[API_KEY, API_SECRET]);
        let r = store.reload();
        assert_eq!(r.missing, vec![API_KEY, API_SECRET]);
        assert!(!r.changed);
        assert_eq!(store.generation(), 0);
        assert!(store.require_credentials(Mode::Paper).unwrap().is_none());
        let e = store.require_credentials(Mode::Live).unwrap_err();
        assert!(e.to_string().contains("api_key"), "{e}");

        std::fs::write(dir.join(API_KEY), "k1").unwrap();
        std::fs::write(dir.join(API_SECRET), "s1").unwrap();
        assert!(store.reload().changed);
        assert_eq!(store.generation(), 1);
        let c = store.require_credentials(Mode::Live).unwrap().unwrap();
        assert_eq!((c.api_key.expose(), c.api_secret.expose()), ("k1", "s1"));
        assert!(!store.reload().changed, "same values: no new generation");
        assert_eq!(store.generation(), 1);

        std::fs::write(dir.join(API_SECRET), "s2").unwrap();
        std::fs::remove_file(dir.join(API_KEY)).unwrap();
        let r = store.reload();
        assert!(r.changed);
        assert_eq!(r.missing, vec![API_KEY]);
        assert_eq!(store.generation(), 2);
        // The vanished key keeps its previous value.
        let c = store.credentials().unwrap();
        assert_eq!((c.api_key.expose(), c.api_secret.expose()), ("k1", "s2"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
