//! Conflict strategies: how a key's state absorbs a change, whether it came
//! from a local client or from a peer, and what a read of it returns. Every
//! strategy must be commutative and idempotent over changes (given the
//! core's deduplication), so that any delivery order converges to one state.
//!
//! - [`lww`]: last write wins on timestamps.
//! - [`dvv`]: dotted version vectors keeping siblings; `siblings`, `merge`,
//!   `unique-id`, `priority` and `custom` differ only in how a read presents
//!   the sibling set.
//! - [`crdt`]: an observed-remove set and a PN-counter.
//! - [`merge`]: the deterministic merge of values and the canonical order of
//!   JSON values.

pub mod crdt;
pub mod dvv;
pub mod lww;
pub mod merge;
pub mod text;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crdt::Crdt;
pub use dvv::{Dvv, Resolve};
pub use lww::{LastWriteWins, lww_order};
pub use text::{TextDoc, TextLib};

use crate::types::{Change, Dot, Nanos, NodeId};
use crate::version::VersionVector;

/// One stored version of a key's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub value: Value,
    pub dot: Dot,
    pub ts: Nanos,
    /// The write's random id (`unique-id`); 0 when the strategy has none.
    #[serde(default)]
    pub uid: u64,
}

impl Version {
    pub fn of(change: &Change) -> Self {
        Version {
            value: change.value.clone(),
            dot: change.dot.clone(),
            ts: change.ts,
            uid: change.uid,
        }
    }
}

/// What a node holds for one key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    /// The current versions: one for LWW, the siblings for the others.
    pub versions: Vec<Version>,
    /// Every write this node has applied to the key, winners and losers (the
    /// key's causal context).
    pub vv: VersionVector,
    /// The crdt strategy's state.
    pub crdt: Option<Crdt>,
    /// The crdt strategy's text document (a key written with strings).
    pub text: Option<TextDoc>,
    /// The custom on-write handler's resolution of the siblings (computed
    /// when a change is applied).
    pub resolved: Option<Value>,
}

/// The strategies the node knows by name (`--strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    Lww,
    UniqueId,
    Priority,
    Merge,
    Siblings,
    Custom,
    Crdt,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 7] = [
        StrategyKind::Lww,
        StrategyKind::UniqueId,
        StrategyKind::Priority,
        StrategyKind::Merge,
        StrategyKind::Siblings,
        StrategyKind::Custom,
        StrategyKind::Crdt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Lww => "lww",
            StrategyKind::UniqueId => "unique-id",
            StrategyKind::Priority => "priority",
            StrategyKind::Merge => "merge",
            StrategyKind::Siblings => "siblings",
            StrategyKind::Custom => "custom",
            StrategyKind::Crdt => "crdt",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            StrategyKind::Lww => {
                "Last write wins: node-local wall-clock timestamps, node id breaks ties"
            }
            StrategyKind::UniqueId => {
                "Each write gets a random 64-bit id; among concurrent writes the highest id wins"
            }
            StrategyKind::Priority => {
                "Among concurrent writes, the one from the higher-priority node wins (--priority)"
            }
            StrategyKind::Merge => {
                "Concurrent values are merged: arrays unioned, strings sorted and joined, others collected"
            }
            StrategyKind::Siblings => {
                "Dotted version vectors: every concurrent write kept and returned as a sibling"
            }
            StrategyKind::Custom => {
                "User handlers from files: --on-write (in the node) and/or --on-read (in the clients)"
            }
            StrategyKind::Crdt => {
                "CRDTs in the node: observed-remove sets for arrays, PN-counters for integers, text CRDTs for strings (--text-crdt)"
            }
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The strategy with default options (no priority list, no handler).
    pub fn build(self) -> Box<dyn Strategy> {
        self.build_with(&StrategyOptions::default())
    }

    pub fn build_with(self, options: &StrategyOptions) -> Box<dyn Strategy> {
        let dvv = |resolve| {
            Box::new(Dvv {
                kind: self,
                resolve,
            }) as Box<dyn Strategy>
        };
        match self {
            StrategyKind::Lww => Box::new(LastWriteWins),
            StrategyKind::UniqueId => dvv(Resolve::UniqueId),
            StrategyKind::Priority => dvv(Resolve::Priority(options.priority.clone())),
            StrategyKind::Merge => dvv(Resolve::Merge),
            StrategyKind::Siblings => dvv(Resolve::All),
            StrategyKind::Custom => match &options.on_write {
                Some(handler) => dvv(Resolve::Custom(handler.clone())),
                None => dvv(Resolve::All),
            },
            StrategyKind::Crdt => Box::new(CrdtStrategy {
                text: options.text_crdt,
            }),
        }
    }
}

/// Options some strategies take.
#[derive(Clone, Debug, Default)]
pub struct StrategyOptions {
    /// `priority`: node ids, highest priority first.
    pub priority: Vec<NodeId>,
    /// `custom`: the on-write handler (without one, `custom` keeps siblings
    /// for a client-side on-read resolver).
    pub on_write: Option<Arc<dyn Handler>>,
    /// `crdt`: the library behind text documents.
    pub text_crdt: TextLib,
}

/// A user-supplied on-write conflict handler (the node implements it with a
/// sandboxed script). It must be a pure function of its arguments; errors
/// make the strategy fall back to LWW among the siblings (the handler
/// reports its own errors).
pub trait Handler: Send + Sync + std::fmt::Debug {
    /// Choose the value to keep for `key` from its conflicting versions
    /// (two or more, in dot order).
    fn resolve(&self, key: &str, versions: &[Version]) -> Result<Value, String>;
}

/// How concurrent writes to one key converge.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> StrategyKind;

    /// Whether a client write whose context does not cover the key's current
    /// state is refused (409). Single-value strategies refuse; strategies that
    /// keep siblings accept and keep the unseen versions.
    fn refuses_stale_writes(&self) -> bool {
        true
    }

    /// Whether a write's causal context is the client's context (when it
    /// gives one) rather than everything the node holds for the key.
    fn writes_with_client_context(&self) -> bool {
        false
    }

    /// Whether a replicated update of a key this node holds no version of
    /// is skipped (without causal delivery). The single-value strategies
    /// model row stores, which skip an UPDATE of a missing row as
    /// PostgreSQL logical replication does; the strategies that keep
    /// siblings or CRDT state store the version with its context instead
    /// (as Riak does), so the late insert is superseded when it arrives.
    fn skips_orphan_updates(&self) -> bool {
        self.refuses_stale_writes()
    }

    /// The crdt state a local write produces (crdt only); `version` is the
    /// text library's version in the client's context, if any.
    fn local_crdt(
        &self,
        _state: &KeyState,
        _value: &Value,
        _context: &VersionVector,
        _version: Option<&str>,
        _dot: &Dot,
    ) -> Result<Option<Crdt>, String> {
        Ok(None)
    }

    /// Fold `change` into `state`. Called once per change per node (the
    /// core deduplicates) before the core joins the change's context into
    /// `state.vv`.
    fn apply(&self, state: &mut KeyState, change: &Change);

    /// The values a read returns.
    fn read(&self, state: &KeyState) -> Vec<Value> {
        state.versions.iter().map(|v| v.value.clone()).collect()
    }
}

/// `--strategy crdt` (see [`crdt`] and [`text`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CrdtStrategy {
    /// The library behind text documents.
    pub text: TextLib,
}

impl Strategy for CrdtStrategy {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Crdt
    }

    /// Concurrent adds are kept whatever the context; only setting a counter
    /// to a value needs a current context (checked in `local_crdt`).
    fn refuses_stale_writes(&self) -> bool {
        false
    }

    fn local_crdt(
        &self,
        state: &KeyState,
        value: &Value,
        context: &VersionVector,
        version: Option<&str>,
        dot: &Dot,
    ) -> Result<Option<Crdt>, String> {
        if let Value::String(new_text) = value {
            return self.local_text(state, new_text, version, dot).map(Some);
        }
        if state.text.is_some() {
            return Err(format!(
                "the key holds a text document; a write of {value} cannot change its type"
            ));
        }
        Crdt::local_write(state.crdt.as_ref(), value, context, dot)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn apply(&self, state: &mut KeyState, change: &Change) {
        let Some(remote) = &change.crdt else {
            return;
        };
        if let Crdt::Text { lib, update } = remote {
            if !update.is_empty() {
                let doc = state.text.get_or_insert_with(|| TextDoc::new(*lib));
                // An update this node cannot import (another library, a
                // corrupt message) leaves its document behind: the
                // divergence shows in the final reads.
                let _ = doc.import(update);
            }
            return;
        }
        let mut remote_ctx = change.vv.clone();
        remote_ctx.add(&change.dot);
        state.crdt = Some(Crdt::join(
            state.crdt.as_ref(),
            &state.vv,
            remote,
            &remote_ctx,
        ));
    }

    fn read(&self, state: &KeyState) -> Vec<Value> {
        if let Some(doc) = &state.text {
            return vec![Value::String(doc.text())];
        }
        state.crdt.iter().map(Crdt::value).collect()
    }
}

impl CrdtStrategy {
    /// A string written to a text document: the library update for it.
    fn local_text(
        &self,
        state: &KeyState,
        new_text: &str,
        version: Option<&str>,
        dot: &Dot,
    ) -> Result<Crdt, String> {
        if state.crdt.is_some() {
            return Err("the key holds a set or a counter; a string cannot change its type".into());
        }
        let fresh;
        let doc = match &state.text {
            Some(doc) => doc,
            None => {
                fresh = TextDoc::new(self.text);
                &fresh
            }
        };
        if doc.lib() != self.text {
            return Err(format!(
                "the key's document is a {} document, this node runs {}",
                doc.lib(),
                self.text
            ));
        }
        let update = doc.edit(version, text::actor_of(dot), new_text)?;
        Ok(Crdt::Text {
            lib: self.text,
            update: update.unwrap_or_default(),
        })
    }
}
