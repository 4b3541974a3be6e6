//! The simulation tests, as one test binary (`cargo test --test sim`; filter by file with
//! `cargo test --test sim planted::`). Each file of `sim-tests/` is one module here.
//!
//! One binary, not one per file: every test binary links the whole crate, and with
//! sixteen of them a clean `cargo test` spent most of its time linking. The price is
//! that all these tests run as threads of one process, so none of them may change
//! process-wide state: environment variables are set on child processes only (see
//! `phases`), scratch directories get names unique in the process
//! ([`support::scratch_dir`]), and the one test that measures the whole process's memory
//! runs in a child process of its own (see `determinism`).

mod backlog;
mod basics;
mod catalog_claims;
mod cli;
mod coverage;
mod delay_queues;
mod determinism;
mod fault_scenarios;
mod faults;
mod faults_kinds;
mod group_limits;
mod groups;
mod guide_zh;
mod guided;
mod kip320;
mod kraft;
mod museum;
mod operations;
mod overload;
mod phases;
mod pipelines;
mod planted;
mod producer;
mod proptest_faults;
mod prove_fix;
mod replay;
mod replication;
mod report_browser;
mod reports;
mod retention;
mod scenarios;
mod shrink;
mod support;
mod swarm;
mod swarm_wide;
mod teach_cli;
mod topic_events;
mod transactions;
