//! What `--strategy` (and compare's `--strategies`) names: one of the
//! reference nodes' conflict strategies, or one of pglogical's conflict
//! resolutions. One flag for both, because a user choosing how conflicts
//! converge should not have to know which system spells it which way;
//! `lww` names both (the later write wins), and the system under test
//! decides which family applies (`crate::config`).

use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Named, Resolution, Strategy};

/// A conflict strategy as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyChoice {
    /// A strategy of diverge's nodes (`lww` is always this one).
    Nodes(Strategy),
    /// A pglogical resolution with no node strategy of the same name.
    Pglogical(Resolution),
}

impl StrategyChoice {
    /// The nodes' strategy it names, if it names one.
    pub fn for_nodes(self) -> Option<Strategy> {
        match self {
            StrategyChoice::Nodes(s) => Some(s),
            StrategyChoice::Pglogical(_) => None,
        }
    }

    /// The pglogical resolution it names, if it names one (`lww` is
    /// `last_update_wins`).
    pub fn for_pglogical(self) -> Option<Resolution> {
        match self {
            StrategyChoice::Nodes(Strategy::Lww) => Some(Resolution::Lww),
            StrategyChoice::Nodes(_) => None,
            StrategyChoice::Pglogical(r) => Some(r),
        }
    }

    /// The spellings the nodes take, comma-separated.
    pub fn node_spellings() -> String {
        <Strategy as Named>::spellings()
    }

    /// The spellings pglogical takes, comma-separated.
    pub fn pglogical_spellings() -> String {
        Resolution::spellings()
    }
}

impl From<Resolution> for StrategyChoice {
    fn from(resolution: Resolution) -> Self {
        match resolution {
            Resolution::Lww => StrategyChoice::Nodes(Strategy::Lww),
            other => StrategyChoice::Pglogical(other),
        }
    }
}

impl Named for StrategyChoice {
    fn all() -> &'static [Self] {
        static ALL: OnceLock<Vec<StrategyChoice>> = OnceLock::new();
        ALL.get_or_init(|| {
            let nodes = <Strategy as Named>::all()
                .iter()
                .map(|&s| StrategyChoice::Nodes(s));
            let pglogical = Resolution::all()
                .iter()
                .filter(|&&r| r != Resolution::Lww)
                .map(|&r| StrategyChoice::Pglogical(r));
            nodes.chain(pglogical).collect()
        })
    }

    fn name(self) -> &'static str {
        match self {
            StrategyChoice::Nodes(s) => Named::name(s),
            StrategyChoice::Pglogical(r) => r.name(),
        }
    }

    fn about(self) -> &'static str {
        match self {
            StrategyChoice::Nodes(Strategy::Lww) => {
                "the later write wins (the nodes' lww; --db pglogical: last_update_wins)"
            }
            StrategyChoice::Nodes(s) => Named::about(s),
            StrategyChoice::Pglogical(r) => r.about(),
        }
    }
}

impl Serialize for StrategyChoice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for StrategyChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        StrategyChoice::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown strategy {name:?}; known: {}",
                StrategyChoice::spellings()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lww_names_both_families_and_the_others_one_each() {
        let lww = StrategyChoice::from_name("lww").unwrap();
        assert_eq!(lww.for_nodes(), Some(Strategy::Lww));
        assert_eq!(lww.for_pglogical(), Some(Resolution::Lww));
        let keep = StrategyChoice::from_name("keep-local").unwrap();
        assert_eq!(
            (keep.for_nodes(), keep.for_pglogical()),
            (None, Some(Resolution::KeepLocal))
        );
        let merge = StrategyChoice::from_name("merge").unwrap();
        assert_eq!(
            (merge.for_nodes(), merge.for_pglogical()),
            (Some(Strategy::Merge), None)
        );
    }

    #[test]
    fn every_resolution_and_strategy_is_spelled_once() {
        let names: Vec<&str> = StrategyChoice::all().iter().map(|c| c.name()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for r in Resolution::all() {
            assert_eq!(StrategyChoice::from(*r).for_pglogical(), Some(*r));
        }
    }
}
