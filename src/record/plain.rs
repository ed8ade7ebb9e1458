//! Plain frame lines: `<receive time, integer ns since the Unix epoch> <raw frame>`, one frame
//! per line, the shape simple recorders write (`1786310818223514800 {"topic":...}`).
//! The frame is everything after the single space separating it from the time, up to the end
//! of the line (a trailing `\r` is dropped). Every line is a received frame
//! ([`super::RecordKind::Recv`]) on an unnamed connection.

use super::cryptofeed::Bad;
use std::ops::Range;

/// Parses one non-blank line into the receive time and the range of the frame in `line`.
pub(crate) fn parse_line(line: &[u8]) -> Result<(u64, Range<usize>), Bad> {
    let digits = line.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Err(Bad {
            expected: "the receive time in integer nanoseconds at the start of the line".into(),
            at: 0,
        });
    }
    let mut ts: u64 = 0;
    for &c in &line[..digits] {
        ts = match ts
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
        {
            Some(v) => v,
            None => {
                return Err(Bad {
                    expected: "a receive time that fits u64 nanoseconds".into(),
                    at: 0,
                })
            }
        };
    }
    if line.get(digits) != Some(&b' ') {
        return Err(Bad {
            expected: "a space between the receive time and the frame".into(),
            at: digits,
        });
    }
    let mut end = line.len();
    if line[end - 1] == b'\r' {
        end -= 1;
    }
    let start = digits + 1;
    if start >= end {
        return Err(Bad {
            expected: "a frame after the receive time".into(),
            at: start.min(line.len()),
        });
    }
    Ok((ts, start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines() {
        let l = b"1786310818223514800 {\"a\": 1}\r";
        let (ts, r) = parse_line(l).unwrap();
        assert_eq!(ts, 1_786_310_818_223_514_800);
        assert_eq!(&l[r], b"{\"a\": 1}");
        let l = b"0  x";
        let (ts, r) = parse_line(l).unwrap();
        assert_eq!((ts, &l[r]), (0, &b" x"[..]));
    }

    #[test]
    fn bad_lines() {
        for (line, needle) in [
            (&b"abc {}"[..], "integer nanoseconds"),
            (b"-5 {}", "integer nanoseconds"),
            (b"18446744073709551616 {}", "fits u64"),
            (b"123{}", "a space"),
            (b"123\t{}", "a space"),
            (b"123", "a space"),
            (b"123 ", "a frame"),
            (b"123 \r", "a frame"),
        ] {
            let e = parse_line(line).unwrap_err();
            assert!(
                e.expected.contains(needle),
                "{:?}: {:?}",
                String::from_utf8_lossy(line),
                e.expected
            );
        }
        assert_eq!(parse_line(b"18446744073709551615 x").unwrap().0, u64::MAX);
    }
}
