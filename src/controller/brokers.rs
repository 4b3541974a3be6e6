//! The controller's view of the brokers: which are live (their registrations under
//! `/brokers/ids` and their sessions), one channel to each, what changes when they come
//! and go, and the LeaderAndIsr and UpdateMetadata requests it sends them.

use super::channel::BrokerChannel;
use super::{broker_path, ActiveController, Resign, BROKER_IDS_PATH};
use crate::history::ElectionReason;
use crate::protocol::{BrokerEndpoint, BrokerId, LeaderAndIsrRequest, PartitionState, Request, TopicPartition};
use crate::sim::net::Addr;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

impl ActiveController<'_> {
    /// Reads the live brokers and leaves a watch for changes. Returns the brokers that
    /// died and those that (re)started; a broker that restarted between two reads is in
    /// both.
    pub(super) async fn refresh_live_brokers(&mut self) -> Result<(BTreeSet<BrokerId>, BTreeSet<BrokerId>), Resign> {
        let names = self.meta.children(BROKER_IDS_PATH, true).await.map_err(|_| Resign::Unavailable)?;
        let mut live = BTreeMap::new();
        let mut epochs = BTreeMap::new();
        for name in names {
            let Ok(id) = name.parse::<u32>() else {
                continue;
            };
            let id = BrokerId(id);
            // A failed read (a lost answer) says nothing about the broker: give up the
            // refresh rather than declare it dead. Taking it for dead made a controller
            // under packet loss remove itself from every ISR and leave its partitions
            // without a leader for good (found by the swarm scenario, seed 2).
            let read = self.meta.get(&broker_path(id), false).await.map_err(|_| Resign::Unavailable)?;
            if let Some(node) = read {
                if let Ok(endpoint) = serde_json::from_str::<BrokerEndpoint>(&node.data) {
                    live.insert(id, endpoint);
                    epochs.insert(id, node.ephemeral_owner.unwrap_or(0));
                }
            }
        }
        let before: BTreeSet<BrokerId> = self.live.keys().copied().collect();
        let after: BTreeSet<BrokerId> = live.keys().copied().collect();
        let bounced: BTreeSet<BrokerId> =
            after.intersection(&before).filter(|b| self.broker_epochs.get(b) != epochs.get(b)).copied().collect();
        let dead = before.difference(&after).chain(&bounced).copied().collect();
        let new = after.difference(&before).chain(&bounced).copied().collect();
        self.live = live;
        self.broker_epochs = epochs;
        self.sync_channels();
        Ok((dead, new))
    }

    /// Keeps one channel per live broker.
    fn sync_channels(&mut self) {
        self.channels.retain(|id, _| self.live.contains_key(id));
        for (id, endpoint) in &self.live {
            self.channels.entry(*id).or_insert_with(|| {
                BrokerChannel::start(
                    self.ctx.net.clone(),
                    Addr::new(&endpoint.host),
                    Duration::from_millis(self.ctx.request_timeout_ms),
                    self.fenced.clone(),
                )
            });
        }
    }

    pub(super) async fn on_brokers_changed(&mut self) -> Result<(), Resign> {
        let (dead, new) = self.refresh_live_brokers().await?;
        tracing::debug!(controller = %self.ctx.id, ?dead, ?new, "live brokers changed");
        if dead.is_empty() && new.is_empty() {
            return Ok(());
        }
        // Kafka's `onBrokerFailure`: a dead broker is no longer shutting down, and its
        // replicas of topics being deleted wait for it.
        self.shutting_down.retain(|b| !dead.contains(b));
        self.fail_replica_deletions(&dead);
        let created = self.load_new_partitions().await?;
        // A broker that restarted unseen first counts as failed (its leaderships and ISR
        // places go), then as started, as Kafka's controller treats bounced brokers.
        let bounced: BTreeSet<BrokerId> = dead.intersection(&new).copied().collect();
        let mut changed = BTreeSet::new();
        if !bounced.is_empty() {
            let without_bounced: BTreeSet<BrokerId> =
                self.electable().into_iter().filter(|b| !bounced.contains(b)).collect();
            changed.extend(self.reevaluate_all(ElectionReason::BrokerFailure, &without_bounced).await?);
        }
        let reason = if dead.is_empty() { ElectionReason::BrokerStartup } else { ElectionReason::BrokerFailure };
        let live = self.electable();
        changed.extend(self.reevaluate_all(reason, &live).await?);
        changed.extend(created);
        // Returning brokers learn every partition they host; others learn what changed.
        let new: Vec<BrokerId> = new.into_iter().collect();
        self.send_leader_and_isr(&new, None);
        let others: Vec<BrokerId> = self.live.keys().filter(|b| !new.contains(b)).copied().collect();
        self.send_leader_and_isr(&others, Some(&changed));
        self.send_update_metadata_to(&new, None);
        self.send_update_metadata_to(&others, Some(&changed));
        // `onBrokerStartup`: the deletions waiting for a returning broker go on.
        self.resume_deletions().await
    }

    /// The live brokers an election may pick: those not shutting down (Kafka's
    /// `ControllerContext.isReplicaOnline` without `includeShuttingDownBrokers`).
    pub(super) fn electable(&self) -> BTreeSet<BrokerId> {
        self.live.keys().filter(|b| !self.shutting_down.contains(b)).copied().collect()
    }

    /// Sends LeaderAndIsr to `brokers` for the partitions they host (only `only` if given).
    pub(super) fn send_leader_and_isr(&self, brokers: &[BrokerId], only: Option<&BTreeSet<TopicPartition>>) {
        for broker in brokers {
            let partitions: Vec<PartitionState> = self
                .partitions
                .values()
                .filter(|s| s.replicas.contains(broker))
                .filter(|s| only.is_none_or(|set| set.contains(&s.tp)))
                .cloned()
                .collect();
            if partitions.is_empty() {
                continue;
            }
            if let Some(channel) = self.channels.get(broker) {
                channel.send(Request::LeaderAndIsr(LeaderAndIsrRequest {
                    controller_id: self.ctx.id,
                    controller_epoch: self.epoch,
                    partitions,
                    live_brokers: self.live.values().cloned().collect(),
                }));
            }
        }
    }

    /// Sends the live brokers and the state of the partitions in `only` (every partition
    /// if `None`) to every live broker: Kafka's `sendUpdateMetadataRequest(brokers,
    /// partitions)` after a state change names the partitions that changed
    /// (`AbstractControllerBrokerRequestBatch.addUpdateMetadataRequestForBrokers`); only a
    /// new controller and a (re)started broker get every partition.
    pub(super) fn send_update_metadata(&self, only: Option<&BTreeSet<TopicPartition>>) {
        let everyone: Vec<BrokerId> = self.channels.keys().copied().collect();
        self.send_update_metadata_to(&everyone, only);
    }

    /// [`ActiveController::send_update_metadata`] to `brokers` only.
    fn send_update_metadata_to(&self, brokers: &[BrokerId], only: Option<&BTreeSet<TopicPartition>>) {
        let partitions: Vec<PartitionState> = match only {
            None => self.partitions.values().cloned().collect(),
            Some(only) => only.iter().filter_map(|tp| self.partitions.get(tp)).cloned().collect(),
        };
        for channel in brokers.iter().filter_map(|broker| self.channels.get(broker)) {
            channel.send(Request::UpdateMetadata {
                controller_epoch: self.epoch,
                live_brokers: self.live.values().cloned().collect(),
                partitions: partitions.clone(),
                deleting: self.deleting.values().flat_map(|d| d.partitions()).cloned().collect(),
            });
        }
    }
}
