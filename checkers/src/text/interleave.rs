//! `interleaving`: two runs typed concurrently at the same place end up
//! mixed instead of one after the other (Kleppmann et al., "Interleaving
//! anomalies in collaborative text editors", PaPoC 2019).
//!
//! - Characters: a run whose characters are not contiguous in a final text,
//!   with another run's characters between them.
//! - Streaks: a streak is a client's runs typed each right after its
//!   previous one (an `insert` naming the run it follows, by the same
//!   client). Two streaks of different clients that started at the same
//!   place (their first runs were placed between the same two characters,
//!   so neither writer had seen the other's start) are mixed when, in a
//!   final text, their runs alternate more than once (A1 B1 A2, not
//!   A1 A2 B1 B2).
//!
//! One anomaly per document and pair (of runs, or of streaks), witnessed by
//! the inserts involved, in final-text order, and the final read.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Document, Final, Insert};
use crate::anomaly::{Anomaly, AnomalyKind, list};
use crate::history::OpType;

pub fn check(doc: &Document) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let (mut runs_seen, mut streaks_seen) = (BTreeSet::new(), BTreeSet::new());
    let streaks = streaks(doc);
    for f in &doc.finals {
        for text in &f.texts {
            let chars: Vec<char> = text.chars().collect();
            out.extend(mixed_characters(doc, f, &chars, &mut runs_seen));
            out.extend(mixed_streaks(doc, f, &chars, &streaks, &mut streaks_seen));
        }
    }
    out
}

fn mixed_characters(
    doc: &Document,
    f: &Final,
    chars: &[char],
    reported: &mut BTreeSet<(char, char)>,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ins in &doc.inserts {
        let (Some(first), Some(last)) = (
            chars.iter().position(|&c| c == ins.glyph),
            chars.iter().rposition(|&c| c == ins.glyph),
        ) else {
            continue;
        };
        let between: BTreeSet<char> = chars[first..=last]
            .iter()
            .copied()
            .filter(|&c| c != ins.glyph)
            .collect();
        for other in between {
            let pair = (ins.glyph.min(other), ins.glyph.max(other));
            if !reported.insert(pair) {
                continue;
            }
            let mut witnesses = vec![ins.witness];
            witnesses.extend(doc.insert_of(other).map(|o| o.witness));
            witnesses.push(f.witness);
            let shown: String = chars[first..=last].iter().collect();
            out.push(Anomaly::new(
                AnomalyKind::Interleaving,
                &doc.name,
                witnesses,
                format!(
                    "runs {:?} (op {}) and {:?} are interleaved character by character in {}'s \
                     final text of {:?} (op {}): {shown:?}",
                    ins.run,
                    ins.witness,
                    doc.insert_of(other)
                        .map_or(other.to_string(), |o| o.run.clone()),
                    f.node,
                    doc.name,
                    f.witness
                ),
            ));
        }
    }
    out
}

/// Streaks with their anchor: the characters their first run was placed
/// between.
struct Streak<'d> {
    runs: Vec<&'d Insert>,
    anchor: (Option<char>, Option<char>),
}

fn streaks(doc: &Document) -> Vec<Streak<'_>> {
    let mut of_glyph: BTreeMap<char, usize> = BTreeMap::new();
    let mut streaks: Vec<Streak> = Vec::new();
    for ins in doc.inserts.iter().filter(|i| i.outcome == OpType::Ok) {
        let continued = ins.follows.and_then(|prev| {
            let &s = of_glyph.get(&prev)?;
            (streaks[s].runs[0].process == ins.process).then_some(s)
        });
        let s = match continued {
            Some(s) => s,
            None => {
                streaks.push(Streak {
                    runs: Vec::new(),
                    anchor: (ins.after, ins.before),
                });
                streaks.len() - 1
            }
        };
        streaks[s].runs.push(ins);
        of_glyph.insert(ins.glyph, s);
    }
    streaks.retain(|s| s.runs.len() > 1);
    streaks
}

fn mixed_streaks(
    doc: &Document,
    f: &Final,
    chars: &[char],
    streaks: &[Streak<'_>],
    reported: &mut BTreeSet<(char, char)>,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let position = |g: char| chars.iter().position(|&c| c == g);
    for (i, a) in streaks.iter().enumerate() {
        for b in &streaks[i + 1..] {
            if a.anchor != b.anchor || a.runs[0].process == b.runs[0].process {
                continue;
            }
            // Both streaks' surviving runs, in final-text order.
            let mut order: Vec<(usize, bool, &Insert)> = a
                .runs
                .iter()
                .map(|r| (r, true))
                .chain(b.runs.iter().map(|r| (r, false)))
                .filter_map(|(r, is_a)| Some((position(r.glyph)?, is_a, *r)))
                .collect();
            order.sort_by_key(|o| o.0);
            let changes = order.windows(2).filter(|w| w[0].1 != w[1].1).count();
            let pair = (a.runs[0].glyph, b.runs[0].glyph);
            if changes <= 1 || !reported.insert(pair) {
                continue;
            }
            let mut witnesses: Vec<u64> = order.iter().map(|o| o.2.witness).collect();
            witnesses.push(f.witness);
            let runs: Vec<String> = order.iter().map(|o| format!("{:?}", o.2.run)).collect();
            out.push(Anomaly::new(
                AnomalyKind::Interleaving,
                &doc.name,
                witnesses,
                format!(
                    "streaks typed concurrently at the same place by clients {} and {} are mixed \
                     run by run in {}'s final text of {:?} (op {}): {}",
                    a.runs[0].process,
                    b.runs[0].process,
                    f.node,
                    doc.name,
                    f.witness,
                    list(&runs, 8)
                ),
            ));
        }
    }
    out
}
