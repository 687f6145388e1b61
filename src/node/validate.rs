//! Input validation at the node's edge: the core must never see a value it
//! was not built for. Keys, node ids, contexts and whole replication batches
//! are checked here; each failure becomes a 400 with a JSON body.

use diverge_replica::{Batch, Context};

/// Longest key, in bytes.
pub const KEY_BYTES_MAX: usize = 256;
/// Longest node id, in bytes.
pub const NODE_ID_BYTES_MAX: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidInput {
    #[error("invalid key {0:?}: {1}")]
    Key(String, &'static str),
    #[error("invalid node id {0:?}: {1}")]
    NodeId(String, &'static str),
    #[error("{0}")]
    Context(#[from] diverge_replica::version::BadContext),
    #[error("invalid batch: {0}")]
    Batch(String),
    #[error("offset_ms {0} is beyond a year either way")]
    ClockOffset(i64),
}

/// Largest clock offset either way: a year is far beyond any fault, so
/// larger values are typos.
pub const CLOCK_OFFSET_MS_MAX: u64 = 366 * 86_400_000;

/// A clock offset for `POST /admin/clock`: at most a year either way.
/// `unsigned_abs` because `i64::MIN.abs()` overflows (and wraps past the
/// check in a release build).
pub fn check_clock_offset_ms(offset_ms: i64) -> Result<(), InvalidInput> {
    if offset_ms.unsigned_abs() > CLOCK_OFFSET_MS_MAX {
        return Err(InvalidInput::ClockOffset(offset_ms));
    }
    Ok(())
}

fn allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

fn check_name(s: &str, max: usize) -> Result<(), &'static str> {
    if s.is_empty() {
        Err("must not be empty")
    } else if s.len() > max {
        Err("too long")
    } else if !s.chars().all(allowed_char) {
        Err("only A-Z a-z 0-9 . _ : - are allowed")
    } else {
        Ok(())
    }
}

/// A key: 1-256 bytes of `[A-Za-z0-9._:-]`.
pub fn check_key(key: &str) -> Result<(), InvalidInput> {
    check_name(key, KEY_BYTES_MAX).map_err(|why| InvalidInput::Key(truncated(key), why))
}

/// A node id: 1-64 bytes of `[A-Za-z0-9._-]`. No `:` (it separates the
/// parts of a context) and no `,`.
pub fn check_node_id(id: &str) -> Result<(), InvalidInput> {
    if id.contains(':') {
        return Err(InvalidInput::NodeId(truncated(id), "':' is not allowed"));
    }
    check_name(id, NODE_ID_BYTES_MAX).map_err(|why| InvalidInput::NodeId(truncated(id), why))
}

/// Decode a client's context string; the empty string is the empty context.
pub fn decode_context(s: &str) -> Result<Context, InvalidInput> {
    let context = Context::decode(s)?;
    for node in (context.0).0.keys() {
        check_node_id(node)?;
    }
    Ok(context)
}

/// A replication batch a peer sent: well-formed ranges, valid keys and ids,
/// and nothing claiming to come from this node itself.
pub fn check_batch(batch: &Batch, own_id: &str) -> Result<(), InvalidInput> {
    let bad = |why: String| Err(InvalidInput::Batch(why));
    check_node_id(&batch.from)?;
    if batch.from == own_id {
        return bad(format!("batch claims to come from this node ({own_id})"));
    }
    if batch.after > batch.upto {
        return bad(format!("after {} > upto {}", batch.after, batch.upto));
    }
    if batch.changes.len() as u64 > batch.upto - batch.after {
        return bad(format!(
            "{} changes for the {} log positions ({}, {}]",
            batch.changes.len(),
            batch.upto - batch.after,
            batch.after,
            batch.upto
        ));
    }
    for change in &batch.changes {
        check_key(&change.key)?;
        check_node_id(&change.dot.node)?;
        if change.dot.seq == 0 {
            return bad(format!("change to {:?} has dot seq 0", change.key));
        }
        if change.path.first() != Some(&change.dot.node) {
            return bad(format!(
                "change to {:?}: its path must start with its origin {:?}",
                change.key, change.dot.node
            ));
        }
        for node in change.path.iter().chain(change.vv.0.keys()) {
            check_node_id(node)?;
        }
    }
    Ok(())
}

fn truncated(s: &str) -> String {
    const SHOWN: usize = 64;
    match s.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diverge_replica::{Change, Dot, VersionVector};
    use serde_json::json;

    #[test]
    fn keys() {
        for ok in ["k1", "a", "user:42", "a.b_c-d:e", &"x".repeat(256)] {
            assert_eq!(check_key(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "",
            "a b",
            "k/1",
            "ké",
            "k\n",
            "k%20",
            "{k}",
            &"x".repeat(257),
        ] {
            assert!(
                matches!(check_key(bad), Err(InvalidInput::Key(..))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn clock_offsets() {
        let max = CLOCK_OFFSET_MS_MAX as i64;
        for ok in [0, 1, -1, max, -max] {
            assert_eq!(check_clock_offset_ms(ok), Ok(()), "{ok}");
        }
        for bad in [max + 1, -max - 1, i64::MAX, i64::MIN + 1, i64::MIN] {
            assert_eq!(
                check_clock_offset_ms(bad),
                Err(InvalidInput::ClockOffset(bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn node_ids() {
        assert_eq!(check_node_id("n1"), Ok(()));
        for bad in ["", "n:1", "n,1", "n 1", &"n".repeat(65)] {
            assert!(check_node_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn contexts() {
        assert_eq!(decode_context("").unwrap(), Context::default());
        let ctx = decode_context("n1:3,n2:1").unwrap();
        assert_eq!(ctx.encode(), "n1:3,n2:1");
        for bad in [
            "n1",
            "n1:x",
            ":3",
            "n1:-1",
            "n1:3,n2",
            "n 1:3",
            "n1:99999999999999999999999",
        ] {
            assert!(decode_context(bad).is_err(), "{bad:?}");
        }
        let message = decode_context("garbage").unwrap_err().to_string();
        assert!(message.contains("malformed context"), "{message}");
    }

    fn change(key: &str, node: &str, seq: u64) -> Change {
        let dot = Dot {
            node: node.into(),
            seq,
        };
        let mut vv = VersionVector::default();
        vv.add(&dot);
        Change {
            key: key.into(),
            value: json!(1),
            dot,
            ts: 1,
            vv,
            path: vec![node.into()],
            uid: 0,
            deps: Default::default(),
            crdt: None,
        }
    }

    fn batch(from: &str, after: u64, upto: u64, changes: Vec<Change>) -> Batch {
        Batch {
            from: from.into(),
            after,
            upto,
            changes: changes.into_iter().map(std::sync::Arc::new).collect(),
        }
    }

    #[test]
    fn batches() {
        assert_eq!(check_batch(&Batch::probe("n2".into()), "n1"), Ok(()));
        assert_eq!(
            check_batch(&batch("n2", 0, 2, vec![change("k", "n2", 1)]), "n1"),
            Ok(())
        );
        for bad in [
            batch("n1", 0, 1, vec![]),
            batch("", 0, 1, vec![]),
            batch("n2", 3, 1, vec![]),
            batch("n2", 0, 1, vec![change("k", "n2", 1), change("k", "n2", 2)]),
            batch("n2", 0, 1, vec![change("bad key", "n2", 1)]),
            batch("n2", 0, 1, vec![change("k", "n2", 0)]),
            batch("n2", 0, 1, vec![change("k", "", 1)]),
        ] {
            assert!(check_batch(&bad, "n1").is_err(), "{bad:?}");
        }
        let mut no_path = change("k", "n2", 1);
        no_path.path.clear();
        assert!(check_batch(&batch("n2", 0, 1, vec![no_path]), "n1").is_err());
        // Claims to originate here without passing through here.
        let mut spoofed = change("k", "n1", 9);
        spoofed.path = vec!["n2".into()];
        assert!(check_batch(&batch("n2", 0, 1, vec![spoofed]), "n1").is_err());
        // Forwarded through a relay: fine.
        let mut relayed = change("k", "n3", 1);
        relayed.path.push("n2".into());
        assert_eq!(check_batch(&batch("n2", 0, 1, vec![relayed]), "n1"), Ok(()));
    }
}
