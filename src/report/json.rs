//! `results.json`: the results model, pretty-printed.

use std::path::Path;

use anyhow::{Context, Result};

use crate::results::Results;

pub fn write(results: &Results, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(results)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
