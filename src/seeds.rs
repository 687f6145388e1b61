//! Sub-seeds: one master seed decides every random choice of the controller;
//! each subsystem (each client, the nemesis, ...) draws from its own stream
//! derived from it, so adding a draw in one place never shifts another's.
//! [`SeedRange`] names many master seeds at once (`diverge sim --seeds`).

use std::str::FromStr;

/// A seed for `(subsystem, index)` derived from the master `seed`
/// (SplitMix64 over a hash of the name; stable across versions and platforms).
pub fn sub_seed(seed: u64, subsystem: &str, index: u64) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for byte in subsystem.bytes() {
        h = splitmix(h ^ u64::from(byte));
    }
    splitmix(h ^ index)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seeds of a swarm: `A..B` (B excluded), `A..=B`, or a count `N`
/// (that many seeds from `--seed`, else from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedRange {
    Range { from: u64, to_excluded: u64 },
    Count(u64),
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let number = |t: &str| {
            t.trim().parse::<u64>().map_err(|_| {
                format!("{t:?} is not a seed (a number); expected A..B, A..=B or a count")
            })
        };
        let range = if let Some((a, b)) = s.split_once("..=") {
            let (from, to) = (number(a)?, number(b)?);
            SeedRange::Range {
                from,
                to_excluded: to.saturating_add(1),
            }
        } else if let Some((a, b)) = s.split_once("..") {
            SeedRange::Range {
                from: number(a)?,
                to_excluded: number(b)?,
            }
        } else {
            SeedRange::Count(number(s)?)
        };
        match range {
            SeedRange::Range { from, to_excluded } if to_excluded <= from => {
                Err(format!("{s:?} holds no seed"))
            }
            SeedRange::Count(0) => Err("a swarm of 0 seeds".into()),
            range => Ok(range),
        }
    }
}

impl SeedRange {
    /// The seeds, `first` being where a count starts.
    pub fn seeds(&self, first: u64) -> Vec<u64> {
        match *self {
            SeedRange::Range { from, to_excluded } => (from..to_excluded).collect(),
            SeedRange::Count(n) => (first..first.saturating_add(n)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_parse_as_ranges_or_counts() {
        let seeds = |s: &str| s.parse::<SeedRange>().map(|r| r.seeds(7));
        assert_eq!(seeds("1..4"), Ok(vec![1, 2, 3]));
        assert_eq!(seeds("2..=4"), Ok(vec![2, 3, 4]));
        assert_eq!(seeds("3"), Ok(vec![7, 8, 9]));
        for bad in ["4..4", "0", "x..3", "1..y", ""] {
            assert!(seeds(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn sub_seeds_are_stable_and_distinct() {
        assert_eq!(sub_seed(1, "client", 0), sub_seed(1, "client", 0));
        assert_ne!(sub_seed(1, "client", 0), sub_seed(1, "client", 1));
        assert_ne!(sub_seed(1, "client", 0), sub_seed(2, "client", 0));
        assert_ne!(sub_seed(1, "client", 0), sub_seed(1, "nemesis", 0));
    }
}
