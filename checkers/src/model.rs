//! The compact history every checker runs on.
//!
//! [`Op`] is the history's exchange format: owned strings and a
//! `serde_json::Value` per line, convenient for the controller that writes
//! it. Checking a million ops needs less: [`Hist`] holds one fixed-size
//! [`COp`] per line, with `f`, `key` and `node` interned to `u32` ids
//! ([`Names`]), and values as [`Val`]s (an `i64`, or an id into a side table
//! for anything that is not an integer). Array values live in one shared pool
//! ([`Hist::elems`], see [`crate::pool`]) as 4-byte codes, successive reads
//! of a key on a node sharing their prefixes: read results dominate a set
//! history's memory (about 100M elements at 10M ops), elements are nearly
//! always small non-negative counters, and a read mostly repeats the
//! previous one. [`Hist::from_ops`] builds it from ops in memory;
//! [`crate::parse::read_hist`] builds it straight from JSONL bytes.

use std::fmt;

use serde_json::Value;

use crate::history::{Elem, Op, OpType, Process};
use crate::op_index::OpIndex;
pub use crate::pool::Elems;
use crate::pool::{self, Codes, LINK, Recent, Shared, WIDE};

/// A fast, non-cryptographic hash map (histories are not adversarial).
pub type FastMap<K, V> = foldhash::HashMap<K, V>;
/// See [`FastMap`].
pub type FastSet<T> = foldhash::HashSet<T>;

/// "No key" / "no node" / "no op".
pub const NONE: u32 = u32::MAX;
/// The process number standing for the nemesis.
pub const NEMESIS: u64 = u64::MAX;

/// `f` ids fixed in every [`Hist`]: the names are interned in this order
/// before any op, so checkers compare ids instead of strings.
pub mod fid {
    pub const ADD: u16 = 0;
    pub const WRITE: u16 = 1;
    pub const READ: u16 = 2;
    pub const FINAL_READ: u16 = 3;
    pub const APPEND: u16 = 4;
    pub const CLAIM: u16 = 5;
    pub const GENERATE: u16 = 6;
    /// A compare-and-set whose invoke value is the value it writes.
    pub const CAS: u16 = 7;
    /// Every `f` named after the first 65,535 distinct ones: a history has a
    /// handful, and 2 bytes keep [`super::COp`] at 40 bytes.
    pub const OVERFLOW: u16 = u16::MAX;
    /// The names, in id order.
    pub const NAMES: [&str; 8] = [
        "add",
        "write",
        "read",
        "final-read",
        "append",
        "claim",
        "generate",
        "cas",
    ];
}

/// A value or array element: an integer, or (for anything else, and for the
/// 2^32 integers nearest `i64::MIN`) an id into [`Hist::others`]. 8 bytes,
/// `Copy`, hashable. Aligned to 4, not 8, so that [`CValue`] takes 12 bytes
/// rather than 16 and [`COp`] 40 rather than 48 (80 MB at 10M ops).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C, packed(4))]
pub struct Val(i64);

const OTHER_BASE: i64 = i64::MIN;
const OTHER_END: i64 = i64::MIN + (1 << 32);

impl Val {
    /// A value no read returned (the side table's last id).
    pub const UNSEEN: Val = Val(OTHER_END - 1);

    /// The integer `n`, if it is representable without the side table.
    pub fn int(n: i64) -> Option<Val> {
        (n >= OTHER_END).then_some(Val(n))
    }

    fn other(id: u32) -> Val {
        Val(OTHER_BASE + i64::from(id))
    }

    /// A pool code below [`WIDE`]: always a plain integer.
    #[inline]
    pub(crate) fn small(n: u32) -> Val {
        Val(i64::from(n))
    }

    /// The integer, unless this is a side-table value.
    pub fn as_int(self) -> Option<i64> {
        (self.0 >= OTHER_END).then_some(self.0)
    }

    fn other_id(self) -> Option<u32> {
        (self.0 < OTHER_END).then(|| (self.0 - OTHER_BASE) as u32)
    }
}

impl fmt::Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.other_id() {
            None => write!(f, "{}", { self.0 }),
            Some(id) => write!(f, "other#{id}"),
        }
    }
}

/// An op's `value`: absent/`null`, one scalar, or an array in the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CValue {
    Null,
    One(Val),
    Many { start: u32, len: u32 },
}

/// One line of the history, compact: 40 bytes (the test `compact_sizes`
/// holds it there). Its `index` is kept apart ([`Hist::index_of`]).
#[derive(Clone, Copy, Debug)]
pub struct COp {
    pub time: u64,
    /// The client process, or [`NEMESIS`].
    pub process: u64,
    pub value: CValue,
    /// Interned in [`Hist::keys`], or [`NONE`].
    pub key: u32,
    /// Interned in [`Hist::nodes`], or [`NONE`].
    pub node: u32,
    /// Interned in [`Hist::fs`] ([`Hist::f_id`]); see [`fid`].
    pub f: u16,
    pub kind: OpType,
}

impl COp {
    pub fn is_client(&self) -> bool {
        self.process != NEMESIS
    }
}

/// A map from written values to ids (`u32`): a plain array when the values
/// are integers in a compact range (the usual case: values are unique
/// counters), a hash map otherwise. Lookups are the checkers' hot loop.
#[derive(Clone, Debug, Default)]
pub struct ValMap {
    base: i64,
    dense: Vec<u32>,
    sparse: FastMap<Val, u32>,
}

impl ValMap {
    /// Builds from `(value, id)` pairs; the first id of a value wins.
    pub fn build(pairs: impl Iterator<Item = (Val, u32)> + Clone) -> ValMap {
        let (mut lo, mut hi, mut n) = (i64::MAX, i64::MIN, 0usize);
        for (v, _) in pairs.clone() {
            if let Some(x) = v.as_int() {
                lo = lo.min(x);
                hi = hi.max(x);
            }
            n += 1;
        }
        let mut map = ValMap::default();
        let span = hi.checked_sub(lo).and_then(|s| usize::try_from(s).ok());
        let dense = span.is_some_and(|s| s <= 4 * n + 1024);
        if dense {
            map.base = lo;
            map.dense = vec![NONE; span.unwrap() + 1];
        }
        for (v, id) in pairs {
            match v.as_int() {
                Some(x) if dense => {
                    let slot = &mut map.dense[(x - lo) as usize];
                    if *slot == NONE {
                        *slot = id;
                    }
                }
                _ => {
                    map.sparse.entry(v).or_insert(id);
                }
            }
        }
        map
    }

    #[inline]
    pub fn get(&self, v: Val) -> Option<u32> {
        if let Some(x) = v.as_int()
            && !self.dense.is_empty()
        {
            let i = x.wrapping_sub(self.base);
            return match self.dense.get(usize::try_from(i).ok()?) {
                Some(&id) if id != NONE => Some(id),
                _ => None,
            };
        }
        self.sparse.get(&v).copied()
    }
}

/// A string interner: each distinct name gets the next `u32`.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Keyed by bytes so that the parser can look a name up straight from
    /// the line ([`Names::id_bytes`]) without validating UTF-8 each time.
    ids: FastMap<Box<[u8]>, u32>,
    list: Vec<Box<str>>,
}

impl Names {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name.as_bytes()) {
            return id;
        }
        let id = self.list.len() as u32;
        self.ids.insert(name.as_bytes().into(), id);
        self.list.push(name.into());
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name.as_bytes()).copied()
    }

    /// [`Names::id`] of a name given as bytes; `None` if they are not
    /// UTF-8. Only a new name is validated.
    #[inline]
    pub fn id_bytes(&mut self, name: &[u8]) -> Option<u32> {
        match self.ids.get(name) {
            Some(&id) => Some(id),
            None => std::str::from_utf8(name).ok().map(|name| self.id(name)),
        }
    }

    /// [`Names::get`] of a name given as bytes.
    #[inline]
    pub fn get_bytes(&self, name: &[u8]) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of `id`; "" for [`NONE`].
    pub fn name(&self, id: u32) -> &str {
        self.list.get(id as usize).map_or("", |s| s)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|s| &**s)
    }
}

/// The side table of non-integer values.
#[derive(Clone, Debug, Default)]
pub struct Others {
    ids: FastMap<Elem, u32>,
    list: Vec<Elem>,
}

impl Others {
    pub fn val(&mut self, elem: Elem) -> Val {
        if let Elem::Int(n) = elem
            && let Some(v) = Val::int(n)
        {
            return v;
        }
        if let Some(&id) = self.ids.get(&elem) {
            return Val::other(id);
        }
        let id = self.list.len() as u32;
        self.ids.insert(elem.clone(), id);
        self.list.push(elem);
        Val::other(id)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The value of `elem` if it was interned.
    pub fn find(&self, elem: &Elem) -> Option<Val> {
        if let Elem::Int(n) = elem
            && let Some(v) = Val::int(*n)
        {
            return Some(v);
        }
        self.ids.get(elem).map(|&id| Val::other(id))
    }
}

/// A whole history, compact. See the module docs.
#[derive(Clone, Debug)]
pub struct Hist {
    /// Push with [`Hist::push_op`], which records the op's `index`.
    pub ops: Vec<COp>,
    op_index: OpIndex,
    /// Array values, back to back, as codes (see [`Hist::push_elem`]);
    /// [`CValue::Many`] points into it.
    pub elems: Vec<u32>,
    /// Elements that are not integers in `0..2^31`, interned.
    pub wide: Vec<Val>,
    wide_ids: FastMap<Val, u32>,
    /// While parsing: the latest array value per `(key, node)`, so that a
    /// read repeating it shares its pool range (about a quarter of a set
    /// history's reads return what the node last returned) and one
    /// extending it shares its prefix (see [`crate::pool`]).
    recent: FastMap<(u32, u32), Recent>,
    /// Parts were appended ([`Hist::append`]): chains restart at each seam
    /// until [`Hist::finish_parse`] repacks the pool.
    seams: bool,
    pub keys: Names,
    pub nodes: Names,
    pub fs: Names,
    pub others: Others,
}

impl Default for Hist {
    fn default() -> Self {
        let mut fs = Names::default();
        for name in fid::NAMES {
            fs.id(name);
        }
        Hist {
            ops: Vec::new(),
            op_index: OpIndex::default(),
            elems: Vec::new(),
            wide: Vec::new(),
            wide_ids: FastMap::default(),
            recent: FastMap::default(),
            seams: false,
            keys: Names::default(),
            nodes: Names::default(),
            fs,
            others: Others::default(),
        }
    }
}

impl Hist {
    /// Interns ops already in memory (the [`crate::check`] path).
    pub fn from_ops(history: &[Op]) -> Hist {
        let mut hist = Hist::default();
        hist.ops.reserve(history.len());
        for op in history {
            let value = hist.value_of(&op.value);
            hist.push(op, value);
        }
        hist
    }

    fn push(&mut self, op: &Op, value: CValue) {
        let cop = COp {
            time: op.time,
            process: match op.process {
                Process::Client(n) => n.min(NEMESIS - 1),
                Process::Nemesis => NEMESIS,
            },
            value,
            key: op.key.as_deref().map_or(NONE, |k| self.keys.id(k)),
            node: op.node.as_deref().map_or(NONE, |n| self.nodes.id(n)),
            f: self.f_id(&op.f),
            kind: op.kind,
        };
        self.push_op(cop, op.index);
    }

    /// Appends an op whose `index` field is `index`.
    #[inline]
    pub fn push_op(&mut self, op: COp, index: u64) {
        self.op_index.push(self.ops.len() as u32, index);
        self.ops.push(op);
    }

    /// The `index` field of the op at position `pos` in [`Hist::ops`].
    #[inline]
    pub fn index_of(&self, pos: u32) -> u64 {
        self.op_index.get(pos)
    }

    /// Converts a JSON value (arrays into the pool).
    pub fn value_of(&mut self, value: &Value) -> CValue {
        match value {
            Value::Null => CValue::Null,
            Value::Array(items) => {
                let start = self.elems.len() as u32;
                for item in items {
                    let v = self.others.val(Elem::from_value(item));
                    self.push_elem(v);
                }
                CValue::Many {
                    start,
                    len: items.len() as u32,
                }
            }
            scalar => CValue::One(self.others.val(Elem::from_value(scalar))),
        }
    }

    /// Stores the last op's array value sharing what it can with the
    /// previous array of its key and node: the whole pool range if it
    /// repeats it, its prefix otherwise (see [`crate::pool`]). Pool ranges
    /// are only ever read through [`Hist::elements`], so sharing is
    /// invisible.
    pub(crate) fn share_repeated_array(&mut self) {
        let Some(op) = self.ops.last_mut() else {
            return;
        };
        let CValue::Many { start, len } = op.value else {
            return;
        };
        if op.key == NONE || len == 0 || start as usize + len as usize != self.elems.len() {
            return;
        }
        match self.recent.entry((op.key, op.node)) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let prev = *e.get();
                let (what, latest) = pool::share(&mut self.elems, start, len, prev);
                if what == Shared::Repeat {
                    op.value = CValue::Many {
                        start: prev.start,
                        len,
                    };
                }
                e.insert(latest);
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Recent {
                    start,
                    len,
                    depth: 0,
                });
            }
        }
    }

    /// Called once the whole input is parsed: shares read prefixes across
    /// the seams of parallel parsing ([`pool::repack`]) and drops the
    /// parser's per-key state.
    pub(crate) fn finish_parse(&mut self) {
        // Whole copies at the seams only cost much when arrays are long (set
        // reads average ~40 elements; register reads hold one): repack only
        // when the pool outgrows the ops.
        if self.seams && self.elems.len() > self.ops.len() {
            pool::repack(&mut self.elems, &mut self.ops);
            self.seams = false;
        }
        self.recent = FastMap::default();
    }

    /// Appends one array element to the pool: small non-negative integers
    /// as themselves, anything else as an id into [`Hist::wide`].
    #[inline]
    pub fn push_elem(&mut self, v: Val) {
        let code = match v.as_int() {
            Some(n) if (0..i64::from(WIDE)).contains(&n) => n as u32,
            _ => self.wide_code(v),
        };
        self.elems.push(code);
    }

    fn wide_code(&mut self, v: Val) -> u32 {
        if let Some(&id) = self.wide_ids.get(&v) {
            return WIDE | id;
        }
        let id = self.wide.len() as u32;
        // `WIDE | id` must stay below LINK.
        assert!(id < WIDE - 1, "more than 2^31 - 1 distinct wide elements");
        self.wide.push(v);
        self.wide_ids.insert(v, id);
        WIDE | id
    }

    /// The elements of a read result: an array's items, a scalar as one
    /// element, `null` as none (like [`Op::elements`]).
    pub fn elements(&self, value: &CValue) -> Elems<'_> {
        let (codes, one) = match *value {
            CValue::Null => (Codes::new(&[], 0, 0), None),
            CValue::One(v) => (Codes::new(&[], 0, 0), Some(v)),
            CValue::Many { start, len } => (Codes::new(&self.elems, start, len), None),
        };
        Elems::new(codes, &self.wide, one)
    }

    /// A written value as one [`Val`]: the scalar itself; an array or `null`
    /// through the side table (as its JSON text), like [`Elem::from_value`].
    pub fn written(&mut self, value: CValue) -> Val {
        match value {
            CValue::One(v) => v,
            other => {
                let json = self.to_json(other).to_string();
                self.others.val(Elem::Json(json))
            }
        }
    }

    pub fn elem(&self, v: Val) -> Elem {
        match v.other_id() {
            None => Elem::Int(v.0),
            Some(id) => self.others.list[id as usize].clone(),
        }
    }

    /// Back to JSON, for reports.
    pub fn to_json(&self, value: CValue) -> Value {
        match value {
            CValue::Null => Value::Null,
            CValue::One(v) => self.elem(v).to_value(),
            CValue::Many { .. } => Value::Array(
                self.elements(&value)
                    .map(|v| self.elem(v).to_value())
                    .collect(),
            ),
        }
    }

    /// A value for explanations: its JSON text.
    pub fn show(&self, v: Val) -> String {
        self.elem(v).to_string()
    }

    /// `name` interned as an `f`: [`fid::OVERFLOW`] once 65,535 are taken.
    pub fn f_id(&mut self, name: &str) -> u16 {
        if let Some(id) = self.fs.get(name) {
            return id as u16;
        }
        if self.fs.len() >= usize::from(fid::OVERFLOW) {
            return fid::OVERFLOW;
        }
        self.fs.id(name) as u16
    }

    /// The name of an `f` id ("" for [`fid::OVERFLOW`]).
    pub fn f_name(&self, f: u16) -> &str {
        self.fs.name(u32::from(f))
    }

    pub fn key_name(&self, key: u32) -> &str {
        self.keys.name(key)
    }

    pub fn node_name(&self, node: u32) -> &str {
        self.nodes.name(node)
    }

    /// Appends `other`, renumbering its interned ids and pool offsets:
    /// the merge step of the parallel parser.
    pub fn append(&mut self, other: Hist) {
        let keys: Vec<u32> = other.keys.iter().map(|k| self.keys.id(k)).collect();
        let nodes: Vec<u32> = other.nodes.iter().map(|n| self.nodes.id(n)).collect();
        let fs: Vec<u16> = other.fs.iter().map(|f| self.f_id(f)).collect();
        let others: Vec<Val> = other
            .others
            .list
            .iter()
            .map(|e| self.others.val(e.clone()))
            .collect();
        let remap_val = |v: Val| match v.other_id() {
            Some(id) => others[id as usize],
            None => v,
        };
        let base = self.elems.len() as u32;
        if other.wide.is_empty() {
            self.elems.extend_from_slice(&other.elems);
        } else {
            let wide: Vec<u32> = other
                .wide
                .iter()
                .map(|&v| self.wide_code(remap_val(v)))
                .collect();
            self.elems.reserve(other.elems.len());
            for &code in &other.elems {
                // Link headers (LINK, then two small numbers) stay as they are.
                let code = if code < WIDE || code == LINK {
                    code
                } else {
                    wide[(code - WIDE) as usize]
                };
                self.elems.push(code);
            }
        }
        let remap = |id: u32, table: &[u32]| if id == NONE { NONE } else { table[id as usize] };
        self.seams |= !other.ops.is_empty() && !self.ops.is_empty();
        self.op_index.append(&other.op_index, self.ops.len() as u32);
        self.ops.reserve(other.ops.len());
        self.ops.extend(other.ops.iter().map(|op| COp {
            key: remap(op.key, &keys),
            node: remap(op.node, &nodes),
            f: fs.get(op.f as usize).copied().unwrap_or(fid::OVERFLOW),
            value: match op.value {
                CValue::Null => CValue::Null,
                CValue::One(v) => CValue::One(remap_val(v)),
                CValue::Many { start, len } => CValue::Many {
                    start: start + base,
                    len,
                },
            },
            ..*op
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vals_round_trip_through_the_side_table() {
        let mut hist = Hist::default();
        for value in [json!(5), json!(-3), json!("x"), json!(1.5), json!(u64::MAX)] {
            let v = hist.value_of(&value);
            assert_eq!(hist.to_json(v), value);
        }
        let v = hist.value_of(&json!(i64::MIN));
        assert_eq!(hist.to_json(v), json!(i64::MIN));
        let arr = hist.value_of(&json!([1, "a", [2]]));
        assert_eq!(hist.to_json(arr), json!([1, "a", [2]]));
        let w = hist.written(arr);
        assert_eq!(hist.show(w), "[1,\"a\",[2]]");
    }

    #[test]
    fn wide_elements_survive_append() {
        let mut a = Hist::default();
        let first = a.value_of(&json!([-1, 3_000_000_000_i64, "x"]));
        let mut b = Hist::default();
        let second = b.value_of(&json!([7, "y", -1, 3_000_000_000_i64, 2_147_483_648_i64]));
        let CValue::Many { start, len } = second else {
            panic!("an array");
        };
        a.append(b);
        let second = CValue::Many {
            start: start + 3,
            len,
        };
        assert_eq!(a.to_json(first), json!([-1, 3_000_000_000_i64, "x"]));
        assert_eq!(
            a.to_json(second),
            json!([7, "y", -1, 3_000_000_000_i64, 2_147_483_648_i64])
        );
        assert_eq!(a.elements(&second).len(), 5);
        // Shared wide values are interned once.
        assert_eq!(a.wide.len(), 5);
    }

    #[test]
    fn compact_sizes() {
        // The memory arithmetic in the docs relies on these.
        assert_eq!(std::mem::size_of::<CValue>(), 12);
        assert_eq!(std::mem::size_of::<COp>(), 40);
    }

    #[test]
    fn f_names_past_the_limit_share_the_overflow_id() {
        let mut hist = Hist::default();
        let first = (0..70_000)
            .map(|i| hist.f_id(&format!("f{i}")))
            .collect::<Vec<_>>();
        assert_eq!(first[0], fid::NAMES.len() as u16);
        assert_eq!(first[65_535 - fid::NAMES.len() - 1], fid::OVERFLOW - 1);
        assert_eq!(first[69_999], fid::OVERFLOW);
        assert_eq!(hist.f_id("f0"), first[0]);
        assert_eq!(hist.f_id(fid::NAMES[2]), fid::READ);
        assert_eq!(hist.f_name(fid::OVERFLOW), "");
    }

    #[test]
    fn append_renumbers_ids() {
        let mut a = Hist::default();
        a.keys.id("k1");
        a.value_of(&json!([1, 2]));
        let mut b = Hist::default();
        let key = b.keys.id("k2");
        let value = b.value_of(&json!(["s", 3]));
        let f = b.f_id("custom");
        let op = COp {
            time: 0,
            process: 1,
            value,
            key,
            node: NONE,
            f,
            kind: OpType::Ok,
        };
        b.push_op(op, 7);
        b.push_op(op, 9);
        a.append(b);
        let op = a.ops[0];
        assert_eq!((a.index_of(0), a.index_of(1)), (7, 9));
        assert_eq!(a.key_name(op.key), "k2");
        assert_eq!(a.f_name(op.f), "custom");
        assert_eq!(a.to_json(op.value), json!(["s", 3]));
    }
}
