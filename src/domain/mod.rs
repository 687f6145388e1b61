//! The validated names of diverge's domain: which workload, strategy,
//! topology, routing, system under test and faults a test uses. They sit at
//! the bottom of the house: the command line parses into them, the config
//! holds them, and every module below the controller reads them; none of
//! them knows about flags.
//!
//! - [`Named`]: the one way an enum is named, parsed and listed (command
//!   line, `test.json`, reports and scenario files all spell a value the
//!   same way).
//! - [`names`]: the enums of the run itself (topology, routing, ...).
//! - [`faults`]: the fault kinds and the `--nemesis` set.
//! - [`StrategyChoice`]: what `--strategy` names, a node strategy or a
//!   pglogical resolution.
//!
//! The workload and the strategy are the checkers' and the replica core's
//! own types ([`Workload`], [`Strategy`]), named here too: one enum each in
//! the whole workspace.

mod faults;
mod names;
mod strategy_choice;

pub use diverge_checkers::Workload;
pub use diverge_replica::StrategyKind as Strategy;
pub use faults::{Capability, FaultKind, NemesisSet};
pub use names::{
    FsyncMode, IdOffset, LinkMode, NodeProtocol, OnOff, Resolution, RoutingMode, SystemName,
    Topology,
};
pub use strategy_choice::StrategyChoice;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

/// A closed set of values with one spelling each (kebab-case, the same as
/// their serde form) and a line of help.
pub trait Named: Copy + Send + Sync + 'static {
    /// Every value, in the order help lists them.
    fn all() -> &'static [Self];
    /// How the value is spelled everywhere.
    fn name(self) -> &'static str;
    /// One line for `--help`.
    fn about(self) -> &'static str;

    /// The value spelled `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.name() == name)
    }

    /// Every spelling, comma-separated (for error messages).
    fn spellings() -> String {
        Self::all()
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A clap value parser for a [`Named`] enum: its spellings are the
/// possible values, each with its help line.
pub fn parser<T: Named>() -> impl TypedValueParser<Value = T> {
    let values = T::all()
        .iter()
        .map(|v| PossibleValue::new(v.name()).help(v.about()));
    PossibleValuesParser::new(values)
        .map(|s| T::from_name(&s).expect("clap accepted only listed spellings"))
}

impl Named for Workload {
    fn all() -> &'static [Self] {
        Workload::ALL
    }
    fn name(self) -> &'static str {
        Workload::name(self)
    }
    fn about(self) -> &'static str {
        Workload::about(self)
    }
}

impl Named for Strategy {
    fn all() -> &'static [Self] {
        &Strategy::ALL
    }
    fn name(self) -> &'static str {
        Strategy::name(self)
    }
    fn about(self) -> &'static str {
        Strategy::about(self)
    }
}

/// Implements [`Named`] for an enum of this crate from one table of
/// `Variant => ("spelling", "help")`.
macro_rules! named {
    ($ty:ty { $($variant:ident => ($name:literal, $about:literal)),+ $(,)? }) => {
        impl $crate::domain::Named for $ty {
            fn all() -> &'static [Self] {
                &[$(<$ty>::$variant),+]
            }
            fn name(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),+ }
            }
            fn about(self) -> &'static str {
                match self { $(<$ty>::$variant => $about),+ }
            }
        }
    };
}
pub(crate) use named;

#[cfg(test)]
mod tests {
    use super::*;

    /// A value's name is its serde form and parses back, for every enum.
    fn spelled_consistently<T>()
    where
        T: Named + serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        for &v in T::all() {
            assert_eq!(serde_json::to_value(v).unwrap(), v.name(), "{v:?}");
            assert_eq!(T::from_name(v.name()), Some(v));
            let back: T = serde_json::from_value(v.name().into()).unwrap();
            assert_eq!(back, v);
            assert!(!v.about().is_empty(), "{v:?} has no help");
        }
    }

    #[test]
    fn every_domain_enum_is_spelled_the_same_everywhere() {
        spelled_consistently::<Workload>();
        spelled_consistently::<Strategy>();
        spelled_consistently::<StrategyChoice>();
        spelled_consistently::<Topology>();
        spelled_consistently::<RoutingMode>();
        spelled_consistently::<FsyncMode>();
        spelled_consistently::<LinkMode>();
        spelled_consistently::<OnOff>();
        spelled_consistently::<SystemName>();
        spelled_consistently::<NodeProtocol>();
        spelled_consistently::<FaultKind>();
    }

    #[test]
    fn the_parser_lists_and_maps_every_spelling() {
        let parser = parser::<Topology>();
        let values: Vec<String> = parser
            .possible_values()
            .unwrap()
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(
            values,
            ["all-to-all", "ring", "star", "tree", "single-leader"]
        );
    }
}
