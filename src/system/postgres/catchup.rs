//! Waiting (bounded) until replication has caught up: every logical slot's
//! `confirmed_flush_lsn` at or past its provider's current WAL position,
//! twice in a row with nothing moved, or its subscription stopped. A
//! change that loops keeps the WAL growing with no client writing: the
//! wait then times out, and the growth it saw is the finding.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::client;

/// One logical replication slot on a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub name: String,
    pub confirmed: i64,
}

/// One instance's WAL position and its slots.
#[derive(Debug, Clone, PartialEq)]
pub struct WalState {
    pub node: String,
    pub lsn: i64,
    pub slots: Vec<Slot>,
}

/// Read the WAL position and logical slots of the instance on `port`.
pub async fn wal_state(node: &str, port: u16) -> Result<WalState> {
    let lsn = client::query_one(port, "SELECT (pg_current_wal_lsn() - '0/0')::bigint").await?;
    let slots = client::query_one(
        port,
        "SELECT slot_name::text, coalesce((confirmed_flush_lsn - '0/0')::bigint, 0) \
         FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY 1",
    )
    .await?;
    Ok(WalState {
        node: node.to_string(),
        lsn: lsn.first().map_or(0, |r| r.get(0)),
        slots: slots
            .iter()
            .map(|r| Slot {
                name: r.get(0),
                confirmed: r.get(1),
            })
            .collect(),
    })
}

/// Whether every slot confirmed its provider's current position, except
/// the slots `stopped` says are not being read (a subscription down).
pub fn caught_up(states: &[WalState], stopped: impl Fn(&str) -> bool) -> bool {
    states.iter().all(|s| {
        s.slots
            .iter()
            .all(|slot| slot.confirmed >= s.lsn || stopped(&slot.name))
    })
}

/// How the wait ended.
#[derive(Debug, Clone)]
pub struct CatchUp {
    pub settled: bool,
    pub waited: Duration,
    /// By node: how far its WAL grew over the last `growth_window` of the
    /// wait (no client writes then): a loop's signature.
    pub growth: Vec<(String, i64)>,
    pub growth_window: Duration,
}

/// Poll until two rounds in a row are caught up and equal, or `timeout`.
/// `stopped(slot)` is asked afresh each round (the caller knows which
/// subscriptions are down).
pub async fn wait<F, Fut>(nodes: &[(String, u16)], timeout: Duration, stopped: F) -> CatchUp
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let start = Instant::now();
    let mut previous: Option<Vec<WalState>> = None;
    // (when, states) of every round, to measure the growth at the end.
    let mut rounds: Vec<(Instant, Vec<WalState>)> = Vec::new();
    loop {
        let mut states = Vec::with_capacity(nodes.len());
        for (id, port) in nodes {
            if let Ok(state) = wal_state(id, *port).await {
                states.push(state);
            }
        }
        let down = stopped().await;
        let complete = states.len() == nodes.len()
            && caught_up(&states, |slot| {
                down.iter().any(|s| slot.ends_with(s.as_str()))
            });
        if complete && previous.as_ref() == Some(&states) {
            return CatchUp {
                settled: true,
                waited: start.elapsed(),
                growth: Vec::new(),
                growth_window: Duration::ZERO,
            };
        }
        rounds.push((Instant::now(), states.clone()));
        if start.elapsed() >= timeout {
            let (growth, growth_window) = growth(&rounds);
            return CatchUp {
                settled: false,
                waited: start.elapsed(),
                growth,
                growth_window,
            };
        }
        previous = complete.then_some(states);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Each node's WAL growth between the middle round and the last.
fn growth(rounds: &[(Instant, Vec<WalState>)]) -> (Vec<(String, i64)>, Duration) {
    let (Some((t0, first)), Some((t1, last))) = (rounds.get(rounds.len() / 2), rounds.last())
    else {
        return (Vec::new(), Duration::ZERO);
    };
    let grown = last
        .iter()
        .filter_map(|s| {
            let before = first.iter().find(|f| f.node == s.node)?;
            Some((s.node.clone(), s.lsn - before.lsn))
        })
        .collect();
    (grown, t1.duration_since(*t0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(node: &str, lsn: i64, slots: &[(&str, i64)]) -> WalState {
        WalState {
            node: node.into(),
            lsn,
            slots: slots
                .iter()
                .map(|(n, c)| Slot {
                    name: n.to_string(),
                    confirmed: *c,
                })
                .collect(),
        }
    }

    #[test]
    fn caught_up_when_every_slot_confirmed_the_providers_position_or_is_stopped() {
        let states = [
            state("n1", 100, &[("pgl_postgres_n1_sub_n2_from_n1", 100)]),
            state("n2", 200, &[("pgl_postgres_n2_sub_n1_from_n2", 150)]),
        ];
        assert!(!caught_up(&states, |_| false));
        assert!(caught_up(&states, |slot| slot.ends_with("sub_n1_from_n2")));
    }

    #[test]
    fn growth_is_measured_over_the_second_half_of_the_wait() {
        let t = Instant::now();
        let rounds = vec![
            (t, vec![state("n1", 100, &[])]),
            (t + Duration::from_secs(1), vec![state("n1", 1100, &[])]),
            (t + Duration::from_secs(2), vec![state("n1", 3100, &[])]),
        ];
        let (grown, window) = growth(&rounds);
        assert_eq!(grown, vec![("n1".to_string(), 2000)]);
        assert_eq!(window, Duration::from_secs(1));
    }
}
