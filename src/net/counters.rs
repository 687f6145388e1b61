//! Per-link counters for the results: what happened to the messages on one
//! directed link, and the delays the link applied (percentiles from a small
//! fixed-size histogram, so memory stays bounded however long the test runs).
//! A TCP link ([`super::tcp`]) counts the chunks of its byte streams as
//! messages and adds its connections and bytes ([`TcpTraffic`]).

use serde::{Deserialize, Serialize};

/// A snapshot of one directed link's counters, as written into the results.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCounters {
    pub from: String,
    pub to: String,
    /// Requests that arrived at the link from the sender.
    pub received: u64,
    /// Messages sent on to the receiver, whether or not it answered (duplicate
    /// copies not included; a failed forward also counts in `forward_errors`).
    pub passed: u64,
    /// Messages refused or blackholed by a partition.
    pub dropped: u64,
    /// Messages lost on the way (never forwarded).
    pub lost: u64,
    /// Messages forwarded whose reply was replaced by an error.
    pub lost_replies: u64,
    /// Messages ever held (`hold`), released or not.
    pub held: u64,
    /// Extra copies sent on (`duplicate`), counted when sent.
    pub duplicated: u64,
    /// Forwards that failed at the receiver's side (connection refused,
    /// timeout): the receiver is down, not the link.
    pub forward_errors: u64,
    /// Delay from arrival at the link to forwarding (hold + latency + reorder),
    /// over all forwarded messages, in milliseconds.
    pub delay_ms_p50: u64,
    pub delay_ms_p99: u64,
    pub delay_ms_max: u64,
    /// Set for a TCP link: its connections and bytes. Its messages are
    /// chunks (one read from either side, forwarded as one write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpTraffic>,
}

/// What a TCP link did with connections and bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpTraffic {
    /// Connections accepted and forwarded to the target.
    pub connections: u64,
    /// Connections accepted and closed at once because the link was cut.
    pub refused: u64,
    /// Open connections closed by a cut (a partition the peers notice).
    pub cut: u64,
    /// Bytes delivered, both directions.
    pub bytes: u64,
}

/// The live, mutable counters of one link (kept behind the link's lock).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub received: u64,
    pub passed: u64,
    pub dropped: u64,
    pub lost: u64,
    pub lost_replies: u64,
    pub held: u64,
    pub duplicated: u64,
    pub forward_errors: u64,
    pub delays: Histogram,
}

impl Stats {
    pub fn snapshot(&self, from: &str, to: &str) -> LinkCounters {
        LinkCounters {
            from: from.to_string(),
            to: to.to_string(),
            received: self.received,
            passed: self.passed,
            dropped: self.dropped,
            lost: self.lost,
            lost_replies: self.lost_replies,
            held: self.held,
            duplicated: self.duplicated,
            forward_errors: self.forward_errors,
            delay_ms_p50: self.delays.percentile(0.50),
            delay_ms_p99: self.delays.percentile(0.99),
            delay_ms_max: self.delays.max,
            tcp: None,
        }
    }
}

/// Values below this are counted exactly, one bucket per millisecond.
const LINEAR: u64 = 64;
/// Above `LINEAR`, each power of two is split into this many buckets
/// (relative error under 1/32).
const SUB_BUCKETS: u64 = 32;
const BUCKETS: usize = (LINEAR + (64 - 6) * SUB_BUCKETS) as usize;

/// A log-linear histogram of millisecond values: exact below 64 ms, within
/// about 3% above. Percentiles report a bucket's lower bound, so they never
/// overstate a delay.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Box<[u64; BUCKETS]>,
    count: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: Box::new([0; BUCKETS]),
            count: 0,
            max: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, ms: u64) {
        self.buckets[bucket_of(ms)] += 1;
        self.count += 1;
        self.max = self.max.max(ms);
    }

    /// The `q`-quantile (0..=1); 0 when empty.
    pub fn percentile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return lower_bound(i).min(self.max);
            }
        }
        self.max
    }
}

fn bucket_of(ms: u64) -> usize {
    if ms < LINEAR {
        return ms as usize;
    }
    let octave = 63 - u64::from(ms.leading_zeros()); // >= 6
    let sub = (ms >> (octave - 5)) & (SUB_BUCKETS - 1);
    (LINEAR + (octave - 6) * SUB_BUCKETS + sub) as usize
}

fn lower_bound(bucket: usize) -> u64 {
    let b = bucket as u64;
    if b < LINEAR {
        return b;
    }
    let k = b - LINEAR;
    let (octave, sub) = (k / SUB_BUCKETS + 6, k % SUB_BUCKETS);
    (SUB_BUCKETS + sub) << (octave - 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_and_bound_it_from_below() {
        for ms in (0..5000).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket_of(ms);
            assert!(b < BUCKETS);
            let lo = lower_bound(b);
            assert!(lo <= ms, "{ms}: {lo}");
            assert!(ms - lo <= ms / 32, "{ms}: {lo}");
        }
    }

    #[test]
    fn percentiles_of_known_values() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(0.5), 0);
        for ms in 1..=100 {
            h.record(ms);
        }
        assert_eq!(h.percentile(0.5), 50);
        assert!(
            (96..=99).contains(&h.percentile(0.99)),
            "{}",
            h.percentile(0.99)
        );
        assert_eq!(h.max, 100);
        assert_eq!(h.percentile(1.0), 100);
    }

    #[test]
    fn constant_values_report_themselves() {
        let mut h = Histogram::default();
        for _ in 0..10 {
            h.record(50);
        }
        assert_eq!((h.percentile(0.5), h.percentile(0.99), h.max), (50, 50, 50));
    }
}
