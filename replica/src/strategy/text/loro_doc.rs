//! Text documents backed by loro (Fugue): the root text container `text`;
//! versions are loro frontiers.

use loro::{ExportMode, Frontiers, LoroDoc};

use super::{Engine, Fork, Splice};

pub struct LoroText(LoroDoc);

impl LoroText {
    pub fn new() -> Self {
        LoroText(LoroDoc::new())
    }
}

fn text_of(doc: &LoroDoc) -> String {
    doc.get_text("text").to_string()
}

impl Engine for LoroText {
    fn import(&mut self, update: &[u8]) -> Result<(), String> {
        self.0
            .import(update)
            .map(|_| ())
            .map_err(|e| format!("loro: {e}"))
    }

    fn text(&self) -> String {
        text_of(&self.0)
    }

    fn version(&self) -> Vec<u8> {
        self.0.oplog_frontiers().encode()
    }

    fn fork(&self, version: Option<&[u8]>, actor: u64) -> Result<Box<dyn Fork>, String> {
        let fork = match version {
            Some([]) => self
                .0
                .fork_at(&Frontiers::default())
                .map_err(|e| format!("loro: {e}"))?,
            Some(bytes) => {
                let frontiers = Frontiers::decode(bytes).map_err(|e| format!("loro: {e}"))?;
                self.0
                    .fork_at(&frontiers)
                    .map_err(|e| format!("loro: no such version: {e}"))?
            }
            None => self.0.fork(),
        };
        fork.set_peer_id(actor).map_err(|e| format!("loro: {e}"))?;
        Ok(Box::new(LoroFork(fork)))
    }
}

struct LoroFork(LoroDoc);

impl Fork for LoroFork {
    fn text(&self) -> String {
        text_of(&self.0)
    }

    fn splice(&mut self, splice: &Splice) -> Result<Vec<u8>, String> {
        let before = self.0.oplog_vv();
        let text = self.0.get_text("text");
        text.splice(splice.at, splice.delete, &splice.insert)
            .map_err(|e| format!("loro: {e}"))?;
        self.0.commit();
        self.0
            .export(ExportMode::updates(&before))
            .map_err(|e| format!("loro: {e}"))
    }
}
