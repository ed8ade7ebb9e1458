//! Exact decimal numbers: wire strings straight to integer ticks and lots, never through `f64`.
//!
//! A [`Scale`] describes one quantity of one instrument: how many decimal places it is written
//! with and the step (tick or lot) in units of those places. `Scale::parse` turns `"65140.40"`
//! into a count of steps, or an error that says what was wrong; `Scale::write` prints a count of
//! steps back as an exact decimal.

use std::fmt;

/// Largest number of decimal places a scale may use (10^18 still fits an `i64`).
pub const MAX_DECIMALS: u8 = 18;

/// Why a decimal string could not become an integer count of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumError {
    /// Empty string.
    Empty,
    /// A byte that is not part of a decimal number.
    InvalidChar,
    /// More significant digits than the scale can hold exactly.
    TooManyDigits,
    /// The value does not fit an `i64` count of steps.
    Overflow,
    /// The value is not a whole multiple of the step (tick or lot).
    NotMultiple,
    /// A negative value where only non-negative ones make sense.
    Negative,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumError::Empty => "empty number",
            NumError::InvalidChar => "not a decimal number",
            NumError::TooManyDigits => "more decimal places than the instrument allows",
            NumError::Overflow => "number too large",
            NumError::NotMultiple => "not a multiple of the step",
            NumError::Negative => "negative value",
        })
    }
}

impl std::error::Error for NumError {}

/// A [`NumError`] with the name of the field it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub kind: NumError,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.kind)
    }
}

impl std::error::Error for FieldError {}

const POW10: [i64; 19] = {
    let mut t = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Fixed-point description of one quantity: values are `steps * step * 10^-decimals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scale {
    decimals: u8,
    step: i64,
    /// The same scale with the step's factors of ten moved into the decimals (`0.10` is parsed
    /// at one place with step 1): parsing then needs no division for power-of-ten steps.
    pdec: u8,
    pstep: i64,
}

impl Scale {
    /// A scale with `decimals` places and a step of `step` units of `10^-decimals`.
    pub const fn new(decimals: u8, step: i64) -> Scale {
        assert!(decimals <= MAX_DECIMALS && step > 0);
        let (mut pdec, mut pstep) = (decimals, step);
        while pdec > 0 && pstep % 10 == 0 {
            pdec -= 1;
            pstep /= 10;
        }
        Scale {
            decimals,
            step,
            pdec,
            pstep,
        }
    }

    /// The scale whose step is the decimal `text` (e.g. `"0.10"` → 1 decimal place, step 1).
    pub fn from_step(text: &str) -> Result<Scale, NumError> {
        let (mantissa, exp) = parse_decimal(text.as_bytes())?;
        if mantissa <= 0 {
            return Err(if mantissa == 0 {
                NumError::NotMultiple
            } else {
                NumError::Negative
            });
        }
        // value = mantissa * 10^exp. The decimals are kept as written ("0.10" prints prices
        // with two places, as the venue does); the step is the mantissa in those units.
        let (m, e) = (mantissa, exp);
        if e >= 0 {
            let step = m
                .checked_mul(*POW10.get(e as usize).ok_or(NumError::Overflow)?)
                .ok_or(NumError::Overflow)?;
            Ok(Scale::new(0, step))
        } else {
            let d = (-e) as u32;
            if d > MAX_DECIMALS as u32 {
                return Err(NumError::TooManyDigits);
            }
            Ok(Scale::new(d as u8, m))
        }
    }

    pub const fn decimals(self) -> u8 {
        self.decimals
    }

    /// The step in units of `10^-decimals`.
    pub const fn step_units(self) -> i64 {
        self.step
    }

    /// Parses a decimal (`"123.4500"`, `"-0.5"`, `"1e-5"`) into a whole count of steps.
    #[inline]
    pub fn parse(self, s: &[u8]) -> Result<i64, NumError> {
        let units = parse_units(s, self.pdec)?;
        if self.pstep == 1 {
            return Ok(units);
        }
        if units % self.pstep != 0 {
            return Err(NumError::NotMultiple);
        }
        Ok(units / self.pstep)
    }

    /// Reads an unsigned plain decimal (`digits[.digits]`) at the start of `s`, up to the first
    /// byte that cannot continue it: `Some((steps, end))` exactly when `end` is that byte's
    /// index and [`Scale::parse_unsigned`] of `&s[..end]` is `Ok(steps)` by its fast case.
    /// `None` says nothing about `s` (the caller then finds the number's end itself and calls
    /// `parse_unsigned`). Lets a JSON scanner read a quoted number in one pass.
    #[inline(always)]
    pub fn parse_prefix(self, s: &[u8]) -> Option<(i64, usize)> {
        let (units, end) = plain_prefix(s, self.pdec)?;
        if self.pstep == 1 {
            return Some((units, end));
        }
        (units % self.pstep == 0).then(|| (units / self.pstep, end))
    }

    /// As [`Scale::parse`], naming `field` in the error.
    #[inline]
    pub fn parse_field(self, s: &[u8], field: &'static str) -> Result<i64, FieldError> {
        self.parse(s).map_err(|kind| FieldError { field, kind })
    }

    /// As [`Scale::parse`], rejecting negative values.
    #[inline]
    pub fn parse_unsigned(self, s: &[u8], field: &'static str) -> Result<i64, FieldError> {
        match self.parse(s) {
            Ok(v) if v < 0 => Err(FieldError {
                field,
                kind: NumError::Negative,
            }),
            Ok(v) => Ok(v),
            Err(kind) => Err(FieldError { field, kind }),
        }
    }

    /// Writes `steps` as an exact decimal with this scale's places (`12345` steps of 0.1 → `1234.5`).
    pub fn write<W: fmt::Write>(self, steps: i64, w: &mut W) -> fmt::Result {
        let units = steps as i128 * self.step as i128;
        write_units(units, self.decimals, w)
    }

    /// `steps` as an exact decimal string (for the cold path).
    pub fn format(self, steps: i64) -> String {
        let mut s = String::new();
        let _ = self.write(steps, &mut s);
        s
    }
}

/// Writes `units * 10^-decimals` as a decimal with exactly `decimals` places.
pub fn write_units<W: fmt::Write>(units: i128, decimals: u8, w: &mut W) -> fmt::Result {
    if decimals == 0 {
        return write!(w, "{units}");
    }
    let p = 10i128.pow(decimals as u32);
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs();
    let (int, frac) = (a / p as u128, a % p as u128);
    write!(w, "{sign}{int}.{frac:0width$}", width = decimals as usize)
}

/// Writes `units * 10^-decimals` exactly, with trailing zeros dropped down to `min_decimals`
/// places (`123450` units at 4 places: `12.345` with `min_decimals` 2, `12.3450` with 4; `120000`
/// at 4 places with `min_decimals` 0: `12`). Nothing is rounded: a value with more significant
/// places than `min_decimals` shows all of them.
pub fn write_units_trimmed<W: fmt::Write>(
    units: i128,
    decimals: u8,
    min_decimals: u8,
    w: &mut W,
) -> fmt::Result {
    let mut places = decimals;
    let mut v = units;
    while places > min_decimals && v % 10 == 0 {
        v /= 10;
        places -= 1;
    }
    write_units(v, places, w)
}

/// Parses a decimal into `units` of `10^-decimals`, exactly. Extra decimal places are allowed
/// only when they are zeros (`"1.2300"` at 2 places is 123).
#[inline]
pub fn parse_units(s: &[u8], decimals: u8) -> Result<i64, NumError> {
    match parse_plain(s, decimals) {
        Some(v) => Ok(v),
        None => parse_units_general(s, decimals),
    }
}

/// The hot case of [`parse_units`] in one tight pass: unsigned `digits[.digits]` with at most
/// 18 digits kept, extra decimal places all zeros, no overflow. `None` for anything else (the
/// general parser then decides, and reports the error); `Some` is always what it would return.
#[inline(always)]
fn parse_plain(s: &[u8], decimals: u8) -> Option<i64> {
    match plain_prefix(s, decimals) {
        Some((v, end)) if end == s.len() => Some(v),
        _ => None,
    }
}

/// Reads the plain decimal at the start of `s` (`digits[.digits]`, as [`parse_plain`] takes it)
/// up to the first byte that cannot continue it; returns its units and that byte's index.
/// `None` when what is there is not such a number (or has more than 18 kept digits, a nonzero
/// digit past `decimals` places, or overflows).
#[inline(always)]
fn plain_prefix(s: &[u8], decimals: u8) -> Option<(i64, usize)> {
    if let Some(r) = plain_prefix_swar(s, decimals) {
        return Some(r);
    }
    plain_prefix_scalar(s, decimals)
}

const SWAR_LO: u64 = 0x0101_0101_0101_0101;
const SWAR_HI: u64 = 0x8080_8080_8080_8080;

/// The number whose decimal digits (values 0..=9) are the bytes of `v`, most significant in
/// the lowest byte (leading zeros for shorter numbers): three multiplications for all eight
/// (Lemire, "Faster integer parsing").
#[inline(always)]
fn swar_digits(v: u64) -> u64 {
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let mask = 0x0000_00FF_0000_00FF;
    ((v & mask)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & mask).wrapping_mul(1 + (10_000 << 32))))
        >> 32
}

/// [`plain_prefix`] eight bytes at a time, for numbers of at most 7 digits that end within
/// the first nine bytes of `s` (which must hold at least eight). `None` when that is not the
/// case or the number is not plain: the scalar reader then decides.
#[inline(always)]
fn plain_prefix_swar(s: &[u8], decimals: u8) -> Option<(i64, usize)> {
    let w = u64::from_le_bytes(s.get(..8)?.try_into().ok()?);
    // Digit values in the bytes that are digits; a flag in every byte that is not a digit.
    // (Only the lowest flags are used: carries from non-ASCII bytes move upwards only, past a
    // byte that is flagged anyway.)
    let x = w ^ (SWAR_LO * b'0' as u64);
    let nondigit = (x.wrapping_add(SWAR_LO * 0x76) | x) & SWAR_HI;
    let t1 = nondigit.trailing_zeros();
    let p1 = (t1 / 8) as usize;
    if p1 == 0 || p1 == 8 {
        return None;
    }
    // p2: where the digits after the point end (for a whole number: as if a point were at p1).
    let (p2, end) = if s[p1] == b'.' {
        let p2 = ((nondigit & (nondigit - 1)).trailing_zeros() / 8) as usize;
        if p2 == 8 && s.get(8).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        (p2, p2)
    } else {
        (p1 + 1, p1)
    };
    let frac = p2 - p1 - 1;
    let keep = frac.min(decimals as usize);
    // The digits without the point, most significant first, moved to the top bytes; the last
    // `extra` of them are places past `decimals`, which must be zeros.
    let low = (1u64 << (t1 & !7)) - 1;
    let merged = (x & low) | ((x >> 8) & !low);
    let aligned = merged << (64 - 8 * (p2 - 1) as u32);
    let extra = 8 * (frac - keep) as u32;
    if aligned & !(u64::MAX >> extra) != 0 {
        return None;
    }
    let v = swar_digits(aligned << extra) as i64;
    Some((v.checked_mul(POW10[decimals as usize - keep])?, end))
}

/// The run of ASCII digits at the start of `s` as a number, and its length; `None` when the run
/// is longer than 18 digits. Eight digits at a time where `s` holds eight more bytes.
#[inline]
pub fn leading_digits(s: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut n = 0;
    while let Some(chunk) = s.get(n..n + 8) {
        let x = u64::from_le_bytes(chunk.try_into().ok()?) ^ (SWAR_LO * b'0' as u64);
        let nondigit = (x.wrapping_add(SWAR_LO * 0x76) | x) & SWAR_HI;
        let k = (nondigit.trailing_zeros() / 8) as usize;
        if k == 0 {
            return Some((v, n));
        }
        if n + k > 18 {
            return None;
        }
        // The k digits moved to the top bytes (leading zeros below).
        v = v * POW10[k] as u64 + swar_digits(x << (64 - 8 * k as u32));
        n += k;
        if k < 8 {
            return Some((v, n));
        }
    }
    while let Some(&c) = s.get(n) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if n == 18 {
            return None;
        }
        v = v * 10 + d as u64;
        n += 1;
    }
    Some((v, n))
}

/// [`plain_prefix`] one byte at a time, for every length.
#[inline(always)]
fn plain_prefix_scalar(s: &[u8], decimals: u8) -> Option<(i64, usize)> {
    let mut acc: u64 = 0;
    let mut i = 0;
    while let Some(d) = digit(s.get(i)) {
        acc = acc * 10 + d;
        i += 1;
        if i > 18 {
            return None;
        }
    }
    let int_digits = i;
    if int_digits == 0 {
        return None;
    }
    let mut kept = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while kept < decimals as usize {
            let Some(d) = digit(s.get(i)) else { break };
            if int_digits + kept == 18 {
                // A 19th kept digit: more than an i64 holds exactly.
                return None;
            }
            acc = acc * 10 + d;
            i += 1;
            kept += 1;
        }
        while s.get(i) == Some(&b'0') {
            i += 1;
        }
        if digit(s.get(i)).is_some() {
            return None;
        }
    }
    let v = (acc as i64).checked_mul(POW10[decimals as usize - kept])?;
    Some((v, i))
}

#[inline(always)]
fn digit(c: Option<&u8>) -> Option<u64> {
    let d = c?.wrapping_sub(b'0');
    (d <= 9).then_some(d as u64)
}

/// [`parse_units`] for every form: signs, exponents, more than 18 digits, and the errors.
#[inline(never)]
fn parse_units_general(s: &[u8], decimals: u8) -> Result<i64, NumError> {
    // Plain `[-]digits[.digits]` with no exponent, the form every venue but bitFlyer uses.
    let (neg, body) = match s.first() {
        None => return Err(NumError::Empty),
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return Err(NumError::InvalidChar);
    }
    // Up to 18 digits cannot overflow an i64: accumulate unchecked and count; longer numbers
    // take the checked path below.
    let mut acc: i64 = 0;
    let mut i = 0;
    let mut int_digits = 0;
    let mut nd = 0u32;
    while i < body.len() {
        let c = body[i];
        if c.is_ascii_digit() {
            acc = acc.wrapping_mul(10).wrapping_add((c - b'0') as i64);
            nd += 1;
            int_digits += 1;
            i += 1;
        } else {
            break;
        }
    }
    let mut frac_digits: u32 = 0;
    if i < body.len() && body[i] == b'.' {
        i += 1;
        let start = i;
        while i < body.len() && body[i].is_ascii_digit() {
            let d = (body[i] - b'0') as i64;
            if frac_digits < decimals as u32 {
                acc = acc.wrapping_mul(10).wrapping_add(d);
                nd += 1;
                frac_digits += 1;
            } else if d != 0 {
                return if body.iter().any(|&c| c | 0x20 == b'e') {
                    parse_units_exp(s, decimals)
                } else {
                    Err(NumError::TooManyDigits)
                };
            }
            i += 1;
        }
        if i == start && int_digits == 0 {
            return Err(NumError::InvalidChar);
        }
    } else if int_digits == 0 {
        return Err(NumError::InvalidChar);
    }
    if i < body.len() {
        if body[i] == b'e' || body[i] == b'E' {
            return parse_units_exp(s, decimals);
        }
        return Err(NumError::InvalidChar);
    }
    if nd > 18 {
        return parse_units_checked(s, decimals);
    }
    let rest = decimals as u32 - frac_digits;
    acc = acc
        .checked_mul(POW10[rest as usize])
        .ok_or(NumError::Overflow)?;
    Ok(if neg { -acc } else { acc })
}

/// [`parse_units`] for numbers with more than 18 significant digits: exact or `Overflow`.
#[cold]
fn parse_units_checked(s: &[u8], decimals: u8) -> Result<i64, NumError> {
    let (m, e) = parse_decimal(s).map_err(|e| match e {
        NumError::TooManyDigits => NumError::Overflow,
        other => other,
    })?;
    let shift = e + decimals as i32;
    if shift >= 0 {
        let p = POW10.get(shift as usize).ok_or(NumError::Overflow)?;
        m.checked_mul(*p).ok_or(NumError::Overflow)
    } else {
        let p = POW10
            .get((-shift) as usize)
            .ok_or(NumError::TooManyDigits)?;
        if m % p != 0 {
            return Err(NumError::TooManyDigits);
        }
        Ok(m / p)
    }
}

/// Slow path for JSON number tokens with an exponent (`5.0e-5`, `1E+3`).
fn parse_units_exp(s: &[u8], decimals: u8) -> Result<i64, NumError> {
    let (mantissa, exp) = parse_decimal(s)?;
    let shift = exp + decimals as i32;
    if mantissa == 0 {
        return Ok(0);
    }
    if shift >= 0 {
        let p = POW10.get(shift as usize).ok_or(NumError::Overflow)?;
        mantissa.checked_mul(*p).ok_or(NumError::Overflow)
    } else {
        let p = POW10
            .get((-shift) as usize)
            .ok_or(NumError::TooManyDigits)?;
        if mantissa % p != 0 {
            return Err(NumError::TooManyDigits);
        }
        Ok(mantissa / p)
    }
}

/// Parses any decimal or JSON number into `(mantissa, exponent)` with value `mantissa * 10^exponent`.
pub fn parse_decimal(s: &[u8]) -> Result<(i64, i32), NumError> {
    let (neg, body) = match s.first() {
        None => return Err(NumError::Empty),
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut m: i64 = 0;
    let mut exp: i32 = 0;
    let mut digits = 0;
    let mut seen_dot = false;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        match c {
            b'0'..=b'9' => {
                if m == 0 && c == b'0' {
                    // leading zeros carry no precision
                } else {
                    m = m
                        .checked_mul(10)
                        .and_then(|a| a.checked_add((c - b'0') as i64))
                        .ok_or(NumError::TooManyDigits)?;
                }
                if seen_dot {
                    exp -= 1;
                }
                digits += 1;
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return Err(NumError::InvalidChar),
        }
        i += 1;
    }
    if digits == 0 {
        return Err(NumError::InvalidChar);
    }
    if i < body.len() {
        // exponent
        let e = &body[i + 1..];
        let (eneg, ed) = match e.first() {
            Some(b'-') => (true, &e[1..]),
            Some(b'+') => (false, &e[1..]),
            _ => (false, e),
        };
        if ed.is_empty() || ed.len() > 4 || !ed.iter().all(|c| c.is_ascii_digit()) {
            return Err(NumError::InvalidChar);
        }
        let v: i32 = ed.iter().fold(0, |a, c| a * 10 + (c - b'0') as i32);
        exp += if eneg { -v } else { v };
    }
    Ok((if neg { -m } else { m }, exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_units_keep_every_significant_place() {
        let t = |u: i128, d: u8, min: u8| {
            let mut s = String::new();
            write_units_trimmed(u, d, min, &mut s).unwrap();
            s
        };
        assert_eq!(t(123_450, 4, 2), "12.345");
        assert_eq!(t(123_450, 4, 4), "12.3450");
        assert_eq!(t(120_000, 4, 0), "12");
        assert_eq!(t(120_000, 4, 2), "12.00");
        assert_eq!(t(-3, 14, 0), "-0.00000000000003");
        assert_eq!(t(0, 14, 0), "0");
        assert_eq!(
            t(i128::MIN, 14, 0),
            "-1701411834604692317316873.03715884105728"
        );
        assert_eq!(t(-1_000, 2, 0), "-10");
    }

    #[test]
    fn parses_plain_decimals_to_steps() {
        let tick = Scale::from_step("0.10").unwrap();
        assert_eq!(tick, Scale::new(2, 10));
        assert_eq!(tick.format(651404), "65140.40");
        assert_eq!(tick.parse(b"65140.4"), Ok(651404));
        assert_eq!(tick.parse(b"65140.40000"), Ok(651404));
        assert_eq!(tick.parse(b"65140"), Ok(651400));
        let lot = Scale::from_step("0.000001").unwrap();
        assert_eq!(lot.parse(b"0.885797"), Ok(885797));
        assert_eq!(lot.parse(b"0"), Ok(0));
        assert_eq!(lot.parse(b"0.00000000"), Ok(0));
    }

    #[test]
    fn steps_that_are_not_powers_of_ten() {
        let s = Scale::from_step("0.005").unwrap();
        assert_eq!(s, Scale::new(3, 5));
        assert_eq!(s.parse(b"1.015"), Ok(203));
        assert_eq!(s.parse(b"1.016"), Err(NumError::NotMultiple));
        let s = Scale::from_step("5").unwrap();
        assert_eq!(s.parse(b"15"), Ok(3));
        assert_eq!(s.format(3), "15");
        let s = Scale::from_step("10").unwrap();
        assert_eq!(s.parse(b"120.0"), Ok(12));
    }

    #[test]
    fn rejects_what_is_not_exact() {
        let tick = Scale::from_step("0.1").unwrap();
        assert_eq!(tick.parse(b"1.25"), Err(NumError::TooManyDigits));
        assert_eq!(tick.parse(b""), Err(NumError::Empty));
        assert_eq!(tick.parse(b"abc"), Err(NumError::InvalidChar));
        assert_eq!(tick.parse(b"1.2.3"), Err(NumError::InvalidChar));
        assert_eq!(tick.parse(b"-"), Err(NumError::InvalidChar));
        assert_eq!(tick.parse(b"."), Err(NumError::InvalidChar));
        assert_eq!(tick.parse(b"1 "), Err(NumError::InvalidChar));
        assert_eq!(
            tick.parse(b"99999999999999999999999"),
            Err(NumError::Overflow)
        );
        assert_eq!(tick.parse(b"922337203685477580.8"), Err(NumError::Overflow));
        assert_eq!(
            tick.parse_unsigned(b"-1", "price"),
            Err(FieldError {
                field: "price",
                kind: NumError::Negative
            })
        );
    }

    #[test]
    fn json_number_tokens_with_exponents() {
        let lot = Scale::from_step("0.00000001").unwrap();
        assert_eq!(lot.parse(b"0.0267539"), Ok(2675390));
        assert_eq!(lot.parse(b"1e-05"), Ok(1000));
        assert_eq!(lot.parse(b"2.5E-7"), Ok(25));
        assert_eq!(lot.parse(b"1e-9"), Err(NumError::TooManyDigits));
        let tick = Scale::from_step("1").unwrap();
        assert_eq!(tick.parse(b"5860954.0"), Ok(5860954));
        assert_eq!(tick.parse(b"5.860954E6"), Ok(5860954));
        assert_eq!(tick.parse(b"1e400"), Err(NumError::Overflow));
        assert_eq!(tick.parse(b"1e99999"), Err(NumError::InvalidChar));
    }

    #[test]
    fn formats_exactly() {
        let tick = Scale::from_step("0.01").unwrap();
        assert_eq!(tick.format(6514040), "65140.40");
        assert_eq!(tick.format(-5), "-0.05");
        assert_eq!(Scale::from_step("1").unwrap().format(42), "42");
    }

    #[test]
    fn swar_reads_the_usual_wire_numbers() {
        let swar = |s: &[u8], d| plain_prefix_swar(s, d);
        assert_eq!(swar(b"65095.30\",\"0", 1), Some((650953, 8)));
        assert_eq!(swar(b"65095.31\",\"0", 1), None, "a nonzero extra place");
        assert_eq!(swar(b"0.005\"],[", 3), Some((5, 5)));
        assert_eq!(swar(b"0.875077\"", 6), Some((875077, 8)));
        assert_eq!(swar(b"65239\"],[", 1), Some((652390, 5)));
        assert_eq!(swar(b"1923.28\",", 2), Some((192328, 7)));
        assert_eq!(swar(b"0.00000078\"", 8), None, "longer than a word: scalar");
        assert_eq!(swar(b"12345678", 0), None, "eight integer digits: scalar");
        assert_eq!(swar(b"1.\"]]]]]", 2), Some((100, 2)));
        assert_eq!(swar(b".5\"]]]]]", 2), None);
        assert_eq!(swar(b"1.5", 2), None, "fewer than eight bytes: scalar");
        let tick = Scale::from_step("0.10").unwrap();
        assert_eq!(
            tick.parse_prefix(b"65095.30\",\"0.005\"]"),
            Some((650953, 8))
        );
        assert_eq!(Scale::new(3, 5).parse_prefix(b"1.015\"]]]"), Some((203, 5)));
        assert_eq!(Scale::new(3, 5).parse_prefix(b"1.016\"]]]"), None);
    }

    #[test]
    fn leading_digit_runs() {
        assert_eq!(leading_digits(b""), Some((0, 0)));
        assert_eq!(leading_digits(b"x12345678901"), Some((0, 0)));
        assert_eq!(leading_digits(b"7"), Some((7, 1)));
        assert_eq!(
            leading_digits(b"1786310818130,\"data\""),
            Some((1786310818130, 13))
        );
        assert_eq!(leading_digits(b"12345678"), Some((12345678, 8)));
        assert_eq!(
            leading_digits(b"123456789012345678}"),
            Some((123456789012345678, 18))
        );
        assert_eq!(
            leading_digits(b"123456789012345678"),
            Some((123456789012345678, 18))
        );
        assert_eq!(leading_digits(b"1234567890123456789"), None);
        assert_eq!(leading_digits(b"1234567890123456789}"), None);
        assert_eq!(leading_digits(b"0000000000000000000000"), None);
    }

    proptest::proptest! {
        /// `leading_digits` (eight bytes at a time, then one by one near the end) agrees with
        /// reading the digits one by one, for every length and what follows.
        #[test]
        fn leading_digits_match_scalar(
            digits in "[0-9]{0,22}",
            tail in proptest::prop_oneof![
                proptest::strategy::Just(String::new()),
                "[^0-9]{1,20}",
                "[,}\\]\"]{1}[a-z0-9\"]{0,20}",
            ],
        ) {
            let s = format!("{digits}{tail}");
            let n = digits.len();
            let want = if n > 18 { None } else { Some((digits.parse::<u64>().unwrap_or(0), n)) };
            proptest::prop_assert_eq!(leading_digits(s.as_bytes()), want);
        }
    }

    #[test]
    fn plain_fast_path_edges() {
        for (s, dec) in [
            (&b"1."[..], 2),
            (b"0", 0),
            (b"00012.50", 3),
            (b"999999999999999999", 0),
            (b"9999999999999999999", 0),
            (b"922337203685477580.7", 1),
            (b"92233720368547758.08", 2),
            (b"1.0000000000000000000000", 1),
            (b"1.2301", 3),
            (b"1.e5", 0),
            (b".5", 1),
            (b"", 2),
            (b"-0", 2),
        ] {
            assert_eq!(
                parse_plain(s, dec).map_or_else(|| parse_units_general(s, dec), Ok),
                parse_units_general(s, dec),
                "{}",
                String::from_utf8_lossy(s)
            );
            if let Some(v) = parse_plain(s, dec) {
                assert_eq!(Ok(v), parse_units_general(s, dec));
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// The one-pass fast path returns exactly what the general parser returns, whenever it
        /// returns anything.
        #[test]
        fn plain_fast_path_agrees_with_the_general_parser(
            chars in proptest::collection::vec(
                proptest::sample::select(b"0000123456789..-+eE x".to_vec()), 0..24),
            dec in 0u8..=18,
        ) {
            if let Some(v) = parse_plain(&chars, dec) {
                proptest::prop_assert_eq!(Ok(v), parse_units_general(&chars, dec));
            }
            proptest::prop_assert_eq!(parse_units(&chars, dec), parse_units_general(&chars, dec));
        }

        #[test]
        fn prefix_reads_what_parse_unsigned_reads(
            chars in proptest::collection::vec(
                proptest::sample::select(b"0000123456789..-+eE\"x".to_vec()), 0..24),
            dec in 0u8..=12,
            step in 1i64..=25,
        ) {
            let sc = Scale::new(dec, step);
            if let Some((v, end)) = sc.parse_prefix(&chars) {
                proptest::prop_assert_eq!(sc.parse_unsigned(&chars[..end], "x"), Ok(v));
                proptest::prop_assert!(chars.get(end).is_none_or(|c| !c.is_ascii_digit()));
            }
        }

        #[test]
        fn leading_digits_agree_with_std(
            chars in proptest::collection::vec(
                proptest::sample::select(b"0123456789012345678901234567890123456789,}\xff".to_vec()), 0..26),
        ) {
            let run = chars.iter().take_while(|c| c.is_ascii_digit()).count();
            let want = if run > 18 {
                None
            } else {
                let s = std::str::from_utf8(&chars[..run]).unwrap();
                Some((if run == 0 { 0 } else { s.parse::<u64>().unwrap() }, run))
            };
            proptest::prop_assert_eq!(leading_digits(&chars), want);
        }

        #[test]
        fn swar_agrees_with_the_scalar_reader(
            chars in proptest::collection::vec(
                proptest::sample::select(b"0000123456789.....\"x\x80\xff".to_vec()), 8..14),
            dec in 0u8..=18,
        ) {
            if let Some(r) = plain_prefix_swar(&chars, dec) {
                proptest::prop_assert_eq!(Some(r), plain_prefix_scalar(&chars, dec));
            }
        }

        #[test]
        fn swar_reads_quoted_numbers(int in 0u64..10_000_000, frac in 0u64..10_000_000, fd in 0usize..8, dec in 0u8..=10, tail in 0usize..3) {
            let num = if fd == 0 { int.to_string() } else { format!("{int}.{:0w$}", frac % 10u64.pow(fd as u32), w = fd) };
            let s = format!("{num}{}", ["\",\"0.5\"]", "\"", ""][tail]);
            let want = plain_prefix_scalar(s.as_bytes(), dec);
            if let Some(r) = plain_prefix_swar(s.as_bytes(), dec) {
                proptest::prop_assert_eq!(Some(r), want, "{}", s);
            }
            proptest::prop_assert_eq!(plain_prefix(s.as_bytes(), dec), want, "{}", s);
            if let Some((_, end)) = want {
                proptest::prop_assert_eq!(end, num.len());
            }
        }

        #[test]
        fn plain_numbers_take_the_fast_path(int in 0u64..1_000_000_000, frac in 0u32..100_000, fd in 0usize..6, dec in 0u8..=8) {
            let s = if fd == 0 { int.to_string() } else { format!("{int}.{:0w$}", frac % 10u32.pow(fd as u32), w = fd) };
            let general = parse_units_general(s.as_bytes(), dec);
            if general.is_ok() {
                proptest::prop_assert_eq!(parse_plain(s.as_bytes(), dec), general.ok(), "{}", s);
            }
        }
    }

    #[test]
    fn round_trips_random_values() {
        let s = Scale::new(8, 1);
        for v in [0i64, 1, 12345678, 99_999_999_999, -7] {
            assert_eq!(s.parse(s.format(v).as_bytes()), Ok(v));
        }
    }
}
