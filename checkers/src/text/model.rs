//! The `text` history read into documents: per key, its inserts, deletes
//! and final texts.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::history::OpType;
use crate::index::HistoryIndex;

/// One `insert` op.
#[derive(Clone, Debug)]
pub struct Insert {
    pub witness: u64,
    pub process: u64,
    pub outcome: OpType,
    pub run: String,
    /// The character every character of the run is.
    pub glyph: char,
    /// The run this one was typed right after (a streak), if any.
    pub follows: Option<char>,
    /// The characters it was placed between (ok inserts).
    pub after: Option<char>,
    pub before: Option<char>,
}

/// One `delete` op.
#[derive(Clone, Debug)]
pub struct Delete {
    pub outcome: OpType,
    /// The run it removed (ok deletes).
    pub deleted: Option<char>,
}

/// One node's final read: its text, or its siblings' texts.
#[derive(Clone, Debug)]
pub struct Final {
    pub node: String,
    pub witness: u64,
    pub texts: Vec<String>,
}

impl Final {
    /// The final read's value: the text, or the siblings' texts.
    pub fn value(&self) -> Value {
        match self.texts.as_slice() {
            [one] => Value::String(one.clone()),
            many => Value::Array(many.iter().cloned().map(Value::String).collect()),
        }
    }

    /// The texts as a set, to compare nodes.
    pub fn sorted(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.texts.iter().map(String::as_str).collect();
        t.sort_unstable();
        t.dedup();
        t
    }
}

#[derive(Clone, Debug)]
pub struct Document {
    pub key: u32,
    pub name: String,
    pub inserts: Vec<Insert>,
    pub deletes: Vec<Delete>,
    pub finals: Vec<Final>,
}

impl Document {
    pub fn final_witnesses(&self) -> Vec<u64> {
        self.finals.iter().map(|f| f.witness).collect()
    }

    /// The insert that typed `glyph`.
    pub fn insert_of(&self, glyph: char) -> Option<&Insert> {
        self.inserts.iter().find(|i| i.glyph == glyph)
    }
}

fn glyph_of(v: &Value) -> Option<char> {
    v.as_str().and_then(|s| s.chars().next())
}

/// The documents of a `text` history, by key.
pub fn documents(index: &HistoryIndex) -> Vec<Document> {
    let hist = index.hist;
    let mut docs: BTreeMap<u32, Document> = BTreeMap::new();
    for p in &index.pairs {
        let key = p.key(hist);
        if key == crate::model::NONE {
            continue;
        }
        let invoke = p.invoke(hist);
        let done = p.completion(hist);
        let outcome = p.outcome(hist);
        let ok_value = match done {
            Some(c) if c.kind == OpType::Ok => hist.to_json(c.value),
            _ => Value::Null,
        };
        let entry = docs.entry(key).or_insert_with(|| Document {
            key,
            name: index.key_name(key).to_owned(),
            inserts: Vec::new(),
            deletes: Vec::new(),
            finals: Vec::new(),
        });
        match hist.f_name(invoke.f) {
            "insert" => {
                let value = hist.to_json(invoke.value);
                let run = value["run"].as_str().unwrap_or("").to_owned();
                let Some(glyph) = run.chars().next() else {
                    continue;
                };
                entry.inserts.push(Insert {
                    witness: p.witness(hist),
                    process: invoke.process,
                    outcome,
                    glyph,
                    run,
                    follows: glyph_of(&value["after"]),
                    after: glyph_of(&ok_value["after"]),
                    before: glyph_of(&ok_value["before"]),
                });
            }
            "delete" => entry.deletes.push(Delete {
                outcome,
                deleted: glyph_of(&ok_value["deleted"]),
            }),
            _ => {}
        }
    }
    for (key, k) in index.keys.iter().enumerate() {
        let Some(entry) = docs.get_mut(&(key as u32)) else {
            continue;
        };
        for r in &k.final_reads {
            let texts = match hist.to_json(r.value) {
                Value::String(s) => vec![s],
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().unwrap_or("").to_owned())
                    .collect(),
                _ => vec![String::new()],
            };
            entry.finals.push(Final {
                node: index.node_name(r.node).to_owned(),
                witness: r.witness,
                texts,
            });
        }
    }
    docs.into_values().collect()
}
