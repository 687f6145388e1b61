//! `results.json`: the results model, pretty-printed.

use anyhow::Result;

use crate::results::Results;

pub fn render(results: &Results) -> Result<String> {
    Ok(serde_json::to_string_pretty(results)? + "\n")
}
