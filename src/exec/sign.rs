//! Request signing: HMAC-SHA256 (`ring`) written as lowercase hex into a caller's buffer.
//!
//! Every venue we trade signs a string it defines (Bybit `timestamp + key + recv_window +
//! body`, Coincheck `nonce + url + body`, GMO `timestamp + method + path + body`) with
//! HMAC-SHA256 and sends the digest as 64 lowercase hex digits. The venue folders build their
//! strings; [`Signer`] only hashes the parts in order, so the parts can be the very bytes of
//! the request buffer that go on the wire (nothing is copied into a separate "string to sign",
//! and what was signed is what is sent). The key is expanded once (ring's `hmac::Key` holds
//! the inner and outer pads); signing allocates nothing.

use ring::hmac;

/// Length of a hex HMAC-SHA256 digest.
pub const SIG_HEX_LEN: usize = 64;

/// An HMAC-SHA256 key. `Debug` never shows it.
#[derive(Clone)]
pub struct Signer {
    key: hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<secret>)")
    }
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        Signer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// HMAC-SHA256 of the concatenation of `parts`, as lowercase hex into `out`.
    #[inline]
    pub fn sign_hex(&self, parts: &[&[u8]], out: &mut [u8; SIG_HEX_LEN]) {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(p);
        }
        hex_into(ctx.sign().as_ref(), out);
    }

    /// Whether `sig_hex` (any case) is the HMAC of `parts`, compared in constant time (the
    /// simulator's check of a client's signature).
    pub fn verify_hex(&self, parts: &[&[u8]], sig_hex: &[u8]) -> bool {
        let mut tag = [0u8; 32];
        if sig_hex.len() != SIG_HEX_LEN || !unhex(sig_hex, &mut tag) {
            return false;
        }
        let mut msg_len = 0;
        for p in parts {
            msg_len += p.len();
        }
        let mut msg = Vec::with_capacity(msg_len);
        for p in parts {
            msg.extend_from_slice(p);
        }
        hmac::verify(&self.key, &msg, &tag).is_ok()
    }
}

/// `fmt::Write` into a fixed slice; a write that does not fit is an error (never a panic).
/// Request builders format into their pre-sized buffers with it.
pub struct Cursor<'a> {
    pub buf: &'a mut [u8],
    pub len: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a mut [u8]) -> Cursor<'a> {
        Cursor { buf, len: 0 }
    }
}

impl std::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn hex_into(bytes: &[u8], out: &mut [u8; SIG_HEX_LEN]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().take(SIG_HEX_LEN / 2).enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
}

fn unhex(hex: &[u8], out: &mut [u8; 32]) -> bool {
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        match (nib(pair[0]), nib(pair[1])) {
            (Some(h), Some(l)) => out[i] = h << 4 | l,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (key "Jefe"): a published vector, independent of our code.
    #[test]
    fn rfc4231_case_2() {
        let s = Signer::new(b"Jefe");
        let mut out = [0u8; SIG_HEX_LEN];
        s.sign_hex(&[b"what do ya want ", b"for nothing?"], &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(s.verify_hex(&[b"what do ya want for nothing?"], &out));
        assert!(s.verify_hex(
            &[b"what do ya want for nothing?"],
            &out.to_ascii_uppercase()
        ));
        assert!(!s.verify_hex(&[b"what do ya want for nothing!"], &out));
        assert!(!s.verify_hex(&[b"what do ya want for nothing?"], &out[..63]));
        assert!(!s.verify_hex(&[b"x"], b"zz"));
        assert_eq!(format!("{s:?}"), "Signer(<secret>)");
    }
}
