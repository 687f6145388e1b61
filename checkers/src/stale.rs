//! Stale reads: reads that miss a write acknowledged before they began.
//!
//! A read *misses* an `ok` write `w` to its key when `w` completed before the
//! read was invoked and the read returned neither `w`'s value nor anything
//! newer:
//! - **grow** workloads (`set`, `list-append`): values only accumulate, so
//!   the read simply lacks `w`'s value;
//! - **overwrite** workloads (`register`, `causal`): every value the read
//!   returned was written by an `ok` write that completed before `w` was
//!   invoked (or the read returned nothing). A value whose write overlapped
//!   `w`, or is not `ok`, may legitimately win, so it never makes a read
//!   stale.
//!
//! Two definitions, two outputs:
//! - **anywhere** (a write acknowledged by any node): inherent in every
//!   asynchronous multi-leader configuration (replication takes time), so it
//!   is a *measurement*, [`StalenessStats`]: how many reads were stale and
//!   how far behind (the age of the oldest missed write when the read began).
//! - **same node** (a write acknowledged by the node the read went to): that
//!   node went back on what it acknowledged. This is the `stale-read`
//!   anomaly, one per missed write (witnessed by the first read that missed
//!   it). In the `causal` workload a read missing its own session's write is
//!   a `session-violation` (read-your-writes) instead, so it is skipped here.
//!
//! Final reads are not checked: a write missing from them is a lost update.
//! Cost: one sort of the `ok` writes per key (and per key and node), then per
//! read a binary search; the read's elements are walked by the
//! impossible/aborted-read pass ([`crate::reads`]), which feeds them here.

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::facts::Facts;
use crate::index::{HistoryIndex, Read};
use crate::model::{FastMap, NONE};
use crate::reads::on;
use crate::result::StalenessStats;

/// How a workload's reads relate to its writes (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Grow,
    Overwrite,
}

/// The stale-read checker, fed one read at a time by the fused read pass
/// ([`crate::reads::check_and_observe`]): [`Checker::begin`], then
/// [`Checker::element`] per returned value whose write is to the read's
/// key, then [`Checker::end`] unless some value was impossible (judged
/// elsewhere; such a read is not checked). [`Checker::finish`] gives the
/// anomalies (same node) and the figure (anywhere); see the module docs.
/// `causal`: skip misses of the reading session's own writes.
impl<'i, 'h> Checker<'i, 'h> {
    pub fn new(
        index: &'i HistoryIndex<'h>,
        facts: &'i [Facts],
        mode: Mode,
        causal: bool,
    ) -> Checker<'i, 'h> {
        let nodes = index.hist.nodes.len().max(1);
        // Grow: a prefix by end time is what was acknowledged before a read.
        // Overwrite: a suffix by invoke time is what began after a value ended.
        let order = |i: u32| match mode {
            Mode::Grow => facts[i as usize].ok_end,
            Mode::Overwrite => index.write_invoke_time(i),
        };
        let keys = index.keys.len();
        let key_of = |c: &Facts| Some(c.key as usize);
        let key_node_of =
            |c: &Facts| (c.node != NONE).then(|| c.key as usize * nodes + c.node as usize);
        let overwrite = mode == Mode::Overwrite;
        Checker {
            index,
            keys: Groups::build(facts, keys, key_of, order, overwrite),
            key_nodes: Groups::build(facts, keys * nodes, key_node_of, order, overwrite),
            compact: facts,
            mode,
            causal,
            nodes,
            mark: vec![0; if mode == Mode::Grow { facts.len() } else { 0 }],
            // At most one figure per read; reserved so it never doubles
            // (pages never written cost nothing).
            behind_ns: Vec::with_capacity(index.read_count()),
            missed: FastMap::default(),
            checked: 0,
            same_node: 0,
            seq: 0,
            newest: None,
            unbounded: false,
            held: 0,
            held_here: 0,
        }
    }
}

/// `ok` writes grouped by key (or by key and node), each group sorted by the
/// mode's order; in overwrite mode also the suffix minimum of end times.
struct Groups {
    /// Write ids, grouped and sorted.
    ids: Vec<u32>,
    /// Overwrite: the order value of each entry of `ids` (invoke times, not
    /// in [`Facts`]). Grow searches `ids` by [`Facts::ok_end`] instead:
    /// 8 bytes less per write in each of the two groupings (37 MB at 10M).
    at: Vec<u64>,
    /// Overwrite: per position, the id with the smallest end time at or
    /// after it in its group.
    suffix_min: Vec<u32>,
    ranges: Vec<(u32, u32)>,
}

impl Groups {
    /// Counting sort into groups (writes arrive in completion order, so
    /// each group is nearly sorted already), then an adaptive stable sort
    /// per group: much cheaper than one global sort.
    fn build(
        compact: &[Facts],
        groups: usize,
        group: impl Fn(&Facts) -> Option<usize>,
        order: impl Fn(u32) -> u64,
        overwrite: bool,
    ) -> Groups {
        let mut ranges = vec![(0u32, 0u32); groups];
        for c in compact.iter().filter(|c| c.is_ok()) {
            if let Some(g) = group(c) {
                ranges[g].1 += 1;
            }
        }
        let mut total = 0;
        for r in &mut ranges {
            let n = r.1;
            *r = (total, total);
            total += n;
        }
        let mut ids = vec![0u32; total as usize];
        for (id, c) in compact.iter().enumerate() {
            if c.is_ok()
                && let Some(g) = group(c)
            {
                ids[ranges[g].1 as usize] = id as u32;
                ranges[g].1 += 1;
            }
        }
        let mut suffix_min = vec![NONE; if overwrite { ids.len() } else { 0 }];
        let mut at = vec![0u64; if overwrite { ids.len() } else { 0 }];
        // Each group is sorted as (order, id) pairs: the order of a write
        // is looked up once, not at every comparison (on a 10M-op history
        // each lookup is a cache miss into the ops). Ids ascend within a
        // group, so the id tie-break keeps the stable order.
        let mut keyed: Vec<(u64, u32)> = Vec::new();
        for &(a, b) in &ranges {
            let (a, b) = (a as usize, b as usize);
            keyed.clear();
            keyed.extend(ids[a..b].iter().map(|&id| (order(id), id)));
            keyed.sort_unstable();
            for (i, &(key, id)) in keyed.iter().enumerate() {
                ids[a + i] = id;
                if overwrite {
                    at[a + i] = key;
                }
            }
            if !overwrite {
                continue;
            }
            let mut best = NONE;
            for i in (a..b).rev() {
                let id = ids[i];
                if best == NONE || compact[id as usize].ok_end < compact[best as usize].ok_end {
                    best = id;
                }
                suffix_min[i] = best;
            }
        }
        Groups {
            at,
            ids,
            suffix_min,
            ranges,
        }
    }

    fn range(&self, g: usize) -> (usize, usize) {
        let (a, b) = self.ranges.get(g).copied().unwrap_or((0, 0));
        (a as usize, b as usize)
    }

    /// Grow: the oldest write of group `g` acknowledged before `before`
    /// that `returned` does not hold; `held` of them were returned, so
    /// there is none to find unless the group has more.
    fn oldest_missing(
        &self,
        g: usize,
        before: u64,
        held: usize,
        returned: impl Fn(u32) -> bool,
        ok_end: impl Fn(u32) -> u64,
    ) -> Option<u32> {
        let (a, b) = self.range(g);
        let count = self.ids[a..b].partition_point(|&id| ok_end(id) < before);
        if held >= count {
            return None;
        }
        self.ids[a..a + count]
            .iter()
            .copied()
            .find(|&id| !returned(id))
    }

    /// Overwrite: the write of group `g` invoked after `after` (all, if
    /// `None`) that completed first, if it completed before `before`.
    fn oldest_newer(
        &self,
        g: usize,
        after: Option<u64>,
        before: u64,
        end: impl Fn(u32) -> u64,
    ) -> Option<u32> {
        let (a, b) = self.range(g);
        let from = after.map_or(0, |t| self.at[a..b].partition_point(|&x| x <= t));
        let id = *self.suffix_min.get(a + from).filter(|_| a + from < b)?;
        (end(id) < before).then_some(id)
    }
}

/// The first read on the write's node that missed it, and how many did.
struct Missed {
    read: u64,
    node: u32,
    /// The write of the newest value that read returned (overwrite mode).
    returned: Option<u32>,
    behind_ns: u64,
    reads: usize,
}

/// See [`Checker::new`].
pub struct Checker<'i, 'h> {
    index: &'i HistoryIndex<'h>,
    compact: &'i [Facts],
    mode: Mode,
    causal: bool,
    nodes: usize,
    keys: Groups,
    key_nodes: Groups,
    /// Grow: the read (sequence number) that last returned each write.
    mark: Vec<u32>,
    behind_ns: Vec<u64>,
    /// Same-node misses by missed write id.
    missed: FastMap<u32, Missed>,
    checked: u64,
    same_node: u64,
    /// The current read: its sequence number (from 1, for `mark`), the
    /// newest returned value's write (overwrite), whether some value may
    /// have taken effect at any time (overwrite), and (grow) how many
    /// returned values were acknowledged before it, anywhere and by its
    /// node: the oldest missing write is only searched for when these fall
    /// short.
    seq: u32,
    newest: Option<u32>,
    unbounded: bool,
    held: usize,
    held_here: usize,
}

impl Checker<'_, '_> {
    /// A new non-final read begins.
    #[inline]
    pub fn begin(&mut self) {
        self.seq += 1;
        self.newest = None;
        self.unbounded = false;
        self.held = 0;
        self.held_here = 0;
    }

    /// The read returned the value of write `id`, whose facts are `w` (a
    /// write to the read's key).
    #[inline]
    pub fn element(&mut self, read: &Read, id: u32, w: Facts) {
        match self.mode {
            Mode::Grow => {
                let fresh = self.mark[id as usize] != self.seq;
                self.mark[id as usize] = self.seq;
                if fresh && w.ok_end < read.invoke_time && w.is_ok() {
                    self.held += 1;
                    self.held_here += usize::from(w.node == read.node);
                }
            }
            Mode::Overwrite if !w.is_ok() => self.unbounded = true,
            Mode::Overwrite => {
                if self
                    .newest
                    .is_none_or(|n| self.compact[n as usize].ok_end < w.ok_end)
                {
                    self.newest = Some(id);
                }
            }
        }
    }

    /// The read's values are all in: judge it.
    pub fn end(&mut self, read: &Read) {
        let index = self.index;
        let hist = index.hist;
        let (seq, newest, unbounded) = (self.seq, self.newest, self.unbounded);
        let (held, held_here) = (self.held, self.held_here);
        self.checked += 1;
        let key = read.key as usize;
        let key_node = (read.node != NONE).then(|| key * self.nodes + read.node as usize);
        let (anywhere, here) = match self.mode {
            Mode::Grow => {
                let mark = &self.mark;
                let returned = |id: u32| mark[id as usize] == seq;
                let compact = &self.compact;
                let ok_end = |id: u32| compact[id as usize].ok_end;
                let anywhere =
                    self.keys
                        .oldest_missing(key, read.invoke_time, held, returned, ok_end);
                // The node's writes are among all writes: no miss anywhere,
                // no miss here (most reads stop at one search).
                let here = anywhere.and(key_node).and_then(|g| {
                    self.key_nodes
                        .oldest_missing(g, read.invoke_time, held_here, returned, ok_end)
                });
                (anywhere, here)
            }
            Mode::Overwrite if unbounded => (None, None),
            Mode::Overwrite => {
                let after = newest.map(|n| self.compact[n as usize].ok_end);
                let end = |id: u32| self.compact[id as usize].ok_end;
                let anywhere = self.keys.oldest_newer(key, after, read.invoke_time, end);
                let here = anywhere
                    .and(key_node)
                    .and_then(|g| self.key_nodes.oldest_newer(g, after, read.invoke_time, end));
                (anywhere, here)
            }
        };
        if let Some(id) = anywhere {
            let w = index.write(id);
            self.behind_ns.push(read.invoke_time - w.end_time);
        }
        let Some(id) = here else { return };
        self.same_node += 1;
        let w = index.write(id);
        if self.causal && w.pair.invoke(hist).process == read.pair.invoke(hist).process {
            return; // read-your-writes: the causal checker reports it.
        }
        self.missed
            .entry(id)
            .or_insert(Missed {
                read: read.witness,
                node: read.node,
                returned: newest,
                behind_ns: read.invoke_time - w.end_time,
                reads: 0,
            })
            .reads += 1;
    }

    pub fn finish(self) -> (Vec<Anomaly>, Option<StalenessStats>) {
        let index = self.index;
        let mut anomalies = Vec::with_capacity(self.missed.len());
        for (id, m) in self.missed {
            let w = index.write(id);
            let key = index.key_name(w.key);
            let node = on(index, m.node);
            let mut witnesses = vec![w.witness, m.read];
            let got = match (self.mode, m.returned) {
                (Mode::Grow, _) => "did not return it".to_owned(),
                (Mode::Overwrite, None) => "returned nothing".to_owned(),
                (Mode::Overwrite, Some(r)) => {
                    let r = index.write(r);
                    witnesses.push(r.witness);
                    format!(
                        "returned {}, whose write had completed (op {}) before this one began",
                        index.show(r.value),
                        r.witness
                    )
                }
            };
            witnesses.sort_unstable();
            anomalies.push(Anomaly::new(
                AnomalyKind::StaleRead,
                key,
                witnesses,
                format!(
                    "write of {} to key {key:?} was acknowledged{node} (op {}), yet a read{node} invoked {:.1} ms later (op {}) {got}; {} read(s){node} missed it",
                    index.show(w.value),
                    w.witness,
                    m.behind_ns as f64 / 1e6,
                    m.read,
                    m.reads,
                ),
            ));
        }
        let stats = (self.checked > 0)
            .then(|| StalenessStats::new(self.checked, self.same_node, self.behind_ns));
        (anomalies, stats)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{found, h};
    use crate::{StalenessStats, Workload, check};

    #[test]
    fn a_node_missing_an_add_it_acknowledged_is_a_stale_read() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 2 invoke read cart @n1
            3 2 ok     read cart [] @n1
            4 3 invoke read cart @n1
            5 3 ok     read cart [] @n1
            6 9 invoke final-read cart @n1
            7 9 ok     final-read cart [1] @n1
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), [("stale-read", "cart", vec![1, 3])]);
        assert_eq!(
            result.anomalies[0].explanation,
            "write of 1 to key \"cart\" was acknowledged on n1 (op 1), yet a read on n1 invoked \
             1.0 ms later (op 3) did not return it; 2 read(s) on n1 missed it"
        );
        assert_eq!(
            result.staleness,
            Some(StalenessStats {
                reads: 2,
                stale: 2,
                same_node: 2,
                p50_ms: 3.0,
                p99_ms: 3.0,
                max_ms: 3.0,
            })
        );
    }

    #[test]
    fn a_read_elsewhere_is_stale_in_the_figure_but_no_anomaly() {
        let history = h("
            0 1 invoke append l 1 @n1
            1 1 ok     append l 1 @n1
            2 1 invoke append l 2 @n1
            3 1 ok     append l 2 @n1
            4 2 invoke read l @n2
            5 2 ok     read l [1] @n2
            6 9 invoke final-read l @n1
            7 9 ok     final-read l [1,2] @n1
        ");
        let result = check(&history, Workload::ListAppend);
        assert_eq!(found(&result), []);
        // Missed append 2, acknowledged at 3 ms; the read began at 4 ms.
        let s = result.staleness.unwrap();
        assert_eq!((s.reads, s.stale, s.same_node, s.max_ms), (1, 1, 0, 1.0));
    }

    #[test]
    fn overlapping_info_and_failed_writes_never_make_a_read_stale() {
        let history = h("
            0 1 invoke add cart 1 @n1
            1 2 invoke read cart @n1
            2 1 ok     add cart 1 @n1
            3 2 ok     read cart [] @n1
            4 3 invoke add cart 2 @n1
            5 3 info   add cart 2 @n1
            6 4 invoke add cart 3 @n1
            7 4 fail   add cart 3 @n1
            8 5 invoke read cart @n1
            9 5 ok     read cart [1] @n1
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), []);
        assert_eq!(result.staleness.unwrap().stale, 0);
    }

    #[test]
    fn a_register_read_returning_a_value_overwritten_in_real_time_is_stale() {
        let history = h("
            0 1 invoke write r 1 @n2
            1 1 ok     write r 1 @n2
            2 2 invoke write r 2 @n1
            3 2 ok     write r 2 @n1
            4 3 invoke read r @n1
            5 3 ok     read r [1] @n1
            6 9 invoke final-read r @n1
            7 9 ok     final-read r [2] @n1
            8 9 invoke final-read r @n2
            9 9 ok     final-read r [2] @n2
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), [("stale-read", "r", vec![1, 3, 5])]);
        assert!(
            result.anomalies[0]
                .explanation
                .contains("returned 1, whose write had completed (op 1) before this one began"),
            "{}",
            result.anomalies[0].explanation
        );
    }

    #[test]
    fn a_register_value_concurrent_with_the_write_may_win() {
        let history = h("
            0 1 invoke write r 1 @n2
            1 2 invoke write r 2 @n1
            2 1 ok     write r 1 @n2
            3 2 ok     write r 2 @n1
            4 3 invoke read r @n1
            5 3 ok     read r [1] @n1
            6 3 invoke read r @n1
            7 3 ok     read r [1,2] @n1
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), []);
        assert_eq!(result.staleness.unwrap().stale, 0);
    }

    #[test]
    fn a_register_read_of_nothing_after_an_ack_is_stale() {
        let history = h("
            0 1 invoke write r 1 @n1
            1 1 ok     write r 1 @n1
            2 2 invoke read r @n1
            3 2 ok     read r [] @n1
        ");
        let result = check(&history, Workload::Register);
        assert_eq!(found(&result), [("stale-read", "r", vec![1, 3])]);
        assert!(result.anomalies[0].explanation.contains("returned nothing"));
    }

    #[test]
    fn a_read_with_an_impossible_value_is_not_judged_stale() {
        // The fused pass feeds the stale checker the possible values before
        // it meets the impossible one (9): the read must still be skipped.
        let history = h("
            0 1 invoke add cart 1 @n1
            1 1 ok     add cart 1 @n1
            2 1 invoke add cart 2 @n1
            3 1 ok     add cart 2 @n1
            4 2 invoke read cart @n1
            5 2 ok     read cart [1,9] @n1
        ");
        let result = check(&history, Workload::Set);
        assert_eq!(found(&result), [("impossible-read", "cart", vec![5])]);
        assert_eq!(result.staleness, None);
    }

    #[test]
    fn causal_own_writes_are_left_to_read_your_writes() {
        let history = h("
            0 1 invoke write x 1 @n1
            1 1 ok     write x 1 @n1
            2 1 invoke read x @n1
            3 1 ok     read x [] @n1
        ");
        let result = check(&history, Workload::Causal);
        let kinds: Vec<&str> = result.anomalies.iter().map(|a| a.kind.name()).collect();
        assert_eq!(kinds, ["session-violation"]);
        assert_eq!(result.staleness.unwrap().same_node, 1);
    }
}
