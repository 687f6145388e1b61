//! Tie the database's own findings to the checkers' anomalies, so each
//! problem is reported once: an id handed out twice or a name granted twice
//! is the checkers' anomaly (`duplicate-id`, `constraint-violation`, with its
//! witness ops); what MariaDB adds is the applier that stopped on it (1062
//! duplicate key, with its error). Such a finding names the anomaly it
//! comes from instead of repeating it.

use diverge_checkers::{Anomaly, AnomalyKind};

use crate::results::DbFinding;

/// MariaDB's "duplicate key" error number.
const ER_DUP_ENTRY: u32 = 1062;

/// Point every stopped applier whose duplicate entry is a duplicate id or a
/// double claim at that anomaly ([`DbFinding::anomaly`]).
pub fn relate(findings: &mut [DbFinding], anomalies: &[Anomaly]) {
    for finding in findings.iter_mut() {
        if finding.errno != Some(ER_DUP_ENTRY) {
            continue;
        }
        let Some((table, entry)) = duplicate_entry(&finding.message) else {
            continue;
        };
        finding.anomaly = match table {
            "ids" => anomalies
                .iter()
                .find(|a| {
                    a.kind == AnomalyKind::DuplicateId
                        && a.explanation.starts_with(&format!("id {entry} "))
                })
                .map(|_| format!("duplicate-id: id {entry}")),
            "claims" => anomalies
                .iter()
                .find(|a| {
                    a.kind == AnomalyKind::ConstraintViolation && a.key.as_deref() == Some(entry)
                })
                .map(|_| format!("constraint-violation: name {entry}")),
            _ => None,
        };
    }
}

/// The table and the entry of a duplicate-key applier error, e.g.
/// `Could not execute Write_rows_v1 event on table diverge.claims; Duplicate
/// entry 'k3' for key 'PRIMARY', Error_code: 1062; ...` gives
/// `("claims", "k3")`.
fn duplicate_entry(message: &str) -> Option<(&str, &str)> {
    let table = message
        .split("on table ")
        .nth(1)?
        .split(|c: char| c == ';' || c.is_whitespace())
        .next()?;
    let table = table.rsplit('.').next()?;
    let entry = message.split("Duplicate entry '").nth(1)?;
    let entry = &entry[..entry.find("' for key")?];
    Some((table, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(errno: u32, message: &str) -> DbFinding {
        DbFinding {
            node: "n2".into(),
            kind: "replication-stopped".into(),
            channel: Some("replicating from n1".into()),
            errno: Some(errno),
            message: message.into(),
            anomaly: None,
        }
    }

    const CLAIMS_1062: &str = "SQL (applier) thread stopped: Could not execute Write_rows_v1 event on table diverge.claims; Duplicate entry 'k3' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's master log binlog.000001, end_log_pos 1234";

    #[test]
    fn the_entry_and_table_of_a_duplicate_key_error() {
        assert_eq!(duplicate_entry(CLAIMS_1062), Some(("claims", "k3")));
        assert_eq!(
            duplicate_entry(
                "Could not execute Write_rows_v1 event on table diverge.ids; Duplicate entry '17' for key 'PRIMARY', Error_code: 1062"
            ),
            Some(("ids", "17"))
        );
        assert_eq!(duplicate_entry("IO thread stopped: error 1236"), None);
    }

    #[test]
    fn a_stopped_applier_names_the_anomaly_it_stopped_on() {
        let anomalies = vec![
            Anomaly::new(
                AnomalyKind::ConstraintViolation,
                "k3",
                vec![4, 9],
                "name \"k3\" was granted to 10 on n1 (op 4) and to 20 on n2 (op 9)".into(),
            ),
            Anomaly::keyless(
                AnomalyKind::DuplicateId,
                vec![2, 3],
                "id 17 was handed out 2 times (first ops 2 and 3), by nodes n1, n2".into(),
            ),
        ];
        let mut findings = vec![
            stopped(1062, CLAIMS_1062),
            stopped(
                1062,
                "Could not execute Write_rows_v1 event on table diverge.ids; Duplicate entry '17' for key 'PRIMARY', Error_code: 1062",
            ),
            // 1 is a prefix of 17: not the same id.
            stopped(
                1062,
                "Could not execute Write_rows_v1 event on table diverge.ids; Duplicate entry '1' for key 'PRIMARY', Error_code: 1062",
            ),
            stopped(
                1032,
                "Could not execute Update_rows_v1 event on table diverge.registers; Can't find record",
            ),
        ];
        relate(&mut findings, &anomalies);
        let related: Vec<Option<&str>> = findings.iter().map(|f| f.anomaly.as_deref()).collect();
        assert_eq!(
            related,
            [
                Some("constraint-violation: name k3"),
                Some("duplicate-id: id 17"),
                None,
                None
            ]
        );
    }
}
