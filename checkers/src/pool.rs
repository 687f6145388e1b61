//! The element pool: every array value of a [`crate::Hist`], back to back,
//! with successive reads of one key on one node sharing their prefixes.
//!
//! # Codes
//! Each element is one `u32` code: below [`WIDE`] the integer itself
//! (elements are nearly always small non-negative counters), from `WIDE` up
//! `WIDE | id`, an id into the interned wide values ([`crate::Hist::wide`]).
//! [`LINK`] is reserved: no element is ever coded as it.
//!
//! # Shared prefixes
//! A set read returns what the previous read of that key on that node
//! returned plus a few new elements, so storing each read whole made read
//! results most of a set history's memory (84M codes, 336 MB, at 10M ops).
//! An array that starts with at least [`MIN_SHARED`] elements of the
//! previous array of its key and node is stored as a *link*:
//!
//! ```text
//! [LINK, back, shared, own elements...]
//! ```
//!
//! its first `shared` elements are the first `shared` elements of the array
//! stored `back` codes earlier (itself maybe a link), the rest follow the
//! header. Three header codes replace `shared >= 4` element codes, so a link
//! never costs more than a copy. On the synthetic set history it cuts the
//! pool from 8.4M to 3.1M codes per million ops (12 MB); 2.0M on one
//! thread, since every part parsed in parallel starts each key's chain with
//! a whole copy. `back` is relative, so a part parsed on another thread is
//! appended without rewriting its links. A depth of 16 saves only 1% more.
//! Chains are at most [`MAX_DEPTH`] links long, so an array is read as at
//! most `MAX_DEPTH + 1` slices ([`Codes`]) and iterating stays a tight loop.
//!
//! An array value is `(start, len)`: `start` where its own codes (or its
//! header) begin, `len` its length in elements.

use std::slice;

use crate::model::{COp, CValue, FastMap, NONE, Val};

/// Codes from here up are `WIDE | id` (see the module docs).
pub const WIDE: u32 = 1 << 31;
/// The first code of a link header; never an element's code.
pub const LINK: u32 = u32::MAX;
/// Links in a chain, at most; the next array is stored whole.
pub const MAX_DEPTH: u8 = 8;
/// Shorter shared prefixes are copied: the header costs 3 codes.
pub const MIN_SHARED: u32 = 4;
const SEGMENTS: usize = MAX_DEPTH as usize + 1;

/// An array's codes, slice by slice: the raw form of [`Elems`].
#[derive(Clone, Debug)]
pub struct Codes<'p> {
    cur: slice::Iter<'p, u32>,
    /// Slices still to come, the next one last.
    rest: [&'p [u32]; SEGMENTS],
    pending: usize,
}

impl<'p> Codes<'p> {
    /// The codes of the array `(start, len)` of `pool`.
    pub fn new(pool: &'p [u32], start: u32, len: u32) -> Codes<'p> {
        let mut rest: [&[u32]; SEGMENTS] = [&[]; SEGMENTS];
        let mut pending = 0;
        let (mut at, mut want) = (start as usize, len as usize);
        // Walk the chain from the newest link back to the whole array it
        // started from, collecting the slices last-first.
        while want > 0 {
            if pool[at] != LINK {
                rest[pending] = &pool[at..at + want];
                pending += 1;
                break;
            }
            let back = pool[at + 1] as usize;
            let shared = pool[at + 2] as usize;
            if want > shared {
                rest[pending] = &pool[at + 3..at + 3 + (want - shared)];
                pending += 1;
            }
            at -= back;
            want = want.min(shared);
        }
        // Start on the first slice: a whole array (the common case) is then
        // a plain slice iteration.
        let cur = match pending {
            0 => [].iter(),
            n => {
                pending = n - 1;
                rest[pending].iter()
            }
        };
        Codes { cur, rest, pending }
    }
}

impl<'p> Codes<'p> {
    /// The codes still to come as slices, in order: for copying with
    /// `extend_from_slice` (a memcpy) rather than one push per code.
    pub fn slices(self) -> impl Iterator<Item = &'p [u32]> {
        let Codes { cur, rest, pending } = self;
        std::iter::once(cur.as_slice()).chain((0..pending).rev().map(move |i| rest[i]))
    }
}

impl Iterator for Codes<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some(&code) = self.cur.next() {
                return Some(code);
            }
            if self.pending == 0 {
                return None;
            }
            self.pending -= 1;
            self.cur = self.rest[self.pending].iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.cur.len()
            + self.rest[..self.pending]
                .iter()
                .map(|s| s.len())
                .sum::<usize>();
        (left, Some(left))
    }
}

impl ExactSizeIterator for Codes<'_> {}

#[inline]
pub fn decode(code: u32, wide: &[Val]) -> Val {
    if code < WIDE {
        Val::small(code)
    } else {
        wide[(code - WIDE) as usize]
    }
}

/// The elements of one read result, decoded from the pool's codes on the
/// fly: iterates [`Val`]s.
#[derive(Clone, Debug)]
pub struct Elems<'h> {
    codes: Codes<'h>,
    wide: &'h [Val],
    /// A scalar value, yielded as the only element.
    one: Option<Val>,
}

impl<'h> Elems<'h> {
    pub fn new(codes: Codes<'h>, wide: &'h [Val], one: Option<Val>) -> Elems<'h> {
        Elems { codes, wide, one }
    }
}

impl Iterator for Elems<'_> {
    type Item = Val;

    #[inline]
    fn next(&mut self) -> Option<Val> {
        if let Some(v) = self.one.take() {
            return Some(v);
        }
        self.codes.next().map(|c| decode(c, self.wide))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.codes.len() + usize::from(self.one.is_some());
        (n, Some(n))
    }
}

impl ExactSizeIterator for Elems<'_> {}

/// The previous array of a key on a node, as [`share`] remembers it.
#[derive(Clone, Copy, Debug)]
pub struct Recent {
    pub start: u32,
    pub len: u32,
    /// Links between it and a whole array.
    pub depth: u8,
}

/// What [`share`] did with the array just pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
    /// It repeats `prev` exactly: dropped, use `prev`'s range.
    Repeat,
    /// Rewritten as a link to `prev` (same start and length).
    Linked,
    /// Kept whole.
    Whole,
}

/// Stores the array just pushed at the end of `pool` (`start`, `len`
/// elements, all plain codes) as compactly as `prev` allows; returns what it
/// did and what to remember as the key and node's latest array.
pub fn share(pool: &mut Vec<u32>, start: u32, len: u32, prev: Recent) -> (Shared, Recent) {
    let whole = Recent {
        start,
        len,
        depth: 0,
    };
    let new = start as usize;
    if len < MIN_SHARED && len != prev.len {
        // Too short to link and not a repeat: skip the walk (register
        // reads are one element each).
        return (Shared::Whole, whole);
    }
    let common = Codes::new(pool, prev.start, prev.len)
        .zip(&pool[new..])
        .take_while(|(a, b)| a == *b)
        .count() as u32;
    if common == len && common == prev.len {
        pool.truncate(new);
        return (Shared::Repeat, prev);
    }
    if common < MIN_SHARED || prev.depth >= MAX_DEPTH {
        return (Shared::Whole, whole);
    }
    let own = new + common as usize..new + len as usize;
    pool.copy_within(own.clone(), new + 3);
    pool.truncate(new + 3 + own.len());
    pool[new] = LINK;
    pool[new + 1] = start - prev.start;
    pool[new + 2] = common;
    let linked = Recent {
        depth: prev.depth + 1,
        ..whole
    };
    (Shared::Linked, linked)
}

/// Rebuilds `pool` in one pass in op order, sharing as the parser does but
/// across the seams between parts parsed in parallel, where every key and
/// node's chain started with a whole copy: 3.1M codes per million set ops
/// become 2.0M (45 MB less at 10M). Runs before the index exists, while
/// the old pool is the largest thing alive besides the ops, so holding
/// both for a moment does not raise the peak.
///
/// Only the whole arrays are compared again (those that started a chain in
/// a part, or had to be whole there): a link made by the parser was made
/// against the same predecessor (the latest array of its key and node), so
/// its header and own codes are copied as they are, with `back` measured
/// afresh, unless the chain has grown too deep, when it is stored whole. The
/// result is the pool a single-threaded parse builds.
pub fn repack(pool: &mut Vec<u32>, ops: &mut [COp]) {
    /// The chain's latest array: where it is now and where it was.
    struct Latest {
        recent: Recent,
        old_start: u32,
    }
    let old = std::mem::take(pool);
    // Never more than before; untouched capacity is never resident.
    pool.reserve(old.len());
    let mut latest: FastMap<(u32, u32), Latest> = FastMap::default();
    for op in ops.iter_mut() {
        let CValue::Many { start, len } = op.value else {
            continue;
        };
        let chained = op.key != NONE && len > 0;
        let prev = if chained {
            latest.get(&(op.key, op.node))
        } else {
            None
        };
        if let Some(p) = prev
            && p.old_start == start
        {
            // A repeat the parser shared: share it again.
            op.value = CValue::Many {
                start: p.recent.start,
                len,
            };
            continue;
        }
        let new = pool.len() as u32;
        op.value = CValue::Many { start: new, len };
        let now = match prev {
            Some(p) if old[start as usize] == LINK && p.recent.depth < MAX_DEPTH => {
                let own = len - old[start as usize + 2];
                let header = start as usize..start as usize + 3 + own as usize;
                pool.extend_from_slice(&old[header]);
                pool[new as usize + 1] = new - p.recent.start;
                Recent {
                    start: new,
                    len,
                    depth: p.recent.depth + 1,
                }
            }
            _ => {
                for slice in Codes::new(&old, start, len).slices() {
                    pool.extend_from_slice(slice);
                }
                match prev {
                    Some(p) => {
                        let (what, now) = share(pool, new, len, p.recent);
                        if what == Shared::Repeat {
                            op.value = CValue::Many {
                                start: now.start,
                                len,
                            };
                        }
                        now
                    }
                    None => Recent {
                        start: new,
                        len,
                        depth: 0,
                    },
                }
            }
        };
        if chained {
            latest.insert(
                (op.key, op.node),
                Latest {
                    recent: now,
                    old_start: start,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `arrays` one after another as one key's reads on one node,
    /// sharing as the parser does; returns the pool and each array's range.
    fn store(arrays: &[Vec<u32>]) -> (Vec<u32>, Vec<(u32, u32)>) {
        let mut pool = Vec::new();
        let mut ranges = Vec::new();
        let mut prev: Option<Recent> = None;
        for a in arrays {
            let start = pool.len() as u32;
            pool.extend_from_slice(a);
            let len = a.len() as u32;
            let range = match prev {
                _ if len == 0 => (start, 0),
                Some(p) => {
                    let (what, latest) = share(&mut pool, start, len, p);
                    prev = Some(latest);
                    if what == Shared::Repeat {
                        (p.start, p.len)
                    } else {
                        (start, len)
                    }
                }
                _ => {
                    prev = Some(Recent {
                        start,
                        len,
                        depth: 0,
                    });
                    (start, len)
                }
            };
            ranges.push(range);
        }
        (pool, ranges)
    }

    /// Each array read back twice, code by code and slice by slice, which
    /// must agree.
    fn read_back(pool: &[u32], ranges: &[(u32, u32)]) -> Vec<Vec<u32>> {
        ranges
            .iter()
            .map(|&(s, l)| {
                let codes: Vec<u32> = Codes::new(pool, s, l).collect();
                let sliced: Vec<u32> = Codes::new(pool, s, l).slices().flatten().copied().collect();
                assert_eq!(codes, sliced);
                codes
            })
            .collect()
    }

    #[test]
    fn growing_reads_share_prefixes_and_read_back_the_same() {
        let arrays: Vec<Vec<u32>> = vec![
            vec![1, 2, 3, 4, 5],
            vec![1, 2, 3, 4, 5, 6],       // grew: link, 1 own code
            vec![1, 2, 3, 4, 5, 6],       // repeat: nothing stored
            vec![1, 2, 3, 4, 9, 5, 6, 7], // inserted in the middle: link on 4
            vec![1, 2, 3],                // shrank below MIN_SHARED: whole
            vec![],
            vec![1, 2, 3, 4, 5, 6, 7, 8],
        ];
        let (pool, ranges) = store(&arrays);
        assert_eq!(read_back(&pool, &ranges), arrays);
        assert_eq!(pool.len(), 5 + (3 + 1) + (3 + 4) + 3 + 8);
    }

    #[test]
    fn chains_stop_at_max_depth() {
        let arrays: Vec<Vec<u32>> = (5..40).map(|n| (0..n).collect()).collect();
        let (pool, ranges) = store(&arrays);
        assert_eq!(read_back(&pool, &ranges), arrays);
        // Every (MAX_DEPTH + 1)th array is whole, the rest cost 4 codes.
        let wholes = arrays.iter().step_by(usize::from(MAX_DEPTH) + 1);
        let links = arrays.len() - wholes.len();
        let whole_codes: usize = wholes.map(Vec::len).sum();
        assert_eq!(pool.len(), whole_codes + 4 * links);
    }

    #[test]
    fn a_prefix_of_a_link_reads_back() {
        // The third array shares a prefix shorter than the second's own
        // prefix: the walk must cut the chain, not just append slices.
        let arrays: Vec<Vec<u32>> = vec![
            vec![1, 2, 3, 4, 5, 6, 7],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9],
            vec![1, 2, 3, 4, 5, 10],
            vec![1, 2, 3, 4, 5, 10, 11, 12],
        ];
        let (pool, ranges) = store(&arrays);
        assert_eq!(read_back(&pool, &ranges), arrays);
        let codes = Codes::new(&pool, ranges[3].0, ranges[3].1);
        assert_eq!(codes.len(), 8);
    }

    proptest::proptest! {
        /// Any sequence of arrays, each an edit of the previous one (the
        /// shape of successive reads), reads back exactly.
        #[test]
        fn shared_arrays_read_back(
            edits in proptest::collection::vec(
                (0usize..12, proptest::collection::vec(0u32..50, 0..6), proptest::bool::ANY),
                1..40,
            )
        ) {
            let mut arrays: Vec<Vec<u32>> = Vec::new();
            let mut cur: Vec<u32> = Vec::new();
            for (keep, add, wide) in edits {
                cur.truncate(keep.max(cur.len().saturating_sub(2)).min(cur.len()));
                cur.extend(add.iter().map(|&x| if wide { WIDE | x } else { x }));
                arrays.push(cur.clone());
            }
            let (pool, ranges) = store(&arrays);
            proptest::prop_assert_eq!(read_back(&pool, &ranges), arrays);
        }
    }
}
