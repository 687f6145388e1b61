//! JUnit XML for CI systems: one `<testcase>` per scenario; a mismatch is a
//! `<failure>` naming the scenario and the figure, a harness error an `<error>`.

use std::fmt::Write;

use super::Outcome;

pub fn render(outcomes: &[Outcome], elapsed_s: f64) -> String {
    let failures = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    let errors = outcomes.iter().filter(|o| o.error.is_some()).count();
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<testsuites name="diverge suite" tests="{}" failures="{failures}" errors="{errors}" time="{elapsed_s:.3}">"#,
        outcomes.len()
    );
    let _ = writeln!(
        out,
        r#"  <testsuite name="diverge suite" tests="{}" failures="{failures}" errors="{errors}" time="{elapsed_s:.3}">"#,
        outcomes.len()
    );
    for o in outcomes {
        let _ = write!(
            out,
            r#"    <testcase classname="diverge.suite" name="{}" file="{}" time="{:.3}">"#,
            xml(&o.name),
            xml(&o.file),
            o.elapsed_s
        );
        if let Some(error) = &o.error {
            let _ = write!(
                out,
                r#"<error message="{}">{}</error>"#,
                xml(&format!("scenario {}: {error}", o.name)),
                xml(error)
            );
        } else if !o.failures.is_empty() {
            let message = format!("scenario {}: {}", o.name, o.failures.join("; "));
            let _ = write!(
                out,
                r#"<failure message="{}" type="expectation">{}</failure>"#,
                xml(&message),
                xml(&format!("{message}\nreplay: {}", o.replay))
            );
        }
        if let Some(dir) = &o.run_dir {
            let _ = write!(out, "<system-out>run directory: {}</system-out>", xml(dir));
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
