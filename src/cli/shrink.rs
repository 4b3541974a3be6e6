//! `kafkasim shrink FILE --seed N [--anomaly KIND]`: reduces a failing run to a minimal
//! scenario that still shows the anomaly, prints it and writes it as a new file.

use super::{load, EXIT_OUTPUT, EXIT_USAGE};
use crate::check::AnomalyKind;
use crate::plant::PlantedBug;
use crate::runner::sweep::default_jobs;
use crate::runner::RunOptions;
use crate::shrink::{self, ShrinkError, ShrinkOptions, DEFAULT_MAX_TRIES};
use std::path::{Path, PathBuf};

/// Arguments of `kafkasim shrink`.
#[derive(clap::Args, Debug)]
pub struct ShrinkArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// The seed of the failing run (default: the scenario's first seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The anomaly kind to preserve, such as `lost-write` (default: the first kind the
    /// scenario forbids, else the first kind shown, in report order).
    #[arg(long, value_name = "KIND", value_parser = parse_anomaly)]
    pub anomaly: Option<AnomalyKind>,
    /// Plants a known bug in every run (the written file needs it too to replay).
    #[arg(long, value_name = "BUG")]
    pub plant: Option<PlantedBug>,
    /// Where to write the minimal scenario (default: FILE-STEM-shrunk-seedN.toml in the
    /// current directory, so that it does not join the suite in `scenarios/`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The most candidate scenarios to try before stopping with the smallest so far.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TRIES)]
    pub max_tries: usize,
    /// Candidates run side by side (default: the available cores). The result does not
    /// depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
}

fn parse_anomaly(name: &str) -> Result<AnomalyKind, String> {
    AnomalyKind::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown anomaly kind `{name}`; expected one of {}", names.join(", "))
    })
}

/// Shrinks and writes the minimal scenario; returns the exit code: 0 when a minimal
/// scenario was written, 64 when the run shows nothing to preserve, 74 when the file
/// cannot be written.
pub fn shrink(args: &ShrinkArgs) -> i32 {
    let scenario = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.or_else(|| scenario.seeds.first().copied()).unwrap_or(0);
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.file, seed));
    // Created before the search, so that a path that cannot be written fails at once (and
    // removed again if the search finds nothing to write, unless it was there before).
    let out_existed = out.exists();
    let mut out_file = match super::open_output(&out) {
        Ok(file) => file,
        Err(code) => return code,
    };
    let options = ShrinkOptions {
        seed,
        anomaly: args.anomaly,
        run: RunOptions { plant: args.plant, draw: None },
        max_tries: args.max_tries,
        jobs: args.jobs.map_or_else(default_jobs, |n| n as usize),
    };
    println!("shrinking {} seed {seed}", args.file.display());
    let result = shrink::shrink(&scenario, &options, |step| {
        println!("  step (after {} tries): {}; now {}", step.tries, step.description, step.dims.summary());
    });
    let shrunk = match result {
        Ok(s) => s,
        Err(error) => {
            eprintln!("error: {} seed {seed}: {error}", args.file.display());
            drop(out_file);
            if !out_existed {
                let _ = std::fs::remove_file(&out);
            }
            return match error {
                ShrinkError::Unreadable(_) => super::EXIT_INPUT,
                _ => EXIT_USAGE,
            };
        }
    };
    let text = shrunk.file_text(&args.file.display().to_string(), &out.display().to_string(), seed, &options.run);
    let shown: Vec<&str> = shrunk.original_anomalies.iter().map(|k| k.name()).collect();
    println!("original run shows: {}; keeping `{}`", shown.join(", "), shrunk.anomaly);
    println!("original: {}", shrunk.original.summary());
    println!("minimal:  {}", shrunk.minimal.summary());
    println!(
        "{} steps, {} candidates tried, {} runs{}",
        shrunk.steps.len(),
        shrunk.tries,
        shrunk.runs,
        if shrunk.exhausted { " (stopped by --max-tries: a smaller scenario may exist)" } else { "" }
    );
    println!("\n{text}");
    if let Err(e) = std::io::Write::write_all(&mut out_file, text.as_bytes()) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return EXIT_OUTPUT;
    }
    let plant = args.plant.map_or(String::new(), |bug| format!(" --plant {bug}"));
    println!("written to {}", out.display());
    println!("reproduce: kafkasim run {} --seed {seed}{plant}", out.display());
    0
}

/// `scenarios/acks1-leader-crash.toml`, seed 8 -> `acks1-leader-crash-shrunk-seed8.toml`.
fn default_out(file: &Path, seed: u64) -> PathBuf {
    let stem = file.file_stem().map_or("scenario".into(), |s| s.to_string_lossy());
    PathBuf::from(format!("{stem}-shrunk-seed{seed}.toml"))
}
