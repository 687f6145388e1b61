//! The log's segment files and reading entries back from them.
//!
//! The durable log is a sequence of segment files in the data directory.
//! Each starts at a log position: `replication.log` at 1 (the name a node
//! has always used, so an old data directory is a log of one segment) and
//! `replication.<START>.log` (START zero-padded to 20 digits) for the
//! others. The writer starts a new segment at each checkpoint (see
//! [`crate::node::checkpoint`]), so a restart replays only the segments from
//! the one holding the checkpoint's next position on. Segments are never
//! deleted: a peer that fell behind the node's in-memory window is served
//! from them ([`read_range`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use diverge_replica::{Change, LogSeq, Record};

use super::{LOG_FILE_NAME, LogError, decode_frames, io_err};

/// The file name of the segment starting at log position `start`.
pub fn segment_name(start: LogSeq) -> String {
    if start <= 1 {
        LOG_FILE_NAME.to_string()
    } else {
        format!("replication.{start:020}.log")
    }
}

/// The start position of a segment file name, if it is one.
fn segment_start(name: &str) -> Option<LogSeq> {
    if name == LOG_FILE_NAME {
        return Some(1);
    }
    let digits = name.strip_prefix("replication.")?.strip_suffix(".log")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Every segment in `dir`, by start position.
pub fn list(dir: &Path) -> Result<Vec<(LogSeq, PathBuf)>, LogError> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(start) = entry.file_name().to_str().and_then(segment_start) {
            segments.push((start, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

/// The segments a replica that holds every entry up to `after` must replay:
/// the one holding `after + 1` and every later one.
pub fn from(segments: &[(LogSeq, PathBuf)], after: LogSeq) -> &[(LogSeq, PathBuf)] {
    let first = segments
        .iter()
        .rposition(|(start, _)| *start <= after + 1)
        .unwrap_or(0);
    &segments[first..]
}

/// The log entries (applied or skipped) in `(after, upto]`, at most `most`
/// of them, read back from the segments in `dir`. A segment being written
/// is read as far as it is complete; entries up to the durable position
/// always are.
pub fn read_range(
    dir: &Path,
    after: LogSeq,
    upto: LogSeq,
    most: usize,
) -> Result<Vec<(LogSeq, Arc<Change>)>, LogError> {
    let segments = list(dir)?;
    let mut out = Vec::new();
    for (_, path) in from(&segments, after) {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        for record in decode_frames(&bytes).records {
            let (Record::Entry { seq, change } | Record::Skipped { seq, change }) = record else {
                continue;
            };
            if seq > upto || out.len() >= most {
                return Ok(out);
            }
            if seq > after {
                out.push((seq, change));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_first_is_the_old_single_file() {
        assert_eq!(segment_name(1), "replication.log");
        assert_eq!(segment_start("replication.log"), Some(1));
        let name = segment_name(20_001);
        assert_eq!(name, "replication.00000000000000020001.log");
        assert_eq!(segment_start(&name), Some(20_001));
        assert_eq!(segment_start("replication.12.log"), None);
        assert_eq!(segment_start("checkpoint.json"), None);
    }

    #[test]
    fn replay_starts_at_the_segment_holding_the_next_position() {
        let segs: Vec<(LogSeq, PathBuf)> = [1, 101, 201]
            .into_iter()
            .map(|s| (s, PathBuf::from(segment_name(s))))
            .collect();
        let starts = |after| from(&segs, after).iter().map(|s| s.0).collect::<Vec<_>>();
        assert_eq!(starts(0), vec![1, 101, 201]);
        assert_eq!(starts(100), vec![101, 201]);
        assert_eq!(starts(150), vec![101, 201]);
        assert_eq!(starts(500), vec![201]);
    }
}
