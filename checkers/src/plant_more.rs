//! Planters for the kinds of the newer workloads (see [`crate::plant`]).

use crate::anomaly::AnomalyKind;
use crate::plant::Planter;

pub(crate) fn plant(_p: &mut Planter, _kind: AnomalyKind) {}
