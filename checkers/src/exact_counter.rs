//! Maelstrom's counter rule, exact: a final read must equal the sum of the
//! acknowledged adds plus the deltas of some subset of the adds whose
//! outcome is unknown. [`crate::counter`] checks the interval those
//! subsets span; when the unknown adds are few ([`MAX_UNKNOWN`]) every
//! subset sum is enumerated, so a value inside the interval that no subset
//! gives (an add applied twice, or half of one lost) is caught too: above
//! the acknowledged sum an `over-count`, at or below it a `lost-update`.

use std::collections::BTreeSet;

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::model::CValue;

/// At most this many unknown adds are enumerated (2^12 subsets).
pub const MAX_UNKNOWN: usize = 12;

pub fn check(index: &HistoryIndex) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, k) in index.keys.iter().enumerate() {
        let adds = crate::counter::outcomes(index, k);
        let acknowledged: i128 = adds.iter().filter(|a| a.2 == OpType::Ok).map(|a| a.1).sum();
        let unknown: Vec<i128> = adds
            .iter()
            .filter(|a| !matches!(a.2, OpType::Ok | OpType::Fail))
            .map(|a| a.1)
            .collect();
        if unknown.len() > MAX_UNKNOWN {
            continue;
        }
        let mut sums = BTreeSet::from([acknowledged]);
        for delta in &unknown {
            let more: Vec<i128> = sums.iter().map(|s| s + delta).collect();
            sums.extend(more);
        }
        let (lowest, highest) = (sums.first().copied(), sums.last().copied());
        let key_name = index.key_name(key as u32);
        for r in &k.final_reads {
            let CValue::One(v) = r.value else { continue };
            let Some(v) = crate::counter::exact(index.hist, v) else {
                continue;
            };
            // Outside the interval is `crate::counter`'s to report.
            let inside = lowest.is_some_and(|l| l <= v) && highest.is_some_and(|h| v <= h);
            if !inside || sums.contains(&v) {
                continue;
            }
            let kind = if v > acknowledged {
                AnomalyKind::OverCount
            } else {
                AnomalyKind::LostUpdate
            };
            out.push(Anomaly::new(
                kind,
                key_name,
                vec![r.witness],
                format!(
                    "final read of counter {key_name:?} on {} (op {}) returned {v}, which no \
                     subset of the {} add(s) of unknown outcome gives with the acknowledged sum \
                     {acknowledged}",
                    index.node_name(r.node),
                    r.witness,
                    unknown.len(),
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{Workload, check};

    #[test]
    fn a_final_value_no_subset_of_unknown_adds_gives_is_caught() {
        let history = h("
            0 1 invoke add g-counter 5 @n1
            1 1 ok     add g-counter 5 @n1
            2 2 invoke add g-counter 4 @n2
            3 2 info   add g-counter 4 @n2
            4 9 invoke final-read g-counter @n1
            5 9 ok     final-read g-counter 7 @n1
            6 9 invoke final-read g-counter @n2
            7 9 ok     final-read g-counter 9 @n2
        ");
        // 7 is inside [5, 9] but neither 5 nor 5 + 4.
        assert_eq!(
            found(&check(&history, Workload::GCounter)),
            [
                ("divergence", "g-counter", vec![5, 7]),
                ("over-count", "g-counter", vec![5])
            ]
        );
        // diverge's own counter rule takes the interval.
        assert_eq!(
            found(&check(&history, Workload::Counter)),
            [("divergence", "g-counter", vec![5, 7])]
        );
    }
}
