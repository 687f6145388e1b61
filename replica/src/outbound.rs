//! Per-peer sender state: how far the peer has confirmed our log, what to
//! send next, what is in flight, and retry backoff after failures.
//!
//! Replication is go-back-N over the log: batches cover contiguous ranges
//! `(after, upto]`, up to `window` are in flight, and whenever the peer turns
//! out to be missing something (a failed send, a reply showing a hole or a
//! peer that lost state) we rewind to the last confirmed position and resend.
//! Resends are safe because receivers deduplicate by dot.

use crate::types::{LogSeq, Nanos};

/// Where the sender stands with learning the peer's cursor after a start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// Unknown: the next thing to send is a probe.
    Needed,
    /// The probe is in flight: send nothing else until it is answered, since
    /// we do not know where to resume.
    InFlight,
    /// `acked`/`next` are based on the peer's answer.
    Done,
}

/// What the sender wants to send next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextSend {
    Probe,
    /// A batch starting after this position.
    Range {
        after: LogSeq,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The peer's confirmed contiguous cursor into our log.
    pub acked: LogSeq,
    /// The position the next batch starts after.
    pub next: LogSeq,
    /// Ranges sent and not yet answered, in log order (they are contiguous:
    /// every rewind clears them).
    inflight: Vec<(LogSeq, LogSeq)>,
    /// Consecutive failed sends.
    pub failures: u64,
    /// Nothing is sent before this time (backoff after a failure).
    pub retry_at: Nanos,
    /// When the newest in-flight batch was sent.
    last_sent_at: Nanos,
    probe: Probe,
    /// The next range is being read back from the durable log: nothing is
    /// sent until it arrives (see [`LoadRange`](crate::LoadRange)).
    pub loading: bool,
}

/// When a batch may join others already in flight to a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pipelining {
    /// Most batches in flight.
    pub window: usize,
    /// A full batch's worth of entries waiting may always go.
    pub full: u64,
    /// Fewer may go once the newest batch in flight has waited this long.
    pub linger: Nanos,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            acked: 0,
            next: 0,
            inflight: Vec::new(),
            failures: 0,
            retry_at: 0,
            last_sent_at: 0,
            probe: Probe::Needed,
            loading: false,
        }
    }
}

impl Outbound {
    /// Batches (or the probe) awaiting an answer.
    pub fn inflight(&self) -> usize {
        self.inflight.len() + usize::from(self.probe == Probe::InFlight)
    }

    /// What may be sent at `now` given the durable log end.
    ///
    /// One batch is always allowed in flight; further ones (up to the
    /// window) only once a full batch waits behind it or the newest one
    /// in flight has lingered. On a fast link this coalesces the changes of
    /// many group commits into one batch per round trip (Nagle's idea)
    /// instead of one small batch per commit, each a request at both ends;
    /// a backlog after a partition still streams with the window full, and
    /// a slow (delayed, reordering) link still gets several batches in
    /// flight, which it may deliver out of order.
    pub fn want_send(&self, now: Nanos, durable: LogSeq, rule: Pipelining) -> Option<NextSend> {
        if now < self.retry_at || self.loading {
            return None;
        }
        match self.probe {
            Probe::Needed => Some(NextSend::Probe),
            Probe::InFlight => None,
            Probe::Done => {
                let waiting = durable.saturating_sub(self.next);
                let room = self.inflight.is_empty()
                    || (self.inflight.len() < rule.window.max(1)
                        && (waiting >= rule.full.max(1)
                            || now.saturating_sub(self.last_sent_at) >= rule.linger));
                (waiting > 0 && room).then_some(NextSend::Range { after: self.next })
            }
        }
    }

    /// The peer's acknowledged cursor, once known since our start.
    pub fn confirmed(&self) -> Option<LogSeq> {
        (self.probe == Probe::Done).then_some(self.acked)
    }

    /// Whether a batch may start at `next` now (a loaded range arrived).
    pub fn ready(&self) -> bool {
        self.probe == Probe::Done && !self.loading
    }

    /// A load of the next range failed: back off before asking again.
    pub fn load_failed(&mut self, now: Nanos, base: Nanos, max: Nanos) {
        self.failures += 1;
        self.retry_at = now.saturating_add(backoff(self.failures, base, max));
    }

    pub fn sent_probe(&mut self) {
        self.probe = Probe::InFlight;
    }

    pub fn sent(&mut self, after: LogSeq, upto: LogSeq, now: Nanos) {
        debug_assert_eq!(after, self.next);
        self.inflight.push((after, upto));
        self.next = upto;
        self.last_sent_at = now;
    }

    /// The peer answered the send of `(after, upto]` with its cursor
    /// `reported`. `durable` bounds what we can have shipped.
    pub fn on_ok(&mut self, after: LogSeq, upto: LogSeq, reported: LogSeq, durable: LogSeq) {
        // A peer reporting more than we ever shipped saw entries we lost (we
        // crashed before they were durable): resume from what we have.
        let reported = reported.min(durable);
        if after == 0 && upto == 0 {
            if self.probe != Probe::InFlight {
                return; // stale probe answer
            }
            self.probe = Probe::Done;
            self.acked = reported;
            self.next = reported;
            self.inflight.clear();
            self.failures = 0;
            self.retry_at = 0;
            return;
        }
        if self.probe != Probe::Done {
            return;
        }
        let Some(i) = self.inflight.iter().position(|&r| r == (after, upto)) else {
            return; // stale: the batch was dropped by a rewind
        };
        self.inflight.remove(i);
        self.failures = 0;
        self.retry_at = 0;
        if reported < after {
            // The peer misses (reported, after]: either an earlier batch is
            // still on its way (replies race), or it was lost, or the peer
            // lost state. Only the first case heals by itself.
            let filling = self
                .inflight
                .iter()
                .any(|&(a, u)| a <= reported && reported < u);
            if !filling {
                self.acked = reported;
                self.next = reported;
                self.inflight.clear();
            }
        } else {
            self.acked = self.acked.max(reported);
        }
        // Every batch is answered but the peer did not confirm all of them
        // (a range it buffered out of order was lost): resend the rest, or
        // the peer's cursor would never reach the log end.
        if self.inflight.is_empty() && self.next > self.acked {
            self.next = self.acked;
        }
    }

    /// Sending `(after, upto]` failed at `now`: back off, then resend from
    /// the confirmed position.
    pub fn on_err(&mut self, after: LogSeq, upto: LogSeq, now: Nanos, base: Nanos, max: Nanos) {
        if after == 0 && upto == 0 {
            if self.probe != Probe::InFlight {
                return;
            }
            self.probe = Probe::Needed;
        } else {
            if self.probe != Probe::Done || !self.inflight.contains(&(after, upto)) {
                return; // stale
            }
            self.inflight.clear();
            self.next = self.acked;
        }
        self.failures += 1;
        self.retry_at = now.saturating_add(backoff(self.failures, base, max));
    }
}

/// `min(base * 2^(failures-1), max)` without overflow.
pub fn backoff(failures: u64, base: Nanos, max: Nanos) -> Nanos {
    let exp = u32::try_from(failures.saturating_sub(1)).unwrap_or(u32::MAX);
    let factor = 2u64.checked_pow(exp).unwrap_or(u64::MAX);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1, 10, 100), 10);
        assert_eq!(backoff(2, 10, 100), 20);
        assert_eq!(backoff(4, 10, 100), 80);
        assert_eq!(backoff(5, 10, 100), 100);
        assert_eq!(backoff(500, 10, 100), 100);
    }

    fn probed() -> Outbound {
        let mut o = Outbound::default();
        o.sent_probe();
        o.on_ok(0, 0, 0, 100);
        o
    }

    #[test]
    fn racing_replies_do_not_rewind_while_hole_is_in_flight() {
        let mut o = probed();
        o.sent(0, 10, 0);
        o.sent(10, 20, 0);
        // The second batch overtook the first at the peer.
        o.on_ok(10, 20, 0, 100);
        assert_eq!((o.acked, o.next, o.inflight()), (0, 20, 1));
        // The first arrives and the peer absorbs both.
        o.on_ok(0, 10, 20, 100);
        assert_eq!((o.acked, o.next, o.inflight()), (20, 20, 0));
    }

    #[test]
    fn drained_pipeline_with_unconfirmed_tail_rewinds() {
        let mut o = probed();
        o.sent(0, 10, 0);
        o.sent(10, 20, 0);
        o.on_ok(10, 20, 0, 100);
        // The peer lost the buffered second range before the first landed.
        o.on_ok(0, 10, 10, 100);
        assert_eq!((o.acked, o.next, o.inflight()), (10, 10, 0));
    }

    #[test]
    fn stale_answers_are_ignored() {
        let mut o = probed();
        o.sent(0, 10, 0);
        o.on_err(0, 10, 5, 10, 100);
        assert_eq!((o.next, o.failures, o.retry_at), (0, 1, 15));
        o.on_ok(0, 10, 10, 100); // answer to the dropped batch
        o.on_err(0, 10, 6, 10, 100);
        o.on_ok(0, 0, 50, 100); // stale probe answer
        assert_eq!((o.acked, o.next, o.failures, o.retry_at), (0, 0, 1, 15));
    }

    #[test]
    fn short_batches_wait_behind_one_in_flight_until_it_lingers() {
        let rule = Pipelining {
            window: 3,
            full: 100,
            linger: 50,
        };
        let range = |after| Some(NextSend::Range { after });
        let mut o = probed();
        assert_eq!(o.want_send(1000, 0, rule), None, "nothing to send");
        assert_eq!(
            o.want_send(1000, 5, rule),
            range(0),
            "the first always goes"
        );
        o.sent(0, 5, 1000);
        assert_eq!(o.want_send(1010, 8, rule), None, "3 entries coalesce");
        assert_eq!(o.want_send(1050, 8, rule), range(5), "the link is slow");
        o.sent(5, 8, 1050);
        assert_eq!(o.want_send(1060, 108, rule), range(8), "a full batch waits");
        o.sent(8, 108, 1060);
        assert_eq!(o.want_send(5000, 300, rule), None, "window of three");
    }
}
