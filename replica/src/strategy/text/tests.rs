use super::*;

fn dot(node: &str, seq: u64) -> Dot {
    Dot {
        node: node.into(),
        seq,
    }
}

#[test]
fn the_splice_between_two_texts_is_the_inserted_or_deleted_run() {
    let s = Splice::between("aaabbb", "aaacccbbb");
    assert_eq!((s.at, s.delete, s.insert.as_str()), (3, 0, "ccc"));
    let s = Splice::between("aaacccbbb", "aaabbb");
    assert_eq!((s.at, s.delete, s.insert.as_str()), (3, 3, ""));
    // Prefix first, and the suffix never overlaps it.
    let s = Splice::between("ab", "abab");
    assert_eq!((s.at, s.delete, s.insert.as_str()), (2, 0, "ab"));
    assert!(Splice::between("x", "x").is_empty());
}

/// Two nodes edit the same version concurrently; each imports both
/// updates in its own order, and they converge on a text holding both
/// edits, each where its writer put it.
fn concurrent_edits_converge(lib: TextLib) {
    let mut a = TextDoc::new(lib);
    let mut b = TextDoc::new(lib);
    let base = a
        .edit(None, actor_of(&dot("n1", 1)), "[ ]")
        .unwrap()
        .unwrap();
    a.import(&base).unwrap();
    b.import(&base).unwrap();
    let seen = b.version();
    let from_a = a.edit(Some(&a.version()), actor_of(&dot("n1", 2)), "[AAA ]");
    let from_b = b.edit(Some(&seen), actor_of(&dot("n2", 1)), "[ BBB]");
    let (from_a, from_b) = (from_a.unwrap().unwrap(), from_b.unwrap().unwrap());
    a.import(&from_a).unwrap();
    b.import(&from_b).unwrap();
    a.import(&from_b).unwrap();
    b.import(&from_a).unwrap();
    assert_eq!(a.text(), b.text(), "{lib}");
    assert_eq!(a.text(), "[AAA BBB]", "{lib}");
    assert_eq!(a, b.clone(), "{lib}: same text and updates, clones equal");
}

/// A client that read an old version edits where it read: its insert goes
/// next to what it saw, not at the same offset of today's text.
fn edits_land_at_the_version_read(lib: TextLib) {
    let mut doc = TextDoc::new(lib);
    let first = doc
        .edit(None, actor_of(&dot("n1", 1)), "xy")
        .unwrap()
        .unwrap();
    doc.import(&first).unwrap();
    let old = doc.version();
    let later = doc
        .edit(None, actor_of(&dot("n1", 2)), "QQxy")
        .unwrap()
        .unwrap();
    doc.import(&later).unwrap();
    // The client read "xy" and typed Z between x and y.
    let late = doc
        .edit(Some(&old), actor_of(&dot("n1", 3)), "xZy")
        .unwrap()
        .unwrap();
    doc.import(&late).unwrap();
    assert_eq!(doc.text(), "QQxZy", "{lib}");
    assert!(
        doc.edit(Some("zz"), 9, "x").is_err(),
        "{lib}: bad hex refused"
    );
}

#[test]
fn every_library_converges_and_edits_at_the_version_read() {
    for lib in TextLib::ALL {
        concurrent_edits_converge(lib);
        edits_land_at_the_version_read(lib);
    }
}

/// A client that read the key before it existed (a context without a text
/// version: `""`) saw the empty document: its write inserts, and deletes
/// nothing typed meanwhile.
#[test]
fn a_write_that_read_no_document_deletes_nothing() {
    for lib in TextLib::ALL {
        let mut doc = TextDoc::new(lib);
        let early = doc
            .edit(Some(""), actor_of(&dot("n2", 1)), "!!")
            .unwrap()
            .unwrap();
        doc.import(&early).unwrap();
        let late = doc
            .edit(Some(""), actor_of(&dot("n1", 1)), "ab")
            .unwrap()
            .unwrap();
        doc.import(&late).unwrap();
        let text = doc.text();
        assert_eq!(text.len(), 4, "{lib}: {text}");
        assert!(text.contains("!!") && text.contains("ab"), "{lib}: {text}");
    }
}
