//! The simulator account's API keys, and their rotation (`POST /sim/rotate`).
//!
//! A real venue lets an account hold several API keys at once: an operator rotating keys
//! creates the new one, moves the bot to it (files rewritten, SIGHUP) and then deletes the
//! old one. The simulator models that with one endpoint (no auth, like `/sim/state`):
//! - `{"api_key":"..","api_secret":".."}`: the new pair replaces every earlier one at once
//!   (a request signed with an old pair is refused with the venue's own auth error);
//! - `{"api_key":"..","api_secret":"..","keep_old":true}`: the new pair is added and the
//!   earlier ones stay accepted (the grace an operator has between the two steps);
//! - `{"retire_old":true}`: every pair but the newest is refused from then on.
//!
//! The answer is `{"rotations": N}` (never a key or secret). `GET /sim/state` shows `keys`:
//! one entry per pair in the order they were given (the account file's first), with whether
//! it is accepted and how many requests signed with it were accepted, so that a test can see
//! which pair a client signs with without any key appearing in the state.

use crate::exec::sign::Signer;
use serde_json::{json, Value};

/// One API key pair of the account.
struct KeyPair {
    key: String,
    signer: Signer,
    active: bool,
    /// Requests (REST and stream logins) signed with this pair and accepted.
    accepted: u64,
}

/// The account's key pairs: the account file's, then each rotation's.
pub struct SimKeys {
    pairs: Vec<KeyPair>,
    rotations: u64,
}

impl std::fmt::Debug for SimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimKeys")
            .field("pairs", &self.pairs.len())
            .field("rotations", &self.rotations)
            .finish()
    }
}

impl SimKeys {
    pub fn new(api_key: &str, api_secret: &str) -> SimKeys {
        SimKeys {
            pairs: vec![KeyPair {
                key: api_key.to_owned(),
                signer: Signer::new(api_secret.as_bytes()),
                active: true,
                accepted: 0,
            }],
            rotations: 0,
        }
    }

    /// The accepted pair whose key is `key` (the newest if given twice): its index and signer.
    pub fn find(&self, key: &str) -> Option<(usize, &Signer)> {
        self.pairs
            .iter()
            .enumerate()
            .rev()
            .find(|(_, p)| p.active && p.key == key)
            .map(|(i, p)| (i, &p.signer))
    }

    /// Whether `sig_hex` is the signature of `parts` under an accepted pair with key `key`;
    /// counts the acceptance.
    pub fn verify(&mut self, key: &str, parts: &[&[u8]], sig_hex: &[u8]) -> bool {
        let Some((i, s)) = self.find(key) else {
            return false;
        };
        if !s.verify_hex(parts, sig_hex) {
            return false;
        }
        self.pairs[i].accepted += 1;
        true
    }

    /// Counts a request accepted under pair `i` (a venue whose check is not [`Self::verify`]).
    pub fn accepted(&mut self, i: usize) {
        if let Some(p) = self.pairs.get_mut(i) {
            p.accepted += 1;
        }
    }

    /// `POST /sim/rotate` (see the module documentation).
    pub fn rotate(&mut self, body: &[u8]) -> Result<Value, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty());
        if flag("retire_old") {
            if v.get("api_key").is_some() || v.get("api_secret").is_some() {
                return Err("retire_old: give no api_key/api_secret with it".into());
            }
            let last = self.pairs.len() - 1;
            for p in &mut self.pairs[..last] {
                p.active = false;
            }
            return Ok(json!({"rotations": self.rotations}));
        }
        let (Some(key), Some(secret)) = (s("api_key"), s("api_secret")) else {
            return Err(
                "api_key and api_secret: non-empty strings (or retire_old: true alone)".into(),
            );
        };
        if !flag("keep_old") {
            for p in &mut self.pairs {
                p.active = false;
            }
        }
        self.pairs.push(KeyPair {
            key: key.to_owned(),
            signer: Signer::new(secret.as_bytes()),
            active: true,
            accepted: 0,
        });
        self.rotations += 1;
        Ok(json!({"rotations": self.rotations}))
    }

    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// For `/sim/state`: per pair, whether it is accepted and its accepted requests.
    pub fn state(&self) -> Value {
        Value::Array(
            self.pairs
                .iter()
                .enumerate()
                .map(|(i, p)| json!({"index": i, "active": p.active, "accepted": p.accepted}))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(secret: &str, msg: &[u8]) -> Vec<u8> {
        let mut out = [0u8; crate::exec::sign::SIG_HEX_LEN];
        Signer::new(secret.as_bytes()).sign_hex(&[msg], &mut out);
        out.to_vec()
    }

    #[test]
    fn rotation_with_grace_then_retire() {
        let mut k = SimKeys::new("A", "sa");
        assert!(k.verify("A", &[b"m"], &sig("sa", b"m")));
        assert!(!k.verify("A", &[b"m"], &sig("sb", b"m")), "wrong secret");
        k.rotate(br#"{"api_key":"B","api_secret":"sb","keep_old":true}"#)
            .unwrap();
        assert!(
            k.verify("A", &[b"m"], &sig("sa", b"m")),
            "grace: old accepted"
        );
        assert!(k.verify("B", &[b"m"], &sig("sb", b"m")));
        k.rotate(br#"{"retire_old":true}"#).unwrap();
        assert!(!k.verify("A", &[b"m"], &sig("sa", b"m")), "old retired");
        assert!(k.verify("B", &[b"m"], &sig("sb", b"m")));
        assert_eq!(
            k.state(),
            json!([{"index":0,"active":false,"accepted":2},{"index":1,"active":true,"accepted":2}])
        );
        k.rotate(br#"{"api_key":"C","api_secret":"sc"}"#).unwrap();
        assert!(
            !k.verify("B", &[b"m"], &sig("sb", b"m")),
            "replaced at once"
        );
        assert_eq!(k.rotations(), 2);
        assert!(k.rotate(br#"{"api_key":"C"}"#).is_err());
        assert!(k.rotate(br#"{"retire_old":true,"api_key":"C"}"#).is_err());
    }
}
