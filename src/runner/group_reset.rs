//! The administrator's group offset reset (`[[events]]` `kind = "rewind"` with a
//! `group`): what `kafka-consumer-groups.sh --group G --topic T --reset-offsets
//! (--to-datetime | --to-offset | --from-file) --execute` does, in Kafka's
//! `ConsumerGroupCommand.resetOffsets`:
//!
//! 1. describe the group (DescribeGroups, or ConsumerGroupDescribe for a
//!    consumer-protocol group) and refuse unless it is inactive, Empty or Dead:
//!    "Assignments can only be reset if the group is inactive" (nothing is sent);
//! 2. look the new offsets up for every partition of the group's topics: by time, the
//!    admin client's ListOffsets with the timestamp (read_uncommitted, its default),
//!    falling back to the log end offset where no record is that recent; by offset, the
//!    offset kept within the log (`checkOffsetsRange`: at most the log end, at least the
//!    log start);
//! 3. commit them (`alterConsumerGroupOffsets`: an OffsetCommit with no generation and no
//!    member id), which the coordinator itself accepts only while the group has no
//!    members (UNKNOWN_MEMBER_ID otherwise: a member may have joined since step 1).
//!
//! The history records it as a `rewind` op of the administrator's process
//! ([`ADMIN_PROCESS`] plus the event's place in the file), whose value names the group
//! and, per partition, the offset committed before (as `--describe` shows it, read with
//! OffsetFetch first) and the new one (`null` where a lookup by time found nothing and
//! the tool fell back to the log end). It fails with the tool's error; a reset whose
//! commit got no answer within `default.api.timeout.ms` ends `info`.
//!
//! Simplified: each admin call retries on its own until the admin client's
//! `default.api.timeout.ms` (one budget for the whole reset here); the tool prints
//! warnings where Kafka's logs them.

use super::admin::{DEFAULT_API_TIMEOUT, REQUEST_TIMEOUT, RETRY_BACKOFF};
use crate::client::connection_states::ConnectionSettings;
use crate::client::consumer::{Consumer, ConsumerConfig};
use crate::client::group::CoordinatorLink;
use crate::history::{OpFn, OpType, OpValue, Recorder, Rewind, RewindMove};
use crate::protocol::{ErrorCode, GroupRequest, GroupResponse, IsolationLevel, Offset, OffsetReset, Request, Response};
use crate::protocol::{OffsetSpec, TopicPartition};
use crate::scenario::RewindTo;
use crate::sim::clock;
use crate::sim::net::{Addr, NodeNet};
use madsim::time::{sleep, Instant};
use std::collections::BTreeMap;

/// One reset the administrator runs.
pub(super) struct GroupReset<'a> {
    /// The group.
    pub group: &'a str,
    /// The topics whose partitions it resets (`--topic`, once per topic).
    pub topics: &'a [String],
    /// Where to.
    pub to: &'a RewindTo,
    /// The record timestamp a reset by time looks up (`--to-datetime`), in milliseconds
    /// since the run started.
    pub timestamp_ms: Option<u64>,
    /// The administrator's process id in the history.
    pub process: u64,
}

/// Why a reset did not happen, or may not have.
struct Refused {
    /// The tool's or the coordinator's error.
    error: String,
    /// Whether nothing was reset for certain (`fail`) rather than maybe (`info`).
    certain: bool,
}

impl Refused {
    fn certain(error: impl Into<String>) -> Self {
        Refused { error: error.into(), certain: true }
    }
}

/// Runs the reset and records it.
pub(super) async fn reset_group(
    net: &NodeNet<Request, Response>,
    bootstrap: &[Addr],
    recorder: &Recorder,
    reset: GroupReset<'_>,
) {
    let asked =
        Rewind { to_time_ms: reset.timestamp_ms, group: Some(reset.group.to_string()), partitions: BTreeMap::new() };
    recorder.op(reset.process, OpType::Invoke, OpFn::Rewind, OpValue::Rewind(asked.clone()), None);
    let deadline = clock::now() + DEFAULT_API_TIMEOUT;
    let (kind, value, error) = match run(net, bootstrap, &reset, deadline).await {
        Ok(partitions) => (OpType::Ok, Rewind { partitions, ..asked }, None),
        Err(Refused { error, certain }) => (if certain { OpType::Fail } else { OpType::Info }, asked, Some(error)),
    };
    recorder.op(reset.process, kind, OpFn::Rewind, OpValue::Rewind(value), error);
}

async fn run(
    net: &NodeNet<Request, Response>,
    bootstrap: &[Addr],
    reset: &GroupReset<'_>,
    deadline: Instant,
) -> Result<BTreeMap<String, RewindMove>, Refused> {
    let mut link = CoordinatorLink::new(net.clone(), bootstrap.to_vec(), reset.group);
    let described = call(&mut link, GroupRequest::DescribeGroup { group: reset.group.to_string() }, deadline).await?;
    let Some(GroupResponse::Described { state: Some(state), .. }) = described else {
        return Err(Refused::certain("no description of the group"));
    };
    if !state.inactive() {
        let error = format!(
            "Assignments can only be reset if the group '{}' is inactive, but the current state is {state}.",
            reset.group
        );
        return Err(Refused::certain(error));
    }
    let mut lookups = Consumer::new(net.clone(), lookup_config(bootstrap));
    let mut partitions = Vec::new();
    for topic in reset.topics {
        loop {
            let found = lookups.partitions_for(topic).await;
            if !found.is_empty() {
                partitions.extend(found);
                break;
            }
            backoff(deadline, "metadata").await?;
        }
    }
    let fetch =
        GroupRequest::OffsetFetch { group: reset.group.to_string(), member: None, partitions: partitions.clone() };
    let committed: BTreeMap<TopicPartition, Option<Offset>> = match call(&mut link, fetch, deadline).await? {
        Some(GroupResponse::Offsets { error: None, offsets }) => offsets.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    let targets = new_offsets(&mut lookups, reset, &partitions, deadline).await?;
    let commit = GroupRequest::OffsetCommit {
        group: reset.group.to_string(),
        generation: None,
        member_id: String::new(),
        group_instance_id: None,
        offsets: targets.iter().map(|(tp, (offset, _))| (tp.clone(), *offset)).collect(),
    };
    match call(&mut link, commit, deadline).await {
        Ok(Some(GroupResponse::Ack { error: None })) => {}
        Ok(Some(GroupResponse::Ack { error: Some(error) })) => return Err(Refused::certain(error.kafka_name())),
        Ok(_) => return Err(Refused::certain("unexpected answer to OffsetCommit")),
        Err(Refused { error, .. }) => return Err(Refused { error, certain: false }),
    }
    Ok(targets
        .into_iter()
        .map(|(tp, (_, found))| {
            let from = committed.get(&tp).copied().flatten();
            (tp.to_string(), RewindMove { from, to: found })
        })
        .collect())
}

/// The offsets to commit, per partition, each with what the history records as `to`
/// (`None` where a lookup by time found nothing and the log end stands in).
async fn new_offsets(
    lookups: &mut Consumer,
    reset: &GroupReset<'_>,
    partitions: &[TopicPartition],
    deadline: Instant,
) -> Result<BTreeMap<TopicPartition, (Offset, Option<Offset>)>, Refused> {
    let mut targets = BTreeMap::new();
    let requested: BTreeMap<TopicPartition, Offset> = match reset.to {
        RewindTo::Time { .. } => {
            let timestamp_ms = reset.timestamp_ms.expect("a reset by time has a timestamp");
            let lookup = partitions.iter().map(|tp| (tp.clone(), timestamp_ms)).collect();
            let timeout = deadline.saturating_duration_since(clock::now());
            let Some(found) = lookups.offsets_for_times_within(&lookup, timeout).await else {
                return Err(Refused::certain("TimeoutException: listOffsets by timestamp"));
            };
            for (tp, offset) in found {
                let commit = match offset {
                    Some(offset) => offset,
                    // "Partition is empty. Falling back to latest known offset."
                    None => log_offset(lookups, &tp, OffsetSpec::Latest, deadline).await?,
                };
                targets.insert(tp, (commit, offset));
            }
            return Ok(targets);
        }
        RewindTo::Offset(offset) => partitions.iter().map(|tp| (tp.clone(), *offset)).collect(),
        RewindTo::Offsets(offsets) => {
            offsets.iter().filter(|(tp, _)| partitions.contains(tp)).map(|(tp, o)| (tp.clone(), *o)).collect()
        }
    };
    // `checkOffsetsRange`: at most the log end offset, at least the log start offset.
    for (tp, offset) in requested {
        let end = log_offset(lookups, &tp, OffsetSpec::Latest, deadline).await?;
        let start = log_offset(lookups, &tp, OffsetSpec::Earliest, deadline).await?;
        let kept = offset.min(end).max(start);
        targets.insert(tp, (kept, Some(kept)));
    }
    Ok(targets)
}

/// Sends a group request to the coordinator, again after a backoff while no coordinator
/// answers or it answers NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or
/// COORDINATOR_LOAD_IN_PROGRESS, until `deadline`.
async fn call(
    link: &mut CoordinatorLink,
    request: GroupRequest,
    deadline: Instant,
) -> Result<Option<GroupResponse>, Refused> {
    loop {
        let timeout = REQUEST_TIMEOUT.min(deadline.saturating_duration_since(clock::now()));
        let retry = match link.call(request.clone(), timeout).await {
            Ok(response) => match crate::client::group::coordinator::response_error(&response) {
                Some(
                    ErrorCode::NotCoordinator
                    | ErrorCode::CoordinatorNotAvailable
                    | ErrorCode::CoordinatorLoadInProgress,
                ) => true,
                _ => return Ok(Some(response)),
            },
            Err(_) => true,
        };
        if retry {
            backoff(deadline, "the group coordinator did not answer").await?;
        }
    }
}

/// The log start (`Earliest`) or end (`Latest`, the high watermark) offset of `tp`,
/// asked again after a backoff until the leader answers or `deadline` passes.
async fn log_offset(
    lookups: &mut Consumer,
    tp: &TopicPartition,
    spec: OffsetSpec,
    deadline: Instant,
) -> Result<Offset, Refused> {
    loop {
        if let Some(offset) = lookups.log_offset(tp, spec).await {
            return Ok(offset);
        }
        backoff(deadline, "listOffsets").await?;
    }
}

/// Waits the admin client's `retry.backoff.ms` before another attempt, or gives up with
/// a timeout of `what` when that would pass `deadline`.
async fn backoff(deadline: Instant, what: &str) -> Result<(), Refused> {
    if clock::now() + RETRY_BACKOFF >= deadline {
        return Err(Refused::certain(format!("TimeoutException: {what}")));
    }
    sleep(RETRY_BACKOFF).await;
    Ok(())
}

/// The admin client's ListOffsets and Metadata, through a consumer's lookups: read
/// uncommitted (`ListOffsetsOptions`' default), never creating a topic.
fn lookup_config(bootstrap: &[Addr]) -> ConsumerConfig {
    ConsumerConfig {
        bootstrap: bootstrap.to_vec(),
        auto_offset_reset: OffsetReset::Latest,
        fetch_max_wait_ms: 500,
        max_poll_records: 500,
        request_timeout_ms: REQUEST_TIMEOUT.as_millis() as u64,
        metadata_max_age_ms: 300_000,
        retry_backoff_ms: RETRY_BACKOFF.as_millis() as u64,
        // kafkasim's admin client keeps the fixed `retry.backoff.ms` (KIP-580's
        // `KafkaAdminClient` backoff is not modelled).
        retry_backoff_max_ms: None,
        // Kafka's `AdminMetadataManager` replaces its cluster with every answer: it keeps
        // no leader epochs.
        rejects_stale_metadata: false,
        offset_validation: Default::default(),
        isolation_level: IsolationLevel::ReadUncommitted,
        allow_auto_create_topics: false,
        fetch_topic_ids: false,
        connections: ConnectionSettings::default(),
    }
}
