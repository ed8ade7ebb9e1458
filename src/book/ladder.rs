//! One side of an L2 book: a price-indexed window around the touch, a sorted array beyond it.
//!
//! Why this layout (measured with `cargo bench --bench market_data`, see docs/PERFORMANCE.md):
//! on a real feed nearly every update lands within a few hundred ticks of the touch. On the Bybit
//! BTCUSDT L200 recording the 200 levels of a side span ~280 ticks, and 80 % of the updates land
//! between the 8th and the 180th level. A sorted array pays a binary search (a chain of dependent
//! loads) for each of those and a memmove for each insert or delete; a price-indexed array pays
//! one index. So the levels within `window` ticks of the touch live in an array indexed by their
//! distance in ticks (a bitmap marks the occupied slots, so the best level, the top-N sums and
//! walking from the touch skip empty ticks 64 at a time), and the levels beyond it in a sorted
//! array with the best level at the end (cheap at its far end, where a windowed feed adds and
//! drops levels).
//!
//! The window follows the touch. A new level better than the window's top slides it up (the
//! levels that fall off its bottom move to the sorted array's best end); when the best level
//! sinks into the window's lowest quarter with levels beyond it, or the window empties, it slides
//! down (the sorted array's best levels move in). A slide puts the best level three quarters up
//! the window, so the touch must move a quarter (up) or half (down) of the window before the next
//! one; a slide costs O(window) and moves no more levels than the window holds. Books whose
//! levels are sparse in ticks (a 1-yen tick on BTC/JPY) keep most levels in the sorted array and
//! cost what that costs.
//!
//! Capacity is fixed at construction: the ladder never allocates after that. When a side is full,
//! a new level better than the worst one evicts the worst (counted in `evicted`); a worse one is
//! dropped. Snapshots deeper than the capacity thereby keep their best levels.
//!
//! Prices must be greater than `i64::MIN` (asks are ordered by their negation).

use std::fmt;

/// Ticks covered by the price-indexed window unless [`Ladder::with_window`] says otherwise.
pub const DEFAULT_WINDOW: usize = 1024;

/// Free slots beyond `2 * cap` in the sorted array, so that a small one still has room on both
/// sides.
const SLACK: usize = 16;

/// One side of the book.
///
/// Levels are ordered by a key that grows toward the touch (the price for bids, its negation for
/// asks). The window's slot 0 is its top (nearest the touch): slot `t` holds key `wtk - t`, so
/// walking from the best level down is walking the bitmap upward (clear the lowest bit, find
/// the next), which has no chain of slow bit scans. Invariants: every level of `far` has a key
/// below the window's lowest (`wtk - (window - 1)`); every other level is in the window; the
/// window is empty only when the whole side is.
#[derive(Clone)]
pub struct Ladder {
    /// true for bids (higher is better), false for asks (lower is better).
    is_bid: bool,
    cap: usize,
    /// Levels dropped or evicted because the side was full.
    pub evicted: u64,
    /// Key of window slot 0.
    wtk: i64,
    /// Size per slot, 0 for an empty slot.
    wqty: Box<[i64]>,
    /// One bit per slot, set when the slot holds a level.
    wbits: Box<[u64]>,
    /// Levels in the window.
    wlen: usize,
    /// The lowest occupied slot (the best level) when `wlen > 0`.
    wbest: usize,
    /// The levels below the window.
    far: Sorted,
}

impl fmt::Debug for Ladder {
    /// The levels, best first (cold path: collects them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ladder")
            .field("levels", &self.iter().collect::<Vec<_>>())
            .field("is_bid", &self.is_bid)
            .field("cap", &self.cap)
            .field("evicted", &self.evicted)
            .finish()
    }
}

impl Ladder {
    /// A side holding at most `cap` levels, with the default window.
    pub fn new(is_bid: bool, cap: usize) -> Ladder {
        Ladder::with_window(is_bid, cap, DEFAULT_WINDOW)
    }

    /// A side holding at most `cap` levels whose window covers `window` ticks (rounded up to a
    /// multiple of 64, at least 64).
    pub fn with_window(is_bid: bool, cap: usize, window: usize) -> Ladder {
        let cap = cap.max(1);
        let w = window.clamp(64, 1 << 24).next_multiple_of(64);
        Ladder {
            is_bid,
            cap,
            evicted: 0,
            wtk: 0,
            wqty: vec![0; w].into_boxed_slice(),
            wbits: vec![0; w / 64].into_boxed_slice(),
            wlen: 0,
            wbest: 0,
            far: Sorted::new(is_bid, cap),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.wlen + self.far.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.wlen == 0
    }

    pub fn clear(&mut self) {
        self.clear_window();
        self.far.clear();
    }

    /// Ticks in the window.
    #[inline(always)]
    fn w(&self) -> usize {
        self.wqty.len()
    }

    /// Sort key that grows toward the touch; its own inverse.
    #[inline(always)]
    fn key(&self, px: i64) -> i64 {
        if self.is_bid {
            px
        } else {
            px.wrapping_neg()
        }
    }

    /// The window slot of key `k`; `Err(true)` above the window, `Err(false)` below it.
    #[inline(always)]
    fn slot(&self, k: i64) -> Result<usize, bool> {
        if k > self.wtk {
            return Err(true);
        }
        let d = (self.wtk as u64).wrapping_sub(k as u64);
        if d < self.w() as u64 {
            Ok(d as usize)
        } else {
            Err(false)
        }
    }

    /// The price at window slot `t`.
    #[inline(always)]
    fn slot_px(&self, t: usize) -> i64 {
        self.key(self.wtk.wrapping_sub(t as i64))
    }

    /// Where the window's top goes so that key `k` sits three quarters up (in slot `w / 4`).
    #[inline]
    fn top_for(&self, k: i64) -> i64 {
        k.saturating_add((self.w() / 4) as i64)
    }

    /// The lowest occupied slot at or after `t` (the next level away from the touch).
    #[inline]
    fn occupied_from(&self, t: usize) -> Option<usize> {
        let words = self.wbits.len();
        let mut wi = t / 64;
        if wi >= words {
            return None;
        }
        let mut m = self.wbits[wi] & (u64::MAX << (t % 64));
        loop {
            if m != 0 {
                return Some(wi * 64 + m.trailing_zeros() as usize);
            }
            wi += 1;
            if wi == words {
                return None;
            }
            m = self.wbits[wi];
        }
    }

    /// The highest occupied slot (the window's worst level).
    fn worst_occupied(&self) -> Option<usize> {
        self.wbits
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + 63 - w.leading_zeros() as usize)
    }

    /// Puts a level into the empty slot `t`.
    #[inline(always)]
    fn occupy(&mut self, t: usize, qty: i64) {
        self.wqty[t] = qty;
        self.wbits[t / 64] |= 1 << (t % 64);
        if self.wlen == 0 || t < self.wbest {
            self.wbest = t;
        }
        self.wlen += 1;
    }

    /// Empties the occupied slot `t`, keeping `wbest` right; no slide.
    #[inline(always)]
    fn vacate(&mut self, t: usize) {
        self.wqty[t] = 0;
        self.wbits[t / 64] &= !(1 << (t % 64));
        self.wlen -= 1;
        if t == self.wbest && self.wlen > 0 {
            self.wbest = self.occupied_from(t).unwrap_or(0);
        }
    }

    fn clear_window(&mut self) {
        if self.wlen > 0 {
            for (wi, word) in self.wbits.iter_mut().enumerate() {
                let mut b = *word;
                while b != 0 {
                    self.wqty[wi * 64 + b.trailing_zeros() as usize] = 0;
                    b &= b - 1;
                }
                *word = 0;
            }
        }
        self.wlen = 0;
        self.wbest = 0;
    }

    /// After the best level left the window: slides down when the window emptied while levels
    /// remain beyond it, or when the best level sank into its lowest quarter.
    #[inline]
    fn after_best_removed(&mut self) {
        if self.far.is_empty() {
            return;
        }
        if self.wlen == 0 {
            let (px, _) = self.far.best().unwrap_or((0, 0));
            self.slide_to(self.key(px));
        } else if self.wbest > self.w() / 4 * 3 {
            self.slide_to(self.wtk.wrapping_sub(self.wbest as i64));
        }
    }

    /// Moves the window so that key `k` (at or above every level kept) sits three quarters up:
    /// levels falling off its bottom go to `far`, `far`'s levels now inside it come in.
    #[cold]
    #[inline(never)]
    fn slide_to(&mut self, k: i64) {
        let new_top = self.top_for(k);
        let old_top = self.wtk;
        let w = self.w();
        if self.wlen == 0 {
            self.wtk = new_top;
        } else if new_top > old_top {
            // Up by `d` slots: the last `d` slots fall off the bottom, to `far`'s best end in
            // ascending key order (descending slot).
            let d = (new_top as u64).wrapping_sub(old_top as u64).min(w as u64) as usize;
            for t in (w - d..w).rev() {
                let q = self.wqty[t];
                if q != 0 {
                    let px = self.slot_px(t);
                    self.far.push_best(px, q);
                }
            }
            self.wqty.copy_within(..w - d, d);
            self.wqty[..d].fill(0);
            shift_bits_up(&mut self.wbits, d);
            self.wtk = new_top;
        } else if new_top < old_top {
            // Down by `d` slots: every level is at or below `k`, so none leaves at the top.
            let d = (old_top as u64).wrapping_sub(new_top as u64).min(w as u64) as usize;
            self.wqty.copy_within(d.., 0);
            self.wqty[w - d..].fill(0);
            shift_bits_down(&mut self.wbits, d);
            self.wtk = new_top;
        }
        // `far`'s best levels that the window now covers.
        while let Some((px, q)) = self.far.best() {
            match self.slot(self.key(px)) {
                Ok(t) => {
                    self.wqty[t] = q;
                    self.wbits[t / 64] |= 1 << (t % 64);
                    self.far.pop_best();
                }
                _ => break,
            }
        }
        // `wlen` and `wbest` from the bitmap (the slots moved with their bits: no scan of
        // the sizes).
        self.recount();
        debug_assert!({
            // The bitmap and its counts against a rebuild from the sizes.
            let shifted = (self.wbits.clone(), self.wlen, self.wbest);
            self.rebuild_bits();
            shifted == (self.wbits.clone(), self.wlen, self.wbest)
        });
    }

    /// `wbits`, `wlen` and `wbest` from `wqty`.
    fn rebuild_bits(&mut self) {
        for (wi, chunk) in self.wqty.chunks_exact(64).enumerate() {
            let mut bits = 0u64;
            for (b, q) in chunk.iter().enumerate() {
                bits |= ((*q != 0) as u64) << b;
            }
            self.wbits[wi] = bits;
        }
        self.recount();
    }

    /// `wlen` and `wbest` from `wbits`.
    fn recount(&mut self) {
        let mut len = 0;
        let mut best = None;
        for (wi, &bits) in self.wbits.iter().enumerate() {
            if bits != 0 {
                len += bits.count_ones() as usize;
                best = best.or(Some(wi * 64 + bits.trailing_zeros() as usize));
            }
        }
        self.wlen = len;
        self.wbest = best.unwrap_or(0);
    }

    /// Makes room for a new level in the window or above it (better than every level in `far`)
    /// when the side is full; false when it is worse than everything kept (dropped).
    #[inline]
    fn make_room(&mut self, slot: Option<usize>) -> bool {
        if self.len() < self.cap {
            return true;
        }
        self.evicted += 1;
        if !self.far.is_empty() {
            self.far.pop_worst();
            return true;
        }
        let Some(worst) = self.worst_occupied() else {
            return true;
        };
        if slot.is_some_and(|t| t > worst) {
            return false;
        }
        self.vacate(worst);
        true
    }

    /// Sets the absolute size at `px` (0 deletes). Returns the previous size (0 if absent).
    #[inline]
    pub fn set(&mut self, px: i64, qty: i64) -> i64 {
        let k = self.key(px);
        if self.wlen == 0 {
            if qty == 0 {
                return 0;
            }
            // Empty side: the window starts around the first level.
            self.wtk = self.top_for(k);
        }
        match self.slot(k) {
            Ok(t) => {
                let old = self.wqty[t];
                if old != 0 {
                    if qty != 0 {
                        self.wqty[t] = qty;
                    } else {
                        let was_best = t == self.wbest;
                        self.vacate(t);
                        if was_best {
                            self.after_best_removed();
                        }
                    }
                    return old;
                }
                if qty != 0 && self.make_room(Some(t)) {
                    self.occupy(t, qty);
                }
                0
            }
            Err(true) => {
                // Better than every level kept: a new best above the window.
                if qty != 0 && self.make_room(None) {
                    self.slide_to(k);
                    if let Ok(t) = self.slot(k) {
                        self.occupy(t, qty);
                    }
                }
                0
            }
            Err(false) => {
                let full = self.len() == self.cap;
                let (old, dropped) = self.far.set(px, qty, full);
                self.evicted += dropped as u64;
                old
            }
        }
    }

    /// Best price and size, if any.
    #[inline]
    pub fn best(&self) -> Option<(i64, i64)> {
        if self.wlen == 0 {
            None
        } else {
            Some((self.slot_px(self.wbest), self.wqty[self.wbest]))
        }
    }

    /// The window's levels from the best down.
    #[inline]
    fn window_iter(&self) -> WindowIter<'_> {
        let (wi, bits) = if self.wlen == 0 {
            (self.wbits.len(), 0)
        } else {
            let wi = self.wbest / 64;
            (wi, self.wbits[wi] & (u64::MAX << (self.wbest % 64)))
        };
        WindowIter { l: self, wi, bits }
    }

    /// The `i`-th level from the touch (0 = best).
    #[inline]
    pub fn level(&self, i: usize) -> Option<(i64, i64)> {
        if i < self.wlen {
            self.window_iter().nth(i)
        } else {
            self.far.level(i - self.wlen)
        }
    }

    /// Sum of sizes over the best `n` levels, saturating at `i64::MAX` (sizes are never
    /// negative, so a saturated sum is still the larger side for OBI; it never wraps).
    #[inline]
    pub fn top_qty(&self, n: usize) -> i64 {
        let mut left = n;
        let mut sum: i64 = 0;
        let mut it = self.window_iter();
        while left > 0 {
            match it.next_qty() {
                Some(q) => sum = sum.saturating_add(q),
                None => return sum.saturating_add(self.far.top_qty(left)),
            }
            left -= 1;
        }
        sum
    }

    /// Size at `px` (0 if absent).
    pub fn qty_at(&self, px: i64) -> i64 {
        match self.slot(self.key(px)) {
            Ok(t) => self.wqty[t],
            Err(true) => 0,
            Err(false) => self.far.qty_at(px),
        }
    }

    /// Levels from best to worst.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.window_iter().chain(self.far.iter())
    }

    /// Removes every level at or beyond `px` toward the touch (used to uncross an unsequenced book).
    pub fn remove_through(&mut self, px: i64) -> usize {
        let mut removed = self.far.remove_through(px);
        let through = match self.slot(self.key(px)) {
            Ok(t) => t,
            Err(true) => return removed,
            Err(false) => self.w() - 1,
        };
        let before = self.wlen;
        if self.wlen > 0 {
            for t in self.wbest..=through {
                if self.wqty[t] != 0 {
                    self.wqty[t] = 0;
                    self.wbits[t / 64] &= !(1 << (t % 64));
                    self.wlen -= 1;
                }
            }
        }
        if self.wlen < before {
            removed += before - self.wlen;
            if self.wlen > 0 {
                self.wbest = self.occupied_from(through + 1).unwrap_or(0);
            }
            self.after_best_removed();
        }
        removed
    }
}

/// The bitmap of a window whose slots moved up by `d` (slot `t` to `t + d`, the top `d` slots
/// falling off): bit `t` to bit `t + d`, zeros shifted in.
fn shift_bits_up(bits: &mut [u64], d: usize) {
    let (ws, bs) = (d / 64, (d % 64) as u32);
    for i in (0..bits.len()).rev() {
        let hi = i.checked_sub(ws).map_or(0, |j| bits[j] << bs);
        let lo = match i.checked_sub(ws + 1) {
            Some(j) if bs > 0 => bits[j] >> (64 - bs),
            _ => 0,
        };
        bits[i] = hi | lo;
    }
}

/// The bitmap of a window whose slots moved down by `d` (slot `t` to `t - d`, the first `d`
/// falling off): bit `t` to bit `t - d`, zeros shifted in.
fn shift_bits_down(bits: &mut [u64], d: usize) {
    let (ws, bs) = (d / 64, (d % 64) as u32);
    let n = bits.len();
    for i in 0..n {
        let lo = if i + ws < n { bits[i + ws] >> bs } else { 0 };
        let hi = if bs > 0 && i + ws + 1 < n {
            bits[i + ws + 1] << (64 - bs)
        } else {
            0
        };
        bits[i] = lo | hi;
    }
}

/// Walks the window's occupied slots upward (from the touch away), a bitmap word at a time.
struct WindowIter<'a> {
    l: &'a Ladder,
    /// Current word of the bitmap (`wbits.len()` when done).
    wi: usize,
    /// Occupied slots of that word not yet returned.
    bits: u64,
}

impl WindowIter<'_> {
    /// The next occupied slot.
    #[inline(always)]
    fn next_slot(&mut self) -> Option<usize> {
        loop {
            if self.bits != 0 {
                let t = self.wi * 64 + self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                return Some(t);
            }
            self.wi += 1;
            if self.wi >= self.l.wbits.len() {
                return None;
            }
            self.bits = self.l.wbits[self.wi];
        }
    }

    /// The next level's size only.
    #[inline(always)]
    fn next_qty(&mut self) -> Option<i64> {
        self.next_slot().map(|t| self.l.wqty[t])
    }
}

impl Iterator for WindowIter<'_> {
    type Item = (i64, i64);

    #[inline]
    fn next(&mut self) -> Option<(i64, i64)> {
        self.next_slot()
            .map(|t| (self.l.slot_px(t), self.l.wqty[t]))
    }
}

/// Levels as a sorted array with the best level at the end.
///
/// Almost every update on a real feed touches one of the two ends, so keeping the best price at
/// the *end* of a sorted array makes an insert or delete near the top a move of a handful of
/// elements, the best level an index, and the top-N sums a contiguous backwards scan over one
/// `i64` array. Prices and sizes are kept in separate arrays (SoA) so the binary search touches
/// only prices. The levels live in the middle of a buffer of `2 * cap + 16` slots with free room
/// on both sides: an insert or delete moves whichever part of the array (below or above the
/// index) is shorter, and when the room on the side it needs has run out, the levels are moved
/// back to the centre of the buffer once (which leaves at least `cap / 2` free slots each side, so
/// that happens at most once per that many one-sided inserts). Capacity is the caller's: `set`
/// is told whether the whole side is full.
#[derive(Clone)]
struct Sorted {
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
}

impl Sorted {
    fn new(is_bid: bool, cap: usize) -> Sorted {
        let cap = cap.max(1);
        let slots = cap.saturating_mul(2).saturating_add(SLACK);
        let mid = slots / 2;
        Sorted {
            px: vec![0; slots].into_boxed_slice(),
            qty: vec![0; slots].into_boxed_slice(),
            lo: mid,
            hi: mid,
            is_bid,
            cap,
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

    /// Sets the absolute size at `px` (0 deletes); `full` says the whole side is. Returns the
    /// previous size (0 if absent) and whether a level was evicted or dropped for lack of room.
    #[inline]
    fn set(&mut self, px: i64, qty: i64, full: bool) -> (i64, bool) {
        match self.find(px) {
            Ok(i) => {
                let at = self.lo + i;
                let old = self.qty[at];
                if qty == 0 {
                    self.remove_at(i);
                } else {
                    self.qty[at] = qty;
                }
                (old, false)
            }
            Err(i) => {
                if qty == 0 {
                    return (0, false);
                }
                if full {
                    if i == 0 {
                        // Worse than everything kept: drop it.
                        return (0, true);
                    }
                    // Evict the worst level, then insert below the same neighbours.
                    self.lo += 1;
                    self.insert_at(i - 1, px, qty);
                    return (0, true);
                }
                self.insert_at(i, px, qty);
                (0, false)
            }
        }
    }

    /// Adds a level better than every level kept (the side holds fewer than `cap`).
    #[inline]
    fn push_best(&mut self, px: i64, qty: i64) {
        self.insert_at(self.len(), px, qty);
    }

    /// Removes the best level.
    #[inline]
    fn pop_best(&mut self) {
        if self.hi > self.lo {
            self.hi -= 1;
            if self.lo == self.hi {
                self.clear();
            }
        }
    }

    /// Removes the worst level.
    #[inline]
    fn pop_worst(&mut self) {
        if self.hi > self.lo {
            self.lo += 1;
            if self.lo == self.hi {
                self.clear();
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

    /// Sum of sizes over the best `n` levels, saturating at `i64::MAX`.
    #[inline]
    pub fn top_qty(&self, n: usize) -> i64 {
        let from = self.hi - n.min(self.len());
        self.qty[from..self.hi]
            .iter()
            .fold(0i64, |s, &q| s.saturating_add(q))
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

    /// Sizes near 1e18 lots: the top-N sum saturates at `i64::MAX` instead of wrapping to a
    /// negative total (in the window, beyond it, and across both).
    #[test]
    fn top_qty_saturates_instead_of_wrapping() {
        let big = 5_000_000_000_000_000_000; // 5e18 lots: two of them pass i64::MAX
        let mut b = Ladder::with_window(true, 16, 64);
        b.set(1_000, big);
        b.set(999, big);
        assert_eq!(b.top_qty(1), big);
        assert_eq!(b.top_qty(2), i64::MAX, "window sum");
        // Far below the window (sorted part): 1_000 - 64 and lower.
        let mut f = Ladder::with_window(true, 16, 64);
        f.set(1_000, 1);
        f.set(500, big);
        f.set(400, big);
        assert_eq!(f.top_qty(2), big + 1);
        assert_eq!(f.top_qty(3), i64::MAX, "window + sorted sum");
        assert_eq!(f.far.top_qty(2), i64::MAX, "sorted sum alone");
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
        /// Relative to the best level kept, up to a few windows away (slides both ways).
        Jump(i64, i64),
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
            2 => (-300i64..300, qty()).prop_map(|(o, q)| LOp::Jump(o, q)),
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
            cap in prop_oneof![1usize..8, 8usize..40, 40usize..300],
            window in prop_oneof![Just(64usize), Just(128), Just(1024)],
            ops in prop::collection::vec(lop(), 1..400),
        ) {
            let mut l = Ladder::with_window(is_bid, cap, window);
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
                    LOp::Jump(off, q) => {
                        let px = r.best().map_or(0, |b| b - up * off);
                        prop_assert_eq!(l.set(px, q), r.set(px, q));
                    }
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
