//! Strategy-aware verdicts: the one table deciding whether an anomaly is
//! *inherent* to the configuration under test (the strategy or topology
//! drops or reorders by design) or *unexpected* (a bug).
//!
//! | kind | inherent when | otherwise |
//! |---|---|---|
//! | `lost-update` | strategy `lww`, `unique-id`, `priority` (they drop concurrent writes by design); never under topology `single-leader` or routing `home`; under `lww`, a register write lost to one that completed before it began only while a clock fault was in effect during either write | unexpected (`siblings`, `merge`, `crdt`, unknown) |
//! | `causal-cycle`, `causal-violation`, `session-violation` | causal delivery off (`causal_delivery = Some(false)`) in an `all-to-all` topology (or topology unknown), any strategy | unexpected with causal delivery on, in `ring`/`star`, or `single-leader` |
//! | `duplicate-id` | multi-leader (topology not `single-leader`) without id offsets (`id_offsets = Some(false)`) | unexpected |
//! | `constraint-violation` | multi-leader topologies (topology given and not `single-leader`) | unexpected under `single-leader` or unknown |
//! | `reordered-append` | strategy `lww`, `unique-id`, `priority` (order by timestamp or id, not real time); never under routing `home` | unexpected |
//! | `stale-read` (a node missing a write it acknowledged) | same as `lost-update` (without the clock rule): a concurrent write the strategy prefers replaces it | unexpected |
//! | `divergence`, `impossible-read`, `aborted-read`, `over-count`, `duplicate-element` | never | always unexpected |
//!
//! An unknown strategy (or none given) never makes anything inherent, except
//! where the row names only the topology or causal delivery.
//!
//! What a strategy drops must have been concurrent: under routing `home`
//! every key has one writer (its home leader), so nothing is dropped for a
//! conflict. And last-write-wins orders writes by the wall clock, which the
//! nodes of one run share: a write that began after another completed gets
//! the later timestamp, unless a `clock` fault shifted a node's clock while
//! either was stamped ([`of`], given the run's clock-fault windows).

use crate::anomaly::{Anomaly, AnomalyKind, Expectation};
use crate::workload::Workload;

/// What [`crate::check_with`] knows about the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    pub workload: Workload,
    /// The conflict strategy (`lww`, `siblings`, `merge`, `crdt`,
    /// `unique-id`, `priority`, ...), if known.
    pub strategy: Option<String>,
    /// `all-to-all`, `ring`, `star`, `single-leader`, ..., if known.
    pub topology: Option<String>,
    /// Whether nodes deliver replicated writes in causal order, if known.
    pub causal_delivery: Option<bool>,
    /// Whether nodes hand out ids with per-node offsets (auto-increment
    /// step/offset), if known.
    pub id_offsets: Option<bool>,
    /// How clients routed ops (`random`, `home`, `home-failover`), if known.
    pub routing: Option<String>,
}

impl CheckOptions {
    /// Only the workload: every anomaly is unexpected.
    pub fn new(workload: Workload) -> Self {
        CheckOptions {
            workload,
            strategy: None,
            topology: None,
            causal_delivery: None,
            id_offsets: None,
            routing: None,
        }
    }

    /// One writer per key: the clients sent every op of a key to its home.
    fn one_writer_per_key(&self) -> bool {
        self.routing.as_deref() == Some("home")
    }

    fn single_leader(&self) -> bool {
        self.topology.as_deref() == Some("single-leader")
    }

    /// A text document kept as a whole value (anything but a text CRDT):
    /// concurrent edits replace each other.
    fn text_as_one_value(&self) -> bool {
        self.workload == Workload::Text && self.strategy.as_deref().is_some_and(|s| s != "crdt")
    }

    fn drops_concurrent_writes(&self) -> bool {
        matches!(
            self.strategy.as_deref(),
            Some("lww" | "unique-id" | "priority")
        )
    }
}

/// The table in the module docs.
pub fn expectation(kind: AnomalyKind, opts: &CheckOptions) -> Expectation {
    let inherent = match kind {
        AnomalyKind::LostUpdate | AnomalyKind::ReorderedAppend | AnomalyKind::StaleRead => {
            (opts.drops_concurrent_writes() || opts.text_as_one_value())
                && !opts.single_leader()
                && !opts.one_writer_per_key()
        }
        // Whether concurrent runs interleave is the text CRDT algorithm's
        // own property (Kleppmann et al. 2019): reported, by design.
        AnomalyKind::Interleaving => opts.strategy.as_deref() == Some("crdt"),
        AnomalyKind::CausalCycle | AnomalyKind::CausalViolation | AnomalyKind::SessionViolation => {
            opts.causal_delivery == Some(false)
                && matches!(opts.topology.as_deref(), None | Some("all-to-all"))
        }
        AnomalyKind::DuplicateId => opts.id_offsets == Some(false) && !opts.single_leader(),
        AnomalyKind::ConstraintViolation => opts.topology.is_some() && !opts.single_leader(),
        AnomalyKind::Divergence
        | AnomalyKind::ImpossibleRead
        | AnomalyKind::AbortedRead
        | AnomalyKind::OverCount
        | AnomalyKind::DuplicateElement
        | AnomalyKind::G0
        | AnomalyKind::G1a
        | AnomalyKind::G1b
        | AnomalyKind::G1c
        | AnomalyKind::GSingle
        | AnomalyKind::G2
        | AnomalyKind::IncompatibleOrder
        | AnomalyKind::InternalInconsistency
        | AnomalyKind::RealtimeCycle
        | AnomalyKind::IntentionViolation => false,
    };
    if inherent {
        Expectation::Inherent
    } else {
        Expectation::Unexpected
    }
}

/// [`expectation`] of one anomaly, knowing the run's clock-fault windows
/// (start, end in ns; `u64::MAX` if never stopped): a last-write-wins loss
/// of a write to one that completed before it began (the anomaly's
/// `writes_span`) is inherent only if a clock fault overlapped the span.
pub fn of(anomaly: &Anomaly, opts: &CheckOptions, clock_faults: &[(u64, u64)]) -> Expectation {
    let by_table = expectation(anomaly.kind, opts);
    let lww_loss =
        anomaly.kind == AnomalyKind::LostUpdate && opts.strategy.as_deref() == Some("lww");
    match anomaly.writes_span {
        Some((from, to)) if lww_loss && by_table == Expectation::Inherent => {
            let clock_explains = clock_faults.iter().any(|&(s, e)| s <= to && from <= e);
            if clock_explains {
                Expectation::Inherent
            } else {
                Expectation::Unexpected
            }
        }
        _ => by_table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(strategy: Option<&str>, topology: Option<&str>) -> CheckOptions {
        CheckOptions {
            strategy: strategy.map(str::to_owned),
            topology: topology.map(str::to_owned),
            ..CheckOptions::new(Workload::Register)
        }
    }

    #[test]
    fn lost_updates_are_inherent_only_for_dropping_strategies() {
        use Expectation::*;
        let lost = |s, t| expectation(AnomalyKind::LostUpdate, &opts(s, t));
        assert_eq!(lost(Some("lww"), None), Inherent);
        assert_eq!(lost(Some("unique-id"), Some("ring")), Inherent);
        assert_eq!(lost(Some("priority"), Some("all-to-all")), Inherent);
        assert_eq!(lost(Some("lww"), Some("single-leader")), Unexpected);
        assert_eq!(lost(Some("siblings"), None), Unexpected);
        assert_eq!(lost(Some("crdt"), None), Unexpected);
        assert_eq!(lost(Some("whatever"), None), Unexpected);
        assert_eq!(lost(None, None), Unexpected);
        let stale = |s, t| expectation(AnomalyKind::StaleRead, &opts(s, t));
        assert_eq!(stale(Some("lww"), Some("all-to-all")), Inherent);
        assert_eq!(stale(Some("lww"), Some("single-leader")), Unexpected);
        assert_eq!(stale(Some("siblings"), None), Unexpected);
    }

    #[test]
    fn under_home_routing_nothing_is_lost_for_a_conflict() {
        for strategy in ["lww", "unique-id", "priority", "merge", "siblings", "crdt"] {
            let mut o = opts(Some(strategy), Some("all-to-all"));
            o.routing = Some("home".into());
            for kind in [
                AnomalyKind::LostUpdate,
                AnomalyKind::StaleRead,
                AnomalyKind::ReorderedAppend,
            ] {
                assert_eq!(expectation(kind, &o), Expectation::Unexpected, "{strategy}");
            }
            // Failover moves a key's writes to another node: conflicts again.
            o.routing = Some("home-failover".into());
            let expected = if ["lww", "unique-id", "priority"].contains(&strategy) {
                Expectation::Inherent
            } else {
                Expectation::Unexpected
            };
            assert_eq!(expectation(AnomalyKind::LostUpdate, &o), expected);
        }
    }

    #[test]
    fn an_lww_loss_to_an_older_write_needs_a_clock_fault() {
        let mut lost = Anomaly::new(AnomalyKind::LostUpdate, "r", vec![1, 3, 9], String::new());
        // The older write began at 100 ns, the lost one completed at 400.
        lost.writes_span = Some((100, 400));
        let lww = opts(Some("lww"), Some("all-to-all"));
        assert_eq!(of(&lost, &lww, &[]), Expectation::Unexpected);
        assert_eq!(of(&lost, &lww, &[(500, 900)]), Expectation::Unexpected);
        assert_eq!(of(&lost, &lww, &[(300, 350)]), Expectation::Inherent);
        assert_eq!(of(&lost, &lww, &[(0, u64::MAX)]), Expectation::Inherent);
        // Other strategies do not order by time.
        let unique = opts(Some("unique-id"), Some("all-to-all"));
        assert_eq!(of(&lost, &unique, &[]), Expectation::Inherent);
        // Without a span (a set's lost add) the table decides.
        lost.writes_span = None;
        assert_eq!(of(&lost, &lww, &[]), Expectation::Inherent);
    }

    #[test]
    fn divergence_and_bad_reads_are_always_unexpected() {
        for kind in [
            AnomalyKind::Divergence,
            AnomalyKind::ImpossibleRead,
            AnomalyKind::AbortedRead,
        ] {
            assert_eq!(
                expectation(kind, &opts(Some("lww"), Some("all-to-all"))),
                Expectation::Unexpected
            );
        }
    }

    #[test]
    fn causal_anomalies_depend_on_causal_delivery() {
        let mut o = opts(Some("lww"), Some("all-to-all"));
        o.causal_delivery = Some(false);
        assert_eq!(
            expectation(AnomalyKind::CausalViolation, &o),
            Expectation::Inherent
        );
        o.causal_delivery = Some(true);
        assert_eq!(
            expectation(AnomalyKind::CausalViolation, &o),
            Expectation::Unexpected
        );
        o.causal_delivery = Some(false);
        o.topology = Some("ring".into());
        assert_eq!(
            expectation(AnomalyKind::SessionViolation, &o),
            Expectation::Unexpected
        );
    }

    #[test]
    fn ids_and_constraints_depend_on_topology_and_offsets() {
        let mut o = opts(None, Some("all-to-all"));
        o.id_offsets = Some(false);
        assert_eq!(
            expectation(AnomalyKind::DuplicateId, &o),
            Expectation::Inherent
        );
        o.id_offsets = Some(true);
        assert_eq!(
            expectation(AnomalyKind::DuplicateId, &o),
            Expectation::Unexpected
        );
        assert_eq!(
            expectation(AnomalyKind::ConstraintViolation, &o),
            Expectation::Inherent
        );
        let single = opts(None, Some("single-leader"));
        assert_eq!(
            expectation(AnomalyKind::ConstraintViolation, &single),
            Expectation::Unexpected
        );
    }
}
