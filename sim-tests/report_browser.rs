//! Opens a committed report in headless Chromium (Debian's `chromium` package; `.ci/run`
//! installs it when it can) and checks that the page renders its timeline and anomaly
//! table without console errors. Without a Chromium binary the test says so and skips.

use crate::support::scratch_dir;
use std::path::PathBuf;
use std::process::Command;

/// The first Chromium binary on PATH, if any.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

#[test]
fn a_committed_report_renders_its_timeline_and_anomaly_table_without_console_errors() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: no chromium binary on PATH; install Debian's `chromium` package (`.ci/run` does when it can) \
             to run the headless report test"
        );
        return;
    };
    let page = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reports/acks1-leader-crash/report.html");
    assert!(page.is_file(), "{} is missing: run `cargo run --release -- report scenarios/*.toml`", page.display());
    let profile = scratch_dir("chromium");
    let output = Command::new(&browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium failed: {log}");
    let console_errors: Vec<&str> =
        log.lines().filter(|l| l.contains("CONSOLE") && (l.contains("ERROR") || l.contains("Uncaught"))).collect();
    assert!(console_errors.is_empty(), "console errors:\n{}", console_errors.join("\n"));
    assert!(!dom.contains("data-error="), "a script error was caught on the page");
    // The script ran after the page loaded and counted what rendered.
    let attribute = |name: &str| -> u64 {
        let start =
            dom.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("no {name} in the rendered DOM")) + name.len() + 2;
        dom[start..].split('"').next().unwrap().parse().expect("a count")
    };
    assert!(attribute("data-charts") >= 3, "timeline, throughput and log-order charts");
    assert!(attribute("data-anomaly-rows") >= 2, "a header row and at least one anomaly");
    assert!(dom.contains("id=\"timeline-orders-0\""), "the partition timeline is in the DOM");
    assert!(dom.contains("<code>lost-write</code>"), "the anomaly table names the lost write");
}
