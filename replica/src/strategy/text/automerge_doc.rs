//! Text documents backed by automerge: the text is the `text` field of the
//! root map; versions are the document's heads (32-byte change hashes).

use std::sync::Mutex;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, TextEncoding};

use super::{Engine, Fork, Splice};

/// The live document (behind a lock: automerge forks and reads heads
/// through `&mut`).
pub struct AutomergeDoc(Mutex<AutoCommit>);

impl AutomergeDoc {
    /// Every document starts with the same change: the text object made by
    /// actor 0 at time 0, so that every node's genesis is byte-identical and
    /// the text object is one object everywhere (two nodes creating it
    /// independently would make two objects, one of which would lose).
    pub fn new() -> Self {
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::UnicodeCodePoint)
            .with_actor(ActorId::from(vec![0u8]));
        // Creating a field of a fresh document cannot fail.
        let _ = doc.put_object(ROOT, "text", ObjType::Text);
        doc.commit_with(CommitOptions::default().with_time(0));
        AutomergeDoc(Mutex::new(doc))
    }

    fn doc(&self) -> std::sync::MutexGuard<'_, AutoCommit> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn text_obj(doc: &AutoCommit) -> Result<ObjId, String> {
    match doc.get(ROOT, "text").map_err(|e| e.to_string())? {
        Some((_, id)) => Ok(id),
        None => Err("the document has no text object".into()),
    }
}

fn text_of(doc: &AutoCommit) -> String {
    text_obj(doc)
        .and_then(|obj| doc.text(obj).map_err(|e| e.to_string()))
        .unwrap_or_default()
}

impl Engine for AutomergeDoc {
    fn import(&mut self, update: &[u8]) -> Result<(), String> {
        self.doc()
            .load_incremental(update)
            .map(|_| ())
            .map_err(|e| format!("automerge: {e}"))
    }

    fn text(&self) -> String {
        text_of(&self.doc())
    }

    fn version(&self) -> Vec<u8> {
        self.doc().get_heads().iter().flat_map(|h| h.0).collect()
    }

    fn fork(&self, version: Option<&[u8]>, actor: u64) -> Result<Box<dyn Fork>, String> {
        let mut doc = self.doc();
        let fork = match version {
            None => doc.fork(),
            Some(bytes) => {
                if !bytes.len().is_multiple_of(32) {
                    return Err("automerge heads are 32-byte hashes".into());
                }
                let heads = bytes
                    .chunks(32)
                    .map(|c| ChangeHash::try_from(c).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                doc.fork_at(&heads)
                    .map_err(|e| format!("automerge: no such version: {e}"))?
            }
        };
        Ok(Box::new(AutomergeFork(
            fork.with_actor(ActorId::from(actor.to_be_bytes().to_vec())),
        )))
    }
}

struct AutomergeFork(AutoCommit);

impl Fork for AutomergeFork {
    fn text(&self) -> String {
        text_of(&self.0)
    }

    fn splice(&mut self, splice: &Splice) -> Result<Vec<u8>, String> {
        let obj = text_obj(&self.0)?;
        let delete = isize::try_from(splice.delete).map_err(|e| e.to_string())?;
        self.0
            .splice_text(&obj, splice.at, delete, &splice.insert)
            .map_err(|e| format!("automerge: {e}"))?;
        self.0.commit_with(CommitOptions::default().with_time(0));
        match self.0.get_last_local_change() {
            Some(change) => Ok(change.raw_bytes().to_vec()),
            None => Err("automerge made no change".into()),
        }
    }
}
