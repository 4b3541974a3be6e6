//! The `kafkasim` binary; everything lives in the library's `cli` module.

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    std::process::exit(kafkasim::cli::main_with_args(std::env::args_os()));
}
