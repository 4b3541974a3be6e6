//! Per-node storage that models the page cache.
//!
//! Every write lands in the page cache first. A process crash keeps the page cache (the
//! kernel still has it), so a restarted process reads everything it wrote. A power loss
//! drops every change not yet flushed: each file reverts to its image at its last flush.
//! File creation and deletion are durable at once (a journaling file system's metadata);
//! file contents need a flush, as in Kafka, which leaves flushing to the OS unless
//! `flush.messages` or `flush.ms` say otherwise.
//!
//! A file is a sequence of entries (Kafka's log segments hold record batches; checkpoint
//! files hold one entry). Entries are [`Bytes`], so copies between the cache and the
//! durable image are cheap.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// One file: the page-cache view and the durable image.
#[derive(Default)]
struct File {
    /// What reads see.
    cached: Vec<Bytes>,
    /// What survives a power loss.
    durable: Vec<Bytes>,
    /// How many leading entries of `cached` equal those of `durable`.
    unchanged_prefix: usize,
}

impl File {
    fn flush(&mut self) {
        self.durable.truncate(self.unchanged_prefix);
        self.durable.extend_from_slice(&self.cached[self.unchanged_prefix..]);
        self.unchanged_prefix = self.cached.len();
    }

    fn is_dirty(&self) -> bool {
        self.unchanged_prefix != self.cached.len() || self.durable.len() != self.cached.len()
    }
}

type Files = BTreeMap<String, File>;

/// Every node's disk, as the simulation holds it (it survives node crashes).
#[derive(Clone, Default)]
pub struct DiskStore {
    disks: Arc<Mutex<BTreeMap<String, Files>>>,
}

/// One node's disk, as the node sees it.
#[derive(Clone)]
pub struct Disk {
    node: String,
    store: DiskStore,
}

impl DiskStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Files>> {
        self.disks.lock().expect("disk state poisoned")
    }

    /// The disk of node `node` (created empty on first use).
    pub fn disk(&self, node: &str) -> Disk {
        self.lock().entry(node.to_string()).or_default();
        Disk { node: node.to_string(), store: self.clone() }
    }

    /// A power loss on `node`: every file reverts to its last flushed image.
    /// Returns how many files lost data.
    pub fn lose_page_cache(&self, node: &str) -> usize {
        let mut disks = self.lock();
        let Some(files) = disks.get_mut(node) else {
            return 0;
        };
        let mut damaged = 0;
        for file in files.values_mut() {
            if file.is_dirty() {
                damaged += 1;
            }
            file.cached = file.durable.clone();
            file.unchanged_prefix = file.cached.len();
        }
        damaged
    }

    /// How many entries of `node` are not yet flushed, over all its files.
    pub fn unflushed_entries(&self, node: &str) -> usize {
        let disks = self.lock();
        disks
            .get(node)
            .map_or(0, |files| files.values().map(|f| f.cached.len() - f.unchanged_prefix.min(f.cached.len())).sum())
    }
}

impl Disk {
    fn with_files<T>(&self, f: impl FnOnce(&mut Files) -> T) -> T {
        let mut disks = self.store.lock();
        f(disks.get_mut(&self.node).expect("disk created by DiskStore::disk"))
    }

    /// Appends an entry to a file, creating it if needed (page cache only).
    pub fn append(&self, path: &str, entry: Bytes) {
        self.with_files(|files| files.entry(path.to_string()).or_default().cached.push(entry));
    }

    /// Keeps the first `entries` entries of a file.
    pub fn truncate(&self, path: &str, entries: usize) {
        self.with_files(|files| {
            if let Some(file) = files.get_mut(path) {
                file.cached.truncate(entries);
                file.unchanged_prefix = file.unchanged_prefix.min(entries);
            }
        });
    }

    /// Replaces a file's whole content with one entry (page cache only).
    pub fn overwrite(&self, path: &str, entry: Bytes) {
        self.with_files(|files| {
            let file = files.entry(path.to_string()).or_default();
            file.cached = vec![entry];
            file.unchanged_prefix = 0;
        });
    }

    /// Replaces a file's content durably: write to a temporary file, fsync, rename, as
    /// Kafka writes its checkpoint files.
    pub fn overwrite_durably(&self, path: &str, entry: Bytes) {
        self.with_files(|files| {
            let file = files.entry(path.to_string()).or_default();
            file.cached = vec![entry];
            file.unchanged_prefix = 0;
            file.flush();
        });
    }

    /// Flushes one file to durable storage (fsync).
    pub fn flush(&self, path: &str) {
        self.with_files(|files| {
            if let Some(file) = files.get_mut(path) {
                file.flush();
            }
        });
    }

    /// Every entry of a file, or `None` if it does not exist.
    pub fn read(&self, path: &str) -> Option<Vec<Bytes>> {
        self.with_files(|files| files.get(path).map(|f| f.cached.clone()))
    }

    /// The number of entries in a file (0 if absent).
    pub fn len(&self, path: &str) -> usize {
        self.with_files(|files| files.get(path).map_or(0, |f| f.cached.len()))
    }

    /// Deletes a file.
    pub fn delete(&self, path: &str) {
        self.with_files(|files| {
            files.remove(path);
        });
    }

    /// The paths that start with `prefix`, sorted.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.with_files(|files| files.keys().filter(|p| p.starts_with(prefix)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    #[test]
    fn process_crash_keeps_the_page_cache_and_power_loss_drops_it() {
        let store = DiskStore::new();
        let disk = store.disk("broker-1");
        disk.append("log", entry(1));
        disk.flush("log");
        disk.append("log", entry(2));
        // A process crash changes nothing on disk: a new handle reads both entries.
        assert_eq!(store.disk("broker-1").read("log").unwrap(), vec![entry(1), entry(2)]);
        assert_eq!(store.unflushed_entries("broker-1"), 1);
        assert_eq!(store.lose_page_cache("broker-1"), 1);
        assert_eq!(disk.read("log").unwrap(), vec![entry(1)]);
    }

    #[test]
    fn an_unflushed_truncation_is_undone_by_power_loss() {
        let store = DiskStore::new();
        let disk = store.disk("b");
        for n in 1..=3 {
            disk.append("log", entry(n));
        }
        disk.flush("log");
        disk.truncate("log", 1);
        disk.append("log", entry(9));
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(9)]);
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(2), entry(3)]);
        // After a flush the truncation is durable.
        disk.truncate("log", 1);
        disk.append("log", entry(9));
        disk.flush("log");
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(9)]);
    }

    #[test]
    fn durable_overwrites_survive_power_loss_and_plain_ones_do_not() {
        let store = DiskStore::new();
        let disk = store.disk("b");
        disk.overwrite_durably("checkpoint", entry(1));
        disk.overwrite("checkpoint", entry(2));
        store.lose_page_cache("b");
        assert_eq!(disk.read("checkpoint").unwrap(), vec![entry(1)]);
        assert_eq!(disk.list("check"), vec!["checkpoint".to_string()]);
        disk.delete("checkpoint");
        assert!(disk.read("checkpoint").is_none());
    }
}
