//! The node's command line (`diverge node ...`) and its validation into a
//! [`NodeConfig`]. Single values are checked by clap's value parsers (a bad
//! `--peer` is a clap error); checks across flags happen in
//! [`NodeArgs::validate`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use diverge_replica::{Config, NodeId, StrategyKind};

use super::log::FsyncMode;
use super::validate::check_node_id;

/// Default limit on a client request body (`--max-body-bytes`): 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default bytes of `/replicate` bodies buffered at once
/// (`--replicate-buffer-bytes`): 64 MiB.
pub const DEFAULT_REPLICATE_BUFFER_BYTES: usize = 64 * 1024 * 1024;
/// Default of `--log-window`: at about 1 KB an entry, some 64 MB.
pub const DEFAULT_LOG_WINDOW: u64 = 65_536;

/// The largest `/replicate` body a node accepts. A sender stops filling a
/// batch at [`Config::batch_bytes_max`], so a batch is at most that plus
/// one change; a change holds at most one client body's value and context
/// (each under `--max-body-bytes`) plus ids. Twice the batch bound plus four
/// client bodies leaves room for both; a node whose peers are configured
/// alike never refuses a batch they send.
pub fn replicate_body_bytes_max(batch_bytes_max: usize, max_body_bytes: usize) -> usize {
    batch_bytes_max
        .saturating_mul(2)
        .saturating_add(max_body_bytes.saturating_mul(4))
}

/// Run one reference leader node (the controller spawns one per node).
#[derive(Clone, Debug, clap::Args)]
pub struct NodeArgs {
    /// This node's id, e.g. n1 (letters, digits, `.`, `_`, `:`, `-`).
    #[arg(long, value_parser = parse_node_id)]
    pub id: NodeId,

    /// Address to serve HTTP on, e.g. 127.0.0.1:7001 (port 0 picks a free
    /// port; the bound port is written to `<data-dir>/port`).
    #[arg(long)]
    pub listen: SocketAddr,

    /// Directory for the replication log and the port file (created if absent).
    #[arg(long)]
    pub data_dir: PathBuf,

    /// A peer to replicate to, as ID=HOST:PORT. Repeatable.
    #[arg(long = "peer", value_name = "ID=HOST:PORT", value_parser = parse_peer)]
    pub peers: Vec<PeerArg>,

    /// A read-only follower of this node, as ID=HOST:PORT: it is sent every
    /// change this node applies (its own writes and the ones it received),
    /// in the order applied. Repeatable.
    #[arg(long = "follower", value_name = "ID=HOST:PORT", value_parser = parse_peer)]
    pub followers: Vec<PeerArg>,

    /// Conflict strategy: lww, unique-id, priority, merge, siblings, custom, crdt
    /// (docs/strategies.md).
    #[arg(long, default_value = "lww", value_parser = parse_strategy)]
    pub strategy: StrategyKind,

    /// `crdt`: the text CRDT library behind documents written as strings:
    /// automerge, yrs, loro.
    #[arg(long, default_value = "automerge", value_parser = parse_text_crdt)]
    pub text_crdt: diverge_replica::TextLib,

    /// `priority`: node ids, highest priority first (comma-separated);
    /// unlisted nodes rank below, higher node number first.
    #[arg(long, value_delimiter = ',', value_parser = parse_node_id)]
    pub priority: Vec<NodeId>,

    /// `custom`: a rhai script whose `on_write(key, versions)` picks the value
    /// to keep when changes conflict. Without it, `custom` keeps siblings for
    /// a client-side on-read resolver.
    #[arg(long, value_name = "FILE")]
    pub on_write: Option<PathBuf>,

    /// Apply a received change only after everything it causally depends on
    /// (`on`), or as soon as it arrives (`off`).
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    pub causal_delivery: OnOff,

    /// Seconds a buffered change may wait before it is reported as stuck.
    #[arg(long, default_value_t = 10.0)]
    pub stuck_after: f64,

    /// The node that accepts client writes (single-leader topology, or the
    /// leader of a follower); any other node refuses them with 421 and
    /// names the leader.
    #[arg(long, value_parser = parse_node_id)]
    pub leader: Option<NodeId>,

    /// When a write counts as durable: `always` fsyncs each group commit
    /// before replying; `never` replies at once and writes to the OS every 50 ms.
    #[arg(long, value_enum, default_value_t = FsyncMode::Always)]
    pub fsync: FsyncMode,

    /// Forward changes received from peers to the other peers (for ring,
    /// star and tree topologies).
    #[arg(long)]
    pub forward_remote: bool,

    /// Most changes in one replication batch.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_max: u32,

    /// Largest client request body in bytes (PUT /kv); larger gets 413.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Bytes of replication bodies (`POST /replicate`) the node buffers at
    /// once; a request that would pass it gets 503 and is retried by its sender.
    #[arg(long, default_value_t = DEFAULT_REPLICATE_BUFFER_BYTES)]
    pub replicate_buffer_bytes: usize,

    /// Milliseconds a connection may take to send a request head (idle
    /// keep-alive time between requests included) and, separately, its body;
    /// past it the node closes the connection.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub read_timeout_ms: u64,

    /// Log entries between checkpoints of the node's state (a restart loads
    /// the last one and replays only the log written since).
    #[arg(long, default_value_t = super::checkpoint::CHECKPOINT_EVERY, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// Most log entries kept in memory; older ones a peer still needs are
    /// read back from the log's files.
    #[arg(long, default_value_t = DEFAULT_LOG_WINDOW, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_window: u64,

    /// Auto-increment step (MySQL's auto_increment_increment).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub id_step: u64,
    /// Auto-increment offset (MySQL's auto_increment_offset), 1..=step.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub id_offset: u64,
}

/// One `--peer ID=HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerArg {
    pub id: NodeId,
    /// `HOST:PORT`, as given.
    pub addr: String,
}

fn parse_node_id(s: &str) -> Result<NodeId, String> {
    check_node_id(s).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

fn parse_peer(s: &str) -> Result<PeerArg, String> {
    let (id, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ID=HOST:PORT, got {s:?}"))?;
    let id = parse_node_id(id)?;
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("peer {id}: expected HOST:PORT after '=', got {addr:?}"))?;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("peer {id}: bad host {host:?}"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("peer {id}: bad port {port:?} (1-65535)")),
    }
    Ok(PeerArg {
        id,
        addr: addr.to_string(),
    })
}

fn parse_text_crdt(s: &str) -> Result<diverge_replica::TextLib, String> {
    diverge_replica::TextLib::from_name(s)
        .ok_or_else(|| format!("unknown text CRDT library {s:?} (known: automerge, yrs, loro)"))
}

fn parse_strategy(s: &str) -> Result<StrategyKind, String> {
    StrategyKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown strategy {s:?} (known: {})", names.join(", "))
    })
}

/// A switch spelled `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// The validated node configuration: what [`super::run`] works from.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub replica: Config,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Peer id -> base URL (`http://HOST:PORT`).
    pub peer_urls: BTreeMap<NodeId, String>,
    pub fsync: FsyncMode,
    pub max_body_bytes: usize,
    /// See `--replicate-buffer-bytes`.
    pub replicate_buffer_bytes: usize,
    /// See `--read-timeout-ms`.
    pub read_timeout: Duration,
    pub ids: IdSequence,
    /// See `--checkpoint-every`.
    pub checkpoint_every: u64,
}

/// How the node hands out auto-increment ids: the next id after `max` is
/// the smallest `v > max` with `v % step == offset % step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdSequence {
    pub step: u64,
    pub offset: u64,
}

impl IdSequence {
    pub fn next_after(self, max: u64) -> u64 {
        let residue = self.offset % self.step;
        let candidate = max + 1;
        candidate + (residue + self.step - candidate % self.step) % self.step
    }
}

impl NodeArgs {
    /// Check the flags against each other and build the config.
    pub fn validate(self) -> anyhow::Result<NodeConfig> {
        let mut peer_urls = BTreeMap::new();
        let flagged = self
            .peers
            .iter()
            .map(|p| ("--peer", p))
            .chain(self.followers.iter().map(|p| ("--follower", p)));
        for (flag, peer) in flagged {
            anyhow::ensure!(
                peer.id != self.id,
                "{flag} {}={}: a node cannot be its own peer",
                peer.id,
                peer.addr
            );
            let url = format!("http://{}", peer.addr);
            anyhow::ensure!(
                peer_urls.insert(peer.id.clone(), url).is_none(),
                "{flag} {}: given more than once (as --peer or --follower)",
                peer.id
            );
        }
        anyhow::ensure!(self.max_body_bytes > 0, "--max-body-bytes must be positive");
        anyhow::ensure!(
            self.id_offset <= self.id_step,
            "--id-offset {} must be at most --id-step {}",
            self.id_offset,
            self.id_step
        );
        anyhow::ensure!(
            self.priority.is_empty() || self.strategy == StrategyKind::Priority,
            "--priority only applies to --strategy priority"
        );
        anyhow::ensure!(
            self.on_write.is_none() || self.strategy == StrategyKind::Custom,
            "--on-write only applies to --strategy custom"
        );
        anyhow::ensure!(
            self.stuck_after.is_finite() && self.stuck_after > 0.0,
            "--stuck-after must be a positive number of seconds"
        );
        let on_write = match &self.on_write {
            Some(path) => Some(std::sync::Arc::new(super::handler::ScriptHandler::load(
                path, &self.id,
            )?)
                as std::sync::Arc<dyn diverge_replica::Handler>),
            None => None,
        };
        let mut replica = Config::new(
            self.id.clone(),
            peer_urls.keys().cloned().collect(),
            self.strategy,
        );
        replica.forward_remote = self.forward_remote;
        replica.followers = self.followers.iter().map(|f| f.id.clone()).collect();
        replica.strategy_options = diverge_replica::StrategyOptions {
            priority: self.priority,
            on_write,
            text_crdt: self.text_crdt,
        };
        replica.causal_delivery = self.causal_delivery == OnOff::On;
        replica.stuck_after_ns = (self.stuck_after * 1e9) as u64;
        replica.leader = self.leader;
        replica.batch_max = self.batch_max as usize;
        replica.log_window_max = usize::try_from(self.log_window).unwrap_or(usize::MAX);
        replica.drop_acked = true;
        Ok(NodeConfig {
            replica,
            listen: self.listen,
            data_dir: self.data_dir,
            peer_urls,
            fsync: self.fsync,
            max_body_bytes: self.max_body_bytes,
            replicate_buffer_bytes: self.replicate_buffer_bytes,
            read_timeout: Duration::from_millis(self.read_timeout_ms),
            checkpoint_every: self.checkpoint_every,
            ids: IdSequence {
                step: self.id_step,
                offset: self.id_offset,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        node: NodeArgs,
    }

    fn parse(args: &[&str]) -> Result<NodeArgs, clap::Error> {
        let base = [
            "node",
            "--id",
            "n1",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/x",
        ];
        Cli::try_parse_from(base.iter().chain(args)).map(|c| c.node)
    }

    #[test]
    fn command_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.strategy, StrategyKind::Lww);
        assert_eq!(args.fsync, FsyncMode::Always);
        assert!(!args.forward_remote);
        assert_eq!(args.max_body_bytes, 1 << 20);
        assert!(args.peers.is_empty());
    }

    #[test]
    fn peers_parse_and_validate() {
        let args = parse(&[
            "--peer",
            "n2=127.0.0.1:7002",
            "--peer",
            "n3=localhost:7003",
            "--fsync",
            "never",
            "--forward-remote",
            "--batch-max",
            "7",
        ])
        .unwrap();
        let config = args.validate().unwrap();
        assert_eq!(
            config.replica.peers,
            vec!["n2".to_string(), "n3".to_string()]
        );
        assert_eq!(config.peer_urls["n3"], "http://localhost:7003");
        assert_eq!(config.fsync, FsyncMode::Never);
        assert!(config.replica.forward_remote);
        assert_eq!(config.replica.batch_max, 7);
    }

    #[test]
    fn bad_values_are_clap_errors() {
        for bad in [
            ["--peer", "n2"],
            ["--peer", "n2=127.0.0.1"],
            ["--peer", "n2=127.0.0.1:http"],
            ["--peer", "n2=127.0.0.1:0"],
            ["--peer", "=127.0.0.1:7002"],
            ["--peer", "n 2=127.0.0.1:7002"],
            ["--strategy", "crdts"],
            ["--fsync", "sometimes"],
            ["--batch-max", "0"],
        ] {
            let err = parse(&bad).expect_err(&format!("{bad:?} must be refused"));
            use clap::error::ErrorKind;
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::ValueValidation | ErrorKind::InvalidValue
                ),
                "{bad:?}: {err}"
            );
        }
        assert!(Cli::try_parse_from(["node", "--id", "n1"]).is_err());
    }

    #[test]
    fn cross_flag_checks() {
        let own = parse(&["--peer", "n1=127.0.0.1:7001"]).unwrap();
        assert!(own.validate().is_err());
        let twice = parse(&["--peer", "n2=127.0.0.1:7002", "--peer", "n2=127.0.0.1:7003"]).unwrap();
        assert!(twice.validate().is_err());
        let both = parse(&[
            "--peer",
            "n2=127.0.0.1:7002",
            "--follower",
            "n2=127.0.0.1:7003",
        ])
        .unwrap();
        assert!(both.validate().is_err());
    }

    #[test]
    fn followers_are_peers_that_get_everything() {
        let args = parse(&[
            "--peer",
            "n2=127.0.0.1:7002",
            "--follower",
            "n1f1=127.0.0.1:7011",
        ])
        .unwrap();
        let config = args.validate().unwrap();
        assert_eq!(config.replica.peers, vec!["n1f1", "n2"]);
        assert_eq!(config.replica.followers, vec!["n1f1"]);
        assert_eq!(config.peer_urls["n1f1"], "http://127.0.0.1:7011");
        assert!(parse(&["--follower", "n1f1"]).is_err());
    }
}
