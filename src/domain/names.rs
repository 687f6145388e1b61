//! The enums a run is configured with, each named once ([`super::Named`]).

use serde::{Deserialize, Serialize};

use super::named;

/// Which peers each leader sends its changes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    #[default]
    AllToAll,
    Ring,
    Star,
    Tree,
    SingleLeader,
}

named!(Topology {
    AllToAll => ("all-to-all", "Every leader sends its own writes to every other leader"),
    Ring => ("ring", "n_i sends to n_(i+1) (circular), forwarding what it applies"),
    Star => ("star", "The root (--root) sends to everyone and relays; the others send to the root"),
    Tree => ("tree", "A --fanout-ary tree rooted at n1; each node sends to parent and children and relays"),
    SingleLeader => ("single-leader", "n1 accepts every write and sends it to the others, which refuse writes (421)"),
});

/// How the clients route ops (`--routing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoutingMode {
    #[default]
    Random,
    Home,
    HomeFailover,
}

named!(RoutingMode {
    Random => ("random", "Every op goes to a node drawn at random"),
    Home => ("home", "Every key has one home leader that takes all its ops (conflict avoidance)"),
    HomeFailover => ("home-failover", "As home, but while a key's home is faulted its ops go to the next live node, and back when it recovers"),
});

/// Whether nodes make their log durable before acknowledging (`--fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsyncMode {
    #[default]
    Always,
    Never,
}

named!(FsyncMode {
    Always => ("always", "fsync the log before acknowledging (concurrent writes share one fsync)"),
    Never => ("never", "Acknowledge at once, write the log every few ms: a crash loses acknowledged writes"),
});

/// Whether node-to-node traffic passes through the controller's links (`--links`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkMode {
    /// Only when the run needs them: a network fault or latency between
    /// datacenters. Otherwise nodes peer directly, so the harness adds no
    /// hop to what it measures.
    #[default]
    Auto,
    /// Always, so every message is counted even when no fault touches it.
    On,
}

named!(LinkMode {
    Auto => ("auto", "Only when a network fault or datacenter latency needs them"),
    On => ("on", "Always, so every message is counted"),
});

/// A switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnOff {
    On,
    #[default]
    Off,
}

named!(OnOff {
    On => ("on", "Enabled"),
    Off => ("off", "Disabled"),
});

impl OnOff {
    pub fn is_on(self) -> bool {
        self == OnOff::On
    }
}

/// The kind of system under test (`--db`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SystemName {
    #[default]
    Reference,
    Mariadb,
    /// `--node-cmd` nodes speaking Maelstrom's protocol (`--protocol maelstrom`).
    Maelstrom,
    Pglogical,
    Postgres,
    /// MariaDB Galera: synchronous multi-master (certification).
    Galera,
}

named!(SystemName {
    Reference => ("reference", "diverge's reference nodes, or the nodes --node-cmd starts"),
    Mariadb => ("mariadb", "Local MariaDB instances (mariadbd) replicating to each other"),
    Maelstrom => ("maelstrom", "Nodes written for Jepsen's Maelstrom, started by --node-cmd (same as --protocol maelstrom)"),
    Pglogical => ("pglogical", "Local PostgreSQL 15 instances replicating to each other with pglogical 2"),
    Postgres => ("postgres", "Local PostgreSQL >= 16 instances replicating natively to each other (origin = none)"),
    Galera => ("galera", "Local MariaDB Galera nodes: synchronous multi-master, every commit certified cluster-wide"),
});

/// What `--node-cmd` nodes speak (`--protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeProtocol {
    /// diverge's node protocol over HTTP (docs/node-protocol.md).
    #[default]
    Http,
    /// Maelstrom's: JSON lines on stdin and stdout (docs/maelstrom.md).
    Maelstrom,
}

named!(NodeProtocol {
    Http => ("http", "diverge's node protocol over HTTP (docs/node-protocol.md)"),
    Maelstrom => ("maelstrom", "Maelstrom's JSON messages on stdin/stdout (docs/maelstrom.md)"),
});

/// pglogical's `pglogical.conflict_resolution` (`--strategy` with `--db pglogical`): what an
/// apply worker does with a remote change to a row another origin wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// `last_update_wins`: the newer commit timestamp wins.
    Lww,
    /// `first_update_wins`: the older commit timestamp wins.
    FirstWins,
    /// `keep_local`: the local row stays.
    KeepLocal,
    /// `apply_remote` (pglogical's default): the remote change is applied.
    #[default]
    ApplyRemote,
    /// `error`: the apply worker stops on the conflict.
    Error,
}

named!(Resolution {
    Lww => ("lww", "last_update_wins: the later commit timestamp wins"),
    FirstWins => ("first-wins", "first_update_wins: the earlier commit timestamp wins"),
    KeepLocal => ("keep-local", "keep_local: the local row stays, the remote change is dropped"),
    ApplyRemote => ("apply-remote", "apply_remote (pglogical's default): the remote change is applied"),
    Error => ("error", "error: the apply worker stops on the conflict"),
});

impl Resolution {
    /// The value of `pglogical.conflict_resolution` it selects.
    pub fn setting(self) -> &'static str {
        match self {
            Resolution::Lww => "last_update_wins",
            Resolution::FirstWins => "first_update_wins",
            Resolution::KeepLocal => "keep_local",
            Resolution::ApplyRemote => "apply_remote",
            Resolution::Error => "error",
        }
    }
}

/// The auto-increment offset of the nodes (`--id-offset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdOffset {
    /// Every node uses this offset.
    All(u64),
    /// Node i (1-based) uses offset i.
    PerNode,
}

impl IdOffset {
    /// The offset of node index `i` (0-based).
    pub fn of(self, i: usize) -> u64 {
        match self {
            IdOffset::All(offset) => offset,
            IdOffset::PerNode => i as u64 + 1,
        }
    }

    /// As `--id-offset` takes it.
    pub fn spelling(self) -> String {
        match self {
            IdOffset::All(offset) => offset.to_string(),
            IdOffset::PerNode => "per-node".into(),
        }
    }
}
