//! Reading `history.jsonl`: one [`Op`] per line, streamed.
//!
//! Every entry point ([`read_history_detailed`] for files, [`parse_history_detailed`]
//! for text already in memory, [`read_hist`] / [`parse_hist`] for the compact
//! form) runs the same engine ([`crate::chunked`]), so they agree on every
//! rule:
//!
//! - empty (whitespace-only) lines are skipped;
//! - `index` must strictly increase;
//! - a malformed line is an error naming the source, the 1-based line and the
//!   problem (`history.jsonl:17: missing field "type"`);
//! - except the *last* line when it has no trailing newline: a controller
//!   killed mid-write leaves exactly that, so it is skipped and reported as
//!   [`History::torn_tail`] rather than making the whole run unreadable.

use std::fs::File;
use std::path::Path;

use crate::chunked::{Engine, LineError, ReadError, Sink};
use crate::history::Op;
use crate::model::Hist;

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{source_name}: cannot read: {err}")]
    Io {
        source_name: String,
        #[source]
        err: std::io::Error,
    },
    #[error("{source_name}:{line}: {message}")]
    Malformed {
        source_name: String,
        line: usize,
        message: String,
    },
    #[error(
        "{source_name}:{line}: index {index} does not increase (the previous op has index {previous})"
    )]
    IndexNotIncreasing {
        source_name: String,
        line: usize,
        index: u64,
        previous: u64,
    },
}

impl HistoryError {
    /// The 1-based line the error is about, if it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            HistoryError::Io { .. } => None,
            HistoryError::Malformed { line, .. }
            | HistoryError::IndexNotIncreasing { line, .. } => Some(*line),
        }
    }
}

/// A parsed history plus what the parser had to forgive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub ops: Vec<Op>,
    /// The last line was incomplete (no trailing newline, not valid JSON) and
    /// was skipped: the writer was probably killed mid-line.
    pub torn_tail: bool,
}

/// Reads a history file. See [`read_history_detailed`] to learn whether a
/// torn last line was skipped.
pub fn read_history(path: &Path) -> Result<Vec<Op>, HistoryError> {
    read_history_detailed(path).map(|h| h.ops)
}

/// Parses a history held in memory; `source` names it in errors.
pub fn parse_history(text: &str, source: &str) -> Result<Vec<Op>, HistoryError> {
    parse_history_detailed(text, source).map(|h| h.ops)
}

/// Reads a history file block by block (the file is never held whole in
/// memory), parsing each block on every core.
pub fn read_history_detailed(path: &Path) -> Result<History, HistoryError> {
    let (ops, torn_tail) = read_with::<Vec<Op>>(path)?;
    Ok(History { ops, torn_tail })
}

/// Parses history text; same rules as [`read_history_detailed`].
pub fn parse_history_detailed(text: &str, source: &str) -> Result<History, HistoryError> {
    let (ops, torn_tail) = parse_with::<Vec<Op>>(text.as_bytes(), source)?;
    Ok(History { ops, torn_tail })
}

/// Reads a history file straight into the compact form the checkers use:
/// the fast path of [`crate::check_file`]. Same rules and errors as
/// [`read_history_detailed`]; the flag is the torn tail.
pub fn read_hist(path: &Path) -> Result<(Hist, bool), HistoryError> {
    read_with::<Hist>(path)
}

/// [`read_hist`] for text in memory.
pub fn parse_hist(text: &str, source: &str) -> Result<(Hist, bool), HistoryError> {
    parse_with::<Hist>(text.as_bytes(), source)
}

fn read_with<S: Sink>(path: &Path) -> Result<(S, bool), HistoryError> {
    let source_name = path.display().to_string();
    let io_err = |err| HistoryError::Io {
        source_name: source_name.clone(),
        err,
    };
    let file = File::open(path).map_err(io_err)?;
    let total_bytes = file.metadata().ok().map(|m| m.len());
    let mut engine = Engine::<S>::new();
    match engine.read(file, total_bytes) {
        Ok(()) => {
            engine.sink.finish();
            engine.sink.finish();
            Ok((engine.sink, engine.torn_tail))
        }
        Err(ReadError::Io(err)) => Err(io_err(err)),
        Err(ReadError::Line((base, e))) => Err(line_error(&source_name, base, e)),
    }
}

fn parse_with<S: Sink>(text: &[u8], source: &str) -> Result<(S, bool), HistoryError> {
    let mut engine = Engine::<S>::new();
    engine
        .block(text, true)
        .map_err(|(base, e)| line_error(source, base, e))?;
    Ok((engine.sink, engine.torn_tail))
}

/// [`HistoryError::Malformed`] about the op at position `pos` of the
/// history read from `path`: the reader keeps one op per non-blank line,
/// so the line is found by counting them again (only on this error path).
pub fn op_error(path: &Path, pos: usize, message: String) -> HistoryError {
    use std::io::BufRead;
    let source_name = path.display().to_string();
    let line = File::open(path)
        .map(std::io::BufReader::new)
        .into_iter()
        .flat_map(|r| r.split(b'\n'))
        .map_while(Result::ok)
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .nth(pos)
        .map_or(0, |(n, _)| n + 1);
    HistoryError::Malformed {
        source_name,
        line,
        message,
    }
}

fn line_error(source: &str, base: usize, e: LineError) -> HistoryError {
    let source_name = source.to_owned();
    match e {
        LineError::Malformed { line, message } => HistoryError::Malformed {
            source_name,
            line: base + line,
            message,
        },
        LineError::NotIncreasing {
            line,
            index,
            previous,
        } => HistoryError::IndexNotIncreasing {
            source_name,
            line: base + line,
            index,
            previous,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};

    const INVOKE: &str = r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"add","key":"x","value":1,"node":"n1"}"#;
    const OK: &str =
        r#"{"index":1,"time":9,"process":0,"type":"ok","f":"add","key":"x","value":1,"node":"n1"}"#;
    const NEMESIS: &str = r#"{"index":2,"time":12,"process":"nemesis","type":"info","f":"partition","value":[["n1"],["n2","n3"]]}"#;

    fn err(text: &str) -> String {
        parse_history(text, "history.jsonl")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parses_ops_and_skips_blank_lines() {
        let text = format!("{INVOKE}\n\n  \n{OK}\r\n{NEMESIS}\n");
        let h = parse_history_detailed(&text, "h").unwrap();
        assert!(!h.torn_tail);
        assert_eq!(h.ops.len(), 3);
        assert_eq!(h.ops[1].kind, OpType::Ok);
        assert_eq!(h.ops[1].time, 9);
        assert_eq!(h.ops[2].process, Process::Nemesis);
        assert_eq!(h.ops[2].key, None);
    }

    #[test]
    fn missing_field_names_file_line_and_field() {
        let bad = r#"{"index":1,"time":9,"process":0,"f":"add"}"#;
        assert_eq!(
            err(&format!("{INVOKE}\n\n{bad}\n{NEMESIS}\n")),
            r#"history.jsonl:3: missing field "type""#
        );
    }

    #[test]
    fn malformed_middle_line_is_an_error_even_without_a_torn_tail() {
        let e = parse_history(
            &format!("{INVOKE}\n{{\"index\":1,\"ti\n{NEMESIS}"),
            "h.jsonl",
        )
        .unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert!(e.to_string().starts_with("h.jsonl:2: "), "{e}");
    }

    #[test]
    fn a_line_that_is_not_an_object_names_what_it_is() {
        assert_eq!(
            err(&format!("{INVOKE}\n{OK}\n[1,2]\n")),
            "history.jsonl:3: expected a JSON object (an op), found an array"
        );
        assert_eq!(
            err(&format!("{INVOKE}\n\"add\"\n")),
            "history.jsonl:2: expected a JSON object (an op), found a string"
        );
        assert_eq!(
            err("17\n"),
            "history.jsonl:1: expected a JSON object (an op), found a number"
        );
    }

    #[test]
    fn bad_process_is_reported_with_its_line() {
        let bad = OK.replace("\"process\":0", "\"process\":\"bob\"");
        let e = err(&format!("{INVOKE}\n{bad}\n"));
        assert!(
            e.starts_with("history.jsonl:2: process must be a number"),
            "{e}"
        );
    }

    #[test]
    fn torn_last_line_is_skipped_and_flagged() {
        let torn = &OK[..30];
        let h = parse_history_detailed(&format!("{INVOKE}\n{torn}"), "h").unwrap();
        assert!(h.torn_tail);
        assert_eq!(h.ops.len(), 1);
    }

    #[test]
    fn complete_last_line_without_newline_is_kept() {
        let h = parse_history_detailed(&format!("{INVOKE}\n{OK}"), "h").unwrap();
        assert!(!h.torn_tail);
        assert_eq!(h.ops.len(), 2);
    }

    #[test]
    fn malformed_last_line_with_newline_is_an_error_not_a_torn_tail() {
        let torn = &OK[..30];
        assert!(err(&format!("{INVOKE}\n{torn}\n")).starts_with("history.jsonl:2: "));
    }

    #[test]
    fn indices_must_strictly_increase() {
        let again = OK.replace("\"index\":1", "\"index\":0");
        assert_eq!(
            err(&format!("{INVOKE}\n{again}\n")),
            "history.jsonl:2: index 0 does not increase (the previous op has index 0)"
        );
    }

    #[test]
    fn file_reader_agrees_with_text_parser() {
        let dir = std::env::temp_dir().join(format!("diverge-parse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let text = format!("{INVOKE}\n\n{OK}\n{NEMESIS}\n{}", &OK[..20]);
        std::fs::write(&path, &text).unwrap();
        let from_file = read_history_detailed(&path).unwrap();
        assert_eq!(from_file, parse_history_detailed(&text, "x").unwrap());
        assert!(from_file.torn_tail);
        assert_eq!(read_history(&path).unwrap().len(), 3);

        std::fs::write(&path, format!("{INVOKE}\n{{oops}}\n{OK}\n")).unwrap();
        let e = read_history(&path).unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert!(
            e.to_string()
                .starts_with(&format!("{}:2: ", path.display())),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let e = read_history(Path::new("/nonexistent/history.jsonl")).unwrap_err();
        assert!(matches!(e, HistoryError::Io { .. }));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/history.jsonl: cannot read")
        );
    }
}
