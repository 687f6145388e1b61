//! Reports: one module per format, each rendering the same [`Results`].
//!
//! - [`text`]: the tables printed at the end of a run and saved as `report.txt`.
//! - [`json`]: `results.json`.

pub mod json;
pub mod text;
