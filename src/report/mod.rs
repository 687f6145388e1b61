//! Reports: one module per format, each rendering the same [`Results`].
//!
//! - [`text`]: the tables printed at the end of a run and saved as `report.txt`.
//! - [`json`]: the `results.json` file.
//! - [`html`]: `report.html`, the page people look at (charts, anomalies).
//! - [`compare`]: the table and `compare.html` of `diverge compare`.
//!
//! Every format implements [`Report`], so a run writes them all the same way.

pub mod compare;
pub mod html;
pub mod json;
pub mod text;

use std::path::Path;

use anyhow::{Context, Result};

use crate::results::Results;

/// A report format: one file in the run directory, rendered from the results
/// (and, for formats that draw the run, the run directory's history).
pub trait Report {
    /// The file's name inside the run directory.
    fn file_name(&self) -> &'static str;
    /// Write the file into `run_dir`.
    fn write(&self, results: &Results, run_dir: &Path) -> Result<()>;
}

/// `report.txt`.
pub struct Text;
/// `results.json`.
pub struct Json;
/// `report.html`.
pub struct Html;

impl Report for Text {
    fn file_name(&self) -> &'static str {
        "report.txt"
    }
    fn write(&self, results: &Results, run_dir: &Path) -> Result<()> {
        let path = run_dir.join(self.file_name());
        std::fs::write(&path, text::render(results, true))
            .with_context(|| format!("writing {}", path.display()))
    }
}

impl Report for Json {
    fn file_name(&self) -> &'static str {
        "results.json"
    }
    fn write(&self, results: &Results, run_dir: &Path) -> Result<()> {
        json::write(results, &run_dir.join(self.file_name()))
    }
}

impl Report for Html {
    fn file_name(&self) -> &'static str {
        html::FILE
    }
    fn write(&self, results: &Results, run_dir: &Path) -> Result<()> {
        html::write(results, run_dir)
    }
}

/// Every format a run directory gets.
pub fn all() -> [&'static dyn Report; 3] {
    [&Text, &Json, &Html]
}
