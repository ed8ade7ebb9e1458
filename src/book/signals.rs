//! Signals computed on every book update, in exact integer arithmetic.

use crate::msg::{NO_PRICE, SIGNAL_SCALE};

/// Order-book imbalance `(bid - ask) / (bid + ask)` in parts per million; 0 when both are empty.
#[inline]
pub fn obi_ppm(bid_qty: i64, ask_qty: i64) -> i64 {
    // In i64 while nothing can overflow (every real book), else exactly the same in i128.
    const SMALL: i64 = 1 << 42;
    if (0..SMALL).contains(&bid_qty) && (0..SMALL).contains(&ask_qty) {
        let total = bid_qty + ask_qty;
        if total == 0 {
            return 0;
        }
        return (bid_qty - ask_qty) * SIGNAL_SCALE / total;
    }
    let total = bid_qty as i128 + ask_qty as i128;
    if total <= 0 {
        return 0;
    }
    ((bid_qty as i128 - ask_qty as i128) * SIGNAL_SCALE as i128 / total) as i64
}

/// Size-weighted microprice `(bid_px * ask_qty + ask_px * bid_qty) / (bid_qty + ask_qty)` in
/// millionths of a tick. With one side empty it is the other side's price; with none, `NO_PRICE`.
#[inline]
pub fn microprice_e6(bid_px: i64, bid_qty: i64, ask_px: i64, ask_qty: i64) -> i64 {
    match (bid_px == NO_PRICE, ask_px == NO_PRICE) {
        (true, true) => NO_PRICE,
        (false, true) => bid_px.saturating_mul(SIGNAL_SCALE),
        (true, false) => ask_px.saturating_mul(SIGNAL_SCALE),
        (false, false) => {
            let total = bid_qty as i128 + ask_qty as i128;
            if total <= 0 {
                return saturate((bid_px as i128 + ask_px as i128) * SIGNAL_SCALE as i128 / 2);
            }
            // In i64 while nothing overflows (every real book), else exactly the same in i128.
            let small = bid_qty
                .checked_add(ask_qty)
                .filter(|t| *t > 0)
                .and_then(|t| {
                    let num = bid_px
                        .checked_mul(ask_qty)?
                        .checked_add(ask_px.checked_mul(bid_qty)?)?;
                    Some(num.checked_mul(SIGNAL_SCALE)? / t)
                });
            if let Some(m) = small {
                return m;
            }
            // `num * SIGNAL_SCALE` can pass i128 (prices and sizes near 1e18): divide first, the
            // remainder after (the same truncated quotient), and saturate what an i64 cannot hold.
            let num = bid_px as i128 * ask_qty as i128 + ask_px as i128 * bid_qty as i128;
            let s = SIGNAL_SCALE as i128;
            saturate(num / total * s + num % total * s / total)
        }
    }
}

#[inline]
fn saturate(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Best-level order-flow imbalance between two tops `(bid_px, bid_qty, ask_px, ask_qty)`
/// (Cont, Kukanov & Stoikov 2014): bid-side demand minus ask-side supply, in lots. Summed in
/// i128 (four terms of at most `i64::MAX` each cannot overflow it) and saturated to i64, so a
/// flow beyond the i64 range keeps its sign.
#[inline]
pub fn ofi(prev: (i64, i64, i64, i64), cur: (i64, i64, i64, i64)) -> i64 {
    let (pbp, pbq, pap, paq) = prev;
    let (bp, bq, ap, aq) = cur;
    if pbp == NO_PRICE || pap == NO_PRICE || bp == NO_PRICE || ap == NO_PRICE {
        return 0;
    }
    let mut e: i128 = 0;
    if bp >= pbp {
        e += bq as i128;
    }
    if bp <= pbp {
        e -= pbq as i128;
    }
    if ap <= pap {
        e -= aq as i128;
    }
    if ap >= pap {
        e += paq as i128;
    }
    saturate(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obi_bounds() {
        assert_eq!(obi_ppm(10, 0), 1_000_000);
        assert_eq!(obi_ppm(0, 10), -1_000_000);
        assert_eq!(obi_ppm(0, 0), 0);
        assert_eq!(obi_ppm(3, 1), 500_000);
    }

    #[test]
    fn ofi_follows_the_definition() {
        // bid size grows at the same price: +growth
        assert_eq!(ofi((100, 5, 101, 5), (100, 8, 101, 5)), 3);
        // ask size grows at the same price: -growth
        assert_eq!(ofi((100, 5, 101, 5), (100, 5, 101, 9)), -4);
        // bid price improves: + new bid size
        assert_eq!(ofi((100, 5, 102, 5), (101, 2, 102, 5)), 2);
        // ask price lifts: + old ask size
        assert_eq!(ofi((100, 5, 101, 5), (100, 5, 102, 7)), 5);
        assert_eq!(ofi((NO_PRICE, 0, 101, 5), (100, 5, 101, 5)), 0);
    }

    /// Terms near i64::MAX saturate: the sign of the flow is kept, never wrapped.
    #[test]
    fn ofi_saturates() {
        let m = i64::MAX - 1;
        // Bid improves with a huge size and the ask lifts away from a huge size: +m + m.
        assert_eq!(ofi((100, 1, 101, m), (101, m, 102, 1)), i64::MAX);
        // Bid drops away from a huge size, ask improves with a huge size: -m - m.
        assert_eq!(ofi((100, m, 102, 1), (99, 1, 101, m)), i64::MIN);
        // Equal prices on both sides: all four terms.
        assert_eq!(ofi((100, m, 101, m), (100, m, 101, m)), 0);
    }

    /// The i64 fast paths give exactly what the i128 formulas give, near and past their limits.
    #[test]
    fn fast_paths_match_i128() {
        let qs = [
            0,
            1,
            7,
            1 << 20,
            (1 << 42) - 1,
            1 << 42,
            1 << 50,
            i64::MAX / 2,
            i64::MAX,
        ];
        let ps = [1, 99, 651_142, 1 << 31, 1 << 40];
        for &b in &qs {
            for &a in &qs {
                let total = b as i128 + a as i128;
                let want = if total <= 0 {
                    0
                } else {
                    ((b as i128 - a as i128) * SIGNAL_SCALE as i128 / total) as i64
                };
                assert_eq!(obi_ppm(b, a), want, "obi {b} {a}");
                for &bp in &ps {
                    for &ap in &ps {
                        let want = if total <= 0 {
                            ((bp as i128 + ap as i128) * SIGNAL_SCALE as i128 / 2) as i64
                        } else {
                            ((bp as i128 * a as i128 + ap as i128 * b as i128)
                                * SIGNAL_SCALE as i128
                                / total) as i64
                        };
                        assert_eq!(microprice_e6(bp, b, ap, a), want, "micro {bp} {b} {ap} {a}");
                    }
                }
            }
        }
    }

    /// Absurd but parseable values (18-digit prices and sizes) neither panic nor wrap.
    #[test]
    fn extreme_values_saturate() {
        let big = 999_999_999_999_999_999;
        assert_eq!(microprice_e6(big, big, big, big), i64::MAX);
        assert_eq!(microprice_e6(big, 0, big, 0), i64::MAX);
        assert_eq!(obi_ppm(big, 0), 1_000_000);
        assert_eq!(obi_ppm(big, big), 0);
        // Still exact where the result fits: 1.5 ticks between 1 and 2 with equal sizes.
        assert_eq!(microprice_e6(1, big, 2, big), 1_500_000);
    }

    #[test]
    fn microprice_leans_to_the_thin_side() {
        // a big bid, a thin ask: microprice near the ask
        let m = microprice_e6(100, 9, 101, 1);
        assert_eq!(m, 100_900_000);
    }
}
