//! Reports: one module per format, each rendering a subject it knows.
//!
//! - [`text`]: the tables printed at the end of a run and saved as `report.txt`.
//! - [`json`]: the `results.json` file.
//! - [`html`]: `report.html`, the page people look at (charts, anomalies).
//! - [`compare`]: the table, `compare.json` and `compare.html` of
//!   `diverge compare`.
//!
//! Every format implements [`Format`] for its subject, and each subject has
//! one list of its formats ([`RUN_FORMATS`], [`compare::FORMATS`]): `run`,
//! `check`, `compare` and `suite` write every file through [`write_all`],
//! so a new format is one module and one line in its list.

pub mod compare;
pub mod html;
pub mod json;
pub mod text;

use std::path::Path;

use anyhow::{Context, Result};

use crate::results::Results;

/// One file a subject is rendered to.
pub trait Format<S: ?Sized>: Sync {
    /// The file's name inside the output directory.
    fn file_name(&self) -> &'static str;
    fn render(&self, subject: &S) -> Result<String>;
}

/// Render `subject` in every format of `formats` into `dir`.
pub fn write_all<S: ?Sized>(formats: &[&dyn Format<S>], subject: &S, dir: &Path) -> Result<()> {
    for format in formats {
        let path = dir.join(format.file_name());
        let text = format.render(subject)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// What a run's reports are drawn from: its results, its history (the
/// page draws the run from it) and its `test.json`, if any.
pub struct RunReport<'a> {
    pub results: &'a Results,
    pub history: &'a Path,
    pub test: Option<serde_json::Value>,
}

/// `report.txt`: the text report with every anomaly listed.
pub struct Text;
/// `results.json`.
pub struct Json;
/// `report.html`.
pub struct Html;

/// A format of run reports, whatever they borrow.
pub type RunFormat = dyn for<'a> Format<RunReport<'a>>;

/// Every file a run directory (or `diverge check --out`) gets.
pub const RUN_FORMATS: [&RunFormat; 3] = [&Text, &Json, &Html];

impl Format<RunReport<'_>> for Text {
    fn file_name(&self) -> &'static str {
        "report.txt"
    }
    fn render(&self, report: &RunReport) -> Result<String> {
        Ok(text::render(report.results, true))
    }
}

impl Format<RunReport<'_>> for Json {
    fn file_name(&self) -> &'static str {
        "results.json"
    }
    fn render(&self, report: &RunReport) -> Result<String> {
        json::render(report.results)
    }
}

impl Format<RunReport<'_>> for Html {
    fn file_name(&self) -> &'static str {
        html::FILE
    }
    fn render(&self, report: &RunReport) -> Result<String> {
        html::render(report.results, report.history, report.test.clone())
    }
}

/// Write every run format of `report` into `dir`.
pub fn write_run(report: &RunReport, dir: &Path) -> Result<()> {
    for format in RUN_FORMATS {
        let path = dir.join(format.file_name());
        let text = format.render(report)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
