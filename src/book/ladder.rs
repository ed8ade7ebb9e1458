//! One side of an L2 book as a sorted array with the best level at the end.
//!
//! Why this layout: almost every update on a real feed touches the first few levels, so keeping
//! the best price at the *end* of a sorted array makes an insert or delete near the top a move of
//! a handful of elements, the best level an index, and the top-N sums a contiguous backwards scan
//! over one cache-friendly `i64` array. Prices and sizes are kept in separate arrays (SoA) so the
//! binary search touches only prices. The criterion bench `book_apply` compares this against a
//! `BTreeMap` ladder on the recorded Bybit deltas; see the README's performance section.
//!
//! The far end is cheap too. A windowed feed (Bybit L200) adds and removes levels at the worst end
//! as the window slides, so the levels live in the middle of a buffer of `2 * cap + 16` slots with
//! free room on both sides: an insert or delete moves whichever part of the array (below or above
//! the index) is shorter, and when the room on the side it needs has run out, the levels are moved
//! back to the centre of the buffer once (which leaves at least `cap / 2` free slots each side, so
//! that happens at most once per that many one-sided inserts).
//!
//! Capacity is fixed at construction: the ladder never allocates after that. When a side is full,
//! a new level better than the worst one evicts the worst (counted in `evicted`); a worse one is
//! dropped. Snapshots deeper than the capacity thereby keep their best levels.

use std::fmt;

/// Free slots beyond `2 * cap`, so that a small ladder still has room on both sides.
const SLACK: usize = 16;

/// One side of the book. `better(a, b)` is true when price `a` is closer to the touch than `b`.
#[derive(Clone)]
pub struct Ladder {
    /// Prices: `px[lo..hi]` holds the levels, worst first, best last; the rest is free room.
    px: Box<[i64]>,
    /// Sizes, aligned with `px`.
    qty: Box<[i64]>,
    /// The levels are `lo..hi` (`hi - lo <= cap`).
    lo: usize,
    hi: usize,
    /// true for bids (higher is better), false for asks (lower is better).
    is_bid: bool,
    cap: usize,
    /// Levels dropped or evicted because the side was full.
    pub evicted: u64,
}

impl fmt::Debug for Ladder {
    /// The levels only, not the free room around them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ladder")
            .field("px", &self.prices())
            .field("qty", &self.sizes())
            .field("is_bid", &self.is_bid)
            .field("cap", &self.cap)
            .field("evicted", &self.evicted)
            .finish()
    }
}

impl Ladder {
    pub fn new(is_bid: bool, cap: usize) -> Ladder {
        let cap = cap.max(1);
        let slots = cap.saturating_mul(2).saturating_add(SLACK);
        let mid = slots / 2;
        Ladder {
            px: vec![0; slots].into_boxed_slice(),
            qty: vec![0; slots].into_boxed_slice(),
            lo: mid,
            hi: mid,
            is_bid,
            cap,
            evicted: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.hi - self.lo
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.hi == self.lo
    }

    pub fn clear(&mut self) {
        let mid = self.px.len() / 2;
        self.lo = mid;
        self.hi = mid;
    }

    /// The prices kept, worst first.
    #[inline(always)]
    fn prices(&self) -> &[i64] {
        &self.px[self.lo..self.hi]
    }

    /// The sizes kept, worst first.
    #[inline(always)]
    fn sizes(&self) -> &[i64] {
        &self.qty[self.lo..self.hi]
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

    /// Index of `px` (from the worst level), or where it would be inserted. Searches from the top
    /// first: most updates land within the first few levels.
    #[inline]
    fn find(&self, px: i64) -> Result<usize, usize> {
        if self.is_bid {
            find_in::<true>(self.prices(), px)
        } else {
            find_in::<false>(self.prices(), px)
        }
    }

    /// Moves the levels to the centre of the buffer.
    #[cold]
    fn recentre(&mut self) {
        let n = self.len();
        let to = (self.px.len() - n) / 2;
        self.px.copy_within(self.lo..self.hi, to);
        self.qty.copy_within(self.lo..self.hi, to);
        self.lo = to;
        self.hi = to + n;
    }

    /// Inserts a level at index `i` (from the worst level) of a side holding fewer than `cap`.
    #[inline]
    fn insert_at(&mut self, i: usize, px: i64, qty: i64) {
        let n = self.len();
        debug_assert!(i <= n && n < self.cap);
        if i < n - i {
            // Fewer levels below: move them down one.
            if self.lo == 0 {
                self.recentre();
            }
            let lo = self.lo;
            move_within(&mut self.px, lo, lo - 1, i);
            move_within(&mut self.qty, lo, lo - 1, i);
            self.lo = lo - 1;
            self.px[lo - 1 + i] = px;
            self.qty[lo - 1 + i] = qty;
        } else {
            // Fewer levels above: move them up one.
            if self.hi == self.px.len() {
                self.recentre();
            }
            let (at, hi) = (self.lo + i, self.hi);
            move_within(&mut self.px, at, at + 1, hi - at);
            move_within(&mut self.qty, at, at + 1, hi - at);
            self.hi = hi + 1;
            self.px[at] = px;
            self.qty[at] = qty;
        }
    }

    /// Removes the level at index `i` (from the worst level).
    #[inline]
    fn remove_at(&mut self, i: usize) {
        let n = self.len();
        debug_assert!(i < n);
        if i < n - 1 - i {
            // Fewer levels below: move them up one.
            let lo = self.lo;
            move_within(&mut self.px, lo, lo + 1, i);
            move_within(&mut self.qty, lo, lo + 1, i);
            self.lo = lo + 1;
        } else {
            // Fewer levels above: move them down one.
            let (at, hi) = (self.lo + i, self.hi);
            move_within(&mut self.px, at + 1, at, hi - at - 1);
            move_within(&mut self.qty, at + 1, at, hi - at - 1);
            self.hi = hi - 1;
        }
        if self.lo == self.hi {
            self.clear(); // empty: back to the centre, for free
        }
    }

    /// Sets the absolute size at `px` (0 deletes). Returns the previous size (0 if absent).
    #[inline]
    pub fn set(&mut self, px: i64, qty: i64) -> i64 {
        match self.find(px) {
            Ok(i) => {
                let at = self.lo + i;
                let old = self.qty[at];
                if qty == 0 {
                    self.remove_at(i);
                } else {
                    self.qty[at] = qty;
                }
                old
            }
            Err(i) => {
                if qty == 0 {
                    return 0;
                }
                if self.len() == self.cap {
                    self.evicted += 1;
                    if i == 0 {
                        // Worse than everything kept: drop it.
                        return 0;
                    }
                    // Evict the worst level, then insert below the same neighbours.
                    self.lo += 1;
                    self.insert_at(i - 1, px, qty);
                } else {
                    self.insert_at(i, px, qty);
                }
                0
            }
        }
    }

    /// Best price and size, if any.
    #[inline]
    pub fn best(&self) -> Option<(i64, i64)> {
        if self.hi == self.lo {
            None
        } else {
            Some((self.px[self.hi - 1], self.qty[self.hi - 1]))
        }
    }

    /// The `i`-th level from the touch (0 = best).
    #[inline]
    pub fn level(&self, i: usize) -> Option<(i64, i64)> {
        if i < self.len() {
            let at = self.hi - 1 - i;
            Some((self.px[at], self.qty[at]))
        } else {
            None
        }
    }

    /// Sum of sizes over the best `n` levels.
    #[inline]
    pub fn top_qty(&self, n: usize) -> i64 {
        let from = self.hi - n.min(self.len());
        self.qty[from..self.hi].iter().sum()
    }

    /// Size at `px` (0 if absent).
    pub fn qty_at(&self, px: i64) -> i64 {
        match self.find(px) {
            Ok(i) => self.qty[self.lo + i],
            Err(_) => 0,
        }
    }

    /// Levels from best to worst.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.prices()
            .iter()
            .rev()
            .copied()
            .zip(self.sizes().iter().rev().copied())
    }

    /// Removes every level at or beyond `px` toward the touch (used to uncross an unsequenced book).
    pub fn remove_through(&mut self, px: i64) -> usize {
        let k = self.key(px);
        let mut removed = 0;
        while self.hi > self.lo && self.key(self.px[self.hi - 1]) >= k {
            self.hi -= 1;
            removed += 1;
        }
        if self.lo == self.hi {
            self.clear();
        }
        removed
    }
}

/// `find` for one side: `BID` fixes the direction so the loop has no side branch.
#[inline(always)]
fn find_in<const BID: bool>(prices: &[i64], px: i64) -> Result<usize, usize> {
    // Sort key ascending from worst to best (asks: lower is better; prices are > i64::MIN).
    let key = |p: i64| if BID { p } else { p.wrapping_neg() };
    let k = key(px);
    let n = prices.len();
    // A linear probe of the top 8 levels, unless the price is below them (the far end of a
    // windowed feed), then a binary search below them.
    let lo_limit = n.saturating_sub(8);
    if lo_limit == 0 || k >= key(prices[lo_limit]) {
        let mut i = n;
        while i > lo_limit {
            let kk = key(prices[i - 1]);
            if kk == k {
                return Ok(i - 1);
            }
            if kk < k {
                return Err(i);
            }
            i -= 1;
        }
        if lo_limit == 0 {
            return Err(0);
        }
    }
    let slice = &prices[..lo_limit];
    if BID {
        slice.binary_search(&px)
    } else {
        slice.binary_search_by(|p| px.cmp(p))
    }
}

/// Moves `a[from..from + count]` to `a[to..]`: a plain loop for the few elements a move near
/// either end usually is, `memmove` beyond.
#[inline(always)]
fn move_within(a: &mut [i64], from: usize, to: usize, count: usize) {
    if count <= 4 {
        if to < from {
            for j in 0..count {
                a[to + j] = a[from + j];
            }
        } else {
            for j in (0..count).rev() {
                a[to + j] = a[from + j];
            }
        }
    } else {
        a.copy_within(from..from + count, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

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

    #[test]
    fn a_sliding_window_recentres_and_stays_sorted() {
        // A full 200-level window drifting toward the touch for far longer than the free room on
        // either side (the worst level leaves, a new best arrives), then drifting back.
        for is_bid in [true, false] {
            let mut l = Ladder::new(is_bid, 200);
            let dir = if is_bid { 1 } else { -1 };
            for p in 0..200 {
                l.set(10_000 + dir * p, p + 1);
            }
            for step in 0..5_000i64 {
                l.set(10_000 + dir * step, 0);
                l.set(10_000 + dir * (200 + step), 7);
            }
            for step in (0..5_000i64).rev() {
                l.set(10_000 + dir * (200 + step), 0);
                l.set(10_000 + dir * step, 9);
            }
            assert_eq!(l.len(), 200);
            assert_eq!(l.evicted, 0);
            let want: Vec<(i64, i64)> = (0..200).rev().map(|p| (10_000 + dir * p, 9)).collect();
            assert_eq!(l.iter().collect::<Vec<_>>(), want);
        }
    }

    /// A `BTreeMap` model of one side with the same capacity rules.
    struct Model {
        is_bid: bool,
        cap: usize,
        m: BTreeMap<i64, i64>,
        evicted: u64,
    }

    impl Model {
        /// Levels from best to worst.
        fn levels(&self) -> Vec<(i64, i64)> {
            let it = self.m.iter().map(|(p, q)| (*p, *q));
            if self.is_bid {
                it.rev().collect()
            } else {
                it.collect()
            }
        }

        fn worst(&self) -> Option<i64> {
            if self.is_bid {
                self.m.keys().next().copied()
            } else {
                self.m.keys().next_back().copied()
            }
        }

        fn best(&self) -> Option<i64> {
            if self.is_bid {
                self.m.keys().next_back().copied()
            } else {
                self.m.keys().next().copied()
            }
        }

        fn better(&self, a: i64, b: i64) -> bool {
            if self.is_bid {
                a > b
            } else {
                a < b
            }
        }

        fn set(&mut self, px: i64, qty: i64) -> i64 {
            if qty == 0 {
                return self.m.remove(&px).unwrap_or(0);
            }
            if let Some(q) = self.m.get_mut(&px) {
                return std::mem::replace(q, qty);
            }
            if self.m.len() == self.cap {
                self.evicted += 1;
                let w = self.worst().unwrap();
                if !self.better(px, w) {
                    return 0;
                }
                self.m.remove(&w);
            }
            self.m.insert(px, qty);
            0
        }

        fn remove_through(&mut self, px: i64) -> usize {
            let n = self.m.len();
            let is_bid = self.is_bid;
            self.m.retain(|p, _| if is_bid { *p < px } else { *p > px });
            n - self.m.len()
        }
    }

    #[derive(Debug, Clone)]
    enum LOp {
        /// Near the worst level kept (offset toward the touch when positive).
        Worst(i64, i64),
        /// Near the best level kept (offset away from the touch when positive).
        Best(i64, i64),
        Anywhere(i64, i64),
        RemoveThrough(i64),
        Clear,
    }

    fn qty() -> impl Strategy<Value = i64> {
        prop_oneof![2 => Just(0i64), 3 => 1i64..100]
    }

    fn lop() -> impl Strategy<Value = LOp> {
        prop_oneof![
            12 => (-3i64..=3, qty()).prop_map(|(o, q)| LOp::Worst(o, q)),
            12 => (-3i64..=3, qty()).prop_map(|(o, q)| LOp::Best(o, q)),
            4 => (-500i64..500, qty()).prop_map(|(p, q)| LOp::Anywhere(p, q)),
            1 => (-500i64..500).prop_map(LOp::RemoveThrough),
            1 => Just(LOp::Clear),
        ]
    }

    proptest! {
        /// The ladder alone agrees with a `BTreeMap` model, level for level and in every
        /// accessor, under updates concentrated at both ends (the window sliding both ways, past
        /// the free room around the levels) and with the side often full (eviction and drops).
        #[test]
        fn ladder_matches_btreemap_model(
            is_bid in any::<bool>(),
            cap in prop_oneof![1usize..8, 8usize..40],
            ops in prop::collection::vec(lop(), 1..400),
        ) {
            let mut l = Ladder::new(is_bid, cap);
            let mut r = Model { is_bid, cap, m: BTreeMap::new(), evicted: 0 };
            // Direction toward the touch.
            let up = if is_bid { 1 } else { -1 };
            for o in ops {
                match o {
                    LOp::Worst(off, q) => {
                        let px = r.worst().map_or(0, |w| w + up * off);
                        prop_assert_eq!(l.set(px, q), r.set(px, q));
                    }
                    LOp::Best(off, q) => {
                        let px = r.best().map_or(0, |b| b - up * off);
                        prop_assert_eq!(l.set(px, q), r.set(px, q));
                    }
                    LOp::Anywhere(px, q) => prop_assert_eq!(l.set(px, q), r.set(px, q)),
                    LOp::RemoveThrough(px) => {
                        prop_assert_eq!(l.remove_through(px), r.remove_through(px))
                    }
                    LOp::Clear => {
                        l.clear();
                        r.m.clear();
                    }
                }
                let want = r.levels();
                prop_assert_eq!(l.iter().collect::<Vec<_>>(), want.clone());
                prop_assert_eq!(l.len(), want.len());
                prop_assert_eq!(l.is_empty(), want.is_empty());
                prop_assert!(l.len() <= cap);
                prop_assert_eq!(l.evicted, r.evicted);
                prop_assert_eq!(l.best(), want.first().copied());
                for i in 0..=want.len() {
                    prop_assert_eq!(l.level(i), want.get(i).copied());
                }
                for n in [0, 1, 3, 8, cap, cap + 5] {
                    let t: i64 = want.iter().take(n).map(|x| x.1).sum();
                    prop_assert_eq!(l.top_qty(n), t);
                }
                for (p, q) in &want {
                    prop_assert_eq!(l.qty_at(*p), *q);
                }
                if let (Some(b), Some(w)) = (r.best(), r.worst()) {
                    prop_assert_eq!(l.qty_at(b + up), 0);
                    prop_assert_eq!(l.qty_at(w - up), 0);
                }
            }
        }
    }
}
