//! Disagreements about what a key's log holds: `inconsistent-offsets` (one offset, several
//! values) and `duplicate` (one value, several offsets). Both read only the version order,
//! so they see every poll and every send that must have committed.

use super::analysis::{Analysis, VersionOrder};
use crate::check::describe::plural;
use crate::check::{Anomaly, AnomalyKind, RecordRef};

/// Jepsen's version-order errors (`inconsistent-offsets`): an offset of a key at which
/// different observations (acknowledged sends, polls) found different values. One anomaly
/// per key and offset, keys in order, offsets ascending.
pub(super) fn inconsistent_offsets(a: &Analysis<'_>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, order) in &a.orders {
        for &(offset, ref values) in &order.log {
            if values.len() < 2 {
                continue;
            }
            let seen: Vec<(String, RecordRef)> =
                values.iter().map(|o| observation(a, order, key, offset, o.value)).collect();
            let phrases: Vec<String> =
                values.iter().zip(&seen).map(|(o, (phrase, _))| format!("{} ({phrase})", o.value)).collect();
            out.push(Anomaly::new(
                AnomalyKind::InconsistentOffsets,
                format!(
                    "{key} offset {offset} was observed holding {} different values: {}.",
                    values.len(),
                    phrases.join(", ")
                ),
                seen.into_iter().map(|(_, r)| r).collect(),
            ));
        }
    }
    out
}

/// Jepsen's `duplicate-cases`: a value of a key observed at more than one offset (a
/// retried send written twice, say). One anomaly per key and value, keys in order,
/// values in order of their first offset.
pub(super) fn duplicates(a: &Analysis<'_>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, order) in &a.orders {
        for (value, offsets) in values_at_several_offsets(order) {
            let seen: Vec<(String, RecordRef)> =
                offsets.iter().map(|&o| observation(a, order, key, o, value)).collect();
            let phrases: Vec<String> =
                offsets.iter().zip(&seen).map(|(o, (phrase, _))| format!("{o} ({phrase})")).collect();
            out.push(Anomaly::new(
                AnomalyKind::Duplicate,
                format!(
                    "{key}: value {value} was observed at {}: {}.",
                    plural(offsets.len(), "offset"),
                    phrases.join(", ")
                ),
                seen.into_iter().map(|(_, r)| r).collect(),
            ));
        }
    }
    out
}

/// Every value of a key observed at more than one offset, with those offsets
/// (ascending), the values in the order of their first offset. Sorting every
/// `(value, offset)` pair finds them without an entry per value.
fn values_at_several_offsets(order: &VersionOrder) -> Vec<(u64, Vec<u64>)> {
    let mut pairs: Vec<(u64, u64)> =
        order.log.iter().flat_map(|&(offset, ref values)| values.iter().map(move |o| (o.value, offset))).collect();
    pairs.sort_unstable();
    let mut several: Vec<(u64, Vec<u64>)> = pairs
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
        .map(|run| (run[0].0, run.iter().map(|&(_, offset)| offset).collect()))
        .collect();
    // Stable: values sharing a first offset stay in ascending order.
    several.sort_by_key(|(_, offsets)| offsets[0]);
    several
}

/// Who first observed `(offset, value)` of `key`, as a phrase and as a record.
fn observation(a: &Analysis<'_>, order: &VersionOrder, key: &str, offset: u64, value: u64) -> (String, RecordRef) {
    match order.first_seen(offset, value) {
        Some(obs) => {
            let note = a.observation_note(obs, offset);
            let record = RecordRef::new(key, Some(offset), Some(value), note).seen_in(a.op(obs.at()).op);
            (a.observation_phrase(key, offset, value, obs), record)
        }
        None => ("observed".to_string(), RecordRef::new(key, Some(offset), Some(value), "observed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    fn offsets_and_values(anomaly: &Anomaly) -> Vec<(Option<u64>, Option<u64>)> {
        anomaly.records.iter().map(|r| (r.offset, r.value)).collect()
    }

    #[test]
    fn a_poll_disagreeing_with_an_acknowledgement_is_inconsistent() {
        let h = Hist::new().send_ok(0, "x", 0, 10).poll_ok(1, &[("x", &[(0, 11)])]).build();
        let found = inconsistent_offsets(&Analysis::new(&h));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::InconsistentOffsets);
        assert_eq!(offsets_and_values(&found[0]), vec![(Some(0), Some(10)), (Some(0), Some(11))]);
        assert_eq!(found[0].records[0].note, "acknowledged at offset 0");
        assert_eq!(found[0].records[1].note, "polled at offset 0");
        assert_eq!(
            found[0].description,
            "x offset 0 was observed holding 2 different values: 10 (acknowledged to process 0 at 0.200 s), \
             11 (polled by process 1 at 0.400 s)."
        );
    }

    #[test]
    fn a_failed_send_claiming_an_offset_is_not_inconsistent() {
        // The failed op's offset never enters the version order; only the poll does.
        let h = Hist::new()
            .txn(0, crate::history::OpType::Fail, &[crate::check::testkit::M::Send("x", Some(0), 10)])
            .poll_ok(1, &[("x", &[(0, 11)])])
            .build();
        assert!(inconsistent_offsets(&Analysis::new(&h)).is_empty());
    }

    #[test]
    fn a_value_at_two_offsets_is_a_duplicate() {
        let h = Hist::new().send_ok(0, "x", 0, 10).poll_ok(1, &[("x", &[(0, 10), (1, 11), (2, 10)])]).build();
        let found = duplicates(&Analysis::new(&h));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::Duplicate);
        assert_eq!(offsets_and_values(&found[0]), vec![(Some(0), Some(10)), (Some(2), Some(10))]);
        assert!(found[0].description.starts_with("x: value 10 was observed at 2 offsets: 0 (acknowledged"));
    }

    #[test]
    fn duplicates_come_in_the_order_of_their_first_offset() {
        let h = Hist::new().poll_ok(1, &[("x", &[(0, 20), (1, 10), (2, 10), (3, 20), (4, 5)])]).build();
        let found = duplicates(&Analysis::new(&h));
        let values: Vec<Vec<(Option<u64>, Option<u64>)>> = found.iter().map(offsets_and_values).collect();
        assert_eq!(
            values,
            vec![vec![(Some(0), Some(20)), (Some(3), Some(20))], vec![(Some(1), Some(10)), (Some(2), Some(10))]]
        );
    }

    #[test]
    fn the_same_value_in_two_keys_is_not_a_duplicate() {
        let h =
            Hist::new().poll_ok(1, &[("x", &[(0, 10)]), ("y", &[(0, 10)])]).poll_ok(1, &[("x", &[(0, 10)])]).build();
        assert!(duplicates(&Analysis::new(&h)).is_empty());
    }
}
