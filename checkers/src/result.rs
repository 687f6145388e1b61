//! The checkers' verdict as data: [`CheckResult`] is what the controller
//! writes as `results.json` and what every report format renders.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::anomaly::{Anomaly, AnomalyKind, Expectation};
use crate::history::{Op, OpType};
use crate::model::{Hist, fid};

/// The whole outcome of checking one history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub valid: Validity,
    /// Every [`AnomalyKind`] by name, present even at 0, so consumers never
    /// have to tell "none found" from "not checked".
    pub anomaly_counts: BTreeMap<String, usize>,
    /// Unexpected ones first, then by kind, key, witnesses.
    pub anomalies: Vec<Anomaly>,
    pub stats: Stats,
    /// Why the verdict cannot be `Valid` even without anomalies.
    pub inconclusive: Vec<String>,
    /// Like `anomaly_counts`, counting only the `unexpected` anomalies.
    #[serde(default)]
    pub unexpected_counts: BTreeMap<String, usize>,
    /// Replication lag observed by reads, if any write was seen elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<LagStats>,
    /// ok / fail / info per node (client ops, final reads excluded).
    #[serde(default)]
    pub availability: BTreeMap<String, OutcomeCounts>,
    /// Acknowledged writes some node's final read holds and another's lacks
    /// (set and list-append workloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_replicated: Option<NeverReplicated>,
    /// Replication lag over time, binned by the write's ack time (the
    /// report's lag chart); empty when no value was seen on another node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lag_over_time: Vec<LagBin>,
    /// Reads that missed a write acknowledged (anywhere) before they began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staleness: Option<StalenessStats>,
    /// Availability per fault window, `none` (no fault) first; empty when
    /// the history has no fault windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_windows: Vec<WindowAvailability>,
    /// Anomalies counted in `anomaly_counts` but not listed in `anomalies`,
    /// by kind: beyond [`KEPT_PER_KIND_AND_KEY`] of one kind on one key
    /// (`diverge check --all-anomalies FILE` writes every one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub anomalies_omitted: BTreeMap<String, usize>,
    /// Transactions: the isolation levels the anomalies found rule out
    /// ([`crate::txn::ruled_out`], weakest first); empty for other
    /// workloads, and when none is ruled out (which proves none holds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ruled_out: Vec<String>,
}

/// How many anomalies of one kind on one key `anomalies` lists: enough to
/// show the problem; a history with millions of them stays a small file.
pub const KEPT_PER_KIND_AND_KEY: usize = 100;

/// One time bin of the replication lag: the values acknowledged in it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LagBin {
    /// Start of the bin, seconds since the test started.
    pub start_s: f64,
    pub width_s: f64,
    /// Values acknowledged in the bin and later seen on another node.
    pub values: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Acknowledged writes that reached some nodes and never the others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeverReplicated {
    /// Writes present in some final reads of their key and absent from others.
    pub count: u64,
    /// Acknowledged writes to keys with final reads (the denominator).
    pub acknowledged: u64,
}

/// Stale reads (see [`crate::stale`]): non-final `ok` reads that missed an
/// `ok` write completed before they were invoked, and by how much.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StalenessStats {
    /// Non-final `ok` reads checked.
    pub reads: u64,
    /// Reads that missed a write acknowledged by any node.
    pub stale: u64,
    /// Reads that missed a write acknowledged by their own node (the
    /// `stale-read` anomaly).
    pub same_node: u64,
    /// How far behind the stale reads were: from the oldest missed write's
    /// acknowledgement to the read's invocation (0 when none was stale).
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl StalenessStats {
    pub fn new(reads: u64, same_node: u64, mut behind_ns: Vec<u64>) -> Self {
        behind_ns.sort_unstable();
        let at = |q: f64| {
            behind_ns
                .get(((behind_ns.len().max(1) - 1) as f64 * q).round() as usize)
                .map_or(0.0, |&ns| ns as f64 / 1e6)
        };
        StalenessStats {
            reads,
            stale: behind_ns.len() as u64,
            same_node,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// ok / fail / info of the client ops invoked while one fault was in
/// effect (a nemesis `start-X` ... `stop-X`), in total and per node. The
/// fault `none` collects the ops invoked while no fault was in effect.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowAvailability {
    pub fault: String,
    /// Seconds since the history's time origin; `none` has 0.
    pub start_s: f64,
    /// `None` if the fault was still in effect when the history ends (and
    /// for `none`).
    pub end_s: Option<f64>,
    pub total: OutcomeCounts,
    pub nodes: BTreeMap<String, OutcomeCounts>,
}

/// Replication lag: for each written value, the time from its write's `ok`
/// completion to the completion of the first `ok` read on another node that
/// returned it (0 if that read completed first).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LagStats {
    /// Values observed on another node.
    pub observed: u64,
    /// Acknowledged values never returned by a read on another node.
    pub never_observed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Outcomes of client ops on one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl CheckResult {
    /// Sorts the anomalies, counts them and derives the verdict: any
    /// inconclusive reason makes it unknown, anomalies or not (an incomplete
    /// history cannot vouch for what it shows: a missing final read may hold
    /// the "lost" write, an ignored completion may have written the
    /// "impossible" value); otherwise any anomaly makes it invalid.
    pub fn new(mut anomalies: Vec<Anomaly>, stats: Stats, inconclusive: Vec<String>) -> Self {
        anomalies.sort_by(|a, b| {
            (a.expectation, a.kind, &a.key, &a.witnesses).cmp(&(
                b.expectation,
                b.kind,
                &b.key,
                &b.witnesses,
            ))
        });
        let mut anomaly_counts: BTreeMap<String, usize> = AnomalyKind::all()
            .iter()
            .map(|kind| (kind.name().to_owned(), 0))
            .collect();
        let mut unexpected_counts = anomaly_counts.clone();
        for anomaly in &anomalies {
            *anomaly_counts
                .entry(anomaly.kind.name().to_owned())
                .or_default() += 1;
            if anomaly.expectation == Expectation::Unexpected {
                *unexpected_counts
                    .entry(anomaly.kind.name().to_owned())
                    .or_default() += 1;
            }
        }
        let valid = if !inconclusive.is_empty() {
            Validity::Unknown
        } else if !anomalies.is_empty() {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        CheckResult {
            valid,
            anomaly_counts,
            anomalies,
            stats,
            inconclusive,
            unexpected_counts,
            lag: None,
            availability: BTreeMap::new(),
            never_replicated: None,
            lag_over_time: Vec::new(),
            staleness: None,
            availability_windows: Vec::new(),
            anomalies_omitted: BTreeMap::new(),
            ruled_out: Vec::new(),
        }
    }

    /// Counts `count` anomalies of `kind` that were never built (a checker
    /// left them out, see `anomalies_omitted`): like listed ones, they
    /// make a conclusive history invalid.
    pub fn count_omitted(&mut self, kind: AnomalyKind, count: usize, expectation: Expectation) {
        if count == 0 {
            return;
        }
        let name = kind.name().to_owned();
        *self.anomaly_counts.entry(name.clone()).or_default() += count;
        if expectation == Expectation::Unexpected {
            *self.unexpected_counts.entry(name.clone()).or_default() += count;
        }
        *self.anomalies_omitted.entry(name).or_default() += count;
        if self.valid == Validity::Valid {
            self.valid = Validity::Invalid;
        }
    }

    /// Keeps the first `per` anomalies (in their sorted order) of each kind
    /// and key in `anomalies`; the others stay counted, move to
    /// `anomalies_omitted`, and are dropped.
    pub fn bound_anomalies(&mut self, per: usize) {
        let mut listed: std::collections::HashMap<(AnomalyKind, Option<String>), usize> =
            std::collections::HashMap::new();
        let omitted = &mut self.anomalies_omitted;
        self.anomalies.retain(|a| {
            let n = listed.entry((a.kind, a.key.clone())).or_default();
            *n += 1;
            if *n > per {
                *omitted.entry(a.kind.name().to_owned()).or_default() += 1;
            }
            *n <= per
        });
        self.anomalies.shrink_to_fit();
    }
}

/// Valid / invalid / could not tell. Serialized the way Jepsen does:
/// `true`, `false`, or `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Invalid,
    Unknown,
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(Validity::Valid),
            Raw::Bool(false) => Ok(Validity::Invalid),
            Raw::Name(s) if s == "unknown" => Ok(Validity::Unknown),
            Raw::Name(s) => Err(serde::de::Error::custom(format!(
                "valid must be true, false or \"unknown\", got {s:?}"
            ))),
        }
    }
}

/// Counts describing the run the history came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Completed client ops (ok + fail + info lines), excluding final reads
    /// and nemesis ops.
    pub ops: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// `ops` divided by the span from the first to the last of those client
    /// ops (invokes included); final reads are excluded so the quiesce wait
    /// does not dilute the rate. 0 when the span is empty.
    pub ops_per_s: f64,
    /// Final reads that completed `ok` (the ones the checkers could use).
    pub final_reads: u64,
}

impl Stats {
    /// One pass over the history.
    pub fn of(history: &[Op]) -> Stats {
        Stats::of_hist(&Hist::from_ops(history))
    }

    /// One pass over a compact history.
    pub fn of_hist(hist: &Hist) -> Stats {
        let mut stats = Stats::default();
        let mut span: Option<(u64, u64)> = None;
        for op in hist.ops.iter().filter(|op| op.is_client()) {
            if op.f == fid::FINAL_READ {
                stats.final_reads += u64::from(op.kind == OpType::Ok);
                continue;
            }
            span = Some(span.map_or((op.time, op.time), |(lo, hi)| {
                (lo.min(op.time), hi.max(op.time))
            }));
            match op.kind {
                OpType::Invoke => continue,
                OpType::Ok => stats.ok += 1,
                OpType::Fail => stats.fail += 1,
                OpType::Info => stats.info += 1,
            }
            stats.ops += 1;
        }
        if let Some((first, last)) = span
            && last > first
        {
            stats.ops_per_s = stats.ops as f64 / ((last - first) as f64 / 1e9);
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomalies_beyond_the_bound_per_kind_and_key_are_counted_not_listed() {
        let read = |key: &str, op: u64| {
            Anomaly::new(
                AnomalyKind::ImpossibleRead,
                key,
                vec![op],
                format!("op {op}"),
            )
        };
        let mut anomalies: Vec<Anomaly> = (0..5).map(|op| read("a", op)).collect();
        anomalies.extend((10..12).map(|op| read("b", op)));
        anomalies.push(Anomaly::new(
            AnomalyKind::LostUpdate,
            "a",
            vec![20],
            String::new(),
        ));
        let mut result = CheckResult::new(anomalies, Stats::default(), vec![]);
        result.bound_anomalies(2);
        let listed: Vec<(&str, u64)> = result
            .anomalies
            .iter()
            .map(|a| (a.kind.name(), a.witnesses[0]))
            .collect();
        assert_eq!(
            listed,
            [
                ("lost-update", 20),
                ("impossible-read", 0),
                ("impossible-read", 1),
                ("impossible-read", 10),
                ("impossible-read", 11),
            ]
        );
        assert_eq!(result.anomaly_counts["impossible-read"], 7);
        assert_eq!(
            result.anomalies_omitted,
            BTreeMap::from([("impossible-read".to_owned(), 3)])
        );
        assert_eq!(result.valid, Validity::Invalid);
    }
}
