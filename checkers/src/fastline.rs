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
    loop {
        let (name, next) = string(b, i)?;
        i = ws(b, next);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(b, i + 1);
        let (bit, optional) = match name {
            b"index" => {
                let (n, next) = uint(b, i)?;
                index = n;
                i = next;
                (INDEX, 0)
            }
            b"time" => {
                let (n, next) = uint(b, i)?;
                op.time = n;
                i = next;
                (TIME, 0)
            }
            b"process" => {
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
            b"type" => {
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
            b"f" => {
                let (s, next) = string(b, i)?;
                op.f = match hist.fs.get_bytes(s) {
                    Some(id) => id as u16,
                    None => hist.f_id(std::str::from_utf8(s).ok()?),
                };
                i = next;
                (F, 0)
            }
            b"key" | b"node" | b"error" => {
                let (s, next) = nullable_string(b, i)?;
                i = next;
                let bit = match name {
                    b"key" => {
                        op.key = s.map_or(Some(NONE), |s| hist.keys.id_bytes(s))?;
                        1
                    }
                    b"node" => {
                        op.node = s.map_or(Some(NONE), |s| hist.nodes.id_bytes(s))?;
                        2
                    }
                    _ => 4,
                };
                (0, bit)
            }
            b"value" => {
                let (v, next) = value(hist, b, i)?;
                op.value = v;
                i = next;
                (0, 8)
            }
            _ => return None,
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

fn value(hist: &mut Hist, b: &[u8], i: usize) -> Option<(CValue, usize)> {
    match b.get(i)? {
        b'n' if b[i..].starts_with(b"null") => Some((CValue::Null, i + 4)),
        b'[' => {
            let start = hist.elems.len();
            let mut i = ws(b, i + 1);
            if b.get(i) == Some(&b']') {
                return Some((
                    CValue::Many {
                        start: start as u32,
                        len: 0,
                    },
                    i + 1,
                ));
            }
            loop {
                // Elements are nearly always small counters: pushed as their
                // own pool code without the general path's checks (most of
                // a set history's bytes are read results).
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
                    b']' => break,
                    _ => return None,
                }
            }
            let len = (hist.elems.len() - start) as u32;
            Some((
                CValue::Many {
                    start: start as u32,
                    len,
                },
                i + 1,
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
    fn small_codes_take_plain_integers_only() {
        assert_eq!(small_code(b"0,", 0), Some((0, 1)));
        assert_eq!(small_code(b"[123456789]", 1), Some((123_456_789, 10)));
        // Too long, leading zero, fraction, exponent, sign: the general path.
        for text in ["1234567890", "01", "1.5", "2e3", "-1", "", "]"] {
            assert_eq!(small_code(text.as_bytes(), 0), None, "{text}");
        }
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
