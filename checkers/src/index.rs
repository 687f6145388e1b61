//! The paired history, indexed once for all checkers.
//!
//! Built in one pass over the [`Pairing`]: every write by its (unique) value,
//! every successful read, and per key its writes and its final read on each
//! node. The checkers then only do hash lookups and per-key sorts, so the
//! whole check stays O(n log n).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::history::{Elem, Op, OpType, f};
use crate::pairing::{Pair, pair};

/// An `add` or `write`: the value comes from its invoke.
#[derive(Debug)]
pub struct Write<'a> {
    pub key: &'a str,
    pub value: Elem,
    pub pair: Pair<'a>,
}

impl Write<'_> {
    pub fn outcome(&self) -> OpType {
        self.pair.outcome()
    }

    pub fn invoke_time(&self) -> u64 {
        self.pair.invoke.time
    }

    /// The completion's index, or the invoke's if it never completed.
    pub fn witness(&self) -> u64 {
        self.pair.completion.unwrap_or(self.pair.invoke).index
    }
}

/// An `ok` read or final read: the value comes from its completion.
#[derive(Debug)]
pub struct Read<'a> {
    pub key: &'a str,
    pub node: Option<&'a str>,
    pub completion: &'a Op,
}

/// One node's final state for one key.
#[derive(Debug)]
pub struct FinalRead<'a> {
    pub completion: &'a Op,
    pub elems: HashSet<Elem>,
}

/// Everything known about one key.
#[derive(Debug, Default)]
pub struct KeyIndex<'a> {
    /// Indices into [`HistoryIndex::writes`].
    pub writes: Vec<usize>,
    /// By node; the latest `ok` final read wins if there are several.
    pub final_reads: BTreeMap<&'a str, FinalRead<'a>>,
}

impl KeyIndex<'_> {
    /// The final reads' op indices, ascending: the usual witnesses.
    pub fn final_read_witnesses(&self) -> Vec<u64> {
        let mut w: Vec<u64> = self
            .final_reads
            .values()
            .map(|r| r.completion.index)
            .collect();
        w.sort_unstable();
        w
    }
}

#[derive(Debug, Default)]
pub struct HistoryIndex<'a> {
    pub writes: Vec<Write<'a>>,
    /// Values are unique across a test; should one repeat, the first write
    /// keeps it.
    pub write_by_value: HashMap<Elem, usize>,
    pub reads: Vec<Read<'a>>,
    pub keys: HashMap<&'a str, KeyIndex<'a>>,
    /// Every node named by a client op or a final read.
    pub nodes: BTreeSet<&'a str>,
    /// Final-read invokes seen, whatever their outcome.
    pub final_read_attempts: usize,
    /// Completions that matched no invoke (see [`crate::pairing::Pairing`]).
    pub orphans: Vec<&'a Op>,
}

impl<'a> HistoryIndex<'a> {
    pub fn build(history: &'a [Op]) -> Self {
        let pairing = pair(history);
        let mut index = HistoryIndex {
            orphans: pairing.orphans,
            ..HistoryIndex::default()
        };
        for p in pairing.pairs {
            if let Some(node) = p.node() {
                index.nodes.insert(node);
            }
            let Some(key) = p.key() else {
                continue; // Nothing to check an op against without its key.
            };
            if p.invoke.is_write() {
                index.add_write(key, p);
            } else if p.invoke.is_read() {
                index.add_read(key, p);
            }
        }
        index
    }

    fn add_write(&mut self, key: &'a str, pair: Pair<'a>) {
        let value = Elem::from_value(&pair.invoke.value);
        let id = self.writes.len();
        self.write_by_value.entry(value.clone()).or_insert(id);
        self.keys.entry(key).or_default().writes.push(id);
        self.writes.push(Write { key, value, pair });
    }

    fn add_read(&mut self, key: &'a str, pair: Pair<'a>) {
        let is_final = pair.invoke.f == f::FINAL_READ;
        self.final_read_attempts += usize::from(is_final);
        let Some(completion) = pair.completion.filter(|c| c.kind == OpType::Ok) else {
            return; // A failed or indeterminate read tells us nothing.
        };
        self.reads.push(Read {
            key,
            node: pair.node(),
            completion,
        });
        if let (true, Some(node)) = (is_final, pair.node()) {
            let elems = completion.elements().collect();
            self.keys
                .entry(key)
                .or_default()
                .final_reads
                .insert(node, FinalRead { completion, elems });
        }
    }

    /// The write that wrote `value`, if any op ever tried to.
    pub fn write_of(&self, value: &Elem) -> Option<&Write<'a>> {
        self.write_by_value.get(value).map(|&id| &self.writes[id])
    }

    /// Keys in sorted order, for deterministic output.
    pub fn sorted_keys(&self) -> Vec<(&'a str, &KeyIndex<'a>)> {
        let mut keys: Vec<_> = self.keys.iter().map(|(k, v)| (*k, v)).collect();
        keys.sort_unstable_by_key(|(k, _)| *k);
        keys
    }
}
