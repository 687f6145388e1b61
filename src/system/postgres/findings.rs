//! What PostgreSQL says about its own replication: the conflicts its apply
//! workers resolved (a note, counted by kind and resolution from the
//! `CONFLICT:` lines pglogical logs), and as findings subscriptions that are not
//! replicating (with the last apply error in the subscriber's log and the
//! origin they block), and replication that never quiesced (WAL growing
//! with no client writing: a change that loops).

use std::collections::BTreeMap;

use super::catchup::CatchUp;
use super::native::SubStats;
use super::pglogical::SubStatus;
use crate::results::DbFinding;

/// The conflicts logged in one instance's log, by `(change, resolution)`,
/// e.g. `("UPDATE", "apply_remote") -> 12`.
pub fn conflict_counts(log: &str) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for line in log.lines() {
        let Some(rest) = line.split("CONFLICT: remote ").nth(1) else {
            continue;
        };
        let change = rest.split_whitespace().next().unwrap_or("").to_string();
        let resolution = rest
            .split("Resolution: ")
            .nth(1)
            .map(|r| r.trim_end_matches('.').trim().to_string())
            .unwrap_or_default();
        *counts.entry((change, resolution)).or_insert(0) += 1;
    }
    counts
}

/// What one node's log says its apply workers resolved: how many
/// conflicts, of which kind (those resolved `keep_local` are remote writes
/// that node dropped). A note, not a problem: resolving them is the job.
pub fn conflicts(node: &str, log: &str) -> Option<String> {
    let counts = conflict_counts(log);
    if counts.is_empty() {
        return None;
    }
    let total: u64 = counts.values().sum();
    let parts: Vec<String> = counts
        .iter()
        .map(|((change, resolution), n)| format!("{n} remote {change} resolved {resolution}"))
        .collect();
    Some(format!(
        "{node}: {total} conflicts logged: {}",
        parts.join(", ")
    ))
}

/// How each kind of instance logs a replicated update it skipped because
/// its row was not there (its insert had not arrived): pglogical's conflict
/// line, and PostgreSQL 18's (`log_min_messages` shows it by default).
const SKIP_MARKERS: [&str; 2] = [
    "(tuple not found). Resolution: skip.",
    "conflict=update_missing",
];

/// How many replicated updates one instance's log says were skipped for
/// want of their row. Counted from the log, not `pg_stat_subscription_stats`,
/// whose counters are flushed late and undercount at the end of a run.
pub fn skipped_updates(log: &str) -> u64 {
    SKIP_MARKERS
        .iter()
        .map(|marker| log.matches(marker).count() as u64)
        .sum()
}

/// The last apply error in a subscriber's log (`ERROR:` lines): the last
/// about a conflict if there is one (a cut connection errors too).
pub fn last_error(log: &str) -> Option<&str> {
    let errors = || log.lines().rev().filter(|l| l.contains("ERROR:"));
    errors()
        .find(|l| l.contains("conflict"))
        .or_else(|| errors().next())
        .and_then(|l| l.split("ERROR:").nth(1))
        .map(str::trim)
}

/// A finding for every subscription of `node` that is not replicating.
pub fn stopped(node: &str, subs: &[SubStatus], log: &str) -> Vec<DbFinding> {
    subs.iter()
        .filter(|s| s.status != "replicating")
        .map(|s| DbFinding {
            node: node.to_string(),
            kind: "apply-worker-down".into(),
            channel: Some(format!("replicating from {}", s.provider)),
            errno: None,
            message: format!(
                "subscription {} is {}: every later change from {} is blocked; last apply \
                 error: {}",
                s.name,
                s.status,
                s.provider,
                last_error(log).unwrap_or("(none logged)")
            ),
            anomaly: None,
        })
        .collect()
}

/// Native replication: a finding for every subscription of `subs` (those
/// whose apply worker kept failing while replication settled: it restarts
/// and fails again on the same change, so everything after it from that
/// origin is blocked).
pub fn apply_errors(node: &str, subs: &[SubStats], log: &str) -> Vec<DbFinding> {
    subs.iter()
        .filter(|s| s.apply_errors > 0)
        .map(|s| DbFinding {
            node: node.to_string(),
            kind: "apply-worker-error".into(),
            channel: Some(format!("replicating from {}", s.provider)),
            errno: None,
            message: format!(
                "subscription {}: {} apply errors: the apply worker retries the same change, \
                 every later change from {} is blocked; last apply error: {}",
                s.name,
                s.apply_errors,
                s.provider,
                last_error(log).unwrap_or("(none logged)")
            ),
            anomaly: None,
        })
        .collect()
}

/// Native replication: the conflicts one node's log reports, by kind
/// (PostgreSQL 18 logs each `conflict=<kind>` it detects). The log, not
/// `pg_stat_subscription_stats`: those counters are flushed late and
/// undercounted at the end of a run. A conflict that stops the apply
/// worker is logged again at each of its retries.
pub fn native_conflicts(node: &str, log: &str) -> Option<String> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for after in log.split("conflict=").skip(1) {
        let end = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if end > 0 {
            *counts.entry(&after[..end]).or_insert(0) += 1;
        }
    }
    if counts.is_empty() {
        return None;
    }
    let total: u64 = counts.values().sum();
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Some(format!(
        "{node}: {total} conflicts logged: {}",
        parts.join(", ")
    ))
}

/// Bytes of WAL a node may write idle (a checkpoint's or a snapshot's
/// records) within a wait, above which its growth is a loop.
const IDLE_WAL_BYTES: i64 = 64 * 1024;

/// A finding if the wait did not settle because WAL kept growing.
pub fn never_quiesced(catch_up: &CatchUp) -> Option<DbFinding> {
    if catch_up.settled {
        return None;
    }
    let growing: Vec<String> = catch_up
        .growth
        .iter()
        .filter(|(_, bytes)| *bytes > IDLE_WAL_BYTES)
        .map(|(node, bytes)| format!("{node} +{bytes} B"))
        .collect();
    if growing.is_empty() {
        return None;
    }
    Some(DbFinding {
        node: "all".into(),
        kind: "replication-never-quiesced".into(),
        channel: None,
        errno: None,
        message: format!(
            "WAL kept growing with no client writing over the last {:.1}s of the {:.1}s wait \
             ({}): replicated changes loop between the nodes",
            catch_up.growth_window.as_secs_f64(),
            catch_up.waited.as_secs_f64(),
            growing.join(", ")
        ),
        anomaly: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LOG: &str = "\
2026-12-03 12:00:00.000 UTC [10] pglogical apply 16384:1 LOG:  CONFLICT: remote UPDATE on relation public.registers (local index registers_pkey). Resolution: apply_remote.
2026-12-03 12:00:00.000 UTC [10] pglogical apply 16384:1 DETAIL:  existing local tuple {k[varchar]:k1 v[int8]:3}
2026-12-03 12:00:01.000 UTC [10] pglogical apply 16384:1 LOG:  CONFLICT: remote UPDATE on relation public.registers (local index registers_pkey). Resolution: apply_remote.
2026-12-03 12:00:02.000 UTC [11] pglogical apply 16384:2 LOG:  CONFLICT: remote INSERT on relation public.registers (local index registers_pkey). Resolution: keep_local.
2026-12-03 12:00:03.000 UTC [12] pglogical apply 16384:2 ERROR:  cannot apply conflicting row
";

    #[test]
    fn skipped_updates_are_counted_from_either_kind_of_log() {
        let pglogical = "\
LOG:  CONFLICT: remote UPDATE on relation public.rows replica identity index rows_pkey (tuple not found). Resolution: skip.
LOG:  CONFLICT: remote UPDATE on relation public.registers (local index registers_pkey). Resolution: apply_remote.
LOG:  CONFLICT: remote UPDATE on relation public.rows replica identity index rows_pkey (tuple not found). Resolution: skip.
";
        let native = "\
LOG:  conflict detected on relation \"public.rows\": conflict=update_missing
DETAIL:  Could not find the row to be updated.
LOG:  conflict detected on relation \"public.claims\": conflict=insert_exists
";
        assert_eq!(skipped_updates(pglogical), 2);
        assert_eq!(skipped_updates(native), 1);
        assert_eq!(
            native_conflicts("n2", native).as_deref(),
            Some("n2: 2 conflicts logged: 1 insert_exists, 1 update_missing")
        );
        assert_eq!(native_conflicts("n2", pglogical), None);
        assert_eq!(skipped_updates(LOG), 0);
    }

    #[test]
    fn conflicts_are_counted_by_change_and_resolution() {
        let counts = conflict_counts(LOG);
        assert_eq!(
            counts[&("UPDATE".to_string(), "apply_remote".to_string())],
            2
        );
        assert_eq!(counts[&("INSERT".to_string(), "keep_local".to_string())], 1);
        assert_eq!(
            conflicts("n2", LOG).unwrap(),
            "n2: 3 conflicts logged: 1 remote INSERT resolved keep_local, 2 remote UPDATE resolved apply_remote"
        );
        assert!(conflicts("n1", "nothing here").is_none());
    }

    #[test]
    fn a_subscription_down_names_its_origin_and_error() {
        let subs = [
            SubStatus {
                name: "sub_n2_from_n1".into(),
                status: "down".into(),
                provider: "n1".into(),
            },
            SubStatus {
                name: "sub_n2_from_n3".into(),
                status: "replicating".into(),
                provider: "n3".into(),
            },
        ];
        let found = stopped("n2", &subs, LOG);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].channel.as_deref(), Some("replicating from n1"));
        assert!(
            found[0].message.ends_with("cannot apply conflicting row"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_loop_is_wal_growth_beyond_idle_records() {
        let mut catch_up = CatchUp {
            settled: false,
            waited: Duration::from_secs(10),
            growth: vec![("n1".into(), 4096), ("n2".into(), 200_000)],
            growth_window: Duration::from_secs(5),
        };
        let finding = never_quiesced(&catch_up).unwrap();
        assert!(
            finding.message.contains("n2 +200000 B"),
            "{}",
            finding.message
        );
        assert!(!finding.message.contains("n1"), "{}", finding.message);
        catch_up.growth = vec![("n1".into(), 4096)];
        assert!(never_quiesced(&catch_up).is_none());
        catch_up.settled = true;
        assert!(never_quiesced(&catch_up).is_none());
    }
}
