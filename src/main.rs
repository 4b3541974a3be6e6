//! The `kafkasim` binary; everything lives in the library's `cli` module.

fn main() {
    kafkasim::cli::init_logging_from_env();
    std::process::exit(kafkasim::cli::main_with_args(std::env::args_os()));
}
