//! Retention: which segments of a log Kafka's retention check deletes, as a pure
//! function of the segments, the high watermark and the clock (Kafka's
//! `UnifiedLog.deleteOldSegments`), and the periodic task that applies it on every
//! replica this broker hosts.
//!
//! Only closed segments go, oldest first, and only while every record of the segment is
//! below the high watermark (so retention never deletes what is not committed); the
//! active segment always stays. `retention.bytes` deletes the oldest segments while the
//! log would still be at least that large without them; `retention.ms` deletes the
//! oldest segments whose newest record is older than that. Each pass stops at the first
//! segment that does not qualify, as Kafka's does.

use super::SharedBroker;
use crate::history::LogStartReason;
use crate::protocol::{Offset, RetentionConfig};
use madsim::time::sleep;
use std::time::Duration;

/// What retention needs to know of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's first offset.
    pub base_offset: Offset,
    /// The offset after its last record.
    pub next_offset: Offset,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its newest record's timestamp, in milliseconds (`None` when empty).
    pub largest_timestamp_ms: Option<u64>,
}

/// Why retention moved a log start: the trace's `reason` names the setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breach {
    /// `retention.bytes`.
    Size,
    /// `retention.ms`.
    Time,
}

impl Breach {
    /// The setting that moved the log start, as the trace records it.
    pub fn reason(self) -> LogStartReason {
        match self {
            Breach::Size => LogStartReason::RetentionBytes,
            Breach::Time => LogStartReason::RetentionMs,
        }
    }
}

/// The new log start after one retention pass and the setting that moved it, or `None`
/// when nothing is due. Size is checked before time, as Kafka does.
pub fn due(
    segments: &[SegmentInfo],
    high_watermark: Offset,
    now_ms: u64,
    config: &RetentionConfig,
) -> Option<(Offset, Breach)> {
    // Closed segments wholly below the high watermark, oldest first.
    let closed = segments.len().saturating_sub(1);
    let eligible = segments[..closed].iter().take_while(|s| s.next_offset <= high_watermark);
    let count = if let Some(limit) = config.retention_bytes {
        let total: u64 = segments.iter().map(|s| s.size_bytes).sum();
        let mut excess = total.saturating_sub(limit);
        eligible
            .take_while(|s| {
                let fits = s.size_bytes <= excess;
                excess = excess.saturating_sub(s.size_bytes);
                fits
            })
            .count()
    } else {
        0
    };
    if count > 0 {
        return Some((segments[count].base_offset, Breach::Size));
    }
    let retention_ms = config.retention_ms?;
    let expired = segments[..closed]
        .iter()
        .take_while(|s| s.next_offset <= high_watermark)
        .take_while(|s| s.largest_timestamp_ms.is_some_and(|ts| now_ms.saturating_sub(ts) > retention_ms))
        .count();
    (expired > 0).then(|| (segments[expired].base_offset, Breach::Time))
}

/// Every `log.retention.check.interval.ms`, applies retention to every replica this
/// broker hosts, leader or follower (Kafka's log manager does the same on every
/// broker), and traces what each deletion removed.
pub async fn run_retention_check(shared: SharedBroker, interval_ms: u64) {
    loop {
        sleep(Duration::from_millis(interval_ms)).await;
        let now_ms = madsim::time::TimeHandle::current().elapsed().as_millis() as u64;
        let mut state = shared.lock();
        let me = state.id;
        for partition in state.partitions.values_mut() {
            if !partition.has_role() {
                continue;
            }
            let config = shared.config.retention_for(&partition.tp().topic);
            // A pass can breach both settings in turn: apply each until nothing is due.
            while let Some((new_start, breach)) =
                due(&partition.log().segment_infos(), partition.high_watermark(), now_ms, &config)
            {
                partition.advance_log_start(me, new_start, breach.reason(), &shared.tracer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments of `sizes` bytes each, 10 offsets apiece, newest record at `ts[i]`.
    fn segments(sizes: &[u64], ts: &[u64]) -> Vec<SegmentInfo> {
        sizes
            .iter()
            .zip(ts)
            .enumerate()
            .map(|(i, (&size_bytes, &t))| SegmentInfo {
                base_offset: i as u64 * 10,
                next_offset: i as u64 * 10 + 10,
                size_bytes,
                largest_timestamp_ms: Some(t),
            })
            .collect()
    }

    fn config(retention_ms: Option<u64>, retention_bytes: Option<u64>) -> RetentionConfig {
        RetentionConfig { retention_ms, retention_bytes, segment_bytes: 100 }
    }

    #[test]
    fn time_retention_deletes_old_closed_segments_but_never_the_active_one() {
        let s = segments(&[100, 100, 100], &[1_000, 2_000, 3_000]);
        let c = config(Some(500), None);
        assert_eq!(due(&s, 30, 1_400, &c), None, "nothing older than 500 ms yet");
        assert_eq!(due(&s, 30, 1_600, &c), Some((10, Breach::Time)));
        assert_eq!(due(&s, 30, 9_999, &c), Some((20, Breach::Time)), "the active segment stays");
        // A segment not wholly below the high watermark stays, and so does every later one.
        assert_eq!(due(&s, 15, 9_999, &c), Some((10, Breach::Time)));
        assert_eq!(due(&s, 9, 9_999, &c), None);
        assert_eq!(due(&s, 30, 9_999, &config(None, None)), None, "retention.ms = -1 keeps everything");
    }

    #[test]
    fn time_retention_stops_at_the_first_young_segment() {
        // Timestamps are the producers' clocks: an old segment behind a young one waits.
        let s = segments(&[100, 100, 100, 100], &[1_000, 5_000, 1_000, 9_000]);
        assert_eq!(due(&s, 40, 4_000, &config(Some(500), None)), Some((10, Breach::Time)));
    }

    #[test]
    fn size_retention_keeps_the_log_at_or_above_the_limit() {
        let s = segments(&[100, 100, 100, 50], &[1, 1, 1, 1]);
        // 350 bytes over a limit of 200: the excess (150) covers the oldest segment
        // (100) but not the next one too, so one goes and the log keeps 250 bytes.
        assert_eq!(due(&s, 40, 0, &config(None, Some(200))), Some((10, Breach::Size)));
        assert_eq!(due(&s, 40, 0, &config(None, Some(150))), Some((20, Breach::Size)));
        assert_eq!(due(&s, 40, 0, &config(None, Some(0))), Some((30, Breach::Size)), "never the active one");
        assert_eq!(due(&s, 40, 0, &config(None, Some(300))), None);
        // Size is checked first; time applies when size has nothing to do.
        assert_eq!(due(&s, 40, 10, &config(Some(5), Some(300))), Some((30, Breach::Time)));
    }

    #[test]
    fn a_log_with_one_segment_has_nothing_to_delete() {
        let s = segments(&[1_000], &[0]);
        assert_eq!(due(&s, 10, u64::MAX, &config(Some(0), Some(0))), None);
        assert_eq!(due(&[], 0, 0, &config(Some(0), Some(0))), None);
    }
}
