//! The `kafkasim` command line.
