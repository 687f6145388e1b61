//! Ops' `index` fields, stored as runs rather than one `u64` per op.
//!
//! `index` strictly increases along a history, and the controller numbers
//! ops 0, 1, 2, ... so nearly every history is one run: the index is the
//! position plus a constant. [`OpIndex`] keeps one `(position, index)` pair
//! where that constant changes and answers by binary search, instead of
//! 8 bytes in every [`crate::model::COp`] (80 MB at 10M ops). A history with
//! gaps everywhere costs 16 bytes per gap, so at worst twice the old field.

/// See the module docs.
#[derive(Clone, Debug, Default)]
pub struct OpIndex {
    /// `(position, index)` where a run starts; positions ascending.
    runs: Vec<(u32, u64)>,
}

impl OpIndex {
    /// Records that the op at `pos` (the next position) has `index`.
    #[inline]
    pub fn push(&mut self, pos: u32, index: u64) {
        if let Some(&(p, i)) = self.runs.last()
            && i.checked_add(u64::from(pos - p)) == Some(index)
        {
            return;
        }
        self.runs.push((pos, index));
    }

    /// The `index` of the op at `pos` (which must have been pushed).
    #[inline]
    pub fn get(&self, pos: u32) -> u64 {
        let run = match self.runs.as_slice() {
            [only] => *only,
            runs => runs[runs.partition_point(|&(p, _)| p <= pos) - 1],
        };
        run.1 + u64::from(pos - run.0)
    }

    /// Appends `other`, whose positions start at `base` here.
    pub fn append(&mut self, other: &OpIndex, base: u32) {
        for &(p, i) in &other.runs {
            self.push(base + p, i);
        }
    }

    /// Runs stored: 1 for a history numbered without gaps.
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(indices: &[u64]) -> OpIndex {
        let mut ix = OpIndex::default();
        for (pos, &i) in indices.iter().enumerate() {
            ix.push(pos as u32, i);
        }
        ix
    }

    #[test]
    fn gapless_numbering_is_one_run_and_gaps_start_new_ones() {
        let plain: Vec<u64> = (0..1000).collect();
        let ix = build(&plain);
        assert_eq!(ix.runs(), 1);
        assert!((0..1000).all(|p| ix.get(p) == u64::from(p)));

        let gappy = [5, 6, 7, 20, 21, 1 << 40, (1 << 40) + 1, u64::MAX];
        let ix = build(&gappy);
        assert_eq!(ix.runs(), 4);
        for (pos, &i) in gappy.iter().enumerate() {
            assert_eq!(ix.get(pos as u32), i);
        }
    }

    #[test]
    fn append_shifts_positions_and_merges_a_continuing_run() {
        let mut a = build(&[0, 1, 2]);
        let b = build(&[3, 4, 10]);
        a.append(&b, 3);
        assert_eq!(a.runs(), 2);
        assert_eq!(
            (0..6).map(|p| a.get(p)).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 10]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_increasing_indices_read_back(
            steps in proptest::collection::vec(1u64..4, 1..200),
            cut in 0usize..200,
        ) {
            let indices: Vec<u64> = steps
                .iter()
                .scan(0u64, |acc, &s| { *acc += s; Some(*acc) })
                .collect();
            let cut = cut.min(indices.len());
            let mut ix = build(&indices[..cut]);
            let tail = build(&indices[cut..]);
            ix.append(&tail, cut as u32);
            for (pos, &i) in indices.iter().enumerate() {
                proptest::prop_assert_eq!(ix.get(pos as u32), i);
            }
        }
    }
}
