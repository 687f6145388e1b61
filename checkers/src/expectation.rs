//! Strategy-aware verdicts: the one table deciding whether an anomaly is
//! *inherent* to the configuration under test (the strategy or topology
//! drops or reorders by design) or *unexpected* (a bug).
//!
//! | kind | inherent when | otherwise |
//! |---|---|---|
//! | `lost-update` | strategy `lww`, `unique-id`, `priority` (they drop concurrent writes by design); never under topology `single-leader` | unexpected (`siblings`, `merge`, `crdt`, unknown) |
//! | `causal-cycle`, `causal-violation`, `session-violation` | causal delivery off (`causal_delivery = Some(false)`) in an `all-to-all` topology (or topology unknown), any strategy | unexpected with causal delivery on, in `ring`/`star`, or `single-leader` |
//! | `duplicate-id` | multi-leader (topology not `single-leader`) without id offsets (`id_offsets = Some(false)`) | unexpected |
//! | `constraint-violation` | multi-leader topologies (topology given and not `single-leader`) | unexpected under `single-leader` or unknown |
//! | `reordered-append` | strategy `lww`, `unique-id`, `priority` (order by timestamp or id, not real time) | unexpected |
//! | `stale-read` (a node missing a write it acknowledged) | same as `lost-update`: a concurrent write the strategy prefers replaces it | unexpected |
//! | `divergence`, `impossible-read`, `aborted-read`, `over-count`, `duplicate-element` | never | always unexpected |
//!
//! An unknown strategy (or none given) never makes anything inherent, except
//! where the row names only the topology or causal delivery.

use crate::anomaly::{AnomalyKind, Expectation};
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
        }
    }

    fn single_leader(&self) -> bool {
        self.topology.as_deref() == Some("single-leader")
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
            opts.drops_concurrent_writes() && !opts.single_leader()
        }
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
        | AnomalyKind::DuplicateElement => false,
    };
    if inherent {
        Expectation::Inherent
    } else {
        Expectation::Unexpected
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
