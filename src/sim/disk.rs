//! Per-node storage that models the page cache.
//!
//! Every write lands in the page cache first. A process crash keeps the page cache (the
//! kernel still has it), so a restarted process reads everything it wrote. A power loss
//! drops every change not yet flushed: each file reverts to its image at its last flush.
//! File creation and deletion are durable at once (a journaling file system's metadata);
//! file contents need a flush, as in Kafka, which leaves flushing to the OS unless
//! `flush.messages` or `flush.ms` say otherwise.
//!
//! A truncation is metadata too (the file's new size), but it is modelled as journaled
//! rather than at once, because Kafka truncates a log without an fsync
//! (`LogSegment.truncateTo` only truncates the channel) and a power loss soon after can
//! bring the removed records back. It becomes durable at the journal's next commit, which
//! on ext4 (jbd2) and XFS writes every metadata change made before it: at the next fsync
//! of any file on the machine (an fsync forces the commit of the running transaction),
//! or at the latest [`JOURNAL_COMMIT_INTERVAL_MS`] after the truncation (ext4's default
//! `commit=5` mount option). The data appended after a truncation still needs its own
//! flush. Simplified away: a commit of other metadata that happens to come earlier.
//!
//! The operating system does flush on its own: Linux's flusher threads wake every
//! `vm.dirty_writeback_centisecs` (default 500, 5 s) and write back every file that has
//! been dirty for at least `vm.dirty_expire_centisecs` (default 3000, 30 s); see the
//! kernel's Documentation/admin-guide/sysctl/vm.rst and `wb_kupdate`/`wb_writeback` in
//! fs/fs-writeback.c. [`WriteBack`] models that per disk: a file remembers when it became
//! dirty (Linux's `inode->dirtied_when`), and a wakeup at which it is old enough writes
//! back the whole file (Linux writes back an expired inode's dirty pages together). So a
//! power loss loses roughly the last 30 s of unflushed writes, not everything since the
//! last fsync. The wakeups fall at multiples of the interval since the clock's zero. They
//! are applied lazily, before any access to the disk and at a power loss: the files do not
//! change between accesses, so this gives the same images as a task waking every
//! interval, without adding a task to the schedule. Simplified away: write-back forced by
//! `vm.dirty_background_ratio` (memory pressure), and the time a write-back takes.
//!
//! A file is a sequence of entries (Kafka's log segments hold record batches; checkpoint
//! files hold one entry), written and read as [`Bytes`] and stored back to back.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// How long after a change the file system's journal commits it at the latest: ext4's
/// default `commit=5` seconds (`JBD2_DEFAULT_MAX_COMMIT_AGE`).
pub const JOURNAL_COMMIT_INTERVAL_MS: u64 = 5_000;

/// A file's entries, back to back in one buffer, with where each ends. A log segment
/// holds thousands of small batches; as one `Bytes` each (a 32-byte handle and an
/// allocation of its own) they took about three times the room of their contents.
#[derive(Default)]
struct Entries {
    data: Vec<u8>,
    /// `ends[i]` is where entry `i` ends in `data` (and entry `i + 1` starts).
    ends: Vec<usize>,
}

impl Entries {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn push(&mut self, entry: &[u8]) {
        self.data.extend_from_slice(entry);
        self.ends.push(self.data.len());
    }

    /// Where entry `i` starts (the end of the data for `i == len`).
    fn start_of(&self, i: usize) -> usize {
        i.checked_sub(1).map_or(0, |previous| self.ends[previous])
    }

    /// Keeps the first `n` entries.
    fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.data.truncate(self.start_of(n));
            self.ends.truncate(n);
        }
    }

    /// Copies of the entries in `range`, sharing one allocation.
    fn copy_out(&self, range: std::ops::Range<usize>) -> Vec<Bytes> {
        let base = self.start_of(range.start);
        let whole = Bytes::copy_from_slice(&self.data[base..self.start_of(range.end)]);
        range.map(|i| whole.slice(self.start_of(i) - base..self.ends[i] - base)).collect()
    }
}

/// One file: the page-cache view and the durable image.
///
/// The durable image is `cached[..unchanged_prefix]` followed by `durable_tail`: a log
/// segment only grows, so between flushes its durable image is a prefix of what reads
/// see, and keeping that prefix once (not as a second list of entries) halves what a
/// long run's files hold. Only a truncation of flushed entries moves them into the
/// tail, until the journal commits the truncation, the next flush, or a power loss.
#[derive(Default)]
struct File {
    /// What reads see.
    cached: Entries,
    /// How many leading entries of `cached` are also the durable image's first entries.
    unchanged_prefix: usize,
    /// The durable image's entries after the shared prefix: those a truncation removed
    /// from `cached` before the journal committed it.
    durable_tail: Vec<Bytes>,
    /// When the file last went from clean to dirty, in milliseconds of the store's clock
    /// (Linux's `inode->dirtied_when`); `None` while clean.
    dirtied_at_ms: Option<u64>,
}

impl File {
    fn flush(&mut self) {
        self.durable_tail = Vec::new();
        self.unchanged_prefix = self.cached.len();
        self.dirtied_at_ms = None;
    }

    /// Keeps the first `entries` of `cached`; the durable entries it drops move to the
    /// front of the durable tail.
    fn truncate_cached(&mut self, entries: usize) {
        if entries < self.unchanged_prefix {
            let mut tail = self.cached.copy_out(entries..self.unchanged_prefix);
            tail.append(&mut self.durable_tail);
            self.durable_tail = tail;
            self.unchanged_prefix = entries;
        }
        self.cached.truncate(entries);
    }

    /// Makes the file's truncations durable (the journal committed its new size); the
    /// data written since still waits for a flush.
    fn commit_truncation(&mut self) {
        self.durable_tail = Vec::new();
        if !self.is_dirty() {
            self.dirtied_at_ms = None;
        }
    }

    /// Makes what reads see the durable image again (a power loss).
    fn revert_to_durable(&mut self) {
        self.cached.truncate(self.unchanged_prefix);
        for entry in std::mem::take(&mut self.durable_tail) {
            self.cached.push(&entry);
        }
        self.unchanged_prefix = self.cached.len();
        self.dirtied_at_ms = None;
    }

    /// Records the time of a change: the first change of a clean file starts its age.
    fn touched(&mut self, now_ms: u64) {
        if !self.is_dirty() {
            self.dirtied_at_ms = None;
        } else if self.dirtied_at_ms.is_none() {
            self.dirtied_at_ms = Some(now_ms);
        }
    }

    fn is_dirty(&self) -> bool {
        self.unchanged_prefix != self.cached.len() || !self.durable_tail.is_empty()
    }
}

type Files = BTreeMap<String, File>;

/// The kernel's periodic write-back of dirty pages on one machine (Linux's flusher).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteBack {
    /// `vm.dirty_expire_centisecs` in milliseconds: how long data must have been dirty
    /// for a wakeup to write it back (Linux's default 30000).
    pub expire_ms: u64,
    /// `vm.dirty_writeback_centisecs` in milliseconds: the time between the flusher's
    /// wakeups (Linux's default 5000); 0 disables periodic write-back, as in Linux.
    pub interval_ms: u64,
}

impl Default for WriteBack {
    fn default() -> Self {
        WriteBack { expire_ms: 30_000, interval_ms: 5_000 }
    }
}

impl WriteBack {
    /// Whether a file dirty since `dirtied_at_ms` has been written back by `now_ms`: at
    /// the first wakeup (a multiple of the interval) at least `expire_ms` later.
    fn written_back_by(&self, dirtied_at_ms: u64, now_ms: u64) -> bool {
        if self.interval_ms == 0 {
            return false;
        }
        let due = dirtied_at_ms.saturating_add(self.expire_ms);
        let wakeup = due.div_ceil(self.interval_ms).max(1).saturating_mul(self.interval_ms);
        wakeup <= now_ms
    }
}

/// One machine's files, its kernel's write-back and its file system's journal.
#[derive(Default)]
struct Machine {
    files: Files,
    write_back: Option<WriteBack>,
    /// The files truncated since the journal last committed.
    uncommitted_truncations: BTreeSet<String>,
    /// When the oldest of them was truncated: the journal commits by
    /// [`JOURNAL_COMMIT_INTERVAL_MS`] later.
    oldest_uncommitted_ms: Option<u64>,
    /// The latest wakeup already applied: files change only at accesses, which apply
    /// the wakeups due first, so nothing more is due until the next wakeup (every disk
    /// access passes here, so this keeps the scan of the files off most of them).
    applied_wakeup_ms: Option<u64>,
}

impl Machine {
    /// Records that `path` was truncated at `now_ms`, for the journal's next commit.
    fn truncated(&mut self, path: &str, now_ms: u64) {
        if !self.uncommitted_truncations.contains(path) {
            self.uncommitted_truncations.insert(path.to_string());
        }
        self.oldest_uncommitted_ms.get_or_insert(now_ms);
    }

    /// The journal commits: every truncation made so far is durable.
    fn commit_journal(&mut self) {
        for path in std::mem::take(&mut self.uncommitted_truncations) {
            if let Some(file) = self.files.get_mut(&path) {
                file.commit_truncation();
            }
        }
        self.oldest_uncommitted_ms = None;
    }

    /// Applies the journal commit and the write-back wakeups due by `now_ms`.
    fn catch_up(&mut self, now_ms: u64) {
        if self.oldest_uncommitted_ms.is_some_and(|at| at + JOURNAL_COMMIT_INTERVAL_MS <= now_ms) {
            self.commit_journal();
        }
        let Some(wb) = self.write_back.filter(|wb| wb.interval_ms > 0) else { return };
        let latest_wakeup_ms = now_ms - now_ms % wb.interval_ms;
        // A file dirtied since the last applied wakeup is due after it, unless it expires
        // at once (expire 0), which the scan must then see.
        if wb.expire_ms > 0 && self.applied_wakeup_ms.is_some_and(|applied| latest_wakeup_ms <= applied) {
            return;
        }
        self.applied_wakeup_ms = Some(latest_wakeup_ms);
        for file in self.files.values_mut() {
            if file.dirtied_at_ms.is_some_and(|at| wb.written_back_by(at, now_ms)) {
                file.flush();
            }
        }
    }
}

/// The simulated time, in milliseconds, that file ages are measured in.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Every node's disk, as the simulation holds it (it survives node crashes).
#[derive(Clone, Default)]
pub struct DiskStore {
    disks: Arc<Mutex<BTreeMap<String, Machine>>>,
    /// Without a clock no time passes, so write-back never happens.
    clock: Option<Clock>,
}

/// One node's disk, as the node sees it.
#[derive(Clone)]
pub struct Disk {
    node: String,
    store: DiskStore,
}

impl DiskStore {
    /// An empty store without a clock (no write-back ever happens).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose file ages are read from `clock` (simulated milliseconds).
    pub fn with_clock(clock: Clock) -> Self {
        DiskStore { disks: Arc::default(), clock: Some(clock) }
    }

    fn now_ms(&self) -> u64 {
        self.clock.as_ref().map_or(0, |c| c())
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Machine>> {
        self.disks.lock().expect("disk state poisoned")
    }

    /// Gives `node`'s kernel periodic write-back (without it, only fsyncs make data durable).
    pub fn set_write_back(&self, node: &str, write_back: WriteBack) {
        let now_ms = self.now_ms();
        let mut disks = self.lock();
        let machine = disks.entry(node.to_string()).or_default();
        machine.catch_up(now_ms);
        machine.write_back = Some(write_back);
        machine.applied_wakeup_ms = None;
    }

    /// `node`'s machine with write-back applied up to now (`now_ms`).
    fn machine<'a>(disks: &'a mut BTreeMap<String, Machine>, node: &str, now_ms: u64) -> Option<&'a mut Machine> {
        let machine = disks.get_mut(node)?;
        machine.catch_up(now_ms);
        Some(machine)
    }

    /// The disk of node `node` (created empty on first use).
    pub fn disk(&self, node: &str) -> Disk {
        self.lock().entry(node.to_string()).or_default();
        Disk { node: node.to_string(), store: self.clone() }
    }

    /// A power loss on `node`: every file reverts to its last flushed image.
    /// Returns how many files lost data.
    pub fn lose_page_cache(&self, node: &str) -> usize {
        let now_ms = self.now_ms();
        let mut disks = self.lock();
        let Some(machine) = Self::machine(&mut disks, node, now_ms) else {
            return 0;
        };
        let mut damaged = 0;
        machine.uncommitted_truncations.clear();
        machine.oldest_uncommitted_ms = None;
        for file in machine.files.values_mut() {
            if file.is_dirty() {
                damaged += 1;
            }
            file.revert_to_durable();
        }
        damaged
    }

    /// How many entries of `node` are not yet flushed, over all its files.
    pub fn unflushed_entries(&self, node: &str) -> usize {
        let now_ms = self.now_ms();
        let mut disks = self.lock();
        Self::machine(&mut disks, node, now_ms)
            .map_or(0, |m| m.files.values().map(|f| f.cached.len() - f.unchanged_prefix.min(f.cached.len())).sum())
    }
}

impl Disk {
    /// Runs `f` on this machine's files, after the write-back due by now; `f` gets the
    /// time too, to date the changes it makes.
    fn with_files<T>(&self, f: impl FnOnce(&mut Files, u64) -> T) -> T {
        self.with_machine(|machine, now_ms| f(&mut machine.files, now_ms))
    }

    /// Like [`Disk::with_files`], with the whole machine (its journal).
    fn with_machine<T>(&self, f: impl FnOnce(&mut Machine, u64) -> T) -> T {
        let now_ms = self.store.now_ms();
        let mut disks = self.store.lock();
        let machine = DiskStore::machine(&mut disks, &self.node, now_ms).expect("disk created by DiskStore::disk");
        f(machine, now_ms)
    }

    /// Appends an entry to a file, creating it if needed (page cache only).
    pub fn append(&self, path: &str, entry: &[u8]) {
        self.with_files(|files, now_ms| {
            // Look the file up before naming a new one: nearly every append goes to a
            // file that exists.
            let file = match files.get_mut(path) {
                Some(file) => file,
                None => files.entry(path.to_string()).or_default(),
            };
            file.cached.push(entry);
            file.touched(now_ms);
        });
    }

    /// Keeps the first `entries` entries of a file (durable once the journal commits,
    /// see the module's documentation).
    pub fn truncate(&self, path: &str, entries: usize) {
        self.with_machine(|machine, now_ms| {
            let Some(file) = machine.files.get_mut(path) else { return };
            if entries >= file.cached.len() {
                return;
            }
            file.truncate_cached(entries);
            file.touched(now_ms);
            machine.truncated(path, now_ms);
        });
    }

    /// Replaces a file's content durably: write to a temporary file, fsync, rename, as
    /// Kafka writes its checkpoint files. The fsync commits the journal.
    pub fn overwrite_durably(&self, path: &str, entry: Bytes) {
        self.with_machine(|machine, _| {
            let file = machine.files.entry(path.to_string()).or_default();
            file.cached = Entries::default();
            file.cached.push(&entry);
            file.flush();
            machine.commit_journal();
        });
    }

    /// Flushes one file to durable storage (fsync), which also commits the journal.
    pub fn flush(&self, path: &str) {
        self.with_machine(|machine, _| {
            if let Some(file) = machine.files.get_mut(path) {
                file.flush();
                machine.commit_journal();
            }
        });
    }

    /// Every entry of a file, or `None` if it does not exist.
    pub fn read(&self, path: &str) -> Option<Vec<Bytes>> {
        self.with_files(|files, _| files.get(path).map(|f| f.cached.copy_out(0..f.cached.len())))
    }

    /// The number of entries in a file (0 if absent).
    pub fn len(&self, path: &str) -> usize {
        self.with_files(|files, _| files.get(path).map_or(0, |f| f.cached.len()))
    }

    /// Deletes a file.
    pub fn delete(&self, path: &str) {
        self.with_machine(|machine, _| {
            machine.files.remove(path);
            machine.uncommitted_truncations.remove(path);
        });
    }

    /// The paths that start with `prefix`, sorted.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.with_files(|files, _| files.keys().filter(|p| p.starts_with(prefix)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    /// Node `b`'s disk with a file `log` of entries 1, 2 and 3, flushed.
    fn flushed_log(store: &DiskStore) -> Disk {
        let disk = store.disk("b");
        for n in 1..=3 {
            disk.append("log", &entry(n));
        }
        disk.flush("log");
        disk
    }

    #[test]
    fn process_crash_keeps_the_page_cache_and_power_loss_drops_it() {
        let store = DiskStore::new();
        let disk = store.disk("broker-1");
        disk.append("log", &entry(1));
        disk.flush("log");
        disk.append("log", &entry(2));
        // A process crash changes nothing on disk: a new handle reads both entries.
        assert_eq!(store.disk("broker-1").read("log").unwrap(), vec![entry(1), entry(2)]);
        assert_eq!(store.unflushed_entries("broker-1"), 1);
        assert_eq!(store.lose_page_cache("broker-1"), 1);
        assert_eq!(disk.read("log").unwrap(), vec![entry(1)]);
    }

    #[test]
    fn an_unflushed_truncation_is_undone_by_power_loss() {
        let store = DiskStore::new();
        let disk = flushed_log(&store);
        disk.truncate("log", 1);
        disk.append("log", &entry(9));
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(9)]);
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(2), entry(3)]);
        // After a flush the truncation is durable.
        disk.truncate("log", 1);
        disk.append("log", &entry(9));
        disk.flush("log");
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(9)]);
    }

    proptest::proptest! {
        #[test]
        fn packed_entries_read_back_as_a_list_of_entries_would(
            entries in proptest::collection::vec(proptest::collection::vec(0u8..255, 0..6), 0..12),
            keep in 0usize..14,
            from in 0usize..14,
        ) {
            let mut packed = Entries::default();
            for entry in &entries {
                packed.push(entry);
            }
            packed.truncate(keep);
            let model: Vec<&Vec<u8>> = entries.iter().take(keep).collect();
            proptest::prop_assert_eq!(packed.len(), model.len());
            let from = from.min(model.len());
            let read = packed.copy_out(from..packed.len());
            let expected: Vec<Bytes> = model[from..].iter().map(|e| Bytes::from((*e).clone())).collect();
            proptest::prop_assert_eq!(read, expected);
        }
    }

    #[test]
    fn truncations_in_steps_and_an_overwrite_keep_the_durable_image_in_order() {
        let store = DiskStore::new();
        let disk = store.disk("b");
        for n in 1..=4 {
            disk.append("log", &entry(n));
        }
        disk.flush("log");
        disk.truncate("log", 3);
        disk.truncate("log", 1);
        disk.append("log", &entry(9));
        assert_eq!(store.unflushed_entries("b"), 1);
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(2), entry(3), entry(4)]);
        disk.truncate("log", 2);
        disk.truncate("log", 0);
        disk.append("log", &entry(7));
        assert_eq!(disk.read("log").unwrap(), vec![entry(7)]);
        assert_eq!(store.lose_page_cache("b"), 1);
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(2), entry(3), entry(4)]);
        assert_eq!(store.lose_page_cache("b"), 0, "clean after the power loss");
    }

    #[test]
    fn durable_overwrites_survive_power_loss_and_deletions_are_at_once() {
        let store = DiskStore::new();
        let disk = store.disk("b");
        disk.overwrite_durably("checkpoint", entry(1));
        store.lose_page_cache("b");
        assert_eq!(disk.read("checkpoint").unwrap(), vec![entry(1)]);
        assert_eq!(disk.list("check"), vec!["checkpoint".to_string()]);
        disk.delete("checkpoint");
        store.lose_page_cache("b");
        assert!(disk.read("checkpoint").is_none());
    }

    #[test]
    fn an_fsync_of_any_file_commits_the_journal_and_with_it_every_earlier_truncation() {
        let store = DiskStore::new();
        let disk = flushed_log(&store);
        disk.truncate("log", 1);
        disk.append("log", &entry(9));
        // Kafka fsyncs its leader-epoch checkpoint (write, fsync, rename): the journal
        // commit writes the log's new size too, but not the data appended since.
        disk.overwrite_durably("leader-epoch-checkpoint", entry(5));
        assert_eq!(store.lose_page_cache("b"), 1);
        assert_eq!(disk.read("log").unwrap(), vec![entry(1)]);
        // A truncation after the commit waits for the next one; a flush of another
        // file is one.
        disk.append("log", &entry(2));
        disk.flush("log");
        disk.truncate("log", 0);
        disk.append("other", &entry(4));
        disk.flush("other");
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), Vec::<Bytes>::new());
    }

    #[test]
    fn the_journal_commits_a_truncation_within_its_commit_interval() {
        let (store, now) = clocked();
        let set = |ms: u64| now.store(ms, std::sync::atomic::Ordering::SeqCst);
        let disk = flushed_log(&store);
        set(1_000);
        disk.truncate("log", 2);
        set(1_000 + JOURNAL_COMMIT_INTERVAL_MS - 1);
        disk.truncate("log", 1);
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(2), entry(3)], "not committed yet");
        set(10_000);
        disk.truncate("log", 1);
        set(10_000 + JOURNAL_COMMIT_INTERVAL_MS);
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1)]);
    }

    /// A store whose clock the test sets, in milliseconds.
    fn clocked() -> (DiskStore, Arc<std::sync::atomic::AtomicU64>) {
        let now = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let read = now.clone();
        (DiskStore::with_clock(Arc::new(move || read.load(std::sync::atomic::Ordering::SeqCst))), now)
    }

    #[test]
    fn data_dirty_longer_than_the_expiry_is_durable_after_the_next_wakeup_and_younger_data_is_lost() {
        let (store, now) = clocked();
        let set = |ms: u64| now.store(ms, std::sync::atomic::Ordering::SeqCst);
        store.set_write_back("b", WriteBack { expire_ms: 30_000, interval_ms: 5_000 });
        let disk = store.disk("b");
        set(1_000);
        disk.append("old", &entry(1));
        set(31_000);
        disk.append("young", &entry(2));
        // Dirty for 30 s at 31 s, but the flusher only wakes at 35 s.
        set(34_999);
        assert_eq!(store.unflushed_entries("b"), 2);
        set(35_000);
        assert_eq!(store.unflushed_entries("b"), 1, "the 35 s wakeup wrote back `old`");
        set(60_000);
        assert_eq!(store.lose_page_cache("b"), 1);
        assert_eq!(disk.read("old").unwrap(), vec![entry(1)]);
        assert_eq!(disk.read("young").unwrap(), Vec::<Bytes>::new(), "29 s dirty: lost");
    }

    #[test]
    fn a_file_ages_from_its_first_change_since_it_was_last_clean_and_zero_interval_disables_write_back() {
        let (store, now) = clocked();
        let set = |ms: u64| now.store(ms, std::sync::atomic::Ordering::SeqCst);
        store.set_write_back("b", WriteBack { expire_ms: 1_000, interval_ms: 500 });
        store.set_write_back("off", WriteBack { expire_ms: 1_000, interval_ms: 0 });
        let (disk, off) = (store.disk("b"), store.disk("off"));
        set(100);
        disk.append("log", &entry(1));
        off.append("log", &entry(1));
        set(900);
        disk.append("log", &entry(2));
        // Linux writes back an expired inode whole: the later entry goes with the first.
        set(1_500);
        assert_eq!(store.unflushed_entries("b"), 0);
        disk.append("log", &entry(3));
        set(2_400);
        store.lose_page_cache("b");
        assert_eq!(disk.read("log").unwrap(), vec![entry(1), entry(2)], "entry 3 was 0.9 s dirty");
        store.lose_page_cache("off");
        assert_eq!(off.read("log").unwrap(), Vec::<Bytes>::new());
    }
}
