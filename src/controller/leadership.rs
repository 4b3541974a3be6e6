//! Leaders and ISRs: the elections the controller runs (brokers failing or starting, a
//! controlled shutdown, the preferred-leader rebalance), the leaders' AlterIsr
//! requests, and how each stored change is traced.

use super::{election, ActiveController, Resign, StateChange};
use crate::coverage::ReachedState;
use crate::history::{ElectionReason, Event};
use crate::protocol::{AlterIsrRequest, BrokerId, ErrorCode, PartitionState, Response, TopicPartition};
use crate::sim::clock;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

impl ActiveController<'_> {
    /// Re-elects leaders and prunes ISRs for every partition against `live`; returns
    /// the partitions that changed.
    pub(super) async fn reevaluate_all(
        &mut self,
        reason: ElectionReason,
        live: &BTreeSet<BrokerId>,
    ) -> Result<BTreeSet<TopicPartition>, Resign> {
        // Every partition's decision first, then one batch of writes (Kafka's
        // `ZkPartitionStateMachine.doElectLeaderForPartitions` elects the partitions of a
        // state change together and stores them with one `updateLeaderAndIsr`).
        let writes: Vec<(StateChange, PartitionState)> = self
            .partitions
            .values()
            .filter_map(|state| {
                let decision = election::reevaluate(state, live, self.unclean_allowed(&state.tp))?;
                let change = match decision.leader_changed {
                    true => StateChange::Election { unclean: decision.unclean, reason },
                    false => StateChange::Isr,
                };
                Some((change, decision.state))
            })
            .collect();
        self.write_and_trace(writes).await
    }

    /// Sends the `changed` partitions' states to every live broker (LeaderAndIsr, then
    /// UpdateMetadata), if any changed.
    fn announce_to_live(&self, changed: &BTreeSet<TopicPartition>) {
        if changed.is_empty() {
            return;
        }
        let everyone: Vec<BrokerId> = self.live.keys().copied().collect();
        self.send_leader_and_isr(&everyone, Some(changed));
        self.send_update_metadata(Some(changed));
    }

    /// Stores `writes` in one batch ([`ActiveController::write_states`]), traces each
    /// stored state as its change, and returns the partitions stored.
    async fn write_and_trace(
        &mut self,
        writes: Vec<(StateChange, PartitionState)>,
    ) -> Result<BTreeSet<TopicPartition>, Resign> {
        let (stored, outcome) = self.write_states(writes).await;
        for (change, state) in &stored {
            match *change {
                StateChange::Election { unclean, reason } => {
                    self.trace_election(state, unclean, reason);
                    if unclean {
                        self.ctx.tracer.reached(ReachedState::UncleanElection);
                    }
                }
                StateChange::Isr => self.trace_isr(state),
            }
            self.probe_isr_shrunk_to_leader(state);
        }
        outcome?;
        Ok(stored.into_iter().map(|(_, state)| state.tp).collect())
    }

    /// Kafka's `KafkaController.doControlledShutdown`: marks `broker` as shutting down,
    /// moves the leadership of every replicated partition it leads to another live ISR
    /// member, removes it from the ISR of the partitions it follows, tells the replicas,
    /// and returns the partitions it still leads (none when every move succeeded). The
    /// broker epoch check of KIP-380 is not modelled (a restarted broker re-registers
    /// before it can shut down again). Kafka also sends the broker StopReplica for the
    /// partitions it follows; here the broker exits right after the answer, and the
    /// ISR change reaches the leader through LeaderAndIsr.
    pub(super) async fn controlled_shutdown(
        &mut self,
        broker: BrokerId,
    ) -> Result<Result<Vec<TopicPartition>, ErrorCode>, Resign> {
        if !self.live.contains_key(&broker) {
            return Ok(Err(ErrorCode::BrokerNotAvailable));
        }
        self.shutting_down.insert(broker);
        let live: BTreeSet<BrokerId> = self.live.keys().copied().collect();
        let acting: Vec<TopicPartition> = self
            .partitions
            .values()
            .filter(|s| s.replicas.len() > 1 && s.replicas.contains(&broker))
            .map(|s| s.tp.clone())
            .collect();
        let election = StateChange::Election { unclean: false, reason: ElectionReason::ControlledShutdown };
        let writes: Vec<(StateChange, PartitionState)> = acting
            .iter()
            .filter_map(|tp| {
                let state = &self.partitions[tp];
                if state.leader == Some(broker) {
                    election::controlled_shutdown_leader(state, &live, &self.shutting_down)
                        .map(|decision| (election, decision.state))
                } else if state.leader.is_some() {
                    election::remove_from_isr(state, broker).map(|next| (StateChange::Isr, next))
                } else {
                    None
                }
            })
            .collect();
        let changed = self.write_and_trace(writes).await?;
        self.announce_to_live(&changed);
        Ok(Ok(self
            .partitions
            .values()
            .filter(|s| s.leader == Some(broker) && s.replicas.len() > 1)
            .map(|s| s.tp.clone())
            .collect()))
    }

    /// Kafka's `processAutoPreferredReplicaLeaderElection`: elects the preferred replica
    /// of the partitions of every broker whose leader imbalance is above the percentage,
    /// then schedules the next check one interval later.
    pub(super) async fn check_leader_imbalance(&mut self) -> Result<(), Resign> {
        let Some(rebalance) = self.ctx.auto_rebalance else {
            self.next_imbalance_check = None;
            return Ok(());
        };
        self.next_imbalance_check = Some(clock::now() + Duration::from_millis(rebalance.check_interval_ms));
        let live = self.electable();
        let tps = election::imbalanced_partitions(self.partitions.values(), &live, rebalance.imbalance_percentage);
        let election = StateChange::Election { unclean: false, reason: ElectionReason::PreferredReplica };
        let writes = tps
            .iter()
            .filter_map(|tp| election::preferred_leader(&self.partitions[tp], &live))
            .map(|decision| (election, decision.state))
            .collect();
        let changed = self.write_and_trace(writes).await?;
        self.announce_to_live(&changed);
        Ok(())
    }

    fn unclean_allowed(&self, tp: &TopicPartition) -> bool {
        if crate::plant::is_planted(self.ctx.plant, crate::plant::PlantedBug::UncleanElectionIgnoresFlag) {
            // PLANTED BUG unclean-election-ignores-flag: the topic's setting is not read.
            return true;
        }
        self.topics.iter().find(|t| *t.name == *tp.topic).is_some_and(|t| t.unclean_leader_election_enable)
    }

    /// A partition's name in the trace (`topic#k-N` for a re-created topic's).
    pub(super) fn partition_key(&self, state: &PartitionState) -> Arc<str> {
        self.ctx.tracer.recorder().partition_key(&state.tp, Some(state.topic_id))
    }

    pub(super) fn trace_election(&self, state: &PartitionState, unclean: bool, reason: ElectionReason) {
        self.ctx.tracer.emit(Event::LeaderElection {
            tp: self.partition_key(state),
            leader: state.leader.map(|b| b.0),
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            isr: state.isr.iter().map(|b| b.0).collect(),
            unclean,
            reason,
        });
    }

    /// Probes a stored ISR change: the ISR is the leader alone, though the partition
    /// has other replicas (`min.insync.replicas` = 1 then acknowledges on one copy).
    fn probe_isr_shrunk_to_leader(&self, state: &PartitionState) {
        if state.replicas.len() > 1
            && state.leader.is_some()
            && state.isr == state.leader.into_iter().collect::<Vec<_>>()
        {
            self.ctx.tracer.reached(ReachedState::IsrShrunkToLeader);
        }
    }

    pub(super) fn trace_isr(&self, state: &PartitionState) {
        self.ctx.tracer.emit(Event::IsrChange {
            tp: self.partition_key(state),
            leader: state.leader.map(|b| b.0),
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            isr: state.isr.iter().map(|b| b.0).collect(),
        });
    }

    /// Handles a leader's AlterIsr: the leadership and version must be current, and the
    /// new ISR must hold the leader and only live assigned replicas.
    pub(super) async fn alter_isr(&mut self, request: AlterIsrRequest) -> Response {
        let refuse = |error| Response::AlterIsr { error: Some(error), state: None };
        // A request from an earlier incarnation of the broker, as one held in a queue
        // through a power loss, is stale (`KafkaController.tryProcessAlterPartition`);
        // without this check a restarted leader kept the ISR it was given while the
        // controller stored its previous process's shrink (swarm seed 6953).
        if self.broker_epochs.get(&request.broker_id) != Some(&request.broker_epoch) {
            return refuse(ErrorCode::StaleBrokerEpoch);
        }
        let Some(current) = self.partitions.get(&request.tp).cloned() else {
            return refuse(ErrorCode::UnknownTopicOrPartition);
        };
        if current.leader != Some(request.broker_id) {
            return refuse(ErrorCode::NotLeaderOrFollower);
        }
        if request.leader_epoch != current.leader_epoch {
            return refuse(ErrorCode::FencedLeaderEpoch);
        }
        // A request for the state the partition already has (a retry whose answer was
        // lost) gets that state back whatever partition epoch it carries, checked before
        // the partition-epoch fencing "to maintain idempotency"
        // (`KafkaController.processAlterPartition`, `LeaderAndIsr.equalsAllowStalePartitionEpoch`;
        // `equalsIgnoreZk` since AlterIsr came in 2.7). Without it a leader whose shrink
        // was stored but not answered retried it forever with its stale partition epoch,
        // refused each time, and never took a follower back (swarm seed 6953).
        // PLANTED BUG (isr-not-restored-after-zombie): the idempotency check is skipped, so
        // the retry of a change a paused (zombie) controller stored without answering is
        // refused with INVALID_UPDATE_VERSION forever.
        let already_stored = request.new_isr == current.isr && request.partition_epoch <= current.partition_epoch;
        if already_stored && request.partition_epoch < current.partition_epoch {
            self.ctx.tracer.reached(ReachedState::AlterIsrAnswerLost);
        }
        let idempotent = !crate::plant::is_planted(self.ctx.plant, crate::plant::PlantedBug::IsrNotRestoredAfterZombie);
        if idempotent && already_stored {
            return Response::AlterIsr { error: None, state: Some(current) };
        }
        if request.partition_epoch != current.partition_epoch {
            return refuse(ErrorCode::InvalidUpdateVersion);
        }
        let valid = request.new_isr.contains(&request.broker_id)
            && request.new_isr.iter().all(|b| current.replicas.contains(b) && self.live.contains_key(b));
        if !valid {
            return refuse(ErrorCode::InvalidUpdateVersion);
        }
        // KIP-841 (Kafka 3.3, `KafkaController.processAlterPartition`): a broker shutting
        // down is not live for the ISR, so a leader cannot take it back in between its
        // controlled shutdown and its exit. (Before 3.3 it could, until the broker's
        // session ended; that window is not modelled.)
        if request.new_isr.iter().any(|b| self.shutting_down.contains(b)) {
            return refuse(ErrorCode::IneligibleReplica);
        }
        let next = PartitionState { isr: request.new_isr.clone(), ..current };
        match self.write_state(next).await {
            Ok(stored) => {
                self.trace_isr(&stored);
                self.probe_isr_shrunk_to_leader(&stored);
                self.send_update_metadata(Some(&BTreeSet::from([stored.tp.clone()])));
                Response::AlterIsr { error: None, state: Some(stored) }
            }
            Err(_) => refuse(ErrorCode::NotController),
        }
    }
}
