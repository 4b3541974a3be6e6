//! Fuzzes the scenario parser: any bytes, read as `kafkasim run FILE` reads a file,
//! must give a scenario or an error with a position, never a panic, a hang or an
//! exhausted memory. A scenario that parses also goes through what the command line does
//! with it before the simulation starts (the memory estimate, the `[swarm]` and
//! `[nemesis]` draws of a seed, the run header); the simulation itself is not run.

#![no_main]

use kafkasim::runner::{memory_budget, swarm};
use kafkasim::scenario::{self, Lang};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // `scenario::load` decodes the file first: bytes that are not UTF-8 are an error
    // that names the line and column of the first bad byte.
    let text = match kafkasim::utf8::decode(data.to_vec()) {
        Ok(text) => text,
        Err(bad) => {
            assert!(bad.line >= 1 && bad.column >= 1, "{bad:?}");
            return;
        }
    };
    let parsed = match scenario::parse(&text, Path::new("fuzz.toml")) {
        Ok(parsed) => parsed,
        Err(error) => {
            // What the command line prints.
            let _ = error.to_string();
            let _ = error.snippet();
            return;
        }
    };
    // `cli::load_with`: a scenario over the memory budget is refused before it runs.
    let _ = memory_budget::estimate(&parsed);
    if memory_budget::check(&parsed, memory_budget::DEFAULT_BUDGET_BYTES).is_err() {
        return;
    }
    // `cli::run::render_header`: the seed's draws, named.
    let (instance, drawn) = swarm::instantiate(&parsed, 1);
    let _ = instance.texts(Lang::En).title.clone();
    let _ = instance.texts(Lang::Zh).title.clone();
    if let Some(drawn) = drawn {
        let _ = drawn.lines();
    }
});
