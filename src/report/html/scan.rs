//! One streaming pass over `history.jsonl` that keeps only what the page
//! draws: per-time-bin counts and latency histograms, per-process-row
//! counts, the nemesis ops, the largest read, and the raw lines of the
//! witness ops the page quotes, and (when asked) the final reads of the
//! first [`FINAL_KEYS`] keys. Memory is bounded by the number of bins and
//! rows, never by the history's length.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use diverge_checkers::{Op, OpType};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::bins::Timeline;

/// What the page needs from the history.
#[derive(Debug, Default)]
pub struct Digest {
    pub timeline: Timeline,
    /// Nemesis ops, parsed in full (there are few).
    pub nemesis: Vec<Op>,
    /// Raw lines of the witness ops, by index.
    pub witness_lines: HashMap<u64, String>,
    /// The most values any `ok` read (not final read) returned.
    pub max_read_values: usize,
    /// Completed client ops (final reads excluded) by outcome.
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub final_reads: u64,
    /// Lines in the file.
    pub lines: u64,
    /// Final values by key and node, when the scan was asked for them.
    pub final_values: Option<FinalValues>,
}

/// Keys whose final values per instance the page shows; the rest are counted.
pub const FINAL_KEYS: usize = 100;

/// The `ok` final reads of the first [`FINAL_KEYS`] keys (in history order):
/// key -> node -> value.
#[derive(Debug, Default)]
pub struct FinalValues {
    pub by_key: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Final reads of keys past the first [`FINAL_KEYS`], not kept.
    pub more_reads: usize,
}

impl FinalValues {
    fn record(&mut self, op: Op) {
        let (Some(key), Some(node)) = (op.key, op.node) else {
            return;
        };
        if !self.by_key.contains_key(&key) && self.by_key.len() >= FINAL_KEYS {
            self.more_reads += 1;
            return;
        }
        self.by_key.entry(key).or_default().insert(node, op.value);
    }
}

/// Only the fields the scan reads; `value` is counted, never built.
#[derive(Deserialize)]
struct Line<'a> {
    index: u64,
    time: u64,
    process: ProcessId,
    #[serde(rename = "type")]
    kind: OpType,
    #[serde(borrow)]
    f: std::borrow::Cow<'a, str>,
    #[serde(default)]
    value: ValueLen,
}

/// A client process number, or the nemesis.
enum ProcessId {
    Client(u64),
    Nemesis,
}

impl<'de> Deserialize<'de> for ProcessId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProcessId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a process number or \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ProcessId, E> {
                Ok(ProcessId::Client(n))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ProcessId, E> {
                Ok(ProcessId::Nemesis)
            }
        }
        d.deserialize_any(V)
    }
}

/// The number of elements of an array value (1 for a scalar, 0 for null).
#[derive(Default)]
struct ValueLen(usize);

impl<'de> Deserialize<'de> for ValueLen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueLen;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValueLen, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(ValueLen(n))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ValueLen, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ValueLen(1))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ValueLen, E> {
                Ok(ValueLen(0))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ValueLen, E> {
                Ok(ValueLen(1))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ValueLen, E> {
                Ok(ValueLen(1))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ValueLen, E> {
                Ok(ValueLen(1))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ValueLen, E> {
                Ok(ValueLen(1))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ValueLen, E> {
                Ok(ValueLen(1))
            }
        }
        d.deserialize_any(V)
    }
}

/// Scan `path`; `rows` folds client processes onto timeline rows (the
/// test's concurrency: a retired process's successor shares its row), and
/// `witnesses` are the op indices whose lines the page quotes;
/// `final_values` keeps the final reads of the first keys.
pub fn scan(
    path: &Path,
    rows: Option<u64>,
    witnesses: &HashSet<u64>,
    final_values: bool,
) -> Result<Digest> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut digest = Digest {
        final_values: final_values.then(FinalValues::default),
        ..Digest::default()
    };
    // Open invokes: process -> invoke time.
    let mut open: HashMap<u64, u64> = HashMap::new();
    let mut buf = String::with_capacity(256);
    loop {
        buf.clear();
        if reader
            .read_line(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?
            == 0
        {
            break;
        }
        digest.lines += 1;
        let text = buf.trim_end();
        if text.is_empty() {
            continue;
        }
        // The checkers already judged this file; a line they forgave (a
        // torn tail) is skipped here too.
        let Ok(line) = serde_json::from_str::<Line>(text) else {
            continue;
        };
        if witnesses.contains(&line.index) {
            digest.witness_lines.insert(line.index, text.to_string());
        }
        let process = match line.process {
            ProcessId::Nemesis => {
                if let Ok(op) = serde_json::from_str::<Op>(text) {
                    digest.nemesis.push(op);
                }
                continue;
            }
            ProcessId::Client(p) => p,
        };
        if line.f == diverge_checkers::history::f::FINAL_READ {
            digest.final_reads += u64::from(line.kind == OpType::Ok);
            if line.kind == OpType::Ok
                && let Some(values) = &mut digest.final_values
                && let Ok(op) = serde_json::from_str::<Op>(text)
            {
                values.record(op);
            }
            continue;
        }
        match line.kind {
            OpType::Invoke => {
                open.insert(process, line.time);
            }
            kind => {
                let Some(start) = open.remove(&process) else {
                    continue;
                };
                match kind {
                    OpType::Ok => digest.ok += 1,
                    OpType::Fail => digest.fail += 1,
                    _ => digest.info += 1,
                }
                if kind == OpType::Ok && line.f == diverge_checkers::history::f::READ {
                    digest.max_read_values = digest.max_read_values.max(line.value.0);
                }
                let row = rows.map_or(process, |n| process % n.max(1));
                digest
                    .timeline
                    .record(row, start, Some(line.time.saturating_sub(start)), kind);
            }
        }
    }
    // Invokes never completed count as indeterminate, at their invoke time.
    for (process, start) in open {
        digest.info += 1;
        let row = rows.map_or(process, |n| process % n.max(1));
        digest.timeline.record(row, start, None, OpType::Info);
    }
    Ok(digest)
}
