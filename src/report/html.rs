//! The self-contained HTML page of a report: inline CSS, inline SVG charts and a few lines
//! of inline script; nothing is fetched when the page is viewed.

use super::markdown::{commands, facts};
use super::svg::{self, esc};
use super::{secs, timeline, ReportData, BUCKET_NS};
use crate::explain::Story;
use crate::scenario::Lang;
use std::fmt::Write;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.5em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}table{border-collapse:collapse;width:100%;font-size:.9em}\
td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}\
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}svg.chart{display:block;margin:.4em 0 1em}\
details{margin:.3em 0}code{background:#f3f3f3;padding:0 3px}";

/// Counts the charts once the page has loaded, so a headless browser test can see that
/// the page rendered and its script ran.
const SCRIPT: &str = "window.addEventListener('error',function(e){document.documentElement.setAttribute('data-error',String(e.message));});\
document.addEventListener('DOMContentLoaded',function(){\
var n=document.querySelectorAll('svg.chart').length;\
var r=document.querySelectorAll('#anomalies tr').length;\
document.body.setAttribute('data-charts',String(n));\
document.body.setAttribute('data-anomaly-rows',String(r));});";

/// Renders the page.
pub(crate) fn render(data: &ReportData<'_>) -> String {
    let sc = data.scenario;
    let history = &data.outcome.history;
    let title = sc.title.as_deref().unwrap_or(&sc.name);
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\n",
        esc(title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(title));
    let theme = sc.theme.map_or("no theme".to_string(), |t| t.to_string());
    let _ = writeln!(h, "<p>Scenario <code>{}</code> ({theme}), seed {}.</p>", esc(&sc.name), data.outcome.seed);
    for (label, text) in [("Lesson", &sc.lesson), ("Mechanism", &sc.mechanism), ("Fix", &sc.fix)] {
        if let Some(text) = text {
            let _ = writeln!(h, "<p><b>{label}.</b> {}</p>", esc(text.trim()));
        }
    }
    let _ = writeln!(h, "<pre>{}</pre>", esc(&commands(data).join("\n")));
    h += "<h2>The run</h2>\n<ul>";
    for f in facts(data) {
        let _ = write!(h, "<li>{}</li>", esc(&f));
    }
    h += "</ul>\n";

    let bands = timeline::fault_bands(history, data.end_ns);
    h += "<h2>Timeline per partition</h2>\n<p>Black: the leader's high watermark; dashed: each replica's log end offset; \
          lanes: leader (dark) and ISR members (light) per broker; orange lines: elections (red: unclean); \
          shaded: faults (hover for details).</p>\n";
    for p in timeline::timelines(history) {
        let _ = writeln!(h, "<h3>{}</h3>\n{}", esc(&p.tp), svg::partition_timeline(&p, &bands, data.end_ns));
    }
    h += "<h2>Throughput and latency</h2>\n<p>Records acknowledged per second (top) and the mean (green) and largest (orange) \
          send latency of the send operations completed in each second (bottom); faults shaded.</p>\n";
    let buckets = timeline::throughput(history, BUCKET_NS, data.end_ns);
    h += &svg::throughput_chart(&buckets, BUCKET_NS, &bands, data.end_ns);
    let load = timeline::broker_load(history);
    if !load.is_empty() {
        h += "\n<h2>Brokers' request pipelines</h2>\n<p>Per broker (one colour each) and per 100 ms window: how busy its \
              request handlers were (top), the deepest its request queue got (middle) and the longest a request \
              waited in it (bottom). A line at zero: the broker served nothing then (idle or down); faults shaded.</p>\n";
        h += &svg::broker_load_chart(&load, &bands, data.end_ns);
    }
    h += "\n<h2>Log order per partition</h2>\n<p>Each partition's final log as the final drain read it, by offset.";
    h += &svg::log_order_legend();
    h += "</p>\n";
    for order in timeline::log_orders(history) {
        h += &svg::log_order_strip(&order);
        h.push('\n');
    }

    h += "<h2>Faults</h2>\n";
    if data.faults.is_empty() {
        h += "<p>None.</p>\n";
    } else {
        h += "<table id=\"faults\"><tr><th>time</th><th>fault</th><th>targets</th><th>what it did</th></tr>";
        for (t, kind, targets, detail) in &data.faults {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                secs(*t),
                esc(kind),
                esc(&targets.join(", ")),
                esc(detail)
            );
        }
        h += "</table>\n";
    }
    let groups = crate::check::groups::rebalances(history);
    if !groups.is_empty() {
        h += "<h2>Consumer groups</h2>\n<table id=\"groups\"><tr><th>group</th><th>rebalance</th><th>at</th><th>members and their partitions</th></tr>";
        for r in &groups {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.group),
                r.label(),
                secs(r.time_ns),
                esc(&r.assignment_line())
            );
        }
        h += "</table>\n<ul>";
        for g in crate::check::groups::ownerless_time(history) {
            let _ = write!(h, "<li>{}: {}</li>", esc(&g.group), esc(&g.summary()));
        }
        h += "</ul>\n";
    }
    if !data.lags.is_empty() {
        h += "<h2>Consumer lag per partition</h2>\n<p>Per group, each partition's lag over time as \
              <code>kafka-consumer-groups.sh --describe</code> would have shown it: the leader's high watermark \
              (what ListOffsets <code>latest</code> answers) minus the group's committed offset, from its first \
              commit on, the largest in each 100 ms; red ticks under the axis: retention deleted records the group had not read; faults \
              shaded.</p>\n";
        for group in &data.lags {
            let _ = writeln!(h, "<h3>{}</h3>\n{}", esc(&group.group), svg::lag_chart(group, &bands, data.end_ns));
        }
    }
    let _ = write!(
        h,
        "<h2>Topics and groups at the end of the run</h2>\n<p>As <code>kafkasim describe</code> prints them.</p>\n\
         <pre id=\"describe\">{}</pre>\n",
        esc(&data.described)
    );
    h += "<h2>Anomalies</h2>\n<table id=\"anomalies\"><tr><th>anomaly</th><th>count</th><th>first instance and its story</th></tr>";
    if data.stories.is_empty() {
        h += "<tr><td colspan=\"3\">None.</td></tr>";
    }
    for (kind, count, story) in &data.stories {
        let mut lines = String::new();
        for (heading, life) in &story.records {
            let _ = writeln!(lines, "The life of {heading}:");
            for l in life {
                let _ = writeln!(lines, "{:>10}  {}", secs(l.time_ns), l.text);
            }
        }
        let _ = write!(
            h,
            "<tr><td><code>{kind}</code></td><td>{count}</td><td>{}<p><b>Cause.</b> {}</p><p><b>Prevention.</b> {}</p><details><summary>story</summary><pre>{}</pre></details></td></tr>",
            esc(&story.summary),
            esc(&story.cause),
            esc(&story.prevention),
            esc(&lines)
        );
    }
    h += "</table>\n";
    h += &terms_html(data.stories.iter().map(|(_, _, story)| story));
    h += &super::proof::html(data);
    h += "<h2>Configuration</h2>\n";
    let mut release = crate::scenario::render_switch_settings(sc).into_iter();
    if let Some(heading) = release.next() {
        let _ = write!(h, "<p>{}:</p><ul id=\"release-settings\">", esc(&heading));
        for line in release {
            let _ = write!(h, "<li><code>{}</code></li>", esc(&line));
        }
        h += "</ul>\n";
    }
    if let Some(drawn) = &data.outcome.drawn {
        h += "<p>Drawn from the seed (swarm and nemesis):</p><ul id=\"drawn\">";
        for line in drawn.lines() {
            let _ = write!(h, "<li>{}</li>", esc(&line));
        }
        h += "</ul>\n";
    }
    if !sc.notes.is_empty() {
        h += "<ul>";
        for n in &sc.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h += "</ul>";
    }
    let _ = writeln!(h, "<pre>{}</pre>\n</body></html>", esc(sc.source.trim_end()));
    h
}

/// The glossary terms the stories use, defined below the anomaly table (the report is
/// one self-contained file, so the definitions are in it); empty without stories.
fn terms_html<'a>(stories: impl IntoIterator<Item = &'a Story>) -> String {
    let terms = crate::explain::terms_of(stories);
    if terms.is_empty() {
        return String::new();
    }
    let mut h = String::from("<details id=\"terms\"><summary>Terms these stories use</summary><dl>");
    for term in terms {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(term.name(Lang::En)), esc(term.definition(Lang::En)));
    }
    h + "</dl></details>\n"
}
