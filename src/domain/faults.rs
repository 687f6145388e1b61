//! The fault kinds `--nemesis` can enable, what each needs of the system
//! under test, and the parsed `--nemesis` set.

use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Named, named};

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
    /// Every link delivers a fraction of messages twice (and loses some).
    Duplicate,
    /// One leader cut off for most of the test while its clients keep writing.
    Offline,
    /// Cut nodes off from every peer from inside the database (Galera's
    /// `gmcast.isolate`); undo later.
    Isolate,
}

named!(FaultKind {
    Partition => ("partition", "Cut links between groups of nodes, in a drawn shape"),
    Crash => ("crash", "SIGKILL nodes, restart them from their data later"),
    Pause => ("pause", "SIGSTOP nodes, SIGCONT them later"),
    Clock => ("clock", "Shift or strobe the clock a node's strategy uses"),
    Reorder => ("reorder", "Every link delays each message independently"),
    Duplicate => ("duplicate", "Every link delivers some messages twice and loses some"),
    Offline => ("offline", "One leader cut off for most of the test while its clients write"),
    Isolate => ("isolate", "Nodes cut themselves off from every peer (Galera's gmcast.isolate), rejoin later"),
});

/// What a system under test must offer for a fault to be injected into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Node processes that can be killed, restarted, stopped and continued.
    Processes,
    /// Node-to-node connections the controller can cut and heal.
    Links,
    /// Node-to-node messages the controller handles one by one (delay,
    /// duplicate, lose each).
    Messages,
    /// A clock the node's conflict resolution reads, that can be shifted.
    Clock,
    /// Nodes that cut themselves off from every peer on request.
    Isolation,
}

impl FaultKind {
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::Clock,
        FaultKind::Reorder,
        FaultKind::Duplicate,
        FaultKind::Offline,
        FaultKind::Isolate,
    ];

    /// What the system must offer to suffer this fault. An exhaustive
    /// match: a new fault kind must say.
    pub fn needs(self) -> Capability {
        match self {
            FaultKind::Partition | FaultKind::Offline => Capability::Links,
            FaultKind::Reorder | FaultKind::Duplicate => Capability::Messages,
            FaultKind::Crash | FaultKind::Pause => Capability::Processes,
            FaultKind::Clock => Capability::Clock,
            FaultKind::Isolate => Capability::Isolation,
        }
    }

    /// Whether the fault acts on the traffic between nodes (so a run with
    /// it must route that traffic through links) rather than on processes.
    pub fn acts_on_links(self) -> bool {
        matches!(self.needs(), Capability::Links | Capability::Messages)
    }
}

/// The parsed `--nemesis` value: a comma-separated list of kinds, `all`
/// (every kind the system under test supports, resolved by the config) or
/// `none`. Spelled, and stored in `test.json`, as the flag takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NemesisSet {
    kinds: Vec<FaultKind>,
    /// `all`: every kind the system supports, not yet narrowed to them.
    every_supported: bool,
}

impl FromStr for NemesisSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "{s:?} has an empty fault name; expected a comma-separated list of {}, or all, or none",
                FaultKind::spellings()
            ));
        }
        if parts.len() > 1 && parts.contains(&"none") {
            return Err(format!("{s:?}: none cannot be combined with faults"));
        }
        let mut set = NemesisSet::default();
        for part in parts {
            match part {
                "none" => {}
                "all" => set.every_supported = true,
                name => match FaultKind::from_name(name) {
                    Some(kind) => set.kinds.push(kind),
                    None => {
                        return Err(format!(
                            "unknown fault {name:?}; expected a comma-separated list of {}, or all, or none",
                            FaultKind::spellings()
                        ));
                    }
                },
            }
        }
        if set.every_supported {
            set.kinds = FaultKind::ALL.to_vec();
        }
        set.kinds.sort();
        set.kinds.dedup();
        Ok(set)
    }
}

impl NemesisSet {
    /// A set of exactly these kinds.
    pub fn of(kinds: &[FaultKind]) -> Self {
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        NemesisSet {
            kinds,
            every_supported: false,
        }
    }

    pub fn kinds(&self) -> &[FaultKind] {
        &self.kinds
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn contains(&self, kind: FaultKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Narrowed to what a system `supports`: `all` becomes every supported
    /// kind; a named kind the system lacks is the `Err`.
    pub fn resolve(&self, supports: &[FaultKind]) -> Result<NemesisSet, FaultKind> {
        if self.every_supported {
            let kinds: Vec<FaultKind> = self
                .kinds
                .iter()
                .copied()
                .filter(|k| supports.contains(k))
                .collect();
            return Ok(NemesisSet::of(&kinds));
        }
        match self.kinds.iter().find(|k| !supports.contains(k)) {
            Some(&missing) => Err(missing),
            None => Ok(self.clone()),
        }
    }

    /// The canonical spelling, as `--nemesis` takes it.
    pub fn spelling(&self) -> String {
        if self.every_supported {
            "all".into()
        } else if self.kinds.is_empty() {
            "none".into()
        } else {
            self.kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

impl Serialize for NemesisSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.spelling())
    }
}

impl<'de> Deserialize<'de> for NemesisSet {
    /// The spelling, or (as older `test.json` files store it) an array of kinds.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Spelled(String),
            Kinds(Vec<FaultKind>),
        }
        match Stored::deserialize(d)? {
            Stored::Spelled(s) => s.parse().map_err(serde::de::Error::custom),
            Stored::Kinds(kinds) => Ok(NemesisSet::of(&kinds)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_all_and_none() {
        assert!("none".parse::<NemesisSet>().unwrap().is_empty());
        assert_eq!("all".parse::<NemesisSet>().unwrap().kinds().len(), 7);
        let set: NemesisSet = "crash,partition,crash".parse().unwrap();
        assert_eq!(set.kinds(), [FaultKind::Partition, FaultKind::Crash]);
        assert_eq!(set.spelling(), "partition,crash");
        let err = "partition,flood".parse::<NemesisSet>().unwrap_err();
        assert!(err.contains("\"flood\""), "{err}");
    }

    #[test]
    fn empty_names_and_none_among_faults_are_refused() {
        for bad in ["", " ", "partition,", "all,none", "none,crash"] {
            assert!(bad.parse::<NemesisSet>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn all_narrows_to_what_the_system_supports_and_named_kinds_must_be_supported() {
        let supports = [FaultKind::Partition, FaultKind::Crash, FaultKind::Pause];
        let all: NemesisSet = "all".parse().unwrap();
        assert_eq!(all.spelling(), "all");
        assert_eq!(all.resolve(&supports).unwrap().kinds(), supports);
        let clock: NemesisSet = "crash,clock".parse().unwrap();
        assert_eq!(clock.resolve(&supports), Err(FaultKind::Clock));
    }

    #[test]
    fn stored_as_its_spelling_and_read_from_older_arrays() {
        let set: NemesisSet = "pause,partition".parse().unwrap();
        assert_eq!(serde_json::to_value(&set).unwrap(), "partition,pause");
        let old: NemesisSet = serde_json::from_str(r#"["crash","partition"]"#).unwrap();
        assert_eq!(old.kinds(), [FaultKind::Partition, FaultKind::Crash]);
        let none: NemesisSet = serde_json::from_str(r#""none""#).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn link_faults_are_those_that_need_links_or_messages() {
        let on_links: Vec<FaultKind> = FaultKind::ALL
            .into_iter()
            .filter(|k| k.acts_on_links())
            .collect();
        assert_eq!(
            on_links,
            [
                FaultKind::Partition,
                FaultKind::Reorder,
                FaultKind::Duplicate,
                FaultKind::Offline
            ]
        );
    }
}
