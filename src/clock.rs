//! The one clock of the hot path: wall-clock nanoseconds (CLOCK_REALTIME via the vDSO, no
//! system call on Linux), comparable with venue timestamps and across threads.

/// Nanoseconds since the Unix epoch.
#[inline]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME is always supported.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_monotone_enough_and_recent() {
        let a = super::now_ns();
        let b = super::now_ns();
        assert!(b >= a);
        assert!(a > 1_700_000_000_000_000_000);
    }
}
