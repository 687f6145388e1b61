//! The `text` workload's documents: a divergent, interleaved or misplaced
//! document's final text on every node, each run coloured by the op that
//! typed it (every run is copies of one character no other op types, so a
//! character's colour names its op; its tooltip names the character).

use std::collections::BTreeMap;
use std::fmt::Write;

use diverge_checkers::{Anomaly, AnomalyKind};
use serde_json::Value;

use super::escape;

/// How many documents the section shows.
const SHOWN: usize = 10;

/// The section, if the run's anomalies name any document.
pub fn documents(out: &mut String, anomalies: &[Anomaly]) {
    let mut docs: BTreeMap<&str, &BTreeMap<String, Value>> = BTreeMap::new();
    for a in anomalies {
        let shown = matches!(
            a.kind,
            AnomalyKind::Divergence | AnomalyKind::Interleaving | AnomalyKind::IntentionViolation
        );
        let texts = a.nodes.values().all(|v| v.is_string() || v.is_array());
        if let Some(key) = a.key.as_deref()
            && shown
            && texts
            && !a.nodes.is_empty()
        {
            docs.entry(key).or_insert(&a.nodes);
        }
    }
    if docs.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<section id="documents"><h2>Documents ({})</h2><p>Each node's final text; each run is coloured by the op that typed it.</p><table class="divergent"><tr><th>document</th><th>node</th><th>final text</th></tr>"#,
        docs.len()
    );
    for (key, nodes) in docs.iter().take(SHOWN) {
        for (j, (node, value)) in nodes.iter().enumerate() {
            out.push_str("<tr>");
            if j == 0 {
                let _ = write!(out, r#"<td rowspan="{}">{}</td>"#, nodes.len(), escape(key));
            }
            let _ = write!(out, "<td>{}</td><td>", escape(node));
            let texts: Vec<&str> = match value {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().into_iter().collect(),
            };
            for (i, text) in texts.iter().enumerate() {
                if i > 0 {
                    out.push_str("<br>");
                }
                coloured(out, text);
            }
            out.push_str("</td></tr>");
        }
    }
    out.push_str("</table></section>");
}

/// `text` as spans, one per stretch of one character.
fn coloured(out: &mut String, text: &str) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let end = chars[i..]
            .iter()
            .position(|&x| x != c)
            .map_or(chars.len(), |n| i + n);
        let run: String = chars[i..end].iter().collect();
        let _ = write!(
            out,
            r#"<span class="run" style="background:hsl({},70%,82%)" title="op typing {}">{}</span>"#,
            hue(c),
            escape(&format!("U+{:04X}", u32::from(c))),
            escape(&run)
        );
        i = end;
    }
}

/// Neighbouring characters (consecutive ops) get far-apart hues.
fn hue(c: char) -> u32 {
    u32::from(c).wrapping_mul(137) % 360
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_coloured_apart_and_escaped() {
        let mut out = String::new();
        coloured(&mut out, "AAA<<B");
        assert_eq!(out.matches("<span").count(), 3);
        assert!(out.contains("&lt;&lt;"));
        assert!(!out.contains("<<"));
        assert_ne!(hue('A'), hue('B'));
    }
}
