//! Text documents under `--strategy crdt`: a JSON string written to a key
//! is a collaborative text document backed by a text CRDT library
//! (`--text-crdt automerge|yrs|loro`).
//!
//! A client writes the whole new text it wants, with the context it read.
//! That context carries the library's own version of the document as the
//! client saw it (automerge heads, a yrs snapshot, loro frontiers), so the
//! node forks the document at that version, finds the one splice that turns
//! the text there into the written text (common prefix and suffix), makes
//! it on the fork as a fresh actor (one per write, derived from its dot) and
//! exports the library's update bytes. Those bytes are what replicates
//! ([`Crdt::Text`](super::Crdt::Text)); every node, the origin included,
//! imports them into its live document. The libraries merge concurrent
//! splices each with its own algorithm, which is what the `text` workload's
//! checkers compare.

mod automerge_doc;
mod loro_doc;
mod stored;
mod yrs_doc;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::Dot;

/// The text CRDT libraries a node can back documents with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextLib {
    #[default]
    Automerge,
    Yrs,
    Loro,
}

impl TextLib {
    pub const ALL: [TextLib; 3] = [TextLib::Automerge, TextLib::Yrs, TextLib::Loro];

    pub fn name(self) -> &'static str {
        match self {
            TextLib::Automerge => "automerge",
            TextLib::Yrs => "yrs",
            TextLib::Loro => "loro",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == s)
    }

    fn engine(self) -> Box<dyn Engine> {
        match self {
            TextLib::Automerge => Box::new(automerge_doc::AutomergeDoc::new()),
            TextLib::Yrs => Box::new(yrs_doc::YrsDoc::new()),
            TextLib::Loro => Box::new(loro_doc::LoroText::new()),
        }
    }
}

impl fmt::Display for TextLib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One library's live document.
trait Engine: Send + Sync {
    /// Merge an update exported by a [`Fork`] (on any node). Updates whose
    /// dependencies have not arrived are held by the library.
    fn import(&mut self, update: &[u8]) -> Result<(), String>;
    fn text(&self) -> String;
    /// The library's version of the current document, as bytes.
    fn version(&self) -> Vec<u8>;
    /// A copy of the document as it was at `version` (now, if `None`),
    /// whose edits are authored by `actor`.
    fn fork(&self, version: Option<&[u8]>, actor: u64) -> Result<Box<dyn Fork>, String>;
}

/// A document forked at a version, to make one edit on.
trait Fork {
    fn text(&self) -> String;
    /// Make `splice` and export the library's update for it alone.
    fn splice(&mut self, splice: &Splice) -> Result<Vec<u8>, String>;
}

/// Replace `delete` characters at character position `at` by `insert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Splice {
    pub at: usize,
    pub delete: usize,
    pub insert: String,
}

impl Splice {
    /// The single splice turning `old` into `new`: keep their common prefix
    /// and (of what remains) their common suffix, replace the middle.
    pub fn between(old: &str, new: &str) -> Splice {
        let old: Vec<char> = old.chars().collect();
        let new: Vec<char> = new.chars().collect();
        let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let room = old.len().min(new.len()) - prefix;
        let suffix = old
            .iter()
            .rev()
            .zip(new.iter().rev())
            .take(room)
            .take_while(|(a, b)| a == b)
            .count();
        Splice {
            at: prefix,
            delete: old.len() - prefix - suffix,
            insert: new[prefix..new.len() - suffix].iter().collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.delete == 0 && self.insert.is_empty()
    }
}

/// A per-write actor id: every write edits a fork of the document at the
/// version its client read, so two writes of one node may be concurrent in
/// the library's eyes and must not share an actor. 52 bits (yrs client ids
/// must fit a JavaScript number); FNV-1a of the dot.
pub fn actor_of(dot: &Dot) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in dot.node.bytes().chain([b':']).chain(dot.seq.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash & ((1 << 52) - 1)).max(1)
}

/// A node's text document: the library's live document and every update
/// it imported (a clone replays them: some libraries' documents are shared
/// handles, and a clone must be independent).
pub struct TextDoc {
    lib: TextLib,
    updates: Vec<Vec<u8>>,
    live: Box<dyn Engine>,
}

impl TextDoc {
    pub fn new(lib: TextLib) -> Self {
        TextDoc {
            lib,
            updates: Vec::new(),
            live: lib.engine(),
        }
    }

    pub fn lib(&self) -> TextLib {
        self.lib
    }

    pub fn text(&self) -> String {
        self.live.text()
    }

    /// The library's version of the document, hex-encoded (it travels in
    /// the opaque client context).
    pub fn version(&self) -> String {
        hex(&self.live.version())
    }

    /// Import an update (hex, as it travels).
    pub fn import(&mut self, update_hex: &str) -> Result<(), String> {
        let bytes = unhex(update_hex)?;
        self.live.import(&bytes)?;
        self.updates.push(bytes);
        Ok(())
    }

    /// The update (hex) that turns the text the client saw at `version`
    /// (hex; `""`: the empty document; `None`: now) into `new_text`,
    /// authored by `actor`. `None` when the texts are equal.
    pub fn edit(
        &self,
        version: Option<&str>,
        actor: u64,
        new_text: &str,
    ) -> Result<Option<String>, String> {
        let version = match version {
            Some("") => Some(self.lib.engine().version()),
            other => other.map(unhex).transpose()?,
        };
        let mut fork = self.live.fork(version.as_deref(), actor)?;
        let splice = Splice::between(&fork.text(), new_text);
        if splice.is_empty() {
            return Ok(None);
        }
        Ok(Some(hex(&fork.splice(&splice)?)))
    }
}

impl Clone for TextDoc {
    fn clone(&self) -> Self {
        let mut copy = TextDoc::new(self.lib);
        for update in &self.updates {
            // Each was imported once already, so it imports again.
            let _ = copy.live.import(update);
            copy.updates.push(update.clone());
        }
        copy
    }
}

/// Same library, same text, same updates (in any order).
impl PartialEq for TextDoc {
    fn eq(&self, other: &Self) -> bool {
        let sorted = |d: &TextDoc| {
            let mut u = d.updates.clone();
            u.sort();
            u
        };
        self.lib == other.lib && self.text() == other.text() && sorted(self) == sorted(other)
    }
}

impl fmt::Debug for TextDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextDoc")
            .field("lib", &self.lib)
            .field("text", &self.text())
            .field("updates", &self.updates.len())
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("not hex-encoded bytes: {:?}", truncate(s)));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

fn truncate(s: &str) -> &str {
    s.char_indices().nth(40).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests;
