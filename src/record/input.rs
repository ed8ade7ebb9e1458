//! A growable read buffer over the (decompressed) byte stream that hands out lines and
//! length-prefixed records as ranges of its own storage, so readers copy nothing per record.
//!
//! A range returned by [`Input::next_line`] or reserved with [`Input::consume_later`] stays valid
//! until the next call that reads (the consumption is deferred to [`Input::release`]).

use std::io::{self, Read};
use std::ops::Range;

const INITIAL_CAPACITY: usize = 256 * 1024;
/// Longest line or record the buffer grows to hold.
pub(crate) const MAX_BUFFERED: usize = 256 << 20;

pub(crate) struct Input {
    inner: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pending: usize,
    eof: bool,
    truncated: Option<io::Error>,
}

impl Input {
    pub(crate) fn new(inner: Box<dyn Read + Send>) -> Input {
        Input {
            inner,
            buf: vec![0; INITIAL_CAPACITY],
            start: 0,
            end: 0,
            pending: 0,
            eof: false,
            truncated: None,
        }
    }

    /// Bytes read and not yet consumed.
    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Absolute position of `available()[0]` in `bytes()`.
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// The whole storage; index it with ranges this type handed out.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The decompressor reported a stream cut short (`UnexpectedEof`): the error, if so.
    pub(crate) fn truncated(&self) -> Option<&io::Error> {
        self.truncated.as_ref()
    }

    /// Marks `n` bytes from the start as consumed at the next [`Input::release`].
    pub(crate) fn consume_later(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.pending = n;
    }

    /// Drops what the previous record used.
    pub(crate) fn release(&mut self) {
        self.start += self.pending;
        self.pending = 0;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Consumes `n` bytes now (only while no range is outstanding).
    pub(crate) fn consume(&mut self, n: usize) {
        self.release();
        self.start += n.min(self.end - self.start);
    }

    /// Reads more bytes; `Ok(false)` at the end of the stream (clean or truncated).
    fn fill_more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() >= MAX_BUFFERED {
                self.eof = true;
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a line or record longer than {MAX_BUFFERED} bytes"),
                ));
            } else {
                let n = (self.buf.len() * 2).min(MAX_BUFFERED);
                self.buf.resize(n, 0);
            }
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.eof = true;
                    self.truncated = Some(e);
                    return Ok(false);
                }
                Err(e) => {
                    self.eof = true;
                    return Err(e);
                }
            }
        }
    }

    /// Makes at least `n` bytes available; `Ok(false)` if the stream ends first.
    pub(crate) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            if !self.fill_more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The next line without its `\n`, and whether it was terminated by one (`false`: the
    /// stream ended inside it). `None` at the end of the stream.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(Range<usize>, bool)>> {
        self.release();
        let mut scanned = 0;
        loop {
            if let Some(p) = find_newline(&self.buf[self.start + scanned..self.end]) {
                let line = self.start..self.start + scanned + p;
                self.pending = scanned + p + 1;
                return Ok(Some((line, true)));
            }
            scanned = self.end - self.start;
            if !self.fill_more()? {
                if self.end == self.start {
                    return Ok(None);
                }
                self.pending = self.end - self.start;
                return Ok(Some((self.start..self.end, false)));
            }
        }
    }

    /// Reads the rest of the stream and says whether it holds only zero bytes (a zero-filled
    /// tail a crash can leave behind). Read errors count as the end.
    pub(crate) fn rest_is_zeros(&mut self) -> bool {
        self.release();
        loop {
            if self.available().iter().any(|&b| b != 0) {
                return false;
            }
            self.start = 0;
            self.end = 0;
            match self.fill_more() {
                Ok(true) => {}
                Ok(false) | Err(_) => return true,
            }
        }
    }
}

/// Position of the first `\n`, a word at a time.
#[inline]
fn find_newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i + 8 <= s.len() {
        let w = u64::from_le_bytes([
            s[i],
            s[i + 1],
            s[i + 2],
            s[i + 3],
            s[i + 4],
            s[i + 5],
            s[i + 6],
            s[i + 7],
        ]) ^ NL;
        // A zero byte in `w` is a newline in `s`; this test has no false positives before
        // the first zero byte, and the exact position is found below.
        if (w.wrapping_sub(LO) & !w & HI) != 0 {
            break;
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == b'\n').map(|p| p + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per call, then optionally fails.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        fail_at_end: Option<io::ErrorKind>,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return match self.fail_at_end {
                    Some(k) => Err(io::Error::new(k, "cut")),
                    None => Ok(0),
                };
            }
            let n = self.chunk.min(out.len()).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn input(data: &[u8], chunk: usize, fail: Option<io::ErrorKind>) -> Input {
        Input::new(Box::new(Trickle {
            data: data.to_vec(),
            pos: 0,
            chunk,
            fail_at_end: fail,
        }))
    }

    fn lines(inp: &mut Input) -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        while let Some((r, term)) = inp.next_line().unwrap() {
            out.push((inp.bytes()[r].to_vec(), term));
        }
        out
    }

    #[test]
    fn find_newline_agrees_with_naive_search() {
        for len in 0..40 {
            for nl in 0..=len {
                let mut s = vec![b'a'; len];
                if nl < len {
                    s[nl] = b'\n';
                }
                // bytes that stress the word trick: 0x0b (= '\n' ^ 1), 0x8a, 0x00
                for (k, b) in s.iter_mut().enumerate() {
                    if *b != b'\n' && k % 3 == 0 {
                        *b = [0x0b, 0x8a, 0x00][k % 9 / 3];
                    }
                }
                assert_eq!(
                    find_newline(&s),
                    s.iter().position(|&b| b == b'\n'),
                    "len {len} nl {nl}"
                );
            }
        }
    }

    #[test]
    fn lines_across_tiny_reads_and_buffer_growth() {
        let long = vec![b'x'; INITIAL_CAPACITY * 3 + 17];
        let mut data = b"first\n\nthird\n".to_vec();
        data.extend_from_slice(&long);
        data.extend_from_slice(b"\nlast-no-newline");
        let mut inp = input(&data, 7, None);
        let got = lines(&mut inp);
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], (b"first".to_vec(), true));
        assert_eq!(got[1], (b"".to_vec(), true));
        assert_eq!(got[2], (b"third".to_vec(), true));
        assert_eq!(got[3], (long, true));
        assert_eq!(got[4], (b"last-no-newline".to_vec(), false));
        assert!(inp.truncated().is_none());
    }

    #[test]
    fn unexpected_eof_is_truncation_not_error() {
        let mut inp = input(b"a\nb", 1, Some(io::ErrorKind::UnexpectedEof));
        let got = lines(&mut inp);
        assert_eq!(got, vec![(b"a".to_vec(), true), (b"b".to_vec(), false)]);
        assert!(inp.truncated().is_some());
    }

    #[test]
    fn other_read_errors_surface() {
        let mut inp = input(b"a\nb", 1, Some(io::ErrorKind::InvalidData));
        assert!(inp.next_line().unwrap().is_some());
        assert!(inp.next_line().is_err());
    }

    #[test]
    fn ensure_and_consume() {
        let mut inp = input(b"0123456789", 3, None);
        assert!(inp.ensure(5).unwrap());
        assert_eq!(&inp.available()[..5], b"01234");
        inp.consume_later(4);
        inp.release();
        assert!(inp.ensure(6).unwrap());
        assert_eq!(inp.available(), b"456789");
        assert!(!inp.ensure(7).unwrap());
        assert!(!inp.rest_is_zeros());
        let mut z = input(&[0, 0, 0, 0], 1, None);
        assert!(z.rest_is_zeros());
    }
}
