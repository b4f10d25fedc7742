//! Message ids: X's snowflakes as numbers, and a compact set of them.

use std::collections::HashSet;

/// The latest ids a set takes wait, unsorted, until there are this many
/// (256 KB, read only when the filter cannot rule an id out), then join the
/// sorted ones in one merge.
const RECENT_MAX: usize = 1 << 15;

/// An id as the number it spells, when it is one in canonical form ("012"
/// and "+12" parse as 12 too, but are other ids).
pub(crate) fn snowflake(id: &str) -> Option<u64> {
    let canonical = !id.is_empty() && (id == "0" || !id.starts_with(['0', '+']));
    id.parse().ok().filter(|_| canonical)
}

/// A set of message ids.
///
/// Snowflakes are kept as numbers in a sorted vector, 8 bytes each where a
/// hash set takes 14 to 18, and twice that while it grows (2 M ids: 16 MB,
/// not 36 to 54). The latest ones wait, unsorted, and join the sorted ones
/// in one merge. A Bloom filter over them all answers a search for a new
/// id in one memory read: a binary search would miss the processor's cache
/// at most of its 21 steps (it made `inspect` a sixth slower), and so did
/// a hash set of the latest ones. Other ids are kept as text.
#[derive(Debug, Default)]
pub struct IdSet {
    sorted: Vec<u64>,
    recent: Vec<u64>,
    filter: Bloom,
    others: HashSet<String>,
}

impl IdSet {
    /// Adds an id; true when it was not there yet.
    pub fn insert(&mut self, id: &str) -> bool {
        match snowflake(id) {
            Some(n) => self.insert_number(n),
            None => self.others.insert(id.to_owned()),
        }
    }

    fn insert_number(&mut self, n: u64) -> bool {
        if self.filter.capacity == 0 {
            self.filter = Bloom::with_capacity(2 * RECENT_MAX);
        }
        // Only the few the filter cannot rule out are searched for.
        if self.filter.may_hold(n)
            && (self.recent.contains(&n) || self.sorted.binary_search(&n).is_ok())
        {
            return false;
        }
        self.filter.add(n);
        self.recent.push(n);
        if self.recent.len() >= RECENT_MAX {
            self.merge_recent();
        }
        true
    }

    /// Moves the recent ids into the sorted ones: a merge from the back, in
    /// place, the vector grown by exactly what it takes. The filter is made
    /// anew, twice as large, when the next ids would fill it.
    fn merge_recent(&mut self) {
        let recent = &mut self.recent;
        recent.sort_unstable();
        let old = self.sorted.len();
        self.sorted.reserve_exact(recent.len());
        self.sorted.resize(old + recent.len(), 0);
        let (mut i, mut j) = (old, recent.len());
        for k in (0..self.sorted.len()).rev() {
            if j == 0 {
                break;
            }
            if i > 0 && self.sorted[i - 1] > recent[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = recent[j - 1];
                j -= 1;
            }
        }
        recent.clear();
        let needed = self.sorted.len() + RECENT_MAX;
        if needed > self.filter.capacity {
            self.filter = Bloom::with_capacity(2 * needed);
            self.sorted.iter().for_each(|&n| self.filter.add(n));
        }
    }

    /// True when the set holds `id`.
    pub fn contains(&self, id: &str) -> bool {
        match snowflake(id) {
            Some(n) => {
                self.filter.capacity > 0
                    && self.filter.may_hold(n)
                    && (self.recent.contains(&n) || self.sorted.binary_search(&n).is_ok())
            }
            None => self.others.contains(id),
        }
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len() + self.others.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A blocked Bloom filter of numbers: each number sets 6 bits within one
/// 64-byte block, 10 bits a number at capacity (about 1 % false
/// positives there, fewer below).
#[derive(Debug, Default)]
struct Bloom {
    words: Vec<u64>,
    capacity: usize,
}

impl Bloom {
    const BLOCK_WORDS: usize = 8;
    const BITS_EACH: usize = 10;
    const PROBES: u32 = 6;

    fn with_capacity(capacity: usize) -> Bloom {
        let blocks = (capacity * Self::BITS_EACH)
            .div_ceil(64 * Self::BLOCK_WORDS)
            .max(1);
        Bloom {
            words: vec![0; blocks * Self::BLOCK_WORDS],
            capacity,
        }
    }

    /// The block's first word, and the bits to test, from one mixed hash.
    fn probes(&self, n: u64) -> (usize, u64) {
        // splitmix64's finaliser: every bit of `n` moves every bit.
        let mut h = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
        let blocks = (self.words.len() / Self::BLOCK_WORDS) as u64;
        // The high half picks the block (a multiply, not a modulo).
        let block = (((h >> 32) * blocks) >> 32) as usize * Self::BLOCK_WORDS;
        // The bits within it come from another mix of the same hash.
        (block, h.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn bit(h: u64, probe: u32) -> (usize, u64) {
        let pos = (h >> (probe * 9)) & 511;
        ((pos >> 6) as usize, 1 << (pos & 63))
    }

    fn add(&mut self, n: u64) {
        let (block, h) = self.probes(n);
        for p in 0..Self::PROBES {
            let (w, mask) = Self::bit(h, p);
            self.words[block + w] |= mask;
        }
    }

    fn may_hold(&self, n: u64) -> bool {
        if self.words.is_empty() {
            return false;
        }
        let (block, h) = self.probes(n);
        (0..Self::PROBES).all(|p| {
            let (w, mask) = Self::bit(h, p);
            self.words[block + w] & mask != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_set_keeps_text_exact() {
        let mut s = IdSet::default();
        assert!(s.insert("1801707819273478425"));
        assert!(!s.insert("1801707819273478425"));
        assert!(s.insert("01801707819273478425"));
        assert!(s.insert("99999999999999999999999"));
        assert!(s.insert("6f1c-uuid"));
        assert!(s.insert("0"));
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn id_set_answers_like_a_hash_set_across_merges() {
        // Three merges' worth, in an order that mixes old and new numbers,
        // and each id offered again later.
        let n = 3 * RECENT_MAX as u64 + 123;
        let spread = |k: u64| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (8 * n)) + 1;
        let mut set = IdSet::default();
        let mut reference = HashSet::new();
        for k in 0..n {
            for id in [spread(k), spread(k / 2), spread(k + n)] {
                let id = id.to_string();
                assert_eq!(set.insert(&id), reference.insert(id.clone()), "{id}");
            }
        }
        assert_eq!(set.len(), reference.len());
        assert!(set.sorted.windows(2).all(|w| w[0] < w[1]));
        assert!(set.sorted.iter().all(|&k| set.filter.may_hold(k)));
    }
}
