//! Every workload by name: the one list a new workload joins.

use super::bundle::Bundle;
use crate::domain::Workload;

/// The bundle of `workload`.
pub fn of(workload: Workload) -> &'static dyn Bundle {
    match workload {
        Workload::Set => &super::set::Set,
        Workload::Register => &super::register::Register,
        Workload::Counter => &super::counter::Counter,
        Workload::ListAppend => &super::list_append::ListAppend,
        Workload::Causal => &super::causal::Causal,
        Workload::UniqueIds => &super::unique_ids::UniqueIds,
        Workload::Constraint => &super::constraint::Constraint,
        Workload::InsertUpdate => &super::insert_update::InsertUpdate,
        Workload::GSet => &super::maelstrom::Maelstrom(Workload::GSet),
        Workload::GCounter => &super::maelstrom::Maelstrom(Workload::GCounter),
        Workload::PnCounter => &super::maelstrom::Maelstrom(Workload::PnCounter),
        Workload::Broadcast => &super::maelstrom::Maelstrom(Workload::Broadcast),
        Workload::LinKv => &super::lin_kv::LinKv,
        Workload::TxnListAppend => &super::txn_list_append::TxnListAppend,
        Workload::Text => &super::text::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_has_its_own_bundle_running_over_some_protocol() {
        for &w in Workload::ALL {
            let bundle = of(w);
            assert_eq!(bundle.workload(), w);
            assert!(!bundle.protocols().is_empty(), "{w} runs over nothing");
        }
    }
}
