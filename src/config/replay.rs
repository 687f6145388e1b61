//! The replay command: `diverge run` with every flag of the test that is
//! not at its default, rendered from the flags themselves. `RunArgs`
//! serializes under its flags' names, so the clap definition is the only
//! list of flags: a new one replays without a line here. Per-invocation
//! flags (`--results`, `--test-name`, `--quiet`) are not serialized.

use clap::{Args, CommandFactory, FromArgMatches};
use serde_json::{Map, Value};

use super::shell_quote;
use crate::cli::RunArgs;

/// `diverge run ...` for `args`, flags in definition order; `--seed`
/// always (it is what makes the rerun the same test).
pub fn command(args: &RunArgs) -> String {
    let given = as_flags(args);
    let defaults = as_flags(&defaults());
    let mut line = String::from("diverge run");
    for id in flag_order() {
        let Some(value) = given.get(&id) else {
            continue;
        };
        if defaults.get(&id) == Some(value) && id != "seed" {
            continue;
        }
        if let Some(text) = spelled(value) {
            line.push_str(&format!(" --{id}"));
            if !text.is_empty() {
                line.push(' ');
                line.push_str(&shell_quote(&text));
            }
        }
    }
    line
}

fn as_flags(args: &RunArgs) -> Map<String, Value> {
    match serde_json::to_value(args) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("RunArgs serializes as an object"),
    }
}

/// `diverge run` with no flags.
fn defaults() -> RunArgs {
    let command = RunArgs::augment_args(clap::Command::new("run"));
    let matches = command
        .try_get_matches_from(["run"])
        .expect("run parses without flags");
    RunArgs::from_arg_matches(&matches).expect("defaults form RunArgs")
}

/// The long names of `run`'s flags, in definition order.
fn flag_order() -> Vec<String> {
    let command = crate::cli::Cli::command();
    let run = command
        .find_subcommand("run")
        .expect("the run subcommand exists");
    run.get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect()
}

/// A value as the flag takes it: `None` for an absent one, `""` for a
/// switch that is on.
fn spelled(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Bool(false) => None,
        Value::Bool(true) => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(spelled)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(_) => unreachable!("no flag takes an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(flags: &[&str]) -> RunArgs {
        let mut argv = vec!["diverge", "run"];
        argv.extend_from_slice(flags);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_are_left_out_and_the_seed_always_in() {
        let mut plain = args(&[]);
        plain.seed = Some(7);
        assert_eq!(command(&plain), "diverge run --seed 7");
    }

    #[test]
    fn every_given_flag_replays_to_the_same_arguments() {
        let flags = [
            "--db",
            "reference",
            "--node-cmd",
            "python3 node.py --id {id} --listen {listen}",
            "--nodes",
            "5",
            "--workload",
            "list-append",
            "--topology",
            "tree",
            "--fanout",
            "3",
            "--rate",
            "0",
            "--nemesis",
            "partition,crash",
            "--links",
            "on",
            "--down",
            "n2,n3",
            "--id-offset",
            "per-node",
            "--id-step",
            "5",
            "--causal-delivery",
            "on",
            "--seed",
            "9",
        ];
        let given = args(&flags);
        let line = command(&given);
        // The line parses back to the same flags (a shell would unquote).
        let words = shell_words(&line);
        let back = args(&words.iter().skip(2).map(String::as_str).collect::<Vec<_>>());
        assert_eq!(as_flags(&back), as_flags(&given), "{line}");
        assert!(line.contains("--nemesis partition,crash"), "{line}");
        assert!(line.contains("--node-cmd 'python3 node.py"), "{line}");
    }

    /// Split a line the way a POSIX shell splits our quoting.
    fn shell_words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '\'' => quoted = !quoted,
                ' ' if !quoted => words.push(std::mem::take(&mut word)),
                c => word.push(c),
            }
        }
        words.push(word);
        words
    }
}
