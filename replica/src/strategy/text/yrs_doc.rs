//! Text documents backed by yrs (Yjs): the root text type `text`; versions
//! are yrs snapshots (state vector and delete set), which is why the live
//! document keeps deleted content (`skip_gc`): forking at a snapshot needs
//! it.

use yrs::updates::decoder::Decode;
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{
    ClientID, Doc, GetString, OffsetKind, Options, ReadTxn, Snapshot, Text, TextRef, Transact,
    Update,
};

use super::{Engine, Fork, Splice};

pub struct YrsDoc {
    doc: Doc,
    text: TextRef,
}

fn doc_for(client: u64) -> (Doc, TextRef) {
    let options = Options {
        offset_kind: OffsetKind::Utf16,
        skip_gc: true,
        ..Options::with_client_id(ClientID::new(client))
    };
    let doc = Doc::with_options(options);
    let text = doc.get_or_insert_text("text");
    (doc, text)
}

fn apply(doc: &Doc, update: &[u8]) -> Result<(), String> {
    let update = Update::decode_v1(update).map_err(|e| format!("yrs: {e}"))?;
    doc.transact_mut()
        .apply_update(update)
        .map_err(|e| format!("yrs: {e}"))
}

impl YrsDoc {
    /// The live document's own client id never authors an edit: every
    /// edit is made on a fork by the write's own actor.
    pub fn new() -> Self {
        let (doc, text) = doc_for(1);
        YrsDoc { doc, text }
    }
}

impl Engine for YrsDoc {
    fn import(&mut self, update: &[u8]) -> Result<(), String> {
        apply(&self.doc, update)
    }

    fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    fn version(&self) -> Vec<u8> {
        self.doc.transact().snapshot().encode_v1()
    }

    fn fork(&self, version: Option<&[u8]>, actor: u64) -> Result<Box<dyn Fork>, String> {
        let txn = self.doc.transact();
        let snapshot = match version {
            Some(bytes) => Snapshot::decode_v1(bytes).map_err(|e| format!("yrs: {e}"))?,
            None => txn.snapshot(),
        };
        let mut encoder = EncoderV1::new();
        txn.encode_state_from_snapshot(&snapshot, &mut encoder)
            .map_err(|e| format!("yrs: {e}"))?;
        let state = encoder.to_vec();
        drop(txn);
        let (doc, text) = doc_for(actor);
        apply(&doc, &state)?;
        Ok(Box::new(YrsFork { doc, text }))
    }
}

struct YrsFork {
    doc: Doc,
    text: TextRef,
}

/// The UTF-16 offset of character `chars` in `s` (yrs counts UTF-16).
fn utf16_at(s: &str, chars: usize) -> u32 {
    s.chars().take(chars).map(char::len_utf16).sum::<usize>() as u32
}

impl Fork for YrsFork {
    fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    fn splice(&mut self, splice: &Splice) -> Result<Vec<u8>, String> {
        let old = self.text();
        let at = utf16_at(&old, splice.at);
        let end = utf16_at(&old, splice.at + splice.delete);
        let mut txn = self.doc.transact_mut();
        if end > at {
            self.text.remove_range(&mut txn, at, end - at);
        }
        if !splice.insert.is_empty() {
            self.text.insert(&mut txn, at, &splice.insert);
        }
        // Only what this transaction did.
        Ok(txn.encode_update_v1())
    }
}
