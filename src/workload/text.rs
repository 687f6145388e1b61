//! The `text` workload: collaborative editing of a few shared documents
//! (keys). A client types runs (a word each) at a place it chooses from its
//! latest read, sometimes several runs in a row, each right after the one
//! before (a streak); now and then it deletes a run; reads return the whole
//! document.
//!
//! Every run is traceable: op `n`'s run is [`RUN_LEN`] copies of one
//! character that no other op types ([`glyph`]), so every character of a
//! final text names the op that inserted it, whatever the merge did to it.
//!
//! Over the key-value API an edit is a read-modify-write of the whole text
//! (under `lww` the document is one register value; siblings: the client
//! edits the longest one); under `--strategy crdt` the node turns the
//! written text into a text CRDT edit at the version the client read.
//!
//! History values: an `insert` is invoked with `{"run", "place"}` or
//! `{"run", "after"}` (the streak's previous run) and completes with
//! `{"run", "after", "before"}`: the characters it was placed between
//! (null at an end). A `delete` completes with `{"deleted": c}`, the
//! character of the run it removed (null: the document was empty). A
//! read returns the text, or an array of texts when a node keeps siblings.

use std::sync::Mutex;

use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};

use super::api::{KvApi, ReadReply};
use super::bundle::{Bundle, Context, Gen, OverKv, StepRoute};
use super::rmw::read_modify_write;
use super::{Completion, Invocation};
use crate::domain::Workload;

/// Characters in one run.
pub const RUN_LEN: usize = 3;

/// The blocks of one-character-per-op glyphs (all in the Basic
/// Multilingual Plane, so every library counts them as one unit): CJK
/// ideographs, then CJK extension A, then Hangul syllables.
const GLYPHS: [(u32, u32); 3] = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xAC00, 0xD7A3)];

/// The character of the op with unique number `n`; `None` past the
/// 38,756 there are (the generator then reads instead).
pub fn glyph(mut n: u64) -> Option<char> {
    for (lo, hi) in GLYPHS {
        let size = u64::from(hi - lo + 1);
        if n < size {
            return char::from_u32(lo + n as u32);
        }
        n -= size;
    }
    None
}

pub struct Text;

impl Bundle for Text {
    fn workload(&self) -> Workload {
        Workload::Text
    }

    /// A streak of one to three runs (70%), a delete (10%), or a read.
    fn next_step(&self, g: &mut Gen<'_>) -> Vec<Invocation> {
        let key = g.key();
        let roll: f64 = g.rng.random();
        if roll >= 0.8 {
            return vec![Invocation::new("read", key, Value::Null)];
        }
        if roll >= 0.7 {
            let pick: f64 = g.rng.random();
            return vec![Invocation::new("delete", key, json!({ "pick": pick }))];
        }
        let place = match g.rng.random_range(0..10) {
            0..4 => json!("end"),
            4..6 => json!("start"),
            _ => json!(g.rng.random::<f64>()),
        };
        let streak = g.rng.random_range(1..=3);
        let mut ops = Vec::new();
        let mut previous: Option<String> = None;
        for _ in 0..streak {
            let Some(c) = glyph((g.unique)()) else {
                break;
            };
            let run: String = std::iter::repeat_n(c, RUN_LEN).collect();
            let value = match &previous {
                Some(after) => json!({ "run": run, "after": after }),
                None => json!({ "run": run, "place": place }),
            };
            ops.push(Invocation::new("insert", key.clone(), value));
            previous = Some(run);
        }
        if ops.is_empty() {
            ops.push(Invocation::new("read", key, Value::Null));
        }
        ops
    }

    /// Each client is a user editing on its own replica.
    fn step_route(&self) -> StepRoute {
        StepRoute::Session
    }

    fn over_kv(&self) -> Option<&dyn OverKv> {
        Some(self)
    }
}

#[async_trait]
impl OverKv for Text {
    async fn execute(&self, node: &dyn KvApi, op: &Invocation, _: Context<'_>) -> Completion {
        let edit: fn(&str, &Value) -> (String, Value) = match op.f {
            "insert" => insert,
            "delete" => delete,
            _ => {
                return match node.read(&op.key).await {
                    Ok(reply) => Completion::ok(texts(&reply.values)),
                    Err(e) => Completion::fail(e.message()),
                };
            }
        };
        // What the accepted attempt did (the last read's edit).
        let done = Mutex::new(Value::Null);
        let outcome = read_modify_write(node, &op.key, op.f, &Value::Null, |reply: &ReadReply| {
            let (text, what) = edit(&edited(&reply.values), &op.value);
            *done.lock().unwrap_or_else(|e| e.into_inner()) = what;
            Value::String(text)
        })
        .await;
        match outcome.kind {
            diverge_checkers::OpType::Ok => {
                Completion::ok(done.into_inner().unwrap_or_else(|e| e.into_inner()))
            }
            _ => outcome,
        }
    }

    async fn final_read(&self, node: &dyn KvApi, key: &str) -> Result<Value, String> {
        let reply = node.read(key).await.map_err(|e| e.message())?;
        Ok(texts(&reply.values))
    }
}

/// A read's value: the text, `""` for an absent document, or every
/// sibling's text.
fn texts(values: &[Value]) -> Value {
    match values {
        [] => json!(""),
        [one] => json!(as_text(one)),
        many => Value::Array(many.iter().map(|v| json!(as_text(v))).collect()),
    }
}

fn as_text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The text a client edits: the longest sibling (then the smallest), as an
/// editor shown several versions might keep the fullest one.
fn edited(values: &[Value]) -> String {
    values
        .iter()
        .map(as_text)
        .max_by(|a, b| a.chars().count().cmp(&b.chars().count()).then(b.cmp(a)))
        .unwrap_or("")
        .to_string()
}

/// Insert the op's run: right after the streak's previous run if the text
/// holds it, else at its place (`"start"`, `"end"`, or a fraction picking
/// one of the run boundaries).
fn insert(text: &str, op: &Value) -> (String, Value) {
    let chars: Vec<char> = text.chars().collect();
    let run = op["run"].as_str().unwrap_or("");
    let after = op["after"].as_str().and_then(|r| r.chars().next());
    let at = match after.and_then(|c| chars.iter().rposition(|&x| x == c)) {
        Some(i) => i + 1,
        None => place(&chars, &op["place"]),
    };
    let mut new: String = chars[..at].iter().collect();
    new.push_str(run);
    new.extend(&chars[at..]);
    let neighbour = |c: Option<&char>| c.map_or(Value::Null, |c| json!(c.to_string()));
    let what = json!({
        "run": run,
        "after": neighbour(at.checked_sub(1).and_then(|i| chars.get(i))),
        "before": neighbour(chars.get(at)),
    });
    (new, what)
}

fn place(chars: &[char], place: &Value) -> usize {
    match place {
        Value::String(s) if s == "start" => 0,
        Value::Number(n) => {
            let boundaries: Vec<usize> = (0..=chars.len())
                .filter(|&i| i == 0 || i == chars.len() || chars[i - 1] != chars[i])
                .collect();
            let pick = n.as_f64().unwrap_or(1.0).clamp(0.0, 1.0);
            let i = ((pick * boundaries.len() as f64) as usize).min(boundaries.len() - 1);
            boundaries[i]
        }
        _ => chars.len(),
    }
}

/// Delete every character of one run (picked by the op's fraction among
/// the runs the text holds, in order).
fn delete(text: &str, op: &Value) -> (String, Value) {
    let mut runs: Vec<char> = Vec::new();
    for c in text.chars() {
        if !runs.contains(&c) {
            runs.push(c);
        }
    }
    if runs.is_empty() {
        return (text.to_string(), json!({ "deleted": null }));
    }
    let pick = op["pick"].as_f64().unwrap_or(0.0).clamp(0.0, 1.0);
    let victim = runs[((pick * runs.len() as f64) as usize).min(runs.len() - 1)];
    let new = text.chars().filter(|&c| c != victim).collect();
    (new, json!({ "deleted": victim.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_are_distinct_single_unit_characters() {
        let all: std::collections::HashSet<char> = (0..38_756).filter_map(glyph).collect();
        assert_eq!(all.len(), 38_756);
        assert!(all.iter().all(|c| c.len_utf16() == 1));
        assert_eq!(glyph(38_756), None);
    }

    #[test]
    fn a_streak_continues_after_its_previous_run() {
        let (text, what) = insert("AAABBB", &json!({"run": "CCC", "after": "AAA"}));
        assert_eq!(text, "AAACCCBBB");
        assert_eq!(what, json!({"run": "CCC", "after": "A", "before": "B"}));
        // The previous run is gone: the streak's place applies.
        let (text, _) = insert(
            "BBB",
            &json!({"run": "CCC", "after": "AAA", "place": "start"}),
        );
        assert_eq!(text, "CCCBBB");
        let (text, what) = insert("", &json!({"run": "CCC", "place": 0.99}));
        assert_eq!((text.as_str(), &what["after"]), ("CCC", &Value::Null));
    }

    #[test]
    fn a_delete_removes_one_whole_run() {
        let (text, what) = delete("AAABBBCCC", &json!({"pick": 0.5}));
        assert_eq!((text.as_str(), what), ("AAACCC", json!({"deleted": "B"})));
        assert_eq!(
            delete("", &json!({"pick": 0.5})).1,
            json!({"deleted": null})
        );
    }

    #[test]
    fn the_longest_sibling_is_edited() {
        assert_eq!(
            edited(&[json!("AAA"), json!("BBBCCC"), Value::Null]),
            "BBBCCC"
        );
        assert_eq!(texts(&[json!("x"), json!("y")]), json!(["x", "y"]));
        assert_eq!(texts(&[]), json!(""));
    }
}
