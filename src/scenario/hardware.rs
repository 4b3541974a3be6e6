//! The brokers' machines in a scenario: `[cluster.os]` (Linux sysctls) and
//! `[cluster.machine]` (the request pipeline's cost model). Neither holds Kafka
//! settings.

use super::model::OsSettings;
use super::raw::Table;
use super::span::{Res, Sp};
use crate::sim::machine::MachineSpec;

/// `[cluster.os]`: Linux sysctls, which take a C `int`; `vm.dirty_expire_centisecs` has
/// a minimum of 0 (kernel/sysctl.c: `proc_dointvec_minmax` with `SYSCTL_ZERO`), and
/// `vm.dirty_writeback_centisecs` = 0 turns periodic write-back off.
pub(super) fn os_settings(t: &Table) -> Res<OsSettings> {
    let d = OsSettings::default();
    let sysctl = |key: &str, default: u64| -> Res<u64> {
        let Some(v) = t.opt_u64(key)? else { return Ok(default) };
        let max = i32::MAX as u64;
        Ok(v.check(|v| v <= max, |v| format!("expected 0 to {max} (a Linux int sysctl), found {v}"))?.value)
    };
    Ok(OsSettings {
        dirty_expire_centisecs: sysctl("vm.dirty_expire_centisecs", d.dirty_expire_centisecs)?,
        dirty_writeback_centisecs: sysctl("vm.dirty_writeback_centisecs", d.dirty_writeback_centisecs)?,
    })
}

/// The fastest link `nic_mbit_per_sec` takes: 1.6 Tbit/s, beyond any NIC made.
const MAX_NIC_MBIT_PER_SEC: u64 = 1_600_000;
/// The fastest disk `disk_mbyte_per_sec` takes: 100 GB/s, beyond any single device.
const MAX_DISK_MBYTE_PER_SEC: u64 = 100_000;
/// The largest dirty limit `dirty_limit_mbyte` takes: 16 TB, beyond any machine's memory.
const MAX_DIRTY_LIMIT_MBYTE: u64 = 16_000_000;

/// `[cluster.machine]`: the cost model's figures, each a whole number of microseconds or
/// nanoseconds (the key's unit), stored in nanoseconds, the link's bandwidth in megabits
/// per second, the disk's in megabytes per second and its dirty limit in megabytes. Zero
/// is allowed for a cost: a cost of zero models work too small to matter.
pub(super) fn machine_spec(t: &Table) -> Res<MachineSpec> {
    let d = MachineSpec::default();
    // At most an hour per unit of work: larger figures are typing errors, and they keep
    // every product of a cost and a size far from overflowing.
    const MAX_NS: u64 = 3_600_000_000_000;
    let ns = |key: &str, default_ns: u64| -> Res<u64> {
        let Some(v) = t.opt_u64(key)? else { return Ok(default_ns) };
        Ok(v.check(|v| v <= MAX_NS, |v| format!("expected 0 to {MAX_NS} nanoseconds, found {v}"))?.value)
    };
    let us = |key: &str, default_ns: u64| -> Res<u64> {
        let Some(v) = t.opt_u64(key)? else { return Ok(default_ns) };
        let max_us = MAX_NS / 1_000;
        Ok(v.check(|v| v <= max_us, |v| format!("expected 0 to {max_us} microseconds, found {v}"))?.value * 1_000)
    };
    Ok(MachineSpec {
        network_thread_ns_per_request: us("network_thread_us_per_request", d.network_thread_ns_per_request)?,
        network_thread_ns_per_kb: ns("network_thread_ns_per_kb", d.network_thread_ns_per_kb)?,
        sendfile_ns_per_kb: ns("sendfile_ns_per_kb", d.sendfile_ns_per_kb)?,
        produce_ns_per_request: us("produce_us_per_request", d.produce_ns_per_request)?,
        produce_ns_per_partition: us("produce_us_per_partition", d.produce_ns_per_partition)?,
        produce_ns_per_kb: ns("produce_ns_per_kb", d.produce_ns_per_kb)?,
        fetch_ns_per_request: us("fetch_us_per_request", d.fetch_ns_per_request)?,
        fetch_ns_per_partition: us("fetch_us_per_partition", d.fetch_ns_per_partition)?,
        other_ns_per_request: us("other_us_per_request", d.other_ns_per_request)?,
        follower_append_ns_per_partition: us("follower_append_us_per_partition", d.follower_append_ns_per_partition)?,
        follower_append_ns_per_kb: ns("follower_append_ns_per_kb", d.follower_append_ns_per_kb)?,
        nic_mbit_per_sec: bounded(t, "nic_mbit_per_sec", MAX_NIC_MBIT_PER_SEC, "a bandwidth", "megabits per second")?
            .or(d.nic_mbit_per_sec),
        disk_mbyte_per_sec: bounded(
            t,
            "disk_mbyte_per_sec",
            MAX_DISK_MBYTE_PER_SEC,
            "a bandwidth",
            "megabytes per second",
        )?
        .or(d.disk_mbyte_per_sec),
        fsync_ns: us("fsync_us", d.fsync_ns)?,
        dirty_limit_bytes: bounded(t, "dirty_limit_mbyte", MAX_DIRTY_LIMIT_MBYTE, "a limit", "megabytes")?
            .map_or(d.dirty_limit_bytes, |mbyte| mbyte * 1_000_000),
    })
}

/// The optional `key`, which must be 1 to `max` `unit`.
fn bounded(t: &Table, key: &str, max: u64, what: &str, unit: &str) -> Res<Option<u64>> {
    let check = |v: Sp<u64>| {
        v.check(|v| (1..=max).contains(&v), |v| format!("expected {what} of 1 to {max} {unit}, found {v}"))
            .map(|v| v.value)
    };
    t.opt_u64(key)?.map(check).transpose()
}
