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

/// Parses a decimal into `units` of `10^-decimals`, exactly. Extra decimal places are allowed
/// only when they are zeros (`"1.2300"` at 2 places is 123).
#[inline]
pub fn parse_units(s: &[u8], decimals: u8) -> Result<i64, NumError> {
    // Fast path: plain `[-]digits[.digits]` with no exponent, the form every venue but bitFlyer uses.
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
    fn round_trips_random_values() {
        let s = Scale::new(8, 1);
        for v in [0i64, 1, 12345678, 99_999_999_999, -7] {
            assert_eq!(s.parse(s.format(v).as_bytes()), Ok(v));
        }
    }
}
