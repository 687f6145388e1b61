//! What one directed link does to the messages crossing it: the fault verbs.
//!
//! A [`LinkBehaviour`] is plain data; the controller composes faults by editing
//! fields (a partition sets `drop`, a datacenter baseline sets `latency`) and the
//! link applies all of them to every message. The fate of a message (drop, loss,
//! duplicate, delay, hold) is decided once, when it arrives at the link.

use serde::{Deserialize, Serialize};

/// The faults applied to every message on one directed link. `Default` is a
/// healthy link: everything passes at once, exactly once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkBehaviour {
    /// Partition: nothing passes. How the sender learns of it is `drop_mode`.
    pub drop: bool,
    /// How a partitioned link fails the sender.
    pub drop_mode: DropMode,
    /// Hold: messages are kept, unanswered, and forwarded later, when
    /// `LinkLayer::release_held` is called or when `hold` is cleared. Held
    /// messages are released together and go out concurrently, so their order
    /// is not preserved.
    pub hold: bool,
    /// Delay before forwarding each message (datacenter distance, jitter).
    pub latency: Latency,
    /// Reorder: each message gets its own extra random delay in `0..=reorder_ms`,
    /// so later messages overtake earlier ones.
    pub reorder: bool,
    /// Upper bound of the reorder delay, in milliseconds.
    pub reorder_ms: u64,
    /// Fraction (0.0..=1.0) of messages delivered twice: forwarded once, then
    /// again after a small random delay; the sender sees the first reply.
    pub duplicate: f64,
    /// Fraction (0.0..=1.0) of messages lost on the way: never forwarded, the
    /// sender gets an error and must resend.
    pub loss: f64,
    /// Fraction (0.0..=1.0) of forwarded messages whose reply is lost: the
    /// receiver applied the message but the sender gets an error, so it
    /// resends and the receiver sees a duplicate. This is what makes
    /// deduplication matter; a "loss" fault usually sets both fractions.
    pub reply_loss: f64,
}

impl LinkBehaviour {
    /// A healthy link (same as `Default`).
    pub fn pass() -> Self {
        Self::default()
    }

    /// A partitioned link that refuses every message.
    pub fn partitioned() -> Self {
        Self {
            drop: true,
            ..Self::default()
        }
    }

    /// Whether every field is that of a healthy link.
    pub fn is_pass(&self) -> bool {
        *self == Self::default()
    }
}

/// How a partitioned (`drop`) link fails the sender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropMode {
    /// Answer at once with 503 and a JSON error naming the link. A fast,
    /// explicit failure: the sender's retry and backoff run at full speed and
    /// tests do not wait for timeouts. A 503 says nothing about whether the
    /// receiver saw the message, so a sender cannot treat it as definite.
    #[default]
    Refuse,
    /// Like a real partition: never answer. The request stays open until the
    /// sender gives up (its timeout), the partition is lifted (then it is
    /// answered with 503, still not forwarded) or the link layer shuts down.
    Blackhole,
}

/// The delay added before a message is forwarded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Latency {
    /// No added delay.
    #[default]
    None,
    /// Every message waits exactly `ms` milliseconds.
    Constant { ms: u64 },
    /// Each message waits a uniform draw in `min_ms..=max_ms`: a baseline
    /// with jitter.
    Uniform { min_ms: u64, max_ms: u64 },
    /// Each message waits an exponential draw with mean `mean_ms` (a long
    /// tail), capped at `delay::EXPONENTIAL_CAP` times the mean.
    Exponential { mean_ms: u64 },
}
