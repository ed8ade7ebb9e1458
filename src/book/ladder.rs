//! One side of an L2 book as a sorted array with the best level at the end.
//!
//! Why this layout: almost every update on a real feed touches the first few levels, so keeping
//! the best price at the *end* of a sorted array makes an insert or delete near the top a move of
//! a handful of elements, the best level an index, and the top-N sums a contiguous backwards scan
//! over one cache-friendly `i64` array. Prices and sizes are kept in separate arrays (SoA) so the
//! binary search touches only prices. The criterion bench `book_apply` compares this against a
//! `BTreeMap` ladder on the recorded Bybit deltas; see the README's performance section.
//!
//! Capacity is fixed at construction: the ladder never allocates after that. When a side is full,
//! a new level better than the worst one evicts the worst (counted in `evicted`); a worse one is
//! dropped. Snapshots deeper than the capacity thereby keep their best levels.

/// One side of the book. `better(a, b)` is true when price `a` is closer to the touch than `b`.
#[derive(Debug, Clone)]
pub struct Ladder {
    /// Prices, worst first, best last.
    px: Vec<i64>,
    /// Sizes, aligned with `px`.
    qty: Vec<i64>,
    /// true for bids (higher is better), false for asks (lower is better).
    is_bid: bool,
    cap: usize,
    /// Levels dropped or evicted because the side was full.
    pub evicted: u64,
}

impl Ladder {
    pub fn new(is_bid: bool, cap: usize) -> Ladder {
        let cap = cap.max(1);
        Ladder {
            px: Vec::with_capacity(cap),
            qty: Vec::with_capacity(cap),
            is_bid,
            cap,
            evicted: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.px.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.px.is_empty()
    }

    pub fn clear(&mut self) {
        self.px.clear();
        self.qty.clear();
    }

    /// Sort key that is ascending from worst to best.
    #[inline(always)]
    fn key(&self, px: i64) -> i64 {
        if self.is_bid {
            px
        } else {
            // Asks: lower is better; negate (prices are > i64::MIN, so no overflow).
            px.wrapping_neg()
        }
    }

    /// Index of `px`, or where it would be inserted. Searches from the top first: most updates
    /// land within the first few levels.
    #[inline]
    fn find(&self, px: i64) -> Result<usize, usize> {
        let k = self.key(px);
        let n = self.px.len();
        // Linear probe of the top 8 levels, then binary search below them.
        let lo_limit = n.saturating_sub(8);
        let mut i = n;
        while i > lo_limit {
            let kk = self.key(self.px[i - 1]);
            if kk == k {
                return Ok(i - 1);
            }
            if kk < k {
                return Err(i);
            }
            i -= 1;
        }
        let slice = &self.px[..lo_limit];
        if self.is_bid {
            slice.binary_search(&px)
        } else {
            slice.binary_search_by(|p| px.cmp(p))
        }
    }

    /// Sets the absolute size at `px` (0 deletes). Returns the previous size (0 if absent).
    #[inline]
    pub fn set(&mut self, px: i64, qty: i64) -> i64 {
        match self.find(px) {
            Ok(i) => {
                let old = self.qty[i];
                if qty == 0 {
                    self.px.remove(i);
                    self.qty.remove(i);
                } else {
                    self.qty[i] = qty;
                }
                old
            }
            Err(i) => {
                if qty == 0 {
                    return 0;
                }
                if self.px.len() == self.cap {
                    if i == 0 {
                        // Worse than everything kept: drop it.
                        self.evicted += 1;
                        return 0;
                    }
                    self.px.remove(0);
                    self.qty.remove(0);
                    self.evicted += 1;
                    self.px.insert(i - 1, px);
                    self.qty.insert(i - 1, qty);
                } else {
                    self.px.insert(i, px);
                    self.qty.insert(i, qty);
                }
                0
            }
        }
    }

    /// Best price and size, if any.
    #[inline]
    pub fn best(&self) -> Option<(i64, i64)> {
        let n = self.px.len();
        if n == 0 {
            None
        } else {
            Some((self.px[n - 1], self.qty[n - 1]))
        }
    }

    /// The `i`-th level from the touch (0 = best).
    #[inline]
    pub fn level(&self, i: usize) -> Option<(i64, i64)> {
        let n = self.px.len();
        if i < n {
            Some((self.px[n - 1 - i], self.qty[n - 1 - i]))
        } else {
            None
        }
    }

    /// Sum of sizes over the best `n` levels.
    #[inline]
    pub fn top_qty(&self, n: usize) -> i64 {
        let len = self.qty.len();
        let from = len.saturating_sub(n);
        self.qty[from..].iter().sum()
    }

    /// Size at `px` (0 if absent).
    pub fn qty_at(&self, px: i64) -> i64 {
        match self.find(px) {
            Ok(i) => self.qty[i],
            Err(_) => 0,
        }
    }

    /// Levels from best to worst.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.px
            .iter()
            .rev()
            .copied()
            .zip(self.qty.iter().rev().copied())
    }

    /// Removes every level at or beyond `px` toward the touch (used to uncross an unsequenced book).
    pub fn remove_through(&mut self, px: i64) -> usize {
        let k = self.key(px);
        let mut removed = 0;
        while let Some(&p) = self.px.last() {
            if self.key(p) >= k {
                self.px.pop();
                self.qty.pop();
                removed += 1;
            } else {
                break;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_at_the_end() {
        let mut b = Ladder::new(true, 16);
        b.set(100, 1);
        b.set(102, 2);
        b.set(101, 3);
        assert_eq!(b.best(), Some((102, 2)));
        assert_eq!(b.level(1), Some((101, 3)));
        assert_eq!(b.top_qty(2), 5);
        b.set(102, 0);
        assert_eq!(b.best(), Some((101, 3)));
        let mut a = Ladder::new(false, 16);
        a.set(105, 1);
        a.set(103, 2);
        a.set(104, 3);
        assert_eq!(a.best(), Some((103, 2)));
        assert_eq!(
            a.iter().map(|l| l.0).collect::<Vec<_>>(),
            vec![103, 104, 105]
        );
    }

    #[test]
    fn full_side_evicts_the_worst() {
        let mut a = Ladder::new(false, 2);
        a.set(10, 1);
        a.set(11, 1);
        a.set(12, 1); // worse than all: dropped
        assert_eq!(a.len(), 2);
        a.set(9, 1); // better: evicts 11
        assert_eq!(a.iter().map(|l| l.0).collect::<Vec<_>>(), vec![9, 10]);
        assert_eq!(a.evicted, 2);
    }

    #[test]
    fn deleting_an_absent_level_is_a_no_op() {
        let mut b = Ladder::new(true, 4);
        assert_eq!(b.set(5, 0), 0);
        assert!(b.is_empty());
        assert_eq!(b.top_qty(8), 0);
        assert_eq!(b.best(), None);
    }

    #[test]
    fn remove_through_uncrosses() {
        let mut b = Ladder::new(true, 8);
        for p in 1..=5 {
            b.set(p, 1);
        }
        assert_eq!(b.remove_through(4), 2);
        assert_eq!(b.best(), Some((3, 1)));
    }
}
