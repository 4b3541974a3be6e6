//! Partition states in the metastore: reading them (creating those of new partitions)
//! when the controller takes office or learns of new partitions, and the conditional
//! writes, fenced by the controller epoch, that store every change.

use super::{partition_state_path, ActiveController, Resign, CONTROLLER_EPOCH_PATH};
use crate::coverage::ReachedState;
use crate::history::{ElectionReason, Event};
use crate::metastore::MetaClientError;
use crate::protocol::{BrokerId, MetaError, MetaOp, PartitionState, TopicAssignment, TopicId, TopicPartition};
use futures_util::future::join_all;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl ActiveController<'_> {
    /// [`ActiveController::load_partitions`], returning the partitions it started.
    pub(super) async fn load_new_partitions(&mut self) -> Result<BTreeSet<TopicPartition>, Resign> {
        let known_before: BTreeSet<TopicPartition> = self.partitions.keys().cloned().collect();
        self.load_partitions().await?;
        Ok(self.partitions.keys().filter(|tp| !known_before.contains(*tp)).cloned().collect())
    }

    /// Reads every partition state. A topic absent from the metastore is created once all
    /// its replicas are registered, as an administrator creates topics on a running
    /// cluster, so that its first ISR holds every replica.
    ///
    /// The reads go out together, then the creations, as Kafka's controller pipelines
    /// them (`KafkaZkClient.getTopicPartitionStates` when it takes office,
    /// `createTopicPartitionStatesRaw` from `ZkPartitionStateMachine.initializeLeaderAndIsrForPartitions`):
    /// a topic of 2,000 partitions is created in two round trips, not 4,000.
    pub(super) async fn load_partitions(&mut self) -> Result<(), Resign> {
        let mut unknown: Vec<(TopicPartition, Vec<BrokerId>, TopicId)> = Vec::new();
        for topic in self.topics.iter().filter(|t| !self.deleting.contains_key(&t.name)) {
            let topic_id = self.topic_id(&topic.name);
            // One name shared by the topic's partitions: every request and map that
            // holds them then compares their topics by address (`TopicPartition`'s
            // `Ord`), not by text, in the brokers' per-partition lookups.
            let name: Arc<str> = topic.name.as_str().into();
            for (partition, replicas) in topic.replicas.iter().enumerate() {
                let tp = TopicPartition::new(Arc::clone(&name), partition as u32);
                if !self.partitions.contains_key(&tp) {
                    unknown.push((tp, replicas.clone(), topic_id));
                }
            }
        }
        let paths: Vec<String> = unknown.iter().map(|(tp, _, _)| partition_state_path(tp)).collect();
        let reads = join_all(paths.iter().map(|path| self.meta.get(path, false))).await;
        let mut to_create = Vec::new();
        for ((tp, replicas, topic_id), read) in unknown.into_iter().zip(reads) {
            match read.map_err(|_| Resign::Unavailable)? {
                Some(node) => {
                    let mut state: PartitionState =
                        serde_json::from_str(&node.data).map_err(|_| Resign::Unavailable)?;
                    state.partition_epoch = node.version;
                    state.topic_id = topic_id;
                    // Trace the state as found: a write of the previous controller whose
                    // answer was lost may have landed unseen, and the trace (which the
                    // liveness phase and the nemesis read) must show the true ISR (found
                    // by the swarm scenario, seed 361).
                    self.trace_isr(&state);
                    self.partitions.insert(tp, state);
                }
                None if !replicas.iter().all(|r| self.live.contains_key(r)) => {}
                // Kafka's `initializeLeaderAndIsrForPartitions` (and KRaft's
                // `PartitionRegistration`): the first live replica leads in leader
                // epoch 0 (`LeaderAndIsr.InitialLeaderEpoch`), every live replica
                // in the ISR, partition epoch 0.
                None => to_create.push(PartitionState {
                    tp,
                    leader: replicas.first().copied(),
                    leader_epoch: 0,
                    isr: replicas.clone(),
                    replicas,
                    partition_epoch: 0,
                    topic_id,
                }),
            }
        }
        let nodes: Vec<(String, String)> = to_create
            .iter()
            .map(|state| {
                let data = serde_json::to_string(state).expect("partition state serializes");
                (partition_state_path(&state.tp), data)
            })
            .collect();
        let creations = join_all(nodes.iter().map(|(path, data)| self.meta.create(path, data, false))).await;
        let mut outcome = Ok(());
        for (state, created) in to_create.into_iter().zip(creations) {
            let Ok(version) = created else {
                // What did land is read back by the next controller.
                outcome = Err(Resign::Unavailable);
                continue;
            };
            let state = PartitionState { partition_epoch: version, ..state };
            // A partition an administrator created (not one of the scenario's
            // topics at its own count) is traced as KRaft's controller traces
            // it: the runner learns its replicas from it.
            let key = self.partition_key(&state);
            if !crate::history::incarnations::is_first_incarnation(&key)
                || !TopicAssignment::hold_partition(&self.ctx.topics, &state.tp.topic, state.tp.partition)
            {
                self.ctx
                    .tracer
                    .emit(Event::PartitionCreated { tp: key, replicas: state.replicas.iter().map(|b| b.0).collect() });
            }
            self.trace_election(&state, false, ElectionReason::TopicCreation);
            self.partitions.insert(state.tp.clone(), state);
        }
        outcome
    }

    /// Runs `ops` in one transaction with a check that this controller's epoch is still
    /// current (Kafka's writes conditional on `epochZkVersion`). A failed check means a
    /// newer controller exists: this one is fenced. Returns the versions after `ops`, or
    /// the transaction's other failure.
    pub(super) async fn write_as_controller(
        &self,
        ops: Vec<MetaOp>,
    ) -> Result<Result<Vec<u64>, MetaClientError>, Resign> {
        let answer = self.write_fenced(ops).await;
        if answer.is_err() {
            self.ctx.tracer.reached(ReachedState::ZombieControllerFenced);
        }
        answer
    }

    /// [`ActiveController::write_as_controller`] without the probe: a batch of writes
    /// reaches "fenced" once, however many of its writes were refused.
    async fn write_fenced(&self, ops: Vec<MetaOp>) -> Result<Result<Vec<u64>, MetaClientError>, Resign> {
        let check = MetaOp::Check { path: CONTROLLER_EPOCH_PATH.to_string(), version: self.epoch_version };
        match self.meta.multi(std::iter::once(check).chain(ops).collect()).await {
            Ok(mut versions) => {
                versions.remove(0);
                Ok(Ok(versions))
            }
            Err(MetaClientError::MultiFailed { error: MetaError::BadVersion, op_index: 0 }) => {
                // A newer controller bumped the epoch: this one is a zombie, fenced.
                self.fenced.store(true, Ordering::Relaxed);
                Err(Resign::Fenced)
            }
            Err(error) => Ok(Err(error)),
        }
    }

    /// Stores a partition state conditionally on its version and on this controller's
    /// epoch still being current.
    pub(super) async fn write_state(&mut self, next: PartitionState) -> Result<PartitionState, Resign> {
        let (mut stored, outcome) = self.write_states(vec![((), next)]).await;
        match stored.pop() {
            Some(((), state)) => Ok(state),
            None => Err(outcome.expect_err("a write that stored nothing failed")),
        }
    }

    /// Stores many partition states at once, each conditionally on its version and on
    /// this controller's epoch, as Kafka's `KafkaZkClient.updateLeaderAndIsr` does: one
    /// conditional SetData per partition (wrapped with the controller-epoch check), all
    /// sent together and awaited together (`retryRequestsUntilConnected` pipelines them),
    /// so that a broker failure moving hundreds of leaderships costs one round trip, not
    /// hundreds. Each write carries a `tag` of the caller's (what to trace); returns the
    /// states stored, with their tags, in the order given, and why the controller must
    /// resign if a write failed. A write refused without fencing re-reads the partition
    /// (see [`ActiveController::resolve_failed_write`]) once the batch is answered.
    pub(super) async fn write_states<T>(
        &mut self,
        writes: Vec<(T, PartitionState)>,
    ) -> (Vec<(T, PartitionState)>, Result<(), Resign>) {
        let cached_versions: Vec<u64> =
            writes.iter().map(|(_, next)| self.partitions.get(&next.tp).map_or(0, |s| s.partition_epoch)).collect();
        let requests = writes.iter().zip(&cached_versions).map(|((_, next), &version)| {
            let data = serde_json::to_string(next).expect("partition state serializes");
            let path = partition_state_path(&next.tp);
            self.write_fenced(vec![MetaOp::SetData { path, data, expected_version: Some(version) }])
        });
        let answers = join_all(requests).await;
        let mut stored = Vec::with_capacity(writes.len());
        let mut outcome = Ok(());
        for (((tag, mut next), answer), cached_version) in writes.into_iter().zip(answers).zip(cached_versions) {
            match answer {
                Ok(Ok(versions)) => {
                    next.partition_epoch = versions.first().copied().unwrap_or(cached_version + 1);
                    self.partitions.insert(next.tp.clone(), next.clone());
                    stored.push((tag, next));
                }
                Ok(Err(_)) if outcome.is_ok() => match self.resolve_failed_write(&next, cached_version).await {
                    Ok(state) => stored.push((tag, state)),
                    Err(resign) => outcome = Err(resign),
                },
                // Resigning already: the next controller reads what landed.
                Ok(Err(_)) => {}
                Err(resign) => outcome = Err(resign),
            }
        }
        if outcome == Err(Resign::Fenced) {
            self.ctx.tracer.reached(ReachedState::ZombieControllerFenced);
        }
        (stored, outcome)
    }

    /// After a partition write failed without fencing: re-reads the stored state, so that
    /// the cached version matches the metastore again. A write whose answer was lost (a
    /// timeout) may still have landed; without this every later conditional write of the
    /// partition fails with BadVersion and its ISR can never change again (found by the
    /// swarm scenario, seed 34: packet loss delayed a metastore answer past its timeout).
    /// Kafka's ZooKeeper-mode controller likewise re-reads the partition state on a
    /// version conflict. Returns the stored state if it is the one `next` asked for.
    async fn resolve_failed_write(
        &mut self,
        next: &PartitionState,
        cached_version: u64,
    ) -> Result<PartitionState, Resign> {
        let path = partition_state_path(&next.tp);
        let Ok(Some(node)) = self.meta.get(&path, false).await else {
            return Err(Resign::Unavailable);
        };
        let Ok(mut stored) = serde_json::from_str::<PartitionState>(&node.data) else {
            return Err(Resign::Unavailable);
        };
        stored.partition_epoch = node.version;
        stored.topic_id = next.topic_id; // Kept in the topic's node, not the state's.
        self.partitions.insert(next.tp.clone(), stored.clone());
        let landed = stored.leader == next.leader
            && stored.leader_epoch == next.leader_epoch
            && stored.isr == next.isr
            && stored.replicas == next.replicas;
        if landed {
            return Ok(stored);
        }
        if stored.partition_epoch != cached_version {
            // An earlier write whose answer was lost had landed: trace it and tell the
            // replicas, so that the leader's next AlterIsr carries the current version.
            self.trace_isr(&stored);
            let only = BTreeSet::from([stored.tp.clone()]);
            self.send_leader_and_isr(&stored.replicas, Some(&only));
        }
        Err(Resign::Unavailable)
    }
}
