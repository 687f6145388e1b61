//! A hand-written parser for the common shape of a history line, straight
//! into a [`Hist`]: a flat object whose strings have no escapes and whose
//! `value` is `null`, an integer or an array of integers. Anything else
//! (and every malformed line) returns `None` and goes through serde_json
//! instead, which also words the errors; so this is purely a fast path.

use crate::history::OpType;
use crate::model::{COp, CValue, Hist, NEMESIS, NONE, Val};

const INDEX: u8 = 1;
const TIME: u8 = 2;
const PROCESS: u8 = 4;
const TYPE: u8 = 8;
const F: u8 = 16;
const REQUIRED: u8 = INDEX | TIME | PROCESS | TYPE | F;

/// Parses `line` and pushes its op; `None` (nothing pushed) if the line is
/// not of the simple shape.
pub fn parse(hist: &mut Hist, line: &[u8]) -> Option<u64> {
    let elems = hist.elems.len();
    let op = parse_op(hist, line);
    match op {
        Some((op, index)) => {
            hist.push_op(op, index);
            Some(index)
        }
        None => {
            hist.elems.truncate(elems);
            None
        }
    }
}

fn parse_op(hist: &mut Hist, b: &[u8]) -> Option<(COp, u64)> {
    let mut index = 0;
    let mut op = COp {
        time: 0,
        process: 0,
        value: CValue::Null,
        key: NONE,
        node: NONE,
        f: 0,
        kind: OpType::Invoke,
    };
    let mut seen = 0u8;
    let mut seen_optional = 0u8;
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return None;
    }
    let mut expect = 0;
    loop {
        let (field, next) = field_name(b, i, expect)?;
        expect = field as usize + 1;
        i = next;
        let (bit, optional) = match field {
            Field::Index => {
                let (n, next) = uint(b, i)?;
                index = n;
                i = next;
                (INDEX, 0)
            }
            Field::Time => {
                let (n, next) = uint(b, i)?;
                op.time = n;
                i = next;
                (TIME, 0)
            }
            Field::Process => {
                if b.get(i) == Some(&b'"') {
                    let (s, next) = string(b, i)?;
                    if s != b"nemesis" {
                        return None;
                    }
                    op.process = NEMESIS;
                    i = next;
                } else {
                    let (n, next) = uint(b, i)?;
                    op.process = n.min(NEMESIS - 1);
                    i = next;
                }
                (PROCESS, 0)
            }
            Field::Type => {
                let (s, next) = string(b, i)?;
                op.kind = match s {
                    b"invoke" => OpType::Invoke,
                    b"ok" => OpType::Ok,
                    b"fail" => OpType::Fail,
                    b"info" => OpType::Info,
                    _ => return None,
                };
                i = next;
                (TYPE, 0)
            }
            Field::F => {
                let (s, next) = string(b, i)?;
                op.f = match hist.fs.get_bytes(s) {
                    Some(id) => id as u16,
                    None => hist.f_id(std::str::from_utf8(s).ok()?),
                };
                i = next;
                (F, 0)
            }
            Field::Key | Field::Node | Field::Error => {
                let (s, next) = nullable_string(b, i)?;
                i = next;
                let bit = match field {
                    Field::Key => {
                        op.key = s.map_or(Some(NONE), |s| hist.keys.id_bytes(s))?;
                        1
                    }
                    Field::Node => {
                        op.node = s.map_or(Some(NONE), |s| hist.nodes.id_bytes(s))?;
                        2
                    }
                    _ => 4,
                };
                (0, bit)
            }
            Field::Value => {
                let (v, next) = value(hist, b, i)?;
                op.value = v;
                i = next;
                (0, 8)
            }
        };
        if seen & bit != 0 || seen_optional & optional != 0 {
            return None; // Duplicate field: serde words the error.
        }
        seen |= bit;
        seen_optional |= optional;
        i = ws(b, i);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => return None,
        }
    }
    (ws(b, i) == b.len() && seen == REQUIRED).then_some((op, index))
}

/// The fields of a line, in the order diverge writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Index,
    Time,
    Process,
    Type,
    F,
    Key,
    Value,
    Node,
    Error,
}

/// Each field as it is written, quotes and colon included, in [`Field`]
/// order.
const FIELDS: [(&[u8], Field); 9] = [
    (b"\"index\":", Field::Index),
    (b"\"time\":", Field::Time),
    (b"\"process\":", Field::Process),
    (b"\"type\":", Field::Type),
    (b"\"f\":", Field::F),
    (b"\"key\":", Field::Key),
    (b"\"value\":", Field::Value),
    (b"\"node\":", Field::Node),
    (b"\"error\":", Field::Error),
];

/// The field name at `i` (and the position after its colon). The field
/// expected next in diverge's own order (`expect`, an index into
/// [`FIELDS`]) is tried first as one comparison with its written form;
/// any other name, order or spacing is scanned.
#[inline]
fn field_name(b: &[u8], i: usize, expect: usize) -> Option<(Field, usize)> {
    let rest = &b[i..];
    // A plain byte loop: `starts_with` calls memcmp for a length known only
    // at run time, which cost more than these ten bytes.
    if let Some(&(text, field)) = FIELDS.get(expect)
        && rest.len() >= text.len()
        && rest.iter().zip(text).all(|(a, b)| a == b)
    {
        return Some((field, ws(b, i + text.len())));
    }
    let (name, next) = string(b, i)?;
    let (_, field) = FIELDS
        .iter()
        .find(|(text, _)| &text[1..text.len() - 2] == name)?;
    let i = ws(b, next);
    if b.get(i) != Some(&b':') {
        return None;
    }
    Some((*field, ws(b, i + 1)))
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// A string without escapes at `i`: its bytes and the position after it.
/// One plain loop: the strings of a line are a few bytes long, where a
/// vectorised search (and a second pass for control characters) cost more
/// than the scan (a fifth of a register history's parse).
#[inline]
fn string(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let rest = &b[i + 1..];
    for (end, &c) in rest.iter().enumerate() {
        match c {
            b'"' => return Some((&rest[..end], i + 1 + end + 1)),
            b'\\' | 0..=0x1f => return None,
            _ => {}
        }
    }
    None
}

fn nullable_string(b: &[u8], i: usize) -> Option<(Option<&[u8]>, usize)> {
    if b[i..].starts_with(b"null") {
        return Some((None, i + 4));
    }
    string(b, i).map(|(s, next)| (Some(s), next))
}

/// A JSON unsigned integer of at most 19 digits.
fn uint(b: &[u8], mut i: usize) -> Option<(u64, usize)> {
    let start = i;
    let mut n: u64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        n = n * 10 + u64::from(b[i] - b'0');
        i += 1;
        if i - start > 19 {
            return None;
        }
    }
    let len = i - start;
    if len == 0 || (len > 1 && b[start] == b'0') || matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    Some((n, i))
}

/// A JSON integer that fits a [`Val`] (at most 18 digits).
fn int(b: &[u8], mut i: usize) -> Option<(Val, usize)> {
    let negative = b.get(i) == Some(&b'-');
    i += usize::from(negative);
    let (n, next) = uint(b, i)?;
    if next - i > 18 {
        return None;
    }
    let n = n as i64;
    Val::int(if negative { -n } else { n }).map(|v| (v, next))
}

/// A JSON integer of at most 9 digits at `i`, which is its own pool code
/// (below [`crate::pool::WIDE`]); `None` for anything else, left to [`int`].
#[inline]
fn small_code(b: &[u8], start: usize) -> Option<(u32, usize)> {
    let digits = b
        .get(start..)?
        .iter()
        .take(9)
        .take_while(|c| c.is_ascii_digit());
    let mut n = 0u32;
    let mut len = 0;
    for &c in digits {
        n = n * 10 + u32::from(c - b'0');
        len += 1;
    }
    let end = start + len;
    let plain = len > 0 && (len == 1 || b[start] != b'0');
    let ends = !matches!(b.get(end), Some(b'0'..=b'9' | b'.' | b'e' | b'E'));
    (plain && ends).then_some((n, end))
}

/// The elements of an array after its `[` at `i`, if they are all plain
/// integers of at most 9 digits (their own pool codes) separated by bare
/// commas: pushes their codes, returns the position after the `]`. `None`
/// (codes maybe pushed) for anything else.
#[inline]
fn plain_codes(elems: &mut Vec<u32>, b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    loop {
        let digits = i;
        let mut n = 0u32;
        while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
            if i - digits == 9 {
                return None;
            }
            n = n * 10 + u32::from(d);
            i += 1;
        }
        let len = i - digits;
        if len == 0 || (len > 1 && b[digits] == b'0') {
            return None;
        }
        elems.push(n);
        match b.get(i)? {
            b',' => i += 1,
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The elements of an array after its `[` at `i`, any JSON integers with
/// any spacing: pushes them, returns the position after the `]`.
fn any_elements(hist: &mut Hist, b: &[u8], i: usize) -> Option<usize> {
    let mut i = ws(b, i);
    if b.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    loop {
        let next = match small_code(b, i) {
            Some((code, next)) => {
                hist.elems.push(code);
                next
            }
            None => {
                let (v, next) = int(b, i)?;
                hist.push_elem(v);
                next
            }
        };
        i = ws(b, next);
        match b.get(i)? {
            b',' => i = ws(b, i + 1),
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

fn value(hist: &mut Hist, b: &[u8], i: usize) -> Option<(CValue, usize)> {
    match b.get(i)? {
        b'n' if b[i..].starts_with(b"null") => Some((CValue::Null, i + 4)),
        b'[' => {
            let start = hist.elems.len();
            // Most of a set history's bytes are read results, nearly always
            // small counters written without spaces: one tight loop; the
            // general one below for anything else.
            let end = match plain_codes(&mut hist.elems, b, i + 1) {
                Some(end) => end,
                None => {
                    hist.elems.truncate(start);
                    any_elements(hist, b, i + 1)?
                }
            };
            let len = (hist.elems.len() - start) as u32;
            Some((
                CValue::Many {
                    start: start as u32,
                    len,
                },
                end,
            ))
        }
        _ => int(b, i).map(|(v, next)| (CValue::One(v), next)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunked::Sink;

    /// The fast path and serde agree on every line it accepts.
    #[test]
    fn agrees_with_serde() {
        let lines = [
            r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"add","key":"x","value":1,"node":"n1"}"#,
            r#"{ "index" : 1 , "time":9,"process":"nemesis","type":"info","f":"heal"}"#,
            r#"{"index":2,"time":9,"process":3,"type":"ok","f":"read","key":"k","value":[1,-2, 3],"node":"n2","error":null}"#,
            r#"{"index":3,"time":9,"process":3,"type":"ok","f":"read","key":"k","value":[],"node":null}"#,
            r#"{"index":4,"time":9,"process":3,"type":"fail","f":"read","key":"k","value":null,"error":"boom"}"#,
        ];
        for line in lines {
            let mut fast = Hist::default();
            assert!(parse(&mut fast, line.as_bytes()).is_some(), "{line}");
            let mut slow = Hist::default();
            slow.push(serde_json::from_str(line).unwrap());
            let (a, b) = (fast.ops[0], slow.ops[0]);
            assert_eq!(
                (
                    fast.index_of(0),
                    a.time,
                    a.process,
                    a.kind,
                    a.key,
                    a.node,
                    a.f
                ),
                (
                    slow.index_of(0),
                    b.time,
                    b.process,
                    b.kind,
                    b.key,
                    b.node,
                    b.f
                ),
            );
            assert_eq!(fast.to_json(a.value), slow.to_json(b.value), "{line}");
        }
    }

    #[test]
    fn strings_stop_at_the_quote_and_refuse_escapes_and_control_bytes() {
        assert_eq!(string(br#"x"k1","#, 1), Some((&b"k1"[..], 5)));
        assert_eq!(string(br#""""#, 0), Some((&b""[..], 2)));
        for text in [&br#""a\"b""#[..], b"\"a\tb\"", b"\"open", b"x"] {
            assert_eq!(string(text, 0), None, "{text:?}");
        }
        // Not UTF-8: the line falls back to serde, which reports it.
        let mut hist = Hist::default();
        let line = b"{\"index\":0,\"time\":5,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"key\":\"\xff\"}";
        assert_eq!(parse(&mut hist, line), None);
        assert!(hist.keys.is_empty());
    }

    #[test]
    fn plain_arrays_take_the_tight_loop_and_the_rest_the_general_one() {
        let mut elems = Vec::new();
        assert_eq!(plain_codes(&mut elems, b"[]", 1), Some(2));
        assert_eq!(plain_codes(&mut elems, b"[0,17,123456789],", 1), Some(16));
        assert_eq!(elems, [0, 17, 123_456_789]);
        for text in [
            "[1, 2]",
            "[1234567890]",
            "[01]",
            "[1.5]",
            "[-1]",
            "[1,]",
            "[1",
            "[,1]",
        ] {
            assert_eq!(
                plain_codes(&mut Vec::new(), text.as_bytes(), 1),
                None,
                "{text}"
            );
        }
        // The general loop takes what the tight one refused, alike serde.
        for text in ["[1, 2]", "[ 1234567890 ,-1]", "[ ]"] {
            let mut hist = Hist::default();
            let (v, end) = value(&mut hist, text.as_bytes(), 0).unwrap();
            assert_eq!(end, text.len());
            let expected: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(hist.to_json(v), expected, "{text}");
        }
        for text in ["[01]", "[1.5]", "[1,]", "[1"] {
            assert_eq!(
                value(&mut Hist::default(), text.as_bytes(), 0),
                None,
                "{text}"
            );
        }
    }

    #[test]
    fn small_codes_take_plain_integers_only() {
        assert_eq!(small_code(b"0,", 0), Some((0, 1)));
        assert_eq!(small_code(b"[123456789]", 1), Some((123_456_789, 10)));
        // Too long, leading zero, fraction, exponent, sign: the general path.
        for text in ["1234567890", "01", "1.5", "2e3", "-1", "", "]"] {
            assert_eq!(small_code(text.as_bytes(), 0), None, "{text}");
        }
    }

    #[test]
    fn fields_in_any_order_parse_alike() {
        let ordered = r#"{"index":3,"time":9,"process":2,"type":"ok","f":"read","key":"k","value":[1,2],"node":"n2","error":null}"#;
        let shuffled = r#"{"node":"n2", "error":null,"value":[1,2],"key":"k","f":"read","type":"ok","process":2,"time":9,"index":3}"#;
        let mut hists = [Hist::default(), Hist::default()];
        for (hist, line) in hists.iter_mut().zip([ordered, shuffled]) {
            assert_eq!(parse(hist, line.as_bytes()), Some(3), "{line}");
        }
        let [a, b] = &hists;
        let (x, y) = (a.ops[0], b.ops[0]);
        assert_eq!(
            (x.time, x.process, x.kind, x.f),
            (y.time, y.process, y.kind, y.f)
        );
        assert_eq!(a.key_name(x.key), b.key_name(y.key));
        assert_eq!(a.node_name(x.node), b.node_name(y.node));
        assert_eq!(a.to_json(x.value), b.to_json(y.value));
        // A field name that only starts like a known one is not it.
        let line = r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"add","keys":"x"}"#;
        assert_eq!(parse(&mut Hist::default(), line.as_bytes()), None);
    }

    #[test]
    fn unusual_lines_fall_back() {
        for line in [
            r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"add","key":"x\"y","value":1}"#,
            r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"add","value":"s"}"#,
            r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"add","value":[1.5]}"#,
            r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"add","extra":1}"#,
            r#"{"index":0,"time":5,"process":0,"type":"invoke"}"#,
            r#"{"index":0,"index":1,"time":5,"process":0,"type":"invoke","f":"a"}"#,
            r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"a"} x"#,
            r#"{"index":01,"time":5,"process":0,"type":"invoke","f":"a"}"#,
        ] {
            let mut hist = Hist::default();
            hist.value_of(&serde_json::json!([7]));
            assert_eq!(parse(&mut hist, line.as_bytes()), None, "{line}");
            assert_eq!(hist.elems.len(), 1);
            assert!(hist.ops.is_empty());
        }
    }
}
