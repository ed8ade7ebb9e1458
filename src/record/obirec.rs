//! `obirec`: obi-scalp's own recording format, version 1. Binary, length-prefixed, append-only,
//! written by [`super::RecordWriter`] and usually zstd-compressed (`*.obirec.zst`).
//!
//! All integers are little-endian. A file is one header followed by records:
//!
//! ```text
//! header  = magic "OBIREC" (6 bytes)
//!           version      u16  = 1
//!           meta_len     u32  (at most 1 MiB)
//!           meta         meta_len bytes of UTF-8 JSON (see RecordMeta)
//!           header_crc   u32  CRC-32 of every header byte before it
//! record  = len          u32  number of bytes from `kind` to the end of `payload`
//!           kind         u8   1 http, 2 connect, 3 send, 4 recv, 5 disconnect (0 header)
//!           flags        u8   bit 0: `addr` present (others 0)
//!           conn_len     u16
//!           addr_len     u16  (0 when absent)
//!           ts_ns        u64  local receive (or send) time, ns since the Unix epoch
//!           conn         conn_len bytes, UTF-8: the connection id
//!           addr         addr_len bytes, UTF-8: the URL of an http exchange, the address of a
//!                        connection
//!           payload      len - 14 - conn_len - addr_len bytes: the frame exactly as on the wire
//!           crc          u32  CRC-32 (IEEE, as zlib) of `len` through `payload`
//! ```
//! `len` is at most 64 MiB + 128 KiB. The CRC covers the length field, so a torn or zero-filled
//! tail is recognised instead of being read as a huge record.
//!
//! Reading: a record cut short by the end of the file, or a bad length or CRC with nothing but
//! zero bytes after it, is a torn tail: reported as a warning, and reading stops cleanly after
//! the last good record. A bad length or CRC followed by more data is corruption: an error, and
//! reading stops (lengths past it cannot be trusted). A record whose CRC is right but whose
//! fields are inconsistent (unknown kind, lengths that do not add up, invalid UTF-8) is reported
//! as malformed and skipped, like a bad text line.

use super::crc32::{crc32, Crc32};
use super::RecordKind;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 6] = b"OBIREC";
pub const VERSION: u16 = 1;
/// Bytes of the header before `meta`.
pub const HEADER_FIXED: usize = 12;
pub const MAX_META_LEN: u32 = 1 << 20;
/// Longest payload a record may carry.
pub const MAX_PAYLOAD: usize = 64 << 20;
/// `kind` .. `ts_ns`.
pub const RECORD_FIXED: usize = 14;
/// Largest valid `len`.
pub const MAX_RECORD_LEN: u32 = (RECORD_FIXED + 2 * u16::MAX as usize + MAX_PAYLOAD) as u32;
const FLAG_ADDR: u8 = 1;

/// What a recording holds; the JSON `meta` of the header. Unknown keys are ignored and missing
/// ones take their default, so later versions may add fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordMeta {
    /// Venue name as [`crate::instrument::Venue::as_str`] writes it (`bybit`).
    pub venue: String,
    /// `spot`, `linear` or `inverse`.
    pub market: String,
    /// Symbols as the venue writes them.
    pub symbols: Vec<String>,
    /// The connection address (`wss://stream.bybit.com/v5/public/linear`).
    pub addr: String,
    /// When this file was created, ns since the Unix epoch (set by the writer).
    pub created_ns: u64,
    /// Sequence number of this file within one writer's run (set by the writer).
    pub seq: u64,
    /// Program and version that wrote the file (set by the writer when empty).
    pub recorder: String,
}

pub(crate) const fn kind_code(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Header => 0,
        RecordKind::Http => 1,
        RecordKind::Connect => 2,
        RecordKind::Send => 3,
        RecordKind::Recv => 4,
        RecordKind::Disconnect => 5,
    }
}

pub(crate) const fn kind_from_code(code: u8) -> Option<RecordKind> {
    Some(match code {
        0 => RecordKind::Header,
        1 => RecordKind::Http,
        2 => RecordKind::Connect,
        3 => RecordKind::Send,
        4 => RecordKind::Recv,
        5 => RecordKind::Disconnect,
        _ => return None,
    })
}

/// Appends the file header for `meta` to `out`.
pub(crate) fn encode_header(meta: &RecordMeta, out: &mut Vec<u8>) {
    let json = serde_json::to_vec(meta).expect("RecordMeta serializes");
    let start = out.len();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Why a record cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TooLong {
    Conn(usize),
    Addr(usize),
    Payload(usize),
}

/// Appends one record to `out`.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    kind: RecordKind,
    ts_ns: u64,
    conn: &str,
    addr: Option<&str>,
    payload: &[u8],
) -> Result<(), TooLong> {
    if conn.len() > u16::MAX as usize {
        return Err(TooLong::Conn(conn.len()));
    }
    let a = addr.unwrap_or("");
    if a.len() > u16::MAX as usize {
        return Err(TooLong::Addr(a.len()));
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(TooLong::Payload(payload.len()));
    }
    let len = RECORD_FIXED + conn.len() + a.len() + payload.len();
    out.reserve(4 + len + 4);
    let start = out.len();
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(kind_code(kind));
    out.push(if addr.is_some() { FLAG_ADDR } else { 0 });
    out.extend_from_slice(&(conn.len() as u16).to_le_bytes());
    out.extend_from_slice(&(a.len() as u16).to_le_bytes());
    out.extend_from_slice(&ts_ns.to_le_bytes());
    out.extend_from_slice(conn.as_bytes());
    out.extend_from_slice(a.as_bytes());
    out.extend_from_slice(payload);
    let mut c = Crc32::new();
    c.update(&out[start..]);
    out.extend_from_slice(&c.finish().to_le_bytes());
    Ok(())
}

/// The fields of a record whose CRC matched; ranges are relative to the start of `len`.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub kind: RecordKind,
    pub ts_ns: u64,
    pub conn: std::ops::Range<usize>,
    pub addr: Option<std::ops::Range<usize>>,
    pub payload: std::ops::Range<usize>,
}

/// Splits a CRC-checked record (`len` .. `payload`, without the CRC) into its fields.
pub(crate) fn decode_fields(rec: &[u8]) -> Result<Decoded, &'static str> {
    let body = &rec[4..];
    if body.len() < RECORD_FIXED {
        return Err("a record of at least 14 bytes");
    }
    let kind = kind_from_code(body[0]).ok_or("a record kind code 0..=5")?;
    let flags = body[1];
    if flags & !FLAG_ADDR != 0 {
        return Err("record flags with only bit 0 used");
    }
    let conn_len = u16::from_le_bytes([body[2], body[3]]) as usize;
    let addr_len = u16::from_le_bytes([body[4], body[5]]) as usize;
    let ts_ns = u64::from_le_bytes(body[6..14].try_into().expect("8 bytes"));
    if RECORD_FIXED + conn_len + addr_len > body.len() {
        return Err("conn and addr lengths within the record");
    }
    if flags & FLAG_ADDR == 0 && addr_len != 0 {
        return Err("no addr bytes when the addr flag is clear");
    }
    let conn = 4 + RECORD_FIXED..4 + RECORD_FIXED + conn_len;
    let addr = conn.end..conn.end + addr_len;
    if std::str::from_utf8(&rec[conn.clone()]).is_err() {
        return Err("a UTF-8 connection id");
    }
    if std::str::from_utf8(&rec[addr.clone()]).is_err() {
        return Err("a UTF-8 addr");
    }
    Ok(Decoded {
        kind,
        ts_ns,
        payload: addr.end..rec.len(),
        addr: (flags & FLAG_ADDR != 0).then_some(addr),
        conn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_is_as_documented() {
        let mut out = Vec::new();
        encode_record(
            &mut out,
            RecordKind::Send,
            0x0102_0304_0506_0708,
            "c1",
            Some("wss://x"),
            b"{}",
        )
        .unwrap();
        let len = 14 + 2 + 7 + 2;
        assert_eq!(out.len(), 4 + len + 4);
        assert_eq!(&out[..4], &(len as u32).to_le_bytes());
        assert_eq!(out[4], 3);
        assert_eq!(out[5], 1);
        assert_eq!(&out[6..8], &2u16.to_le_bytes());
        assert_eq!(&out[8..10], &7u16.to_le_bytes());
        assert_eq!(&out[10..18], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&out[18..20], b"c1");
        assert_eq!(&out[20..27], b"wss://x");
        assert_eq!(&out[27..29], b"{}");
        assert_eq!(&out[29..], &crc32(&out[..29]).to_le_bytes());
        let d = decode_fields(&out[..29]).unwrap();
        assert_eq!((d.kind, d.ts_ns), (RecordKind::Send, 0x0102_0304_0506_0708));
        assert_eq!(&out[d.conn], b"c1");
        assert_eq!(&out[d.addr.unwrap()], b"wss://x");
        assert_eq!(&out[d.payload], b"{}");
    }

    #[test]
    fn empty_addr_is_not_absent_addr() {
        for addr in [None, Some("")] {
            let mut out = Vec::new();
            encode_record(&mut out, RecordKind::Recv, 1, "", addr, b"").unwrap();
            let d = decode_fields(&out[..out.len() - 4]).unwrap();
            assert_eq!(d.addr.is_some(), addr.is_some());
        }
    }

    #[test]
    fn inconsistent_fields_are_rejected() {
        let mut out = Vec::new();
        encode_record(&mut out, RecordKind::Recv, 1, "abc", None, b"xy").unwrap();
        let rec = &out[..out.len() - 4];
        let mut bad = rec.to_vec();
        bad[4] = 9;
        assert!(decode_fields(&bad).unwrap_err().contains("kind"));
        let mut bad = rec.to_vec();
        bad[6] = 200;
        assert!(decode_fields(&bad).unwrap_err().contains("lengths"));
        let mut bad = rec.to_vec();
        bad[18] = 0xff;
        assert!(decode_fields(&bad).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn too_long_fields_are_refused() {
        let mut out = Vec::new();
        let long = "x".repeat(70_000);
        assert_eq!(
            encode_record(&mut out, RecordKind::Recv, 1, &long, None, b""),
            Err(TooLong::Conn(70_000))
        );
        assert_eq!(
            encode_record(&mut out, RecordKind::Recv, 1, "", Some(&long), b""),
            Err(TooLong::Addr(70_000))
        );
        assert!(out.is_empty());
    }

    #[test]
    fn header_layout_and_meta_json() {
        let meta = RecordMeta {
            venue: "bybit".into(),
            market: "linear".into(),
            symbols: vec!["BTCUSDT".into()],
            addr: "wss://stream.bybit.com/v5/public/linear".into(),
            created_ns: 5,
            seq: 2,
            recorder: "t".into(),
        };
        let mut out = Vec::new();
        encode_header(&meta, &mut out);
        assert_eq!(&out[..6], MAGIC);
        assert_eq!(&out[6..8], &1u16.to_le_bytes());
        let n = u32::from_le_bytes(out[8..12].try_into().unwrap()) as usize;
        assert_eq!(out.len(), 12 + n + 4);
        let back: RecordMeta = serde_json::from_slice(&out[12..12 + n]).unwrap();
        assert_eq!(back, meta);
        assert_eq!(&out[12 + n..], &crc32(&out[..12 + n]).to_le_bytes());
        // forward compatible: unknown keys ignored, missing keys default
        let m: RecordMeta = serde_json::from_str(r#"{"venue":"x","future":1}"#).unwrap();
        assert_eq!(m.venue, "x");
        assert!(m.symbols.is_empty());
    }
}
