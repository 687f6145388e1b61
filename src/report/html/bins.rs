//! Time bins that stay few however long the run: ops are counted into at
//! most [`MAX_BINS`] bins of equal width; when an op falls past the last
//! bin, the width doubles and neighbouring bins merge. Latencies go into a
//! log-scale histogram per bin, so quantiles survive merging (within the
//! histogram's resolution, [`SUB_BUCKETS`] per power of two: about ±4%).

use std::collections::BTreeMap;

use diverge_checkers::OpType;

/// Upper bound on the number of bins; after the run there are between
/// half of this and this many (unless the run is shorter than that many ms).
pub const MAX_BINS: usize = 240;
/// The narrowest bin: 1 ms.
const MIN_WIDTH_NS: u64 = 1_000_000;
/// Latency histogram resolution: buckets per power of two.
const SUB_BUCKETS: usize = 8;
/// Powers of two covered, from 1 µs (2^10 ns) to about 2^40 ns (18 min).
const OCTAVES: usize = 30;
const LOWEST_OCTAVE: u32 = 10;
const BUCKETS: usize = SUB_BUCKETS * OCTAVES;

/// ok / fail / info.
pub type Outcomes = [u32; 3];

fn slot(kind: OpType) -> usize {
    match kind {
        OpType::Ok => 0,
        OpType::Fail => 1,
        _ => 2,
    }
}

/// One time bin over all processes.
#[derive(Debug, Clone)]
pub struct Bin {
    pub outcomes: Outcomes,
    latency: Vec<u32>,
    pub latency_ns_max: u64,
}

impl Default for Bin {
    fn default() -> Self {
        Bin {
            outcomes: [0; 3],
            latency: vec![0; BUCKETS],
            latency_ns_max: 0,
        }
    }
}

impl Bin {
    fn merge(&mut self, other: &Bin) {
        for i in 0..3 {
            self.outcomes[i] += other.outcomes[i];
        }
        for (a, b) in self.latency.iter_mut().zip(&other.latency) {
            *a += b;
        }
        self.latency_ns_max = self.latency_ns_max.max(other.latency_ns_max);
    }

    /// Ops with a measured latency in this bin.
    pub fn measured(&self) -> u64 {
        self.latency.iter().map(|&n| n as u64).sum()
    }

    /// The latency at quantile `q` (0..=1) in ns: the upper edge of the
    /// histogram bucket holding it, capped at the exact maximum.
    pub fn latency_ns_quantile(&self, q: f64) -> Option<u64> {
        let total = self.measured();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64 * q).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for (i, &n) in self.latency.iter().enumerate() {
            seen += n as u64;
            if seen >= rank {
                return Some(bucket_upper_ns(i).min(self.latency_ns_max));
            }
        }
        Some(self.latency_ns_max)
    }
}

fn bucket_of(ns: u64) -> usize {
    let ns = ns.max(1);
    let octave = 63 - ns.leading_zeros();
    if octave < LOWEST_OCTAVE {
        return 0;
    }
    let sub = ((ns >> (octave - 3)) & 7) as usize; // the 3 bits after the leading one
    (((octave - LOWEST_OCTAVE) as usize) * SUB_BUCKETS + sub).min(BUCKETS - 1)
}

fn bucket_upper_ns(i: usize) -> u64 {
    let octave = (i / SUB_BUCKETS) as u32 + LOWEST_OCTAVE;
    let sub = (i % SUB_BUCKETS) as u64;
    (1u64 << octave) + (sub + 1) * (1u64 << (octave - 3))
}

/// The binned timeline: totals per bin, and outcomes per row per bin.
#[derive(Debug)]
pub struct Timeline {
    pub width_ns: u64,
    pub bins: Vec<Bin>,
    pub rows: BTreeMap<u64, Vec<Outcomes>>,
    /// The latest op start seen, ns.
    pub end_ns: u64,
    /// The most ops of one row in one bin.
    pub row_bin_max: u32,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width_ns: MIN_WIDTH_NS,
            bins: Vec::new(),
            rows: BTreeMap::new(),
            end_ns: 0,
            row_bin_max: 0,
        }
    }
}

impl Timeline {
    /// Count an op that started at `start_ns` on `row`; `latency_ns` is
    /// `None` for an op that never completed.
    pub fn record(&mut self, row: u64, start_ns: u64, latency_ns: Option<u64>, kind: OpType) {
        while (start_ns / self.width_ns) as usize >= MAX_BINS {
            self.coarsen();
        }
        let i = (start_ns / self.width_ns) as usize;
        self.end_ns = self.end_ns.max(start_ns);
        if self.bins.len() <= i {
            self.bins.resize_with(i + 1, Bin::default);
        }
        let bin = &mut self.bins[i];
        bin.outcomes[slot(kind)] += 1;
        if let Some(ns) = latency_ns {
            bin.latency[bucket_of(ns)] += 1;
            bin.latency_ns_max = bin.latency_ns_max.max(ns);
        }
        let row = self.rows.entry(row).or_default();
        if row.len() <= i {
            row.resize(i + 1, [0; 3]);
        }
        row[i][slot(kind)] += 1;
        self.row_bin_max = self.row_bin_max.max(row[i].iter().sum());
    }

    /// Double the width: bins 2i and 2i+1 become bin i.
    fn coarsen(&mut self) {
        self.width_ns *= 2;
        let old = std::mem::take(&mut self.bins);
        for pair in old.chunks(2) {
            let mut bin = pair[0].clone();
            if let Some(second) = pair.get(1) {
                bin.merge(second);
            }
            self.bins.push(bin);
        }
        self.row_bin_max = 0;
        for row in self.rows.values_mut() {
            let old = std::mem::take(row);
            for pair in old.chunks(2) {
                let mut cell = pair[0];
                if let Some(second) = pair.get(1) {
                    for k in 0..3 {
                        cell[k] += second[k];
                    }
                }
                self.row_bin_max = self.row_bin_max.max(cell.iter().sum());
                row.push(cell);
            }
        }
    }

    pub fn width_s(&self) -> f64 {
        self.width_ns as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_stay_bounded_and_keep_every_op() {
        let mut t = Timeline::default();
        for i in 0..1_000_000u64 {
            t.record(i % 7, i * 10_000, Some(1_000_000 + i % 1000), OpType::Ok);
        }
        assert!(t.bins.len() <= MAX_BINS && t.bins.len() > MAX_BINS / 2);
        let total: u64 = t.bins.iter().map(|b| b.outcomes[0] as u64).sum();
        assert_eq!(total, 1_000_000);
        let per_rows: u64 = t.rows.values().flatten().map(|c| c[0] as u64).sum();
        assert_eq!(per_rows, 1_000_000);
    }

    #[test]
    fn quantiles_are_within_the_histogram_resolution() {
        let mut bin = Bin::default();
        for ms in 1..=100u64 {
            bin.latency[bucket_of(ms * 1_000_000)] += 1;
            bin.latency_ns_max = bin.latency_ns_max.max(ms * 1_000_000);
        }
        let p50 = bin.latency_ns_quantile(0.5).unwrap() as f64 / 1e6;
        let p99 = bin.latency_ns_quantile(0.99).unwrap() as f64 / 1e6;
        assert!((48.0..=56.0).contains(&p50), "{p50}");
        assert!((96.0..=100.0).contains(&p99), "{p99}");
        assert_eq!(bin.latency_ns_quantile(1.0), Some(100_000_000));
    }
}
