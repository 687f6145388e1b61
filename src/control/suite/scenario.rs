//! Scenario files: a run's options (the `diverge run` flags, kebab-case, as
//! TOML keys) plus an `[expect]` table. The options are handed to the same
//! clap definition and config validation as the command line, so every flag
//! works in a scenario and is checked the same way; errors name the file,
//! the line and the field.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::cli::{Cli, Command, RunArgs};

use super::expect::{Expectation, Figure};

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file name without `.toml`.
    pub name: String,
    pub path: PathBuf,
    pub description: Option<String>,
    pub args: RunArgs,
    pub expect: Vec<Expectation>,
}

/// A scenario file that cannot be run: `file:line: field: problem`.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{file}:{line}: {field}: {problem}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub problem: String,
}

/// Keys that describe the scenario rather than the run.
const DESCRIPTIVE: [&str; 1] = ["description"];

struct Source<'a> {
    file: String,
    text: &'a str,
    /// (dotted key, byte offset of the key)
    spans: Vec<(String, usize)>,
}

impl Source<'_> {
    fn line_of(&self, key: &str) -> usize {
        let offset = self
            .spans
            .iter()
            .find(|(k, _)| k == key)
            .map_or(0, |(_, o)| *o);
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn error(&self, key: &str, problem: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.clone(),
            line: self.line_of(key),
            field: key.to_string(),
            problem: problem.into(),
        }
    }
}

fn key_spans(text: &str) -> Vec<(String, usize)> {
    let Ok(table) = toml::de::DeTable::parse(text) else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    for (key, value) in table.get_ref() {
        spans.push((key.get_ref().to_string(), key.span().start));
        if let toml::de::DeValue::Table(inner) = value.get_ref() {
            for (k, _) in inner {
                spans.push((format!("{}.{}", key.get_ref(), k.get_ref()), k.span().start));
            }
        }
    }
    spans
}

/// Read and validate the scenario at `path`; `results` is the default
/// results directory (a scenario's own `results` key wins).
pub fn load(path: &Path, results: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        field: "-".into(),
        problem: format!("cannot read: {e}"),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        ScenarioError {
            file: file.clone(),
            line,
            field: "-".into(),
            problem: format!("not valid TOML: {}", e.message()),
        }
    })?;
    let source = Source {
        file,
        text: &text,
        spans: key_spans(&text),
    };
    let name = path
        .file_stem()
        .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
    let parts = read_table(&source, &table)?;
    let args = run_args(&source, &name, parts.argv, results)?;
    Ok(Scenario {
        name,
        path: path.to_path_buf(),
        description: parts.description,
        args,
        expect: parts.expect,
    })
}

/// A scenario table, read: the run's flags, its expectations, its description.
struct Parts {
    argv: Vec<String>,
    expect: Vec<Expectation>,
    description: Option<String>,
}

fn read_table(source: &Source, table: &toml::Table) -> Result<Parts, ScenarioError> {
    let mut parts = Parts {
        argv: Vec::new(),
        expect: Vec::new(),
        description: None,
    };
    for (key, value) in table {
        if key == "expect" {
            let toml::Value::Table(rules) = value else {
                return Err(source.error(key, "must be a table: [expect]"));
            };
            for (figure, rule) in rules {
                let field = format!("expect.{figure}");
                let figure = Figure::parse(figure).map_err(|p| source.error(&field, p))?;
                let expectation =
                    Expectation::parse(figure, rule).map_err(|p| source.error(&field, p))?;
                parts.expect.push(expectation);
            }
            continue;
        }
        if DESCRIPTIVE.contains(&key.as_str()) {
            parts.description = value.as_str().map(str::to_string);
            continue;
        }
        let option = flag(key, value).map_err(|p| source.error(key, p))?;
        // Each option alone first, so a bad one is named precisely.
        let mut alone = vec!["diverge".to_string(), "run".to_string()];
        alone.extend(option.iter().cloned());
        if let Err(e) = Cli::try_parse_from(&alone) {
            return Err(source.error(key, clap_problem(&e)));
        }
        parts.argv.extend(option);
    }
    if parts.expect.is_empty() {
        return Err(ScenarioError {
            file: source.file.clone(),
            line: 1,
            field: "expect".into(),
            problem: "no [expect] table: a scenario must expect something".into(),
        });
    }
    Ok(parts)
}

/// The scenario's flags as a run's, with its test name and results
/// directory defaulted, validated as the command line is (field named).
fn run_args(
    source: &Source,
    name: &str,
    options: Vec<String>,
    results: &Path,
) -> Result<RunArgs, ScenarioError> {
    let given = |flag: &str| options.iter().any(|o| o.starts_with(flag));
    let mut argv: Vec<String> = vec!["diverge".into(), "run".into()];
    if !given("--test-name") {
        argv.push(format!("--test-name=suite-{name}"));
    }
    if !given("--results") {
        argv.push(format!("--results={}", results.display()));
    }
    argv.extend(options);
    let args = match Cli::try_parse_from(&argv) {
        Ok(Cli {
            command: Command::Run(args),
        }) => args,
        Ok(_) => unreachable!("parsed as run"),
        Err(e) => return Err(source.error("-", clap_problem(&e))),
    };
    if let Err(e) = crate::control::configure(&args, 0) {
        return Err(source.error(e.flag, e.problem));
    }
    Ok(args)
}

/// The command-line spelling of one option.
fn flag(key: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(true) => return Ok(vec![format!("--{key}")]),
        toml::Value::Boolean(false) => return Ok(vec![]),
        toml::Value::Array(items) => {
            let parts: Result<Vec<String>, String> = items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(format!("list items must be strings, got {other}")),
                })
                .collect();
            parts?.join(",")
        }
        other => return Err(format!("unsupported value {other}")),
    };
    Ok(vec![format!("--{key}={text}")])
}

/// clap's message without its usage lines.
fn clap_problem(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    first.trim_start_matches("error: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Scenario, ScenarioError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, Path::new("results")).map_err(|mut e| {
            e.file = "s.toml".into();
            e
        })
    }

    #[test]
    fn options_become_run_flags() {
        let s = load_text(
            "workload = \"register\"\ntime-limit = 3\nnemesis = [\"partition\", \"crash\"]\nseed = 5\n[expect]\nlost-update = \">0\"\nverdict = \"invalid\"\n",
        )
        .unwrap();
        assert_eq!(s.args.time_limit, 3.0);
        assert_eq!(s.args.seed, Some(5));
        assert_eq!(s.args.nemesis.spelling(), "partition,crash");
        assert_eq!(s.args.test_name.as_deref(), Some("suite-s"));
        assert_eq!(s.expect.len(), 2);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let err = load_text("time-limit = 3\nnodes = 0\n[expect]\ndivergence = 0\n").unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (2, "nodes"), "{err}");
        let err = load_text("time-limit = 3\nbogus = 1\n[expect]\ndivergence = 0\n").unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (2, "bogus"), "{err}");
        let err =
            load_text("time-limit = 3\n[expect]\ndivergence = 0\nlost-updates = 1\n").unwrap_err();
        assert_eq!(
            (err.line, err.field.as_str()),
            (4, "expect.lost-updates"),
            "{err}"
        );
        assert!(err.problem.contains("lost-update"), "{err}");
        let err = load_text("time-limit = 3\n[expect]\ndivergence = \"lots\"\n").unwrap_err();
        assert_eq!(
            (err.line, err.field.as_str()),
            (3, "expect.divergence"),
            "{err}"
        );
        let err = load_text("time-limit = \n").unwrap_err();
        assert_eq!(err.line, 1, "{err}");
        assert!(err.to_string().starts_with("s.toml:1: "), "{err}");
    }
}
