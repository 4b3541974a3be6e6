//! The `kafkasim` binary; everything lives in the library's `cli` module.

fn main() {
    restore_default_sigpipe();
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
