//! The house's shape, held by tests: data flows one way between the
//! top-level modules of `src/` (no import circle), and the controller's
//! lifecycle stays in small stages.
//!
//! Read as text, as a reader would: every `crate::<module>` a file of a
//! module names (in `use` lines or paths) is an arrow to that module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level module a file of `src/` belongs to (`None` for the
/// crate roots).
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(SRC).unwrap();
    let first = relative.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// Code without comments and string literals' contents (a doc comment
/// naming `crate::x` is not an import).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.split("//").next().unwrap_or("");
            let mut out = String::new();
            let mut quoted = false;
            for c in line.chars() {
                if c == '"' {
                    quoted = !quoted;
                }
                if !quoted {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every top-level module a module names, from the code of its files.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(Path::new(SRC)) {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests (kept at the end of a file) may reach anywhere.
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        let code = code_of(text);
        let entry = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                entry.insert(name);
            }
        }
        // Grouped imports: `use crate::{a, b::c}`.
        for (i, _) in code.match_indices("crate::{") {
            let group = &code[i + "crate::{".len()..];
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = item.trim().split("::").next().unwrap_or("").to_string();
                if !name.is_empty() && name != module {
                    entry.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn no_import_circle_among_the_top_level_modules() {
    let graph = imports();
    assert!(graph.len() > 10, "read only {} modules", graph.len());
    let mut directed = DiGraphMap::<&str, ()>::new();
    for (from, tos) in &graph {
        directed.add_node(from);
        for to in tos {
            directed.add_edge(from, to, ());
        }
    }
    let circles: Vec<Vec<&str>> = tarjan_scc(&directed)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    assert!(
        circles.is_empty(),
        "import circles: {circles:?}\n{graph:#?}"
    );
    // The layering the guide draws: raw flags sit under the config and
    // the commands only; nothing below the controller reaches up to it.
    for (module, tos) in &graph {
        if tos.contains("cli") {
            assert!(
                ["config", "control", "serve"].contains(&module.as_str()),
                "{module} reads raw flags"
            );
        }
        assert!(
            module == "control" || !tos.contains("control"),
            "{module} imports the controller"
        );
    }
}

/// The length of every `fn` in `file`: from its line to the line that
/// closes its body.
fn function_lengths(file: &Path) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) fn ",
        ]
        .iter()
        .any(|p| trimmed.starts_with(p));
        if !is_fn || trimmed.ends_with(';') {
            continue;
        }
        let mut depth = 0i32;
        let mut opened = false;
        for (end, body) in lines.iter().enumerate().skip(start) {
            for c in code_of(body).chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth == 0 {
                let name = trimmed.split('(').next().unwrap_or(trimmed).to_string();
                found.push((name, end - start + 1));
                break;
            }
        }
    }
    found
}

#[test]
fn every_function_of_the_controller_is_under_80_lines() {
    let mut longest = (String::new(), 0);
    for file in rust_files(&Path::new(SRC).join("control")) {
        for (name, lines) in function_lengths(&file) {
            if lines > longest.1 {
                longest = (format!("{}: {name}", file.display()), lines);
            }
        }
    }
    assert!(longest.1 > 20, "measured nothing: {longest:?}");
    assert!(longest.1 < 80, "{} has {} lines", longest.0, longest.1);
}
