//! A controller's quorum files on its [`Disk`]: the `quorum-state` file and the metadata
//! log of the `__cluster_metadata-0` partition.
//!
//! Kafka writes `quorum-state` on every transition by writing a temporary file, fsyncing
//! it and renaming it (`FileQuorumStateStore.writeElectionStateToFile`), and flushes the
//! metadata log before a leader counts its own entries and before a voter fetches again
//! (`KafkaRaftClient.flushLeaderLog`, `appendAsFollower`). [`QuorumStore::persist`] does
//! both at once before the controller sends what its [`QuorumNode`] returned, so a power
//! loss never takes a vote or an acknowledged entry back.
//!
//! Entries are stored one per disk entry, as JSON: the metadata log is small, and a
//! readable encoding keeps disk images easy to inspect.
//!
//! [`QuorumNode`]: super::node::QuorumNode

use super::log::{Entry, Epoch, RaftLog};
use super::node::ElectionState;
use crate::sim::disk::Disk;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The quorum-state file.
const QUORUM_STATE: &str = "__cluster_metadata-0/quorum-state";
/// The metadata log.
const LOG: &str = "__cluster_metadata-0/log";

/// Why the files could not be read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptFile {
    /// The file.
    pub path: &'static str,
    /// What the decoder said.
    pub reason: String,
}

/// A controller's quorum files, and what it last wrote to them.
pub struct QuorumStore {
    disk: Disk,
    /// The epoch of each entry the log file holds (page cache included). By Raft's log
    /// matching property, an entry at the same offset with the same epoch is the same
    /// entry, so epochs are all [`QuorumStore::persist`] compares.
    written_epochs: Vec<Epoch>,
    state: Option<ElectionState>,
}

impl QuorumStore {
    /// Opens the files on `disk` and reads back the election state and the log (empty
    /// for a new controller).
    pub fn open<R: Clone + DeserializeOwned>(disk: Disk) -> Result<(Self, ElectionState, RaftLog<R>), CorruptFile> {
        let corrupt = |path, e: serde_json::Error| CorruptFile { path, reason: e.to_string() };
        let state = match disk.read(QUORUM_STATE).and_then(|entries| entries.into_iter().next()) {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| corrupt(QUORUM_STATE, e))?,
            None => ElectionState::default(),
        };
        let mut log = RaftLog::default();
        for bytes in disk.read(LOG).unwrap_or_default() {
            let entry: Entry<R> = serde_json::from_slice(&bytes).map_err(|e| corrupt(LOG, e))?;
            log.append(entry);
        }
        let written_epochs = log.read_from(0).iter().map(|e| e.epoch).collect();
        Ok((QuorumStore { disk, written_epochs, state: Some(state) }, state, log))
    }

    /// Makes the files durable copies of `state` and `log`: rewrites `quorum-state` if it
    /// changed, truncates the log file where it differs from `log`, appends the rest and
    /// flushes.
    pub fn persist<R: Clone + Serialize>(&mut self, state: ElectionState, log: &RaftLog<R>) {
        if self.state != Some(state) {
            let bytes = serde_json::to_vec(&state).expect("an election state encodes");
            self.disk.overwrite_durably(QUORUM_STATE, Bytes::from(bytes));
            self.state = Some(state);
        }
        let entries = log.read_from(0);
        // Logs only grow at the end or lose a tail, so the first difference is found
        // from the end of the shorter one backwards.
        let mut common = self.written_epochs.len().min(entries.len());
        while common > 0 && self.written_epochs[common - 1] != entries[common - 1].epoch {
            common -= 1;
        }
        if common == self.written_epochs.len() && common == entries.len() {
            return;
        }
        if common < self.written_epochs.len() {
            self.disk.truncate(LOG, common);
            self.written_epochs.truncate(common);
        }
        for entry in &entries[common..] {
            let bytes = serde_json::to_vec(entry).expect("a log entry encodes");
            self.disk.append(LOG, &bytes);
            self.written_epochs.push(entry.epoch);
        }
        self.disk.flush(LOG);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::NodeId;
    use crate::raft::log::Payload;
    use crate::sim::disk::DiskStore;

    fn entry(epoch: u32, value: u32) -> Entry<u32> {
        Entry { epoch, payload: Payload::Data(value) }
    }

    #[test]
    fn what_is_persisted_survives_a_power_loss_and_reads_back_equal() {
        let store = DiskStore::new();
        let (mut files, state, log) = QuorumStore::open::<u32>(store.disk("controller-1")).unwrap();
        assert_eq!((state, log.end_offset()), (ElectionState::default(), 0));
        let mut log = RaftLog::default();
        for v in 0..3 {
            log.append(entry(1, v));
        }
        let voted = ElectionState { epoch: 2, leader: None, voted: Some(NodeId(3)) };
        files.persist(voted, &log);
        // A diverging epoch: the last entry goes, two of epoch 2 come.
        log.truncate_to(2);
        log.append(entry(2, 7));
        log.append(entry(2, 8));
        files.persist(voted, &log);
        assert_eq!(store.lose_page_cache("controller-1"), 0, "everything was flushed");
        let (_, state, read) = QuorumStore::open::<u32>(store.disk("controller-1")).unwrap();
        assert_eq!(state, voted);
        assert_eq!(read, log);
    }

    #[test]
    fn a_garbled_file_is_reported_by_name() {
        let store = DiskStore::new();
        store.disk("c").overwrite_durably(QUORUM_STATE, Bytes::from_static(b"{not json"));
        let error = QuorumStore::open::<u32>(store.disk("c")).err().expect("corrupt");
        assert_eq!(error.path, QUORUM_STATE);
    }
}
