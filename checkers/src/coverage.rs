//! Whether the history lets the checkers reach a verdict at all.
//!
//! Lost updates and divergence are judged on final reads. Without them, or
//! with some node's final read of a written key missing, "no anomaly found"
//! does not mean "valid": these reasons turn the verdict into `unknown`.
//!
//! A node held down for the whole run (`diverge run --down`, recorded as a
//! `start-down` nemesis op naming it) is never read at the end: no final
//! read of it is expected.

use crate::anomaly::list;
use crate::history::OpType;
use crate::index::HistoryIndex;
use crate::workload::Workload;

/// The nodes `start-down` nemesis ops declared held down (by interned id).
pub fn down_nodes(index: &HistoryIndex) -> Vec<u32> {
    let hist = index.hist;
    // Interned ids stay below fid::OVERFLOW, so they fit an op's `f`.
    let Some(f) = hist.fs.get("start-down").map(|f| f as u16) else {
        return Vec::new();
    };
    hist.ops
        .iter()
        .filter(|op| !op.is_client() && op.f == f && op.kind == OpType::Ok)
        .flat_map(|op| match hist.to_json(op.value) {
            serde_json::Value::Array(names) => names,
            _ => Vec::new(),
        })
        .filter_map(|name| name.as_str().and_then(|n| hist.nodes.get(n)))
        .collect()
}

/// Per-key reasons beyond this many are summarized in one line.
const MAX_KEY_REASONS: usize = 10;

/// Human-readable reasons the verdict is inconclusive; empty if it is not.
pub fn reasons(index: &HistoryIndex, workload: Workload) -> Vec<String> {
    let mut reasons = Vec::new();
    if let Some(first) = index.orphans.first() {
        reasons.push(format!(
            "{} completion(s) matched no open invoke with the same process and f (first: op {}); \
             they were ignored",
            index.orphans.len(),
            index.hist.index_of(*first),
        ));
    }
    if !workload.judging().final_state {
        return reasons; // Judged on the generates alone.
    }
    let final_reads: usize = index.keys.iter().map(|k| k.final_reads.len()).sum();
    if final_reads == 0 {
        reasons.push(if index.final_read_attempts == 0 {
            "no final reads in the history: lost updates and divergence cannot be judged".to_owned()
        } else {
            format!(
                "none of the {} final reads completed ok: lost updates and divergence cannot be \
                 judged",
                index.final_read_attempts
            )
        });
        return reasons;
    }
    let down = down_nodes(index);
    let mut missing = index
        .sorted_keys()
        .into_iter()
        .filter(|&key| !index.keys[key as usize].writes.is_empty())
        .filter_map(|key| {
            let k = &index.keys[key as usize];
            let absent: Vec<&str> = index
                .nodes
                .iter()
                .filter(|&&n| !down.contains(&n) && !k.final_reads.iter().any(|r| r.node == n))
                .map(|&n| index.node_name(n))
                .collect();
            let key = index.key_name(key);
            (!absent.is_empty()).then(|| {
                format!(
                    "key {key:?} was written but has no final read from {}",
                    list(&absent, 5)
                )
            })
        });
    reasons.extend(missing.by_ref().take(MAX_KEY_REASONS));
    let more = missing.count();
    if more > 0 {
        reasons.push(format!(
            "{more} more written key(s) lack final reads from some node"
        ));
    }
    reasons
}
