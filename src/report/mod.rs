//! Reports: one module per format, each rendering the same [`Results`].
//!
//! - [`text`]: the tables printed at the end of a run and saved as `report.txt`.
//! - [`json`]: the `results.json` file.

pub mod json;
pub mod text;
