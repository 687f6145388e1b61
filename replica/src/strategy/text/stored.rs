//! A text document as a checkpoint stores it: its library and every update
//! it imported, hex-encoded, in order. Loading replays the updates into a
//! fresh document, as a clone does, so a node restarted from a checkpoint
//! holds the same document it had (the same text and the same version its
//! clients' contexts name).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{TextDoc, TextLib, hex};

#[derive(Serialize, Deserialize)]
struct Stored {
    lib: TextLib,
    updates: Vec<String>,
}

impl Serialize for TextDoc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Stored {
            lib: self.lib,
            updates: self.updates.iter().map(|u| hex(u)).collect(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TextDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        let mut doc = TextDoc::new(stored.lib);
        for update in &stored.updates {
            doc.import(update).map_err(serde::de::Error::custom)?;
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_document_loads_to_the_same_text_and_version() {
        for lib in [TextLib::Automerge, TextLib::Yrs, TextLib::Loro] {
            let mut doc = TextDoc::new(lib);
            let first = doc.edit(None, 7, "abc").unwrap().unwrap();
            doc.import(&first).unwrap();
            let second = doc.edit(None, 9, "abXc").unwrap().unwrap();
            doc.import(&second).unwrap();
            let json = serde_json::to_string(&doc).unwrap();
            let loaded: TextDoc = serde_json::from_str(&json).unwrap();
            assert_eq!(loaded.text(), "abXc", "{lib:?}");
            assert_eq!(loaded.version(), doc.version(), "{lib:?}");
            assert_eq!(loaded, doc, "{lib:?}");
        }
        // An update that is not hex fails the load, naming the problem.
        let broken = serde_json::json!({"lib": TextLib::Yrs, "updates": ["zz"]});
        assert!(serde_json::from_value::<TextDoc>(broken).is_err());
    }
}
