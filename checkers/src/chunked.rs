//! The parsing engine behind [`crate::parse`]: blocks of lines parsed in
//! parallel.
//!
//! The input is taken in blocks of [`BLOCK_BYTES`] (a file is never held
//! whole); each block is cut at newlines into one part per core, the parts
//! are parsed on scoped threads into a [`Sink`] each, then appended in order.
//! Lines are deserialized into a borrowed [`RawOp`] (no allocation for `f`,
//! `key`, `node`; `value` kept as raw JSON text), which the sink turns into
//! what it stores: an owned [`Op`] or a compact [`COp`].
//!
//! Errors carry the part's local line number and are made global after the
//! join, so line numbers are exact whatever the split. The order-dependent
//! rules (`index` strictly increasing, the torn last line) are checked
//! within each part and across the seams.

use std::borrow::Cow;
use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::history::{Op, OpType, Process};
use crate::model::{COp, CValue, Hist, NEMESIS, NONE, Val};

/// Bytes read per block.
pub const BLOCK_BYTES: usize = 32 << 20;
/// Blocks smaller than this are parsed on one thread.
const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// One line, borrowed from the input.
#[derive(Deserialize)]
pub struct RawOp<'a> {
    pub index: u64,
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    #[serde(borrow)]
    pub f: Cow<'a, str>,
    #[serde(default, borrow)]
    pub key: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub value: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub node: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub error: Option<Cow<'a, str>>,
}

/// What parsed lines are collected into.
pub trait Sink: Default + Send {
    /// Parses and pushes a line of the common shape without serde; `None`
    /// (nothing pushed) sends the line through [`RawOp`] instead.
    fn fast(&mut self, _line: &[u8]) -> Option<u64> {
        None
    }
    fn push(&mut self, raw: RawOp<'_>);
    fn append(&mut self, other: Self);
    /// Capacity hint: the input is `factor` times what was parsed so far.
    fn grow_hint(&mut self, _factor: f64) {}
    /// The whole input has been pushed.
    fn finish(&mut self) {}
}

impl Sink for Vec<Op> {
    fn push(&mut self, raw: RawOp<'_>) {
        self.push(Op {
            index: raw.index,
            time: raw.time,
            process: raw.process,
            kind: raw.kind,
            f: raw.f.into_owned(),
            key: raw.key.map(Cow::into_owned),
            // Already validated by the line's parse.
            value: raw
                .value
                .and_then(|v| serde_json::from_str(v.get()).ok())
                .unwrap_or_default(),
            node: raw.node.map(Cow::into_owned),
            error: raw.error.map(Cow::into_owned),
        });
    }

    fn append(&mut self, mut other: Self) {
        Vec::append(self, &mut other);
    }
}

impl Sink for Hist {
    fn fast(&mut self, line: &[u8]) -> Option<u64> {
        let index = crate::fastline::parse(self, line)?;
        self.share_repeated_array();
        Some(index)
    }

    fn push(&mut self, raw: RawOp<'_>) {
        let value = match raw.value {
            None => CValue::Null,
            Some(v) => fast_value(self, v.get()),
        };
        let op = COp {
            time: raw.time,
            process: match raw.process {
                Process::Client(n) => n.min(NEMESIS - 1),
                Process::Nemesis => NEMESIS,
            },
            value,
            key: raw.key.as_deref().map_or(NONE, |k| self.keys.id(k)),
            node: raw.node.as_deref().map_or(NONE, |n| self.nodes.id(n)),
            f: self.f_id(&raw.f),
            kind: raw.kind,
        };
        self.push_op(op, raw.index);
        self.share_repeated_array();
    }

    fn append(&mut self, other: Self) {
        Hist::append(self, other);
    }

    fn finish(&mut self) {
        self.finish_parse();
    }

    fn grow_hint(&mut self, factor: f64) {
        // Generous: a short reservation means a doubling that copies the
        // whole vector (the peak RSS), a long one only untouched pages.
        let more = |len: usize| ((len as f64) * (factor * 1.5 - 1.0)) as usize;
        self.ops.reserve(more(self.ops.len()));
        self.elems.reserve(more(self.elems.len()));
    }
}

/// Integers and arrays of integers without building a `serde_json::Value`;
/// anything else through serde_json.
fn fast_value(hist: &mut Hist, text: &str) -> CValue {
    let b = text.as_bytes();
    if b == b"null" {
        return CValue::Null;
    }
    if b.first() == Some(&b'[') {
        let start = hist.elems.len();
        let mut i = 1;
        let mut ok = true;
        loop {
            i = skip_ws(b, i);
            if b.get(i) == Some(&b']') && hist.elems.len() == start {
                i += 1;
                break;
            }
            match int_at(b, i) {
                Some((n, next)) => {
                    hist.push_elem(n);
                    i = skip_ws(b, next);
                }
                None => {
                    ok = false;
                    break;
                }
            }
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && skip_ws(b, i) == b.len() {
            return CValue::Many {
                start: start as u32,
                len: (hist.elems.len() - start) as u32,
            };
        }
        hist.elems.truncate(start);
    } else if let Some((n, end)) = int_at(b, 0)
        && end == b.len()
    {
        return CValue::One(n);
    }
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    hist.value_of(&value)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// A plain JSON integer (at most 18 digits, so it cannot overflow) at `i`.
fn int_at(b: &[u8], mut i: usize) -> Option<(Val, usize)> {
    let negative = b.get(i) == Some(&b'-');
    i += usize::from(negative);
    let digits = i;
    let mut n: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        // A 19th digit may overflow: serde takes the number.
        if i - digits == 18 {
            return None;
        }
        n = n * 10 + i64::from(b[i] - b'0');
        i += 1;
    }
    let len = i - digits;
    if len == 0 || (len > 1 && b[digits] == b'0') {
        return None;
    }
    if matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    Val::int(if negative { -n } else { n }).map(|v| (v, i))
}

/// A parse problem, with its line local to the part it was found in.
#[derive(Debug)]
pub enum LineError {
    Malformed {
        line: usize,
        message: String,
    },
    NotIncreasing {
        line: usize,
        index: u64,
        previous: u64,
    },
}

/// One part's output.
struct Part<S> {
    sink: S,
    /// Lines consumed (blank ones included).
    lines: usize,
    /// `(local line, index)` of the first op.
    first: Option<(usize, u64)>,
    last_index: Option<u64>,
    error: Option<LineError>,
    torn_tail: bool,
}

fn parse_part<S: Sink>(bytes: &[u8], ends_input: bool) -> Part<S> {
    let mut part = Part {
        sink: S::default(),
        lines: 0,
        first: None,
        last_index: None,
        error: None,
        torn_tail: false,
    };
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, terminated, next) = match memchr::memchr(b'\n', rest) {
            Some(end) => (&rest[..end], true, &rest[end + 1..]),
            None => (rest, false, &[][..]),
        };
        rest = next;
        part.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(index) = part.sink.fast(line) {
            if let Some(previous) = part.last_index
                && index <= previous
            {
                part.error = Some(LineError::NotIncreasing {
                    line: part.lines,
                    index,
                    previous,
                });
                break;
            }
            part.first.get_or_insert((part.lines, index));
            part.last_index = Some(index);
            continue;
        }
        let raw: RawOp = match serde_json::from_slice(line) {
            Ok(raw) => raw,
            Err(_) if !terminated && ends_input => {
                part.torn_tail = true;
                break;
            }
            Err(e) => {
                part.error = Some(LineError::Malformed {
                    line: part.lines,
                    message: describe(&e),
                });
                break;
            }
        };
        if let Some(previous) = part.last_index
            && raw.index <= previous
        {
            part.error = Some(LineError::NotIncreasing {
                line: part.lines,
                index: raw.index,
                previous,
            });
            break;
        }
        part.first.get_or_insert((part.lines, raw.index));
        part.last_index = Some(raw.index);
        part.sink.push(raw);
    }
    part
}

/// serde_json's message without its "at line 1 column N" suffix (the line is
/// ours to report, and it is always 1 within a single line). The column is
/// kept for syntax errors, where it locates the typo.
fn describe(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let mut message = match full.rfind(" at line ") {
        Some(cut) => full[..cut].to_owned(),
        None => full,
    };
    // serde names the Rust type it wanted, and reads an array as a struct
    // of positional fields; the reader wants an op.
    if message.contains("expected struct RawOp") {
        let found = match message.strip_prefix("invalid type: ") {
            Some(m) => json_kind(m.split(", expected").next().unwrap_or(m)),
            None => "an array".to_owned(), // "invalid length N"
        };
        return format!("expected a JSON object (an op), found {found}");
    }
    message = message.replace('`', "\"");
    if e.is_syntax() || e.is_eof() {
        message.push_str(&format!(" (column {})", e.column()));
    }
    message
}

/// serde's name for a JSON value (`sequence`, `integer \`5\``, ...) as the
/// JSON kind a writer of histories knows.
fn json_kind(serde_name: &str) -> String {
    let kind = match serde_name.split_whitespace().next().unwrap_or("") {
        "sequence" => "an array",
        "map" => "an object",
        "string" => "a string",
        "integer" | "floating" => "a number",
        "boolean" => "a boolean",
        "null" | "unit" => "null",
        _ => return serde_name.replace('`', ""),
    };
    kind.to_owned()
}

/// Global state across blocks.
pub struct Engine<S> {
    pub sink: S,
    /// Lines consumed so far.
    lines: usize,
    last_index: Option<u64>,
    pub torn_tail: bool,
    threads: usize,
}

impl<S: Sink> Engine<S> {
    /// Parses on `threads` threads.
    pub fn with_threads(threads: usize) -> Self {
        Engine {
            threads: threads.max(1),
            ..Self::new()
        }
    }

    pub fn new() -> Self {
        // DIVERGE_PARSE_THREADS overrides the core count (benchmarks).
        let threads = std::env::var("DIVERGE_PARSE_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
            .max(1);
        Engine {
            sink: S::default(),
            lines: 0,
            last_index: None,
            torn_tail: false,
            threads,
        }
    }

    /// Parses whole lines (`block` ends with `\n` unless `ends_input`).
    /// Errors name a global 1-based line.
    pub fn block(&mut self, block: &[u8], ends_input: bool) -> Result<(), (usize, LineError)> {
        let cuts = split(block, self.threads);
        let n = cuts.len() - 1;
        let parts: Vec<Part<S>> = if n == 1 {
            vec![parse_part(block, ends_input)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (1..n)
                    .map(|i| {
                        let bytes = &block[cuts[i]..cuts[i + 1]];
                        let last = i == n - 1 && ends_input;
                        scope.spawn(move || parse_part::<S>(bytes, last))
                    })
                    .collect();
                let mut parts = vec![parse_part::<S>(&block[cuts[0]..cuts[1]], false)];
                parts.extend(
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("parser thread")),
                );
                parts
            })
        };
        for part in parts {
            if let (Some((line, index)), Some(previous)) = (part.first, self.last_index)
                && index <= previous
            {
                let e = LineError::NotIncreasing {
                    line,
                    index,
                    previous,
                };
                return Err((self.lines, e));
            }
            if let Some(e) = part.error {
                return Err((self.lines, e));
            }
            self.lines += part.lines;
            self.last_index = part.last_index.or(self.last_index);
            self.torn_tail |= part.torn_tail;
            self.sink.append(part.sink);
        }
        Ok(())
    }

    /// Reads `reader` block by block; `total_bytes` (if known) sizes the
    /// output once the first block shows the bytes per op.
    pub fn read(
        &mut self,
        mut reader: impl Read,
        total_bytes: Option<u64>,
    ) -> Result<(), ReadError> {
        // One buffer for every block: zeroed once, the unparsed tail of a
        // block moved to its front (re-zeroing it per block was ~1.5% of a
        // set check).
        let mut buf: Vec<u8> = vec![0; BLOCK_BYTES];
        let mut filled = 0;
        let mut consumed = 0u64;
        loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0); // One line longer than the buffer.
            }
            let mut end = filled;
            let mut eof = false;
            while end < buf.len() {
                match reader.read(&mut buf[end..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => end += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ReadError::Io(e)),
                }
            }
            if eof {
                return self.block(&buf[..end], true).map_err(ReadError::Line);
            }
            let Some(cut) = memchr::memrchr(b'\n', &buf[..end]) else {
                filled = end;
                continue;
            };
            self.block(&buf[..=cut], false).map_err(ReadError::Line)?;
            if consumed == 0
                && let Some(total) = total_bytes
            {
                self.sink.grow_hint(total as f64 / (cut + 1) as f64);
            }
            consumed += (cut + 1) as u64;
            buf.copy_within(cut + 1..end, 0);
            filled = end - cut - 1;
        }
    }
}

impl<S: Sink> Default for Engine<S> {
    fn default() -> Self {
        Self::new()
    }
}

pub enum ReadError {
    Io(std::io::Error),
    Line((usize, LineError)),
}

/// Cut points splitting `block` into up to `threads` parts at line ends.
fn split(block: &[u8], threads: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    if threads > 1 && block.len() >= PARALLEL_MIN_BYTES {
        let step = block.len() / threads;
        for i in 1..threads {
            let from = (i * step).max(*cuts.last().unwrap());
            match memchr::memchr(b'\n', &block[from..]) {
                Some(nl) if from + nl + 1 < block.len() => cuts.push(from + nl + 1),
                _ => break,
            }
        }
    }
    cuts.push(block.len());
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_values_match_serde() {
        for text in [
            "1",
            "-7",
            "[]",
            "[ ]",
            "[1,2, 3]",
            "[-1]",
            "[1.5,2]",
            "1e3",
            "\"a\"",
            "[\"a\",1]",
            "01",
            "[01]",
            "18446744073709551615",
            "1234567890123456789",
            "-9223372036854775808",
            "{\"a\":1}",
            "[[1],2]",
            "true",
        ] {
            let mut hist = Hist::default();
            let v = fast_value(&mut hist, text);
            let expected: serde_json::Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(_) => continue, // "01": invalid JSON never reaches us
            };
            assert_eq!(hist.to_json(v), expected, "{text}");
        }
    }

    fn lines(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"index":{i},"time":{i},"process":{},"type":"invoke","f":"add","key":"k{}","value":[{i},7],"node":"n1"}}"#,
                    i % 7,
                    i % 13
                )
            })
            .collect()
    }

    fn parse_threads(text: &str, threads: usize) -> Result<Hist, (usize, String)> {
        let mut engine = Engine::<Hist>::with_threads(threads);
        engine
            .block(text.as_bytes(), true)
            .map(|()| engine.sink)
            .map_err(|(base, e)| match e {
                LineError::Malformed { line, message } => (base + line, message),
                LineError::NotIncreasing { line, .. } => (base + line, "order".to_owned()),
            })
    }

    #[test]
    fn parallel_parts_agree_with_one_thread_and_keep_line_numbers() {
        let mut all = lines(40_000);
        let one = parse_threads(&all.join("\n"), 1).unwrap();
        let three = parse_threads(&all.join("\n"), 3).unwrap();
        assert_eq!(one.ops.len(), 40_000);
        for (a, b) in one.ops.iter().zip(&three.ops) {
            assert_eq!((a.process, a.time), (b.process, b.time));
            assert_eq!(one.key_name(a.key), three.key_name(b.key));
            assert_eq!(one.to_json(a.value), three.to_json(b.value));
        }
        // A malformed line deep in the last part: the exact 1-based line.
        all[33_332] = "{oops".to_owned();
        let text = all.join("\n");
        assert_eq!(parse_threads(&text, 3).unwrap_err().0, 33_333);
        assert_eq!(parse_threads(&text, 1).unwrap_err().0, 33_333);
        // An index going backwards right after a seam is caught too.
        let mut all = lines(40_000);
        let text_len: usize = all.iter().map(|l| l.len() + 1).sum();
        let cuts = split(all.join("\n").as_bytes(), 3);
        let mut offset = 0;
        let seam_line = all
            .iter()
            .position(|l| {
                offset += l.len() + 1;
                offset == cuts[1]
            })
            .unwrap()
            + 1; // 0-based position of the first line of part 2
        assert!(cuts[1] < text_len);
        all[seam_line] =
            all[seam_line].replacen(&format!("\"index\":{seam_line},"), "\"index\":0,", 1);
        let e = parse_threads(&all.join("\n"), 3).unwrap_err();
        assert_eq!(e, (seam_line + 1, "order".to_owned()));
    }

    #[test]
    fn repeated_read_arrays_share_the_pool() {
        let line = |i: usize, node: &str, value: &str| {
            format!(
                r#"{{"index":{i},"time":{i},"process":1,"type":"ok","f":"read","key":"k","value":{value},"node":"{node}"}}"#
            )
        };
        let text = [
            line(0, "n1", "[1,2]"),
            line(1, "n1", "[1,2]"),      // repeat: shared
            line(2, "n2", "[1,2]"),      // other node: own copy
            line(3, "n1", "[1,2,3]"),    // grew: own copy
            line(4, "n1", "[1,2,3]"),    // repeat of that: shared
            line(5, "n1", "[1, \"a\"]"), // serde path
            line(6, "n1", "[1, \"a\"]"),
        ]
        .join("\n");
        let hist = parse_threads(&text, 1).unwrap();
        assert_eq!(hist.elems.len(), 2 + 2 + 3 + 2);
        let values: Vec<String> = hist
            .ops
            .iter()
            .map(|op| hist.to_json(op.value).to_string())
            .collect();
        assert_eq!(
            values,
            [
                "[1,2]",
                "[1,2]",
                "[1,2]",
                "[1,2,3]",
                "[1,2,3]",
                "[1,\"a\"]",
                "[1,\"a\"]"
            ]
        );
    }

    #[test]
    fn growing_reads_with_wide_elements_read_back_across_parts() {
        // Each key's reads grow by one element, some elements wide (not in
        // 0..2^31) or strings (serde path): linked prefixes in every part,
        // wide codes renumbered by the append.
        let mut expected = Vec::new();
        let text: Vec<String> = (0..30_000)
            .map(|i| {
                let key = i % 11;
                let n = i / 11 % 40;
                let elems: Vec<String> = (0..n)
                    .map(|e| match e % 5 {
                        0 => format!("{}", 3_000_000_000_i64 + e as i64),
                        1 if key == 3 => format!("\"s{e}\""),
                        _ => format!("{}", e * 100 + key),
                    })
                    .collect();
                let value = format!("[{}]", elems.join(","));
                expected.push(value.replace(' ', ""));
                format!(
                    r#"{{"index":{i},"time":{i},"process":1,"type":"ok","f":"read","key":"k{key}","value":{value},"node":"n1"}}"#
                )
            })
            .collect();
        let text = text.join("\n");
        let values = |hist: &Hist| -> Vec<String> {
            hist.ops
                .iter()
                .map(|op| hist.to_json(op.value).to_string())
                .collect()
        };
        let one = parse_threads(&text, 1).unwrap();
        assert_eq!(values(&one), expected);
        // Linked: far fewer codes than elements (a copy each would take
        // more codes than there are commas).
        let commas: usize = expected.iter().map(|v| v.matches(',').count()).sum();
        assert!(one.elems.len() * 2 < commas, "{} codes", one.elems.len());
        let mut three = parse_threads(&text, 3).unwrap();
        assert_eq!(values(&three), expected);
        // Each part restarts every key's chain with a whole copy; the
        // repack at the end links across the seams, as one thread does.
        assert!(three.elems.len() > one.elems.len());
        three.finish_parse();
        assert_eq!(values(&three), expected);
        // The very pool one thread builds: repack re-compares only the
        // whole arrays and keeps the parser's links.
        assert_eq!(three.elems, one.elems);
        let ranges = |h: &Hist| h.ops.iter().map(|op| op.value).collect::<Vec<_>>();
        assert_eq!(ranges(&three), ranges(&one));
    }

    #[test]
    fn splits_at_line_ends() {
        let text = "a\n".repeat(PARALLEL_MIN_BYTES);
        let cuts = split(text.as_bytes(), 3);
        assert_eq!(cuts.len(), 4);
        for c in &cuts[1..3] {
            assert_eq!(text.as_bytes()[c - 1], b'\n');
        }
    }
}
