//! Opens committed reports in headless Chromium (Debian's `chromium` package; `.ci/run`
//! installs it when it can): the pages render their charts without console errors, the
//! fault bars end where the trace says their faults ended, hovering a record mark shows
//! its story and clicking an anomaly's row highlights its records (the page's own
//! `#selftest`), and screenshots at two window widths come out. Without a Chromium
//! binary the test says so and skips.
//!
//! The screenshots go to `target/tmp/report-screenshots/` (not the repository), to look
//! at after a run.

use crate::support::{scenario_path, scratch_dir};
use kafkasim::fault::FaultKind;
use kafkasim::history::Event;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The first Chromium binary on PATH, if any.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A committed report's page (English).
fn page(scenario: &str) -> PathBuf {
    page_in(scenario, "report.html")
}

/// A committed report's page of that file name (`report.html`, `report.zh.html`).
fn page_in(scenario: &str, file: &str) -> PathBuf {
    let page = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("reports/{scenario}/{file}"));
    assert!(page.is_file(), "{} is missing: run `cargo run --release -- report scenarios/*.toml`", page.display());
    page
}

/// Runs headless Chromium on `url` with `args`, in a fresh profile.
fn headless(browser: &Path, profile: &Path, args: &[String], url: &str) -> Output {
    let output = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .args(["--hide-scrollbars", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The page's DOM after its scripts ran (loaded with `#selftest`), checked for console
/// and script errors.
fn rendered_dom(browser: &Path, profile: &Path, scenario: &str) -> String {
    rendered_page(browser, profile, scenario, "report.html")
}

/// [`rendered_dom`] of the page of that file name.
fn rendered_page(browser: &Path, profile: &Path, scenario: &str, file: &str) -> String {
    let url = format!("file://{}#selftest", page_in(scenario, file).display());
    let output = headless(browser, profile, &["--dump-dom".to_string()], &url);
    let log = String::from_utf8_lossy(&output.stderr);
    let console_errors: Vec<&str> =
        log.lines().filter(|l| l.contains("CONSOLE") && (l.contains("ERROR") || l.contains("Uncaught"))).collect();
    assert!(console_errors.is_empty(), "{scenario}: console errors:\n{}", console_errors.join("\n"));
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!dom.contains("data-error="), "{scenario}: a script error was caught on the page");
    assert!(dom.contains("data-selftest=\"done\""), "{scenario}: the self-test did not run");
    dom
}

/// The value of the first `name="..."` attribute in `text`.
fn attribute<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!(" {name}=\""))? + name.len() + 3;
    text[start..].split('"').next()
}

/// `(kind, target, from ms, to ms)` of every fault bar on the page.
fn fault_bars(dom: &str) -> BTreeSet<(String, String, u64, u64)> {
    dom.split("<g class=\"fault-band\"")
        .skip(1)
        .map(|bar| {
            let tag = bar.split('>').next().unwrap();
            let number = |name| attribute(tag, name).unwrap().parse::<u64>().unwrap();
            (
                attribute(tag, "data-kind").unwrap().to_string(),
                attribute(tag, "data-target").unwrap().to_string(),
                number("data-from-ms"),
                number("data-to-ms"),
            )
        })
        .collect()
}

#[test]
fn reports_render_in_a_browser_with_honest_fault_bars_tooltips_highlights_and_screenshots() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: no chromium binary on PATH; install Debian's `chromium` package (`.ci/run` does when it can) \
             to run the headless report test"
        );
        return;
    };
    let profile = scratch_dir("chromium");

    // A loss lesson: its timeline, its anomaly, and the page's self-test.
    let dom = rendered_dom(&browser, &profile, "acks1-leader-crash");
    let count = |name: &str| -> u64 {
        attribute(&dom, name).unwrap_or_else(|| panic!("no {name} in the rendered DOM")).parse().expect("a count")
    };
    assert!(count("data-charts") >= 3, "timeline, throughput and log-order charts");
    assert!(count("data-anomaly-rows") >= 2, "a header row and at least one anomaly");
    assert!(dom.contains("id=\"timeline-orders-0\""), "the partition timeline is in the DOM");
    assert!(dom.contains("<code>lost-write</code>"), "the anomaly table names the lost write");
    // Hovering the first record mark showed its story in the tooltip.
    let tooltip = attribute(&dom, "data-selftest-tooltip").expect("the self-test hovered a mark");
    assert!(tooltip.contains("offset") && tooltip.contains("orders-0"), "tooltip: {tooltip}");
    assert!(dom.contains("id=\"tip\"") && dom.contains(tooltip), "the tooltip element shows the story");
    // Clicking the lost write's row highlighted its records on the timeline.
    assert!(count("data-selftest-highlighted") > 0, "the anomaly row's records were highlighted");
    assert!(dom.contains("class=\"rec hl\""), "highlighted marks carry the class the CSS draws");
    // The broker that crashed is hatched down in its lane.
    assert!(dom.contains("class=\"down\""), "a crashed broker's lane shows it down");

    // The Chinese page of the same report: the same script runs without errors.
    let dom = rendered_page(&browser, &profile, "acks1-leader-crash", "report.zh.html");
    assert!(dom.contains("<html lang=\"zh\">") && dom.contains("各分区的时间线"), "the Chinese page rendered");
    assert!(attribute(&dom, "data-selftest-highlighted").is_some_and(|n| n != "0"), "its self-test highlighted");

    // A group lesson whose members stall and leave: the bars of those faults end where
    // the trace says they ended, before the end of the run; the group chart is there.
    let dom = rendered_dom(&browser, &profile, "rebalance-storm");
    assert!(dom.contains("id=\"group-"), "the group chart of members and assignments");
    let bars = fault_bars(&dom);
    let sc = kafkasim::scenario::load(&scenario_path("rebalance-storm")).unwrap();
    let outcome = kafkasim::runner::run_seed(&sc, kafkasim::report::report_seed(&sc));
    let trace = outcome.history.trace.to_vec();
    let end_ms =
        trace.iter().map(|e| e.time_ns).chain(outcome.history.ops.iter().map(|o| o.time_ns)).max().unwrap() / 1_000_000;
    let mut checked = 0;
    for (i, e) in trace.iter().enumerate() {
        let Event::Fault { kind: kind @ (FaultKind::Stall | FaultKind::Leave), targets, .. } = &e.event else {
            continue;
        };
        for target in targets {
            let ended = trace[i..].iter().find(|later| {
                matches!(&later.event, Event::FaultEnded { kind: k, targets: t, .. } if k == kind && t.contains(target))
            });
            let ended = ended.expect("every stall and leave of this lesson ends").time_ns / 1_000_000;
            assert!(ended < end_ms, "{kind} {target} ends before the run does");
            let bar = (kind.to_string(), target.clone(), e.time_ns / 1_000_000, ended);
            assert!(bars.contains(&bar), "no bar {bar:?} on the page; bars: {bars:?}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "the lesson's stalls and leaves were checked ({checked})");

    // Screenshots at a wide and a narrow window.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for scenario in ["acks1-leader-crash", "rebalance-storm", "assignor-comparison"] {
        let url = format!("file://{}", page(scenario).display());
        for width in [1400, 700] {
            let png = shots.join(format!("{scenario}-{width}.png"));
            let _ = std::fs::remove_file(&png);
            headless(
                &browser,
                &profile,
                &[format!("--screenshot={}", png.display()), format!("--window-size={width},2000")],
                &url,
            );
            let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
            assert!(size > 30_000, "{}: {size} bytes, not a rendered page", png.display());
        }
    }
    let _ = std::fs::remove_dir_all(&profile);
}
