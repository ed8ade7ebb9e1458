//! The pipeline's rings, made resident before the first message.
//!
//! `rtrb::RingBuffer::new` reserves its slots without touching them, so the kernel maps each
//! page on its first write. On a quiet market a 65,536-slot ring takes hours to wrap: until it
//! has, the process's RSS grows by a page every few dozen messages (the one-hour soak measured
//! 15.65 MiB of such growth on Coincheck) and the hot stage that writes a slot on a new page
//! takes a page fault (a trip through the kernel, microseconds) in the middle of a message.
//! [`ring()`] writes one slot in every page at start-up, so RSS is flat from the first message and the
//! hot path never faults on a ring.

use std::mem::MaybeUninit;

/// A single-producer single-consumer ring of `capacity` slots whose memory is resident.
pub fn ring<T>(capacity: usize) -> (rtrb::Producer<T>, rtrb::Consumer<T>) {
    let (mut tx, rx) = rtrb::RingBuffer::new(capacity);
    prefault(&mut tx);
    (tx, rx)
}

/// Writes one slot in every page of `tx`'s free slots with zero bytes, without publishing any
/// of them: the chunk is dropped uncommitted, so the consumer sees nothing and the slots stay
/// uninitialised as far as the ring is concerned; only the pages are now mapped.
pub fn prefault<T>(tx: &mut rtrb::Producer<T>) {
    let per_page = (PAGE / std::mem::size_of::<T>().max(1)).max(1);
    let free = tx.slots();
    if let Ok(mut chunk) = tx.write_chunk_uninit(free) {
        let (a, b) = chunk.as_mut_slices();
        for part in [a, b] {
            let last = part.len().saturating_sub(1);
            for i in (0..part.len())
                .step_by(per_page)
                .chain(std::iter::once(last))
            {
                if let Some(slot) = part.get_mut(i) {
                    *slot = MaybeUninit::zeroed();
                    // Keep the store: nothing reads the slot before the chunk is dropped.
                    std::hint::black_box(&*slot);
                }
            }
        }
    }
}

/// The smallest page size of the platforms we run on; touching more often is harmless.
const PAGE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    /// 64 MiB of slots: allocated as a mapping of its own (far above malloc's mmap threshold),
    /// so its resident size can be read from `/proc/self/smaps` whatever other tests do.
    const SLOTS: usize = 1 << 20;
    type Slot = [u64; 8];
    const SIZE_KIB: u64 = (SLOTS * std::mem::size_of::<Slot>() / 1024) as u64;

    /// Address of the ring's first slot (where the first push writes).
    fn first_slot(tx: &mut rtrb::Producer<Slot>) -> usize {
        tx.write_chunk_uninit(1).unwrap().as_mut_slices().0.as_ptr() as usize
    }

    /// `Rss:` in KiB of the mapping of this process that holds `addr`.
    fn resident_kib(addr: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = first.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = lo <= addr && addr < hi;
                    continue;
                }
            }
            if inside {
                if let Some(v) = line.strip_prefix("Rss:") {
                    return v.trim().trim_end_matches("kB").trim().parse().expect("Rss");
                }
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    #[test]
    fn a_ring_is_resident_before_its_first_message() {
        let (mut tx, mut rx) = ring::<Slot>(SLOTS);
        let at = first_slot(&mut tx);
        let rss = resident_kib(at);
        assert!(
            rss >= SIZE_KIB,
            "{rss} KiB of a {SIZE_KIB} KiB ring resident after ring()"
        );
        // Nothing was published, and the ring works as a ring.
        assert_eq!(rx.slots(), 0);
        assert_eq!(tx.slots(), SLOTS);
        tx.push([7; 8]).unwrap();
        assert_eq!(rx.pop(), Ok([7; 8]));
        assert!(rx.pop().is_err());
    }

    #[test]
    fn a_plain_ring_is_not_resident_until_written() {
        // The behaviour [`ring`] exists to change: a plain rtrb ring maps its pages lazily.
        let (mut tx, _rx) = rtrb::RingBuffer::<Slot>::new(SLOTS);
        let at = first_slot(&mut tx);
        let rss = resident_kib(at);
        assert!(
            rss < SIZE_KIB / 2,
            "{rss} KiB of a plain {SIZE_KIB} KiB ring resident before any write"
        );
    }
}
