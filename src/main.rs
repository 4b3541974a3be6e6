//! The `kafkasim` binary; everything lives in the library's `cli` module.

fn main() {
    restore_default_sigpipe();
    keep_large_allocations_apart();
    if let Err(code) = kafkasim::cli::init_logging_from_env() {
        std::process::exit(code);
    }
    std::process::exit(kafkasim::cli::main_with_args(std::env::args_os()));
}

/// Rust ignores SIGPIPE, so a write to a closed pipe fails and `println!` panics (exit
/// 101) when the reader stops early (`kafkasim suite scenarios/ | head`). A command-line
/// tool should end as `cat` or `grep` do: killed by SIGPIPE, quietly.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Gives every allocation of 256 KiB or more (a run's history, trace and the checkers'
/// indexes are vectors of megabytes) its own mapping, returned to the system when freed
/// and grown in place by `mremap`. glibc raises this threshold as large blocks are freed
/// (up to 32 MiB on 64-bit), after which such vectors are carved from the heap, and the
/// memory the simulation frees is kept fragmented beside what checking allocates: the
/// bench peaked at 145 MB resident against a heap of 114 MB, and at 122 MB with this
/// setting, for a few hundredths of a second more system time (`/usr/bin/time -f %M
/// kafkasim run scenarios/bench.toml --seed 1`, 2026-12-06). Other C libraries keep their
/// own policy.
fn keep_large_allocations_apart() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in `main`, before any thread exists; `mallopt` only sets
    // a malloc parameter.
    unsafe {
        const MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}
