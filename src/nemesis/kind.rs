//! The fault kinds `--nemesis` can enable.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Cut links between groups of nodes, in a drawn shape.
    Partition,
    /// SIGKILL one, a minority, a majority or all nodes; restart them later.
    Crash,
    /// SIGSTOP nodes; SIGCONT them later.
    Pause,
    /// Bump or strobe the clock a node's strategy uses; reset later.
    Clock,
    /// Every link delays each message independently, so later ones overtake earlier ones.
    Reorder,
    /// Every link delivers a fraction of messages twice (and loses some replies).
    Duplicate,
    /// One leader cut off for most of the test while its clients keep writing.
    Offline,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::Clock,
        FaultKind::Reorder,
        FaultKind::Duplicate,
        FaultKind::Offline,
    ];

    /// Whether the fault acts on the links between nodes (so a run with it
    /// must route node traffic through them) rather than on the processes.
    /// An exhaustive match: a new fault kind must say which it is.
    pub fn acts_on_links(self) -> bool {
        match self {
            FaultKind::Partition
            | FaultKind::Reorder
            | FaultKind::Duplicate
            | FaultKind::Offline => true,
            FaultKind::Crash | FaultKind::Pause | FaultKind::Clock => false,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Reorder => "reorder",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Offline => "offline",
        }
    }
}

/// The parsed `--nemesis` value: a comma-separated list of kinds, or `all`, or `none`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisSet(pub Vec<FaultKind>);

impl FromStr for NemesisSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut kinds = Vec::new();
        for part in s.split(',').map(str::trim) {
            match part {
                "none" | "" => {}
                "all" => kinds.extend(FaultKind::ALL),
                name => match FaultKind::ALL.iter().find(|k| k.name() == name) {
                    Some(kind) => kinds.push(*kind),
                    None => {
                        let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                        return Err(format!(
                            "unknown fault {name:?}; expected a comma-separated list of {}, or all, or none",
                            known.join(", ")
                        ));
                    }
                },
            }
        }
        kinds.sort();
        kinds.dedup();
        Ok(NemesisSet(kinds))
    }
}

impl NemesisSet {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, kind: FaultKind) -> bool {
        self.0.contains(&kind)
    }

    /// The canonical spelling, as `--nemesis` takes it.
    pub fn spelling(&self) -> String {
        if self.0.is_empty() {
            "none".into()
        } else {
            self.0
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_all_and_none() {
        assert!("none".parse::<NemesisSet>().unwrap().is_empty());
        assert_eq!("all".parse::<NemesisSet>().unwrap().0.len(), 7);
        let set: NemesisSet = "crash,partition,crash".parse().unwrap();
        assert_eq!(set.0, vec![FaultKind::Partition, FaultKind::Crash]);
        assert_eq!(set.spelling(), "partition,crash");
        let err = "partition,flood".parse::<NemesisSet>().unwrap_err();
        assert!(err.contains("\"flood\""), "{err}");
    }
}
