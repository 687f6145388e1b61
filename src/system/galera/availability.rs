//! Availability, the price a synchronous cluster pays for never diverging:
//! what each node's clients got during each fault window (ok, refused, or
//! unknown: the call's own classification), and how long after the
//! window's end every node served again.
//!
//! The clients record every call ([`Tally`]); the fault targets record
//! when each node's fault began and ended ([`Spans`]). [`report`] is pure.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    Ok,
    /// A definite error (1213, 1047, refused connection, ...).
    Refused,
    /// Unknown outcome (lost connection, timeout, 1180).
    Unknown,
}

/// One call, `at` its completion since the clock's start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Call {
    pub at: Duration,
    pub node: usize,
    pub got: Got,
}

/// One node's fault, `from` its start to `to` its end (`None`: still on).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub kind: &'static str,
    pub node: usize,
    pub from: Duration,
    pub to: Option<Duration>,
}

/// Every call the clients made.
pub struct Tally {
    start: Instant,
    calls: Mutex<Vec<Call>>,
}

impl Tally {
    pub fn new(start: Instant) -> Self {
        Tally {
            start,
            calls: Mutex::new(Vec::new()),
        }
    }

    pub fn record(&self, node: usize, got: Got) {
        let at = self.start.elapsed();
        self.calls
            .lock()
            .expect("calls")
            .push(Call { at, node, got });
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }
}

/// Every fault's span, per node.
pub struct Spans {
    start: Instant,
    spans: Mutex<Vec<Span>>,
}

impl Spans {
    pub fn new(start: Instant) -> Self {
        Spans {
            start,
            spans: Mutex::new(Vec::new()),
        }
    }

    pub fn begin(&self, kind: &'static str, node: usize) {
        let from = self.start.elapsed();
        let mut spans = self.spans.lock().expect("spans");
        if !spans
            .iter()
            .any(|s| s.node == node && s.kind == kind && s.to.is_none())
        {
            spans.push(Span {
                kind,
                node,
                from,
                to: None,
            });
        }
    }

    /// End node `node`'s open fault of `kind` (any kind: `None`).
    pub fn end(&self, kind: Option<&'static str>, node: usize) {
        let to = self.start.elapsed();
        for span in self.spans.lock().expect("spans").iter_mut() {
            if span.node == node && span.to.is_none() && kind.is_none_or(|k| k == span.kind) {
                span.to = Some(to);
            }
        }
    }

    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("spans").clone()
    }
}

/// Spans of one kind that overlap, merged: one fault window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub kind: &'static str,
    pub nodes: Vec<usize>,
    pub from: Duration,
    pub to: Duration,
}

/// The fault windows `spans` make (open spans end at `end`).
pub fn windows(spans: &[Span], end: Duration) -> Vec<Window> {
    let mut spans: Vec<Span> = spans.to_vec();
    spans.sort_by_key(|s| s.from);
    let mut windows: Vec<Window> = Vec::new();
    for span in spans {
        let to = span.to.unwrap_or(end);
        match windows.last_mut() {
            Some(w) if w.kind == span.kind && span.from <= w.to => {
                w.to = w.to.max(to);
                if !w.nodes.contains(&span.node) {
                    w.nodes.push(span.node);
                    w.nodes.sort();
                }
            }
            _ => windows.push(Window {
                kind: span.kind,
                nodes: vec![span.node],
                from: span.from,
                to,
            }),
        }
    }
    windows
}

/// Per node: (ok, refused, unknown) of the calls completed in `w`.
pub fn counts(calls: &[Call], w: &Window, nodes: usize) -> Vec<(usize, usize, usize)> {
    let mut counts = vec![(0, 0, 0); nodes];
    for call in calls.iter().filter(|c| c.at >= w.from && c.at <= w.to) {
        if let Some(c) = counts.get_mut(call.node) {
            match call.got {
                Got::Ok => c.0 += 1,
                Got::Refused => c.1 += 1,
                Got::Unknown => c.2 += 1,
            }
        }
    }
    counts
}

/// How long after `w` ended every node that was called afterwards had
/// served an ok call again, and the last node to do so; `None` when some
/// node called afterwards never got an ok.
pub fn recovery(calls: &[Call], w: &Window, nodes: usize) -> Option<(Duration, usize)> {
    let mut last: Option<(Duration, usize)> = None;
    for node in 0..nodes {
        let after = calls.iter().filter(|c| c.node == node && c.at > w.to);
        let mut called = false;
        let mut first_ok = None;
        for call in after {
            called = true;
            if call.got == Got::Ok {
                first_ok = Some(call.at - w.to);
                break;
            }
        }
        match (called, first_ok) {
            (false, _) => {}
            (true, None) => return None,
            (true, Some(d)) => {
                if last.is_none_or(|(l, _)| d > l) {
                    last = Some((d, node));
                }
            }
        }
    }
    last.or(Some((Duration::ZERO, 0)))
}

/// One note line per fault window, times since the first call.
pub fn report(calls: &[Call], spans: &[Span], ids: &[String]) -> Vec<String> {
    let t0 = calls.iter().map(|c| c.at).min().unwrap_or_default();
    let end = calls.iter().map(|c| c.at).max().unwrap_or_default();
    let secs = |d: Duration| d.saturating_sub(t0).as_secs_f64();
    windows(spans, end)
        .iter()
        .enumerate()
        .map(|(k, w)| {
            let faulted: Vec<&str> = w.nodes.iter().map(|&i| ids[i].as_str()).collect();
            let per_node: Vec<String> = counts(calls, w, ids.len())
                .iter()
                .zip(ids)
                .map(|((ok, refused, unknown), id)| {
                    format!("{id} ok {ok} refused {refused} unknown {unknown}")
                })
                .collect();
            let recovered = match recovery(calls, w, ids.len()) {
                Some((d, node)) => format!(
                    "every node served again {:.1}s after it ended (last: {})",
                    d.as_secs_f64(),
                    ids[node]
                ),
                None => "some node served no ok call after it ended".to_string(),
            };
            format!(
                "availability, fault window {} ({} {}, {:.1}-{:.1}s after the first call): {}; {}",
                k + 1,
                w.kind,
                faulted.join(","),
                secs(w.from),
                secs(w.to),
                per_node.join("; "),
                recovered
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(ms: u64, node: usize, got: Got) -> Call {
        Call {
            at: Duration::from_millis(ms),
            node,
            got,
        }
    }

    fn span(kind: &'static str, node: usize, from: u64, to: u64) -> Span {
        Span {
            kind,
            node,
            from: Duration::from_millis(from),
            to: Some(Duration::from_millis(to)),
        }
    }

    #[test]
    fn overlapping_spans_of_one_kind_are_one_window() {
        let spans = [
            span("pause", 1, 100, 200),
            span("pause", 2, 110, 210),
            span("isolate", 0, 300, 400),
        ];
        let w = windows(&spans, Duration::from_secs(1));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].nodes, vec![1, 2]);
        assert_eq!(w[0].to, Duration::from_millis(210));
        assert_eq!(w[1].kind, "isolate");
    }

    #[test]
    fn counts_and_recovery_are_per_node() {
        let calls = [
            call(120, 0, Got::Ok),
            call(150, 1, Got::Refused),
            call(160, 1, Got::Unknown),
            call(250, 1, Got::Refused),
            call(260, 0, Got::Ok),
            call(400, 1, Got::Ok),
        ];
        let w = windows(&[span("pause", 1, 100, 200)], Duration::from_secs(1));
        assert_eq!(counts(&calls, &w[0], 2), vec![(1, 0, 0), (0, 1, 1)]);
        assert_eq!(
            recovery(&calls, &w[0], 2),
            Some((Duration::from_millis(200), 1))
        );
        let never = [call(250, 1, Got::Refused)];
        assert_eq!(recovery(&never, &w[0], 2), None);
        let lines = report(
            &calls,
            &[span("pause", 1, 100, 200)],
            &["n1".into(), "n2".into()],
        );
        assert!(lines[0].contains("pause n2"), "{}", lines[0]);
        assert!(
            lines[0].contains("n2 ok 0 refused 1 unknown 1"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("0.2s after it ended (last: n2)"),
            "{}",
            lines[0]
        );
    }
}
