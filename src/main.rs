//! The `kafkasim` binary; everything lives in the library's `cli` module.

fn main() {
    std::process::exit(kafkasim::cli::main_with_args(std::env::args_os()));
}
