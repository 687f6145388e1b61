//! The paired history, indexed once for all checkers.
//!
//! Built in one pass over the [`crate::pairing::Pairing`]: every write by its (unique) value,
//! every successful read, and per key (dense, by interned id) its writes and
//! its final read on each node. The checkers then only do hash lookups and
//! per-key sorts, so the whole check stays O(n log n).
//!
//! # Memory
//! The index stores per write and per read only what it cannot look up in
//! the history ([`WriteEntry`], 24 bytes; [`ReadEntry`], 16 bytes) and
//! hands out the full [`Write`] / [`Read`] (56 and 64 bytes) built on the
//! fly from the pair's ops ([`HistoryIndex::write`], [`HistoryIndex::reads`]).
//! At 10M ops (about 2.5M writes and 2.4M reads) that is 100 MB instead of
//! 300 MB, for a few loads from ops that the pass touches anyway.

use std::sync::Arc;

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

/// What the index keeps per write; [`HistoryIndex::write`] expands it.
#[derive(Clone, Copy, Debug)]
struct WriteEntry {
    pair: Pair,
    key: u32,
    node: u32,
    /// Needed by the value map, and not in the invoke when it is an array.
    value: Val,
}

/// What the index keeps per read; [`HistoryIndex::read`] expands it.
#[derive(Clone, Copy, Debug)]
struct ReadEntry {
    /// Always completed (`ok`).
    pair: Pair,
    key: u32,
    node: u32,
}

/// One node's final state for one key.
#[derive(Clone, Debug)]
pub struct FinalRead {
    pub node: u32,
    /// The completion's index.
    pub witness: u64,
    /// As returned (order kept, for list-append).
    pub value: CValue,
    /// The elements sorted and deduplicated, for set comparisons. Shared
    /// with the key's previous final read when equal: converged nodes hold
    /// the same set, and one copy instead of three saved 40 MB at 10M ops.
    pub elems: Arc<[Val]>,
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
    /// See [`HistoryIndex::write`].
    writes: Vec<WriteEntry>,
    /// Values are unique across a test; should one repeat, the first write
    /// keeps it.
    pub write_by_value: ValMap,
    /// `ok` reads and final reads, in completion order; see
    /// [`HistoryIndex::reads`].
    reads: Vec<ReadEntry>,
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
    /// The standard index: `add`, `write`, `append`, `claim` and `cas` (the
    /// value it sets) are writes.
    pub fn build(hist: &'h Hist) -> Self {
        Self::build_with(
            hist,
            &[fid::ADD, fid::WRITE, fid::APPEND, fid::CLAIM, fid::CAS],
        )
    }

    /// `write_fs`: the `f` ids whose invoke value is a value reads return.
    pub fn build_with(hist: &'h Hist, write_fs: &[u16]) -> Self {
        let pairing = pair(hist);
        // Sized for the worst case (every pair a write, or a read) so they
        // never grow: a doubling copies the whole vector while the old one
        // is still held, which at 10M ops set the peak RSS. Pages never
        // written are never resident, so the unused capacity costs nothing.
        let most = pairing.pairs.len();
        let mut index = HistoryIndex {
            hist,
            writes: Vec::with_capacity(most),
            write_by_value: ValMap::default(),
            reads: Vec::with_capacity(most),
            keys: vec![KeyIndex::default(); hist.keys.len()],
            nodes: Vec::new(),
            final_read_attempts: 0,
            orphans: pairing.orphans,
            pairs: Vec::new(),
        };
        let mut seen_node = vec![false; hist.nodes.len()];
        let mut finals: Vec<(u32, u32, ReadEntry)> = Vec::new();
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
                index.writes.push(WriteEntry {
                    pair: p,
                    key,
                    node,
                    value,
                });
            } else if invoke.f == fid::READ || invoke.f == fid::FINAL_READ {
                let is_final = invoke.f == fid::FINAL_READ;
                index.final_read_attempts += usize::from(is_final);
                if p.completion(hist).is_none_or(|c| c.kind != OpType::Ok) {
                    continue; // A failed or indeterminate read tells us nothing.
                }
                let read = ReadEntry { pair: p, key, node };
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
            let read = index.expand_read(*read);
            let mut elems: Vec<Val> = hist.elements(&read.value).collect();
            elems.sort_unstable();
            elems.dedup();
            let finals = &mut index.keys[*key as usize].final_reads;
            let elems = match finals.last() {
                Some(prev) if *prev.elems == *elems => Arc::clone(&prev.elems),
                _ => Arc::from(elems),
            };
            finals.push(FinalRead {
                node: *node,
                witness: read.witness,
                value: read.value,
                elems,
            });
        }
        index
    }

    /// The write that wrote `value`, if any op ever tried to.
    pub fn write_of(&self, value: Val) -> Option<Write> {
        self.write_by_value.get(value).map(|id| self.write(id))
    }

    /// Write `id` (an index into [`KeyIndex::writes`]' space).
    #[inline]
    pub fn write(&self, id: u32) -> Write {
        let e = self.writes[id as usize];
        let hist = self.hist;
        Write {
            key: e.key,
            node: e.node,
            value: e.value,
            pair: e.pair,
            outcome: e.pair.outcome(hist),
            invoke_time: e.pair.invoke(hist).time,
            end_time: e.pair.end_time(hist),
            witness: e.pair.witness(hist),
        }
    }

    /// Every write, by id.
    pub fn writes(&self) -> impl ExactSizeIterator<Item = Write> + '_ {
        (0..self.writes.len() as u32).map(|id| self.write(id))
    }

    /// [`Write::value`] of write `id`, without touching the ops.
    #[inline]
    pub fn write_value(&self, id: u32) -> Val {
        self.writes[id as usize].value
    }

    /// [`Write::invoke_time`] of write `id` with one lookup instead of the
    /// whole expansion: sort keys call it O(n log n) times.
    #[inline]
    pub fn write_invoke_time(&self, id: u32) -> u64 {
        self.writes[id as usize].pair.invoke(self.hist).time
    }

    pub fn write_count(&self) -> usize {
        self.writes.len()
    }

    /// Read `i` of [`HistoryIndex::reads`].
    #[inline]
    pub fn read(&self, i: usize) -> Read {
        self.expand_read(self.reads[i])
    }

    /// Every `ok` read and final read, in completion order.
    pub fn reads(&self) -> impl ExactSizeIterator<Item = Read> + '_ {
        self.reads.iter().map(|&e| self.expand_read(e))
    }

    /// The positions of [`HistoryIndex::reads`] grouped by key (keyless
    /// reads last), in completion order within each key: a counting sort.
    /// A pass over the read elements in this order touches one key's
    /// writes at a time, which stay in cache; in completion order every
    /// element was a cache miss on the per-write tables (a third of a set
    /// check's read pass).
    pub fn reads_by_key(&self) -> Vec<u32> {
        let slot = |e: &ReadEntry| (e.key as usize).min(self.keys.len());
        let mut starts = vec![0u32; self.keys.len() + 2];
        for e in &self.reads {
            starts[slot(e) + 2] += 1;
        }
        for i in 2..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![0u32; self.reads.len()];
        for (at, e) in self.reads.iter().enumerate() {
            let next = &mut starts[slot(e) + 1];
            order[*next as usize] = at as u32;
            *next += 1;
        }
        order
    }

    pub fn read_count(&self) -> usize {
        self.reads.len()
    }

    #[inline]
    fn expand_read(&self, e: ReadEntry) -> Read {
        let hist = self.hist;
        let invoke = e.pair.invoke(hist);
        let completion = &hist.ops[e.pair.completion as usize];
        Read {
            key: e.key,
            node: e.node,
            pair: e.pair,
            is_final: invoke.f == fid::FINAL_READ,
            invoke_time: invoke.time,
            end_time: completion.time,
            witness: hist.index_of(e.pair.completion),
            value: completion.value,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::h;

    #[test]
    fn equal_final_reads_share_their_elements() {
        let hist = Hist::from_ops(&h("
            0 9 invoke final-read k @n1
            1 9 ok     final-read k [2,1] @n1
            2 9 invoke final-read k @n2
            3 9 ok     final-read k [1,2] @n2
            4 9 invoke final-read k @n3
            5 9 ok     final-read k [1] @n3
        "));
        let index = HistoryIndex::build(&hist);
        let finals = &index.keys[0].final_reads;
        let elems: Vec<Vec<i64>> = finals
            .iter()
            .map(|r| r.elems.iter().map(|v| v.as_int().unwrap()).collect())
            .collect();
        assert_eq!(elems, [vec![1, 2], vec![1, 2], vec![1]]);
        assert!(Arc::ptr_eq(&finals[0].elems, &finals[1].elems));
        assert!(!Arc::ptr_eq(&finals[1].elems, &finals[2].elems));
        assert!(finals[1].contains(Val::int(2).unwrap()));
        assert!(!finals[2].contains(Val::int(2).unwrap()));
    }
}
