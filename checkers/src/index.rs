//! The paired history, indexed once for all checkers.
//!
//! Built in one pass over the [`crate::pairing::Pairing`]: every write by its (unique) value,
//! every successful read, and per key (dense, by interned id) its writes and
//! its final read on each node. The checkers then only do hash lookups and
//! per-key sorts, so the whole check stays O(n log n).

use crate::history::OpType;
use crate::model::{CValue, Hist, NONE, Val, ValMap, fid};
use crate::pairing::{Pair, pair};

/// An op whose invoke carries a value a read may later return (`add`,
/// `write`, `append`, `claim`).
#[derive(Clone, Copy, Debug)]
pub struct Write {
    pub key: u32,
    pub node: u32,
    pub value: Val,
    pub pair: Pair,
    pub outcome: OpType,
    pub invoke_time: u64,
    /// `u64::MAX` if it never completed.
    pub end_time: u64,
    /// The completion's index, or the invoke's if it never completed.
    pub witness: u64,
}

/// An `ok` read or final read: the value comes from its completion.
#[derive(Clone, Copy, Debug)]
pub struct Read {
    pub key: u32,
    pub node: u32,
    pub pair: Pair,
    pub is_final: bool,
    pub invoke_time: u64,
    pub end_time: u64,
    /// The completion's index.
    pub witness: u64,
    pub value: CValue,
}

/// One node's final state for one key.
#[derive(Clone, Debug)]
pub struct FinalRead {
    pub node: u32,
    /// The completion's index.
    pub witness: u64,
    /// As returned (order kept, for list-append).
    pub value: CValue,
    /// The elements sorted and deduplicated, for set comparisons.
    pub elems: Vec<Val>,
}

impl FinalRead {
    pub fn contains(&self, v: Val) -> bool {
        self.elems.binary_search(&v).is_ok()
    }
}

/// Everything known about one key.
#[derive(Clone, Debug, Default)]
pub struct KeyIndex {
    /// Indices into [`HistoryIndex::writes`].
    pub writes: Vec<u32>,
    /// Sorted by node name; the latest `ok` final read per node wins.
    pub final_reads: Vec<FinalRead>,
}

impl KeyIndex {
    /// The final reads' op indices, ascending: the usual witnesses.
    pub fn final_read_witnesses(&self) -> Vec<u64> {
        let mut w: Vec<u64> = self.final_reads.iter().map(|r| r.witness).collect();
        w.sort_unstable();
        w
    }
}

#[derive(Debug)]
pub struct HistoryIndex<'h> {
    pub hist: &'h Hist,
    pub writes: Vec<Write>,
    /// Values are unique across a test; should one repeat, the first write
    /// keeps it.
    pub write_by_value: ValMap,
    /// `ok` reads and final reads, in completion order.
    pub reads: Vec<Read>,
    /// By key id.
    pub keys: Vec<KeyIndex>,
    /// Every node named by a client op, sorted by name.
    pub nodes: Vec<u32>,
    /// Final-read invokes seen, whatever their outcome.
    pub final_read_attempts: usize,
    /// Completions that matched no invoke (positions in [`Hist::ops`]).
    pub orphans: Vec<u32>,
    /// Every client op pair, as paired.
    pub pairs: Vec<Pair>,
}

impl<'h> HistoryIndex<'h> {
    /// The standard index: `add`, `write`, `append` and `claim` are writes.
    pub fn build(hist: &'h Hist) -> Self {
        Self::build_with(hist, &[fid::ADD, fid::WRITE, fid::APPEND, fid::CLAIM])
    }

    /// `write_fs`: the `f` ids whose invoke value is a value reads return.
    pub fn build_with(hist: &'h Hist, write_fs: &[u32]) -> Self {
        let pairing = pair(hist);
        let mut index = HistoryIndex {
            hist,
            writes: Vec::new(),
            write_by_value: ValMap::default(),
            reads: Vec::new(),
            keys: vec![KeyIndex::default(); hist.keys.len()],
            nodes: Vec::new(),
            final_read_attempts: 0,
            orphans: pairing.orphans,
            pairs: Vec::new(),
        };
        let mut seen_node = vec![false; hist.nodes.len()];
        let mut finals: Vec<(u32, u32, Read)> = Vec::new();
        for &p in &pairing.pairs {
            let node = p.node(hist);
            if node != NONE && !seen_node[node as usize] {
                seen_node[node as usize] = true;
                index.nodes.push(node);
            }
            let key = p.key(hist);
            if key == NONE {
                continue; // Nothing to check an op against without its key.
            }
            let invoke = p.invoke(hist);
            if write_fs.contains(&invoke.f) {
                let value = match invoke.value {
                    CValue::One(v) => v,
                    // Rare: arrays or null as written values.
                    other => {
                        let text = hist.to_json(other).to_string();
                        index_other(hist, &text)
                    }
                };
                let id = index.writes.len() as u32;
                index.keys[key as usize].writes.push(id);
                index.writes.push(Write {
                    key,
                    node,
                    value,
                    pair: p,
                    outcome: p.outcome(hist),
                    invoke_time: invoke.time,
                    end_time: p.end_time(hist),
                    witness: p.witness(hist),
                });
            } else if invoke.f == fid::READ || invoke.f == fid::FINAL_READ {
                let is_final = invoke.f == fid::FINAL_READ;
                index.final_read_attempts += usize::from(is_final);
                let Some(completion) = p.completion(hist).filter(|c| c.kind == OpType::Ok) else {
                    continue; // A failed or indeterminate read tells us nothing.
                };
                let read = Read {
                    key,
                    node,
                    pair: p,
                    is_final,
                    invoke_time: invoke.time,
                    end_time: completion.time,
                    witness: completion.index,
                    value: completion.value,
                };
                index.reads.push(read);
                if is_final && node != NONE {
                    finals.push((key, node, read));
                }
            }
        }
        index.pairs = pairing.pairs;
        index.write_by_value = ValMap::build(
            index
                .writes
                .iter()
                .enumerate()
                .map(|(id, w)| (w.value, id as u32)),
        );
        index
            .nodes
            .sort_unstable_by(|a, b| hist.node_name(*a).cmp(hist.node_name(*b)));
        // Latest per (key, node) wins: stable sort, then keep the last.
        finals.sort_by(|a, b| (a.0, hist.node_name(a.1)).cmp(&(b.0, hist.node_name(b.1))));
        for (i, (key, node, read)) in finals.iter().enumerate() {
            if finals
                .get(i + 1)
                .is_some_and(|n| n.0 == *key && n.1 == *node)
            {
                continue;
            }
            let mut elems: Vec<Val> = hist.elements(&read.value).collect();
            elems.sort_unstable();
            elems.dedup();
            index.keys[*key as usize].final_reads.push(FinalRead {
                node: *node,
                witness: read.witness,
                value: read.value,
                elems,
            });
        }
        index
    }

    /// The write that wrote `value`, if any op ever tried to.
    pub fn write_of(&self, value: Val) -> Option<&Write> {
        self.write_by_value
            .get(value)
            .map(|id| &self.writes[id as usize])
    }

    /// Key ids sorted by name, for deterministic output.
    pub fn sorted_keys(&self) -> Vec<u32> {
        let mut keys: Vec<u32> = (0..self.keys.len() as u32).collect();
        keys.sort_unstable_by(|a, b| self.hist.key_name(*a).cmp(self.hist.key_name(*b)));
        keys
    }

    pub fn key_name(&self, key: u32) -> &'h str {
        self.hist.key_name(key)
    }

    pub fn node_name(&self, node: u32) -> &'h str {
        self.hist.node_name(node)
    }

    pub fn show(&self, v: Val) -> String {
        self.hist.show(v)
    }
}

/// A non-scalar written value, looked up in the side table by its text.
/// The index only reads the history, so a value never interned maps to a
/// value no read can return.
fn index_other(hist: &Hist, text: &str) -> Val {
    hist.others
        .find(&crate::history::Elem::Json(text.to_owned()))
        .unwrap_or(Val::UNSEEN)
}
