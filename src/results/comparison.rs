//! `compare.json`: one test run once per configuration (strategy,
//! topology, system), each row's figures side by side.

use serde::{Deserialize, Serialize};

use super::Figures;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub started_at: String,
    pub seed: u64,
    pub workload: String,
    pub nemesis: String,
    /// The command line of the first row, for reference (each row's own
    /// replay line is in its run directory).
    pub replay: String,
    pub rows: Vec<Row>,
}

/// One configuration's run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub strategy: String,
    pub topology: String,
    pub test_name: String,
    /// The run directory, relative to the results directory.
    pub run_dir: Option<String>,
    /// Set when the run could not complete (a harness error).
    pub error: Option<String>,
    pub figures: Option<Figures>,
}
