//! Reading `history.jsonl`: one [`Op`] per line, streamed.
//!
//! Both entry points ([`read_history_detailed`] for files, [`parse_history_detailed`]
//! for text already in memory) feed lines to the same [`LineParser`], so they
//! agree on every rule:
//!
//! - empty (whitespace-only) lines are skipped;
//! - `index` must strictly increase;
//! - a malformed line is an error naming the source, the 1-based line and the
//!   problem (`history.jsonl:17: missing field "type"`);
//! - except the *last* line when it has no trailing newline: a controller
//!   killed mid-write leaves exactly that, so it is skipped and reported as
//!   [`History::torn_tail`] rather than making the whole run unreadable.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::history::Op;

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

/// Reads a history file line by line (the file is never held whole in memory).
pub fn read_history_detailed(path: &Path) -> Result<History, HistoryError> {
    let source_name = path.display().to_string();
    let io_err = |err| HistoryError::Io {
        source_name: source_name.clone(),
        err,
    };
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path).map_err(io_err)?);
    let mut parser = LineParser::new(&source_name);
    // One buffer reused for every line: no per-line allocation for the text.
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io_err)? == 0 {
            break;
        }
        let terminated = line.last() == Some(&b'\n');
        parser.line(&line, terminated)?;
    }
    Ok(parser.finish())
}

/// Parses history text; same rules as [`read_history_detailed`].
pub fn parse_history_detailed(text: &str, source: &str) -> Result<History, HistoryError> {
    let mut parser = LineParser::new(source);
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        let (line, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..=end], true, &rest[end + 1..]),
            None => (rest, false, &[][..]),
        };
        parser.line(line, terminated)?;
        rest = next;
    }
    Ok(parser.finish())
}

/// The per-line rules shared by both entry points.
struct LineParser<'s> {
    source_name: &'s str,
    history: History,
    line_no: usize,
    last_index: Option<u64>,
}

impl<'s> LineParser<'s> {
    fn new(source_name: &'s str) -> Self {
        LineParser {
            source_name,
            history: History::default(),
            line_no: 0,
            last_index: None,
        }
    }

    /// `terminated` is false only for a final line without `\n`, the one
    /// place a torn write can show up.
    fn line(&mut self, raw: &[u8], terminated: bool) -> Result<(), HistoryError> {
        self.line_no += 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let op: Op = match serde_json::from_slice(raw) {
            Ok(op) => op,
            Err(_) if !terminated => {
                self.history.torn_tail = true;
                return Ok(());
            }
            Err(e) => {
                return Err(HistoryError::Malformed {
                    source_name: self.source_name.to_owned(),
                    line: self.line_no,
                    message: describe(&e),
                });
            }
        };
        if let Some(previous) = self.last_index
            && op.index <= previous
        {
            return Err(HistoryError::IndexNotIncreasing {
                source_name: self.source_name.to_owned(),
                line: self.line_no,
                index: op.index,
                previous,
            });
        }
        self.last_index = Some(op.index);
        self.history.ops.push(op);
        Ok(())
    }

    fn finish(self) -> History {
        self.history
    }
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
    message = message.replace('`', "\"");
    if e.is_syntax() || e.is_eof() {
        message.push_str(&format!(" (column {})", e.column()));
    }
    message
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
