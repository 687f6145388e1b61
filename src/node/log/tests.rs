use super::*;

use diverge_replica::{Change, Dot, VersionVector};
use proptest::prelude::*;
use serde_json::json;

fn entry(seq: LogSeq, key: &str, value: serde_json::Value) -> Record {
    let dot = Dot {
        node: "n1".into(),
        seq,
    };
    let mut vv = VersionVector::default();
    vv.add(&dot);
    Record::Entry {
        seq,
        change: std::sync::Arc::new(Change {
            key: key.into(),
            value,
            dot,
            ts: 1_700_000_000_000_000_000 + seq,
            vv,
            path: vec!["n1".into()],
            uid: 0,
            deps: Default::default(),
            crdt: None,
        }),
    }
}

fn cursor(peer: &str, upto: LogSeq) -> Record {
    Record::Cursor {
        peer: peer.into(),
        upto,
    }
}

fn image(records: &[Record]) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for r in records {
        encode_frame(r, &mut bytes);
        ends.push(bytes.len());
    }
    (bytes, ends)
}

fn log_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join(LOG_FILE_NAME)
}

#[test]
fn round_trip_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let (writer, recovered) = open(&path, FsyncMode::Always).unwrap();
    assert!(recovered.is_empty());
    let records = vec![
        entry(1, "k1", json!(1)),
        cursor("n2", 7),
        entry(2, "k2", json!({"nested": [1, "two", null]})),
    ];
    writer
        .append(records[..2].to_vec())
        .wait_blocking()
        .unwrap();
    writer
        .append(records[2..].to_vec())
        .wait_blocking()
        .unwrap();
    assert_eq!(*writer.persisted().borrow(), 2);
    writer.close().unwrap();
    assert!(matches!(
        writer.append(vec![entry(3, "k", json!(3))]).wait_blocking(),
        Err(LogError::Stopped)
    ));

    let (writer, recovered) = open(&path, FsyncMode::Always).unwrap();
    assert_eq!(recovered, records);
    assert_eq!(
        *writer.persisted().borrow(),
        2,
        "recovered seqs count as persisted"
    );
}

#[test]
fn concurrent_appends_all_complete_in_order_per_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let (writer, _) = open(&path, FsyncMode::Always).unwrap();
    let writer = std::sync::Arc::new(writer);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let writer = writer.clone();
            std::thread::spawn(move || {
                for i in 0..25u64 {
                    let seq = t * 100 + i + 1;
                    writer
                        .append(vec![entry(seq, "k", json!(seq))])
                        .wait_blocking()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    writer.close().unwrap();
    let (_, recovered) = open(&path, FsyncMode::Always).unwrap();
    assert_eq!(recovered.len(), 100);
    for t in 0..4u64 {
        let seqs: Vec<LogSeq> = recovered
            .iter()
            .filter_map(|r| match r {
                Record::Entry { seq, .. } if seq / 100 == t => Some(*seq),
                _ => None,
            })
            .collect();
        let expected: Vec<LogSeq> = (1..=25).map(|i| t * 100 + i).collect();
        assert_eq!(seqs, expected);
    }
}

#[test]
fn queued_appends_share_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _) = open(&log_path(&dir), FsyncMode::Always).unwrap();
    let waiters: Vec<Durable> = (1..=200)
        .map(|seq| writer.append(vec![entry(seq, "k", json!(seq))]))
        .collect();
    for durable in waiters {
        durable.wait_blocking().unwrap();
    }
    assert_eq!(*writer.persisted().borrow(), 200);
    assert!(
        writer.group_commits() < 200,
        "{} commits",
        writer.group_commits()
    );
    // A barrier with nothing queued needs no write.
    let before = writer.group_commits();
    writer.append(Vec::new()).wait_blocking().unwrap();
    assert_eq!(writer.group_commits(), before);
}

#[test]
fn never_mode_acknowledges_at_once_and_flushes_soon() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let (writer, _) = open(&path, FsyncMode::Never).unwrap();
    let mut persisted = writer.persisted();
    writer
        .append(vec![entry(1, "k", json!(1))])
        .wait_blocking()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), persisted.wait_for(|&s| s >= 1))
            .await
            .expect("persisted within 5 s")
            .unwrap();
    });
    // Reported persisted means written to the OS: readable without a close.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(decode_frames(&bytes).records.len(), 1);
    writer.close().unwrap();
}

#[test]
fn corrupt_crc_mid_file_truncates_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let records: Vec<Record> = (1..=5).map(|s| entry(s, "k", json!(s))).collect();
    let (mut bytes, ends) = image(&records);
    bytes[ends[1] + HEADER_BYTES + 3] ^= 0x55; // inside the third payload
    std::fs::write(&path, &bytes).unwrap();

    let (file, recovered) = recover(&path).unwrap();
    drop(file);
    assert_eq!(recovered, records[..2]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[1] as u64);
}

#[test]
fn bad_json_with_a_valid_crc_truncates_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let (mut bytes, ends) = image(&[entry(1, "k", json!(1))]);
    let payload = b"{\"r\":\"nonsense\"}";
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    std::fs::write(&path, &bytes).unwrap();

    let decoded = decode_frames(&bytes);
    assert!(matches!(decoded.problem, Some(TailProblem::BadJson(_))));
    let (_, recovered) = recover(&path).unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[0] as u64);
}

#[test]
fn huge_length_field_is_a_short_payload_not_an_allocation() {
    let mut bytes = u32::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0; 12]);
    let decoded = decode_frames(&bytes);
    assert!(decoded.records.is_empty());
    assert_eq!(decoded.good_len, 0);
    assert!(matches!(
        decoded.problem,
        Some(TailProblem::ShortPayload { .. })
    ));
}

fn arb_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (1..1000u64, "[a-z0-9]{1,12}", any::<i64>(), ".{0,20}")
            .prop_map(|(seq, key, n, s)| { entry(seq, &key, json!({"n": n, "s": s})) }),
        ("n[0-9]", 0..1000u64).prop_map(|(peer, upto)| cursor(&peer, upto)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Cutting the file anywhere recovers exactly the records wholly before
    /// the cut, and appending after recovery works.
    #[test]
    fn truncation_at_any_offset_recovers_the_whole_records_before_it(
        records in proptest::collection::vec(arb_record(), 0..8),
        cut_fraction in 0.0..=1.0f64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let (bytes, ends) = image(&records);
        let cut = ((bytes.len() as f64) * cut_fraction).round() as usize;
        std::fs::write(&path, &bytes[..cut]).unwrap();

        let kept = ends.iter().filter(|&&end| end <= cut).count();
        let (writer, recovered) = open(&path, FsyncMode::Always).unwrap();
        prop_assert_eq!(&recovered[..], &records[..kept]);
        let good_len = if kept == 0 { 0 } else { ends[kept - 1] };
        prop_assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len as u64);

        let extra = entry(5000, "after", json!("recovery"));
        writer.append(vec![extra.clone()]).wait_blocking().unwrap();
        writer.close().unwrap();
        let (_, again) = open(&path, FsyncMode::Always).unwrap();
        let mut expected = records[..kept].to_vec();
        expected.push(extra);
        prop_assert_eq!(again, expected);
    }
}

#[test]
fn truncation_at_every_offset_of_a_small_log() {
    // Exhaustive companion to the property: every single byte offset.
    let records = vec![
        entry(1, "a", json!(1)),
        cursor("n2", 3),
        entry(2, "b", json!("x")),
    ];
    let (bytes, ends) = image(&records);
    for cut in 0..=bytes.len() {
        let decoded = decode_frames(&bytes[..cut]);
        let kept = ends.iter().filter(|&&end| end <= cut).count();
        assert_eq!(decoded.records, records[..kept], "cut at {cut}");
        assert_eq!(decoded.problem.is_some(), !ends.contains(&cut) && cut != 0);
    }
}

#[test]
fn a_read_waits_for_its_entry_without_queueing_on_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        // Opened on the runtime: groups complete through the completer task.
        let (writer, _) = open(&log_path(&dir), FsyncMode::Always).unwrap();
        let read = writer.durable_through(2).wait();
        tokio::pin!(read);
        assert!(futures::poll!(&mut read).is_pending(), "nothing is durable");
        writer
            .append(vec![entry(1, "k", json!(1))])
            .wait()
            .await
            .unwrap();
        assert!(
            futures::poll!(&mut read).is_pending(),
            "entry 1 is durable, the read needs entry 2"
        );
        writer
            .append(vec![entry(2, "k", json!(2))])
            .wait()
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("the read is released within 5 s of entry 2 being durable")
            .unwrap();
        assert_eq!(writer.group_commits(), 2, "the read queued no group");
        assert!(
            matches!(writer.durable_through(2).0, DurableInner::Ready(Ok(()))),
            "a read of durable data does not wait"
        );
        writer.close().unwrap();
        assert!(matches!(
            writer.durable_through(3).wait().await,
            Err(LogError::Stopped)
        ));
    });
}

#[test]
fn the_file_is_preallocated_while_open_and_trimmed_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let (writer, _) = open(&path, FsyncMode::Always).unwrap();
    let records = vec![entry(1, "k", json!(1)), entry(2, "k", json!(2))];
    writer.append(records.clone()).wait_blocking().unwrap();
    let (frames, _) = image(&records);
    let open_len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(open_len, PREALLOC_BYTES, "frames are written over zeros");
    assert_eq!(
        decode_frames(&std::fs::read(&path).unwrap()).records,
        records,
        "the zeros end the log without a problem"
    );
    writer.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), frames, "closed: only frames");
}

#[test]
fn zeros_a_crash_leaves_are_cut_off_silently_and_writing_resumes_after_the_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let first = vec![entry(1, "k", json!(1)), cursor("n2", 4)];
    let (mut bytes, _) = image(&first);
    let frames_len = bytes.len();
    bytes.resize(frames_len + 4096, 0);
    std::fs::write(&path, &bytes).unwrap();

    let decoded = decode_frames(&bytes);
    assert_eq!(decoded.problem, None, "preallocated zeros are no problem");
    assert_eq!(decoded.good_len, frames_len);

    let (writer, recovered) = open(&path, FsyncMode::Always).unwrap();
    assert_eq!(recovered, first);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), frames_len as u64);
    let second = entry(2, "k", json!(2));
    writer.append(vec![second.clone()]).wait_blocking().unwrap();
    writer.close().unwrap();
    let (_, recovered) = open(&path, FsyncMode::Always).unwrap();
    assert_eq!(recovered, [first, vec![second]].concat());
}

#[test]
fn junk_after_a_zero_header_is_still_a_corrupt_tail() {
    let mut bytes = image(&[entry(1, "k", json!(1))]).0;
    let frames_len = bytes.len();
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 7]);
    let decoded = decode_frames(&bytes);
    assert_eq!(decoded.good_len, frames_len);
    assert!(decoded.problem.is_some(), "{:?}", decoded.problem);
}

#[test]
fn a_read_waiting_for_an_entry_the_writer_failed_to_write_gets_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    std::fs::write(&path, b"").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        // A file opened read-only: the first write fails, as a broken disk would.
        let file = std::fs::File::open(&path).unwrap();
        let writer = LogWriter::start(file, path.clone(), FsyncMode::Always, 0);
        let read = writer.durable_through(1).wait();
        tokio::pin!(read);
        assert!(futures::poll!(&mut read).is_pending(), "nothing is durable");
        let write = writer.append(vec![entry(1, "k", json!(1))]).wait().await;
        assert!(matches!(write, Err(LogError::Failed(_))), "{write:?}");
        let outcome = tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("the read is released within 5 s of the failure");
        assert!(
            matches!(&outcome, Err(LogError::Failed(reason)) if reason.contains("replication.log")),
            "{outcome:?}"
        );
        // A read that starts after the failure fails at once too.
        let later = tokio::time::timeout(Duration::from_secs(5), writer.durable_through(1).wait())
            .await
            .expect("no wait after a failure");
        assert!(matches!(later, Err(LogError::Failed(_))), "{later:?}");
    });
}
