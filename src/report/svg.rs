//! Hand-written SVG charts over simulated time: step lines, fault bands, election
//! markers, lanes and the log-order strip. Coordinates are integers, so the same run
//! always gives the same bytes. Each chart has a `viewBox` and no fixed size: the page's
//! CSS scales it to the width of the window.

use super::group_lanes::GroupLanes;
use super::lag::{window_peaks, GroupLag};
use super::timeline::{BrokerLoadLine, Bucket, FaultBand, LogOrder, Mark, PartitionTimeline, RecordMark};
use crate::check::describe::{broker, secs};
use crate::fault::FaultKind;
use crate::scenario::Lang;
use std::fmt::Write;

/// Chart width in viewBox units, and the plot's left margin (the y axis's title and
/// tick labels).
const WIDTH: u64 = 900;
const LEFT: u64 = 60;
const PLOT: u64 = WIDTH - LEFT - 10;
/// One colour per broker (cycled).
const COLOURS: [&str; 6] = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
/// The height of one row of the fault strip.
const FAULT_ROW: u64 = 13;
/// The most record marks one partition's timeline draws (the earliest).
const MARKS_PER_PARTITION: usize = 300;

fn colour(broker: u32) -> &'static str {
    COLOURS[(broker as usize + COLOURS.len() - 1) % COLOURS.len()]
}

/// Escapes text for HTML and SVG.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The x pixel of a simulated time.
fn x(t: u64, end_ns: u64) -> u64 {
    LEFT + (u128::from(t.min(end_ns)) * u128::from(PLOT) / u128::from(end_ns.max(1))) as u64
}

/// The y pixel of a value in a plot from `top` of height `h`.
fn y(v: u64, max: u64, top: u64, h: u64) -> u64 {
    top + h - (u128::from(v.min(max)) * u128::from(h) / u128::from(max.max(1))) as u64
}

/// Milliseconds of simulated time, for the page's data attributes.
fn ms(t: u64) -> u64 {
    t / 1_000_000
}

fn open(out: &mut String, id: &str, height: u64, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet" role="img" aria-label="{}">"#,
        esc(label)
    );
}

/// The hatching that marks a broker down in its lanes, defined once per page (the
/// charts refer to it by id).
pub(crate) const DEFS: &str = r##"<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs><pattern id="down-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#e0e0e0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="2"/></pattern></defs></svg>"##;

/// Shades the time some fault was in force over the plot's height (from `top`),
/// lightly and once however many faults overlap: the fault strip above names them.
fn bands(out: &mut String, bands: &[FaultBand], end_ns: u64, top: u64, height: u64) {
    let mut spans: Vec<(u64, u64)> = bands.iter().map(|b| (x(b.from_ns, end_ns), x(b.to_ns, end_ns))).collect();
    spans.sort();
    let mut union: Vec<(u64, u64)> = Vec::new();
    for (x0, x1) in spans {
        match union.last_mut() {
            Some(last) if x0 <= last.1 => last.1 = last.1.max(x1),
            _ => union.push((x0, x1)),
        }
    }
    for (x0, x1) in union {
        let _ = write!(
            out,
            r##"<rect class="fault" x="{x0}" y="{top}" width="{}" height="{}" fill="#d62728" fill-opacity="0.07"/>"##,
            (x1 - x0).max(2),
            height.saturating_sub(top)
        );
    }
}

/// The colour of a fault kind in the strip: processes down red, consumers' and
/// producers' applications purple, the network orange, the rest brown.
fn fault_colour(kind: FaultKind) -> &'static str {
    use FaultKind::*;
    match kind {
        Crash | PowerLoss | Stop | Pause | RollingRestart => "#d62728",
        Stall | Leave => "#9467bd",
        Partition | PacketLoss | Latency | Clog | Reorder | Duplicate | StuckConnection => "#ff7f0e",
        _ => "#8c564b",
    }
}

/// Lays out labelled spans `(x0, x1, label width)` in rows so that neither spans nor
/// their labels overlap: each goes in the first row free from its label's start on.
/// Returns each span's row and where its label starts.
fn rows(spans: &[(u64, u64, u64)]) -> Vec<(u64, u64)> {
    let mut ends: Vec<u64> = Vec::new();
    spans
        .iter()
        .map(|&(x0, x1, label)| {
            let lx = (x0 + 2).min(WIDTH.saturating_sub(label + 2));
            let (start, end) = (x0.min(lx), x1.max(lx + label));
            let row = ends.iter().position(|&e| e + 3 <= start).unwrap_or(ends.len());
            if row == ends.len() {
                ends.push(end);
            } else {
                ends[row] = end;
            }
            (row as u64, lx)
        })
        .collect()
}

/// The width of a text at font size 9, roughly.
fn text_width(text: &str) -> u64 {
    text.chars().count() as u64 * 5 + 2
}

/// The fault strip from `top`: one labelled bar per fault and target, stacked in rows;
/// each bar carries its extent (`data-from-ms`, `data-to-ms`) and story. Returns its
/// height (0 without faults).
fn fault_strip(out: &mut String, faults: &[FaultBand], end_ns: u64, top: u64) -> u64 {
    if faults.is_empty() {
        return 0;
    }
    let spans: Vec<(u64, u64, u64)> = faults
        .iter()
        .map(|b| (x(b.from_ns, end_ns), x(b.to_ns, end_ns).max(x(b.from_ns, end_ns) + 2), text_width(&b.label)))
        .collect();
    let placed = rows(&spans);
    let n_rows = placed.iter().map(|p| p.0 + 1).max().unwrap_or(1);
    let _ = write!(out, r##"<text x="4" y="{}" font-size="10" fill="#555">faults</text>"##, top + 10);
    for (b, (&(x0, x1, _), &(row, lx))) in faults.iter().zip(spans.iter().zip(&placed)) {
        let ry = top + row * FAULT_ROW;
        let story = format!("{}: {} from {} to {}", b.label, b.kind, secs(b.from_ns), secs(b.to_ns));
        let _ = write!(
            out,
            r##"<g class="fault-band" data-from-ms="{}" data-to-ms="{}" data-kind="{}" data-target="{}" data-story="{}"><rect x="{x0}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.35"/><text x="{lx}" y="{}" font-size="9" fill="#222">{}</text></g>"##,
            ms(b.from_ns),
            ms(b.to_ns),
            b.kind,
            esc(&b.target),
            esc(&story),
            ry + 1,
            x1 - x0,
            FAULT_ROW - 2,
            fault_colour(b.kind),
            ry + FAULT_ROW - 3,
            esc(&b.label)
        );
    }
    n_rows * FAULT_ROW + 4
}

/// A step of 1, 2 or 5 times a power of ten that splits `max` into at most 5 parts.
fn nice_step(max: u64) -> u64 {
    let mut magnitude = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            if max.div_ceil(step) <= 5 {
                return step;
            }
        }
        magnitude *= 10;
    }
}

/// A y axis for values up to `max` on a plot from `top` of height `h`: ticks at round
/// values with grid lines and labels (`label` formats a value), and the axis's `title`
/// written upwards in the margin. Returns the scale's top value (a whole number of
/// steps at or above `max`), which the plot's lines must use.
fn y_axis(out: &mut String, max: u64, (top, h): (u64, u64), label: &dyn Fn(u64) -> String, title: &str) -> u64 {
    let step = nice_step(max.max(1));
    let top_value = max.max(1).div_ceil(step) * step;
    let _ = write!(out, r##"<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{}" stroke="#888"/>"##, top + h);
    let mut v = 0;
    while v <= top_value {
        let py = y(v, top_value, top, h);
        let _ = write!(
            out,
            r##"<line x1="{}" y1="{py}" x2="{}" y2="{py}" stroke="#eee"/><line x1="{}" y1="{py}" x2="{LEFT}" y2="{py}" stroke="#888"/><text x="{}" y="{}" font-size="9" text-anchor="end" fill="#555">{}</text>"##,
            LEFT + 1,
            LEFT + PLOT,
            LEFT - 3,
            LEFT - 5,
            py + 3,
            esc(&label(v))
        );
        v += step;
    }
    let mid = top + h / 2;
    let _ = write!(
        out,
        r##"<text x="11" y="{mid}" font-size="10" text-anchor="middle" fill="#333" transform="rotate(-90 11 {mid})">{}</text>"##,
        esc(title)
    );
    top_value
}

/// A number in a few characters: `950`, `12k`, `1.5M`.
fn short(v: u64) -> String {
    match v {
        0..=9_999 => v.to_string(),
        10_000..=999_999 => format!("{}k", v / 1000),
        _ => format!("{:.1}M", v as f64 / 1e6),
    }
}

/// A time axis along the bottom with a tick every few seconds.
fn time_axis(out: &mut String, end_ns: u64, base: u64) {
    let secs = end_ns / 1_000_000_000;
    let step = [1, 2, 5, 10, 20, 30, 60].into_iter().find(|s| secs / s <= 10).unwrap_or(120);
    let _ = write!(out, r##"<line x1="{LEFT}" y1="{base}" x2="{}" y2="{base}" stroke="#888"/>"##, LEFT + PLOT);
    for s in (0..=secs).step_by(step as usize) {
        let px = x(s * 1_000_000_000, end_ns);
        let _ = write!(
            out,
            r##"<line x1="{px}" y1="{base}" x2="{px}" y2="{}" stroke="#888"/><text x="{px}" y="{}" font-size="10" text-anchor="middle" fill="#555">{s} s</text>"##,
            base + 3,
            base + 13
        );
    }
}

/// A small grey label in the left margin, its baseline at `y`; `text` is already escaped.
fn margin_label(out: &mut String, y: u64, text: &str) {
    let _ = write!(out, r##"<text x="4" y="{y}" font-size="10" fill="#555">{text}</text>"##);
}

/// A step line through `(time, value)` points, at most one vertex pair per pixel column.
fn step_line(
    out: &mut String,
    points: &[(u64, u64)],
    end_ns: u64,
    max: u64,
    area: (u64, u64),
    style: &str,
    title: &str,
) {
    let points: Vec<(u64, Option<u64>)> = points.iter().map(|&(t, v)| (t, Some(v))).collect();
    broken_step_line(out, &points, end_ns, max, area, style, title);
}

/// A step line through `(time, value)` points that breaks where a value is `None` (no
/// value then) and resumes at the next one.
fn broken_step_line(
    out: &mut String,
    points: &[(u64, Option<u64>)],
    end_ns: u64,
    max: u64,
    (top, h): (u64, u64),
    style: &str,
    title: &str,
) {
    let mut d = String::new();
    let mut last: Option<(u64, u64)> = None;
    for &(t, v) in points {
        let px = x(t, end_ns);
        let Some(v) = v else {
            if let Some((lx, _)) = last.take() {
                if px > lx {
                    let _ = write!(d, "H{px}");
                }
            }
            continue;
        };
        let py = y(v, max, top, h);
        match last {
            None => {
                let _ = write!(d, "M{px},{py}");
            }
            Some((lx, ly)) if lx == px => {
                if ly != py {
                    let _ = write!(d, "V{py}");
                }
            }
            Some((_, ly)) => {
                let _ = write!(d, "H{px}");
                if ly != py {
                    let _ = write!(d, "V{py}");
                }
            }
        }
        last = Some((px, py));
    }
    if d.is_empty() {
        return;
    }
    if last.is_some() {
        let _ = write!(d, "H{}", LEFT + PLOT);
    }
    let _ = write!(out, r#"<path d="{d}" fill="none" {style}><title>{}</title></path>"#, esc(title));
}

/// The timeline of one partition: the fault strip on top; the high watermark (broken
/// where no leader serves one) and every replica's log end over time, with election
/// markers and the marks of records lost, truncated or in an anomaly; one lane per
/// broker showing leadership (dark), ISR membership (light) and the broker down
/// (hatched).
pub(crate) fn partition_timeline(
    p: &PartitionTimeline,
    faults: &[FaultBand],
    marks: &[&RecordMark],
    end_ns: u64,
) -> String {
    let brokers: Vec<u32> = p
        .log_end
        .keys()
        .copied()
        .chain(p.leadership.iter().flat_map(|l| l.2.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = String::new();
    let mut strip = String::new();
    let strip_h = fault_strip(&mut strip, faults, end_ns, 4);
    let (top, h) = (strip_h + 10, 140);
    let lanes_top = top + h + 24;
    let height = lanes_top + 16 * brokers.len() as u64 + 10;
    open(&mut out, &format!("timeline-{}", p.tp), height, &format!("timeline of {}", p.tp));
    bands(&mut out, faults, end_ns, top, height);
    out += &strip;
    let max = p
        .log_end
        .values()
        .flatten()
        .map(|v| v.1)
        .chain(p.high_watermark.iter().filter_map(|v| v.1))
        .chain(marks.iter().map(|m| m.offset + 1))
        .max()
        .unwrap_or(1);
    let max = y_axis(&mut out, max, (top, h), &|v| short(v), "offset");
    for (b, points) in &p.log_end {
        let style = format!(r#"stroke="{}" stroke-width="1" stroke-dasharray="4 2""#, colour(*b));
        step_line(&mut out, points, end_ns, max, (top, h), &style, &format!("log end offset of {}", broker(*b)));
    }
    broken_step_line(
        &mut out,
        &p.high_watermark,
        end_ns,
        max,
        (top, h),
        r##"stroke="#000" stroke-width="2""##,
        "high watermark of the acting leader (none drawn while no leader serves)",
    );
    time_axis(&mut out, end_ns, top + h);
    for &(t, leader, unclean) in &p.elections {
        let px = x(t, end_ns);
        let (stroke, what) = if unclean { ("#d62728", "unclean election") } else { ("#ff7f0e", "election") };
        let who = leader.map_or("no leader".to_string(), broker);
        let _ = write!(
            out,
            r#"<line class="election" x1="{px}" y1="{top}" x2="{px}" y2="{}" stroke="{stroke}" stroke-width="2" data-story="{}"/>"#,
            height - 4,
            esc(&format!("{}: {what}: {who}", secs(t)))
        );
    }
    for m in marks.iter().take(MARKS_PER_PARTITION) {
        let (px, py) = (x(m.time_ns, end_ns), y(m.offset, max, top, h));
        let rec = format!("{}:{}", m.tp, m.offset);
        let story = esc(&m.text);
        if m.what == "truncated" || m.what == "reloaded-without" {
            let stroke = if m.lost { "#d62728" } else { "#ff7f0e" };
            let _ = write!(
                out,
                r#"<path class="rec" data-rec="{rec}" data-story="{story}" d="M{},{}l6,6m0,-6l-6,6" stroke="{stroke}" stroke-width="2"/>"#,
                px - 3,
                py.saturating_sub(3)
            );
        } else {
            let _ = write!(
                out,
                r##"<circle class="rec" data-rec="{rec}" data-story="{story}" cx="{px}" cy="{py}" r="3.5" fill="#9467bd" fill-opacity="0.8" stroke="#fff" stroke-width="0.5"/>"##
            );
        }
    }
    for (i, &b) in brokers.iter().enumerate() {
        let ly = lanes_top + 16 * i as u64;
        let _ =
            write!(out, r##"<text x="4" y="{}" font-size="10" fill="{}">{}</text>"##, ly + 10, colour(b), broker(b));
        for (j, (t, leader, isr)) in p.leadership.iter().enumerate() {
            let until = p.leadership.get(j + 1).map_or(end_ns, |n| n.0);
            let (x0, x1) = (x(*t, end_ns), x(until, end_ns));
            let opacity = if *leader == Some(b) {
                "0.9"
            } else if isr.contains(&b) {
                "0.35"
            } else {
                continue;
            };
            let role = if *leader == Some(b) { "leader" } else { "in the ISR" };
            let _ = write!(
                out,
                r#"<rect x="{x0}" y="{ly}" width="{}" height="12" fill="{}" fill-opacity="{opacity}"><title>{} {role}</title></rect>"#,
                (x1 - x0).max(1),
                colour(b),
                broker(b)
            );
        }
        for f in faults.iter().filter(|f| f.down_broker() == Some(b)) {
            let (x0, x1) = (x(f.from_ns, end_ns), x(f.to_ns, end_ns));
            let _ = write!(
                out,
                r#"<rect class="down" x="{x0}" y="{ly}" width="{}" height="12" fill="url(#down-hatch)" data-story="{}"/>"#,
                (x1 - x0).max(2),
                esc(&format!("{} down ({}) from {} to {}", broker(b), f.kind, secs(f.from_ns), secs(f.to_ns)))
            );
        }
    }
    out += "</svg>";
    out
}

/// Acknowledged records per bucket and send latency (mean and largest), faults shaded.
pub(crate) fn throughput_chart(buckets: &[Bucket], bucket_ns: u64, faults: &[FaultBand], end_ns: u64) -> String {
    let mut strip = String::new();
    let strip_h = fault_strip(&mut strip, faults, end_ns, 4);
    let (top, h) = (strip_h + 10, 100);
    let (ltop, lh) = (top + h + 30, 100);
    let height = ltop + lh + 20;
    let mut out = String::new();
    open(&mut out, "throughput", height, "throughput and latency");
    bands(&mut out, faults, end_ns, top, height);
    out += &strip;
    let at = |i: usize| i as u64 * bucket_ns;
    let per_s = |n: u64| n * 1_000_000_000 / bucket_ns;
    let acked: Vec<(u64, u64)> = buckets.iter().enumerate().map(|(i, b)| (at(i), per_s(b.acked))).collect();
    let max = acked.iter().map(|a| a.1).max().unwrap_or(1).max(1);
    let max = y_axis(&mut out, max, (top, h), &|v| short(v), "acked/s");
    step_line(
        &mut out,
        &acked,
        end_ns,
        max,
        (top, h),
        r##"stroke="#1f77b4" stroke-width="1.5""##,
        "records acknowledged per second",
    );
    time_axis(&mut out, end_ns, top + h);
    let mean: Vec<(u64, u64)> = buckets.iter().enumerate().map(|(i, b)| (at(i), b.latency_ms_mean)).collect();
    let worst: Vec<(u64, u64)> = buckets.iter().enumerate().map(|(i, b)| (at(i), b.latency_ms_max)).collect();
    let lmax = worst.iter().map(|a| a.1).max().unwrap_or(1).max(1);
    let lmax = y_axis(&mut out, lmax, (ltop, lh), &|v| format!("{} ms", short(v)), "latency");
    step_line(
        &mut out,
        &worst,
        end_ns,
        lmax,
        (ltop, lh),
        r##"stroke="#ff7f0e" stroke-width="1""##,
        "largest send latency (ms)",
    );
    step_line(
        &mut out,
        &mean,
        end_ns,
        lmax,
        (ltop, lh),
        r##"stroke="#2ca02c" stroke-width="1.5""##,
        "mean send latency (ms)",
    );
    time_axis(&mut out, end_ns, ltop + lh);
    out += "</svg>";
    out
}

/// Each broker's request pipeline over time, one colour per broker: handler
/// utilisation (top), the deepest request queue (middle) and the longest queue time
/// (bottom) per sample window; faults shaded.
pub(crate) fn broker_load_chart(lines: &[BrokerLoadLine], faults: &[FaultBand], end_ns: u64) -> String {
    /// One panel: its margin label, its lines' tooltip, their points, and how the
    /// panel's largest value reads on its scale.
    struct Panel {
        label: &'static str,
        title: &'static str,
        points_of: fn(&BrokerLoadLine) -> &[(u64, u64)],
        scale: fn(u64) -> String,
    }
    let panels = [
        Panel {
            label: "handlers busy",
            title: "handler utilisation (thousandths)",
            points_of: |l| &l.handler_busy,
            scale: |permille| {
                if permille % 10 == 0 {
                    format!("{}%", permille / 10)
                } else {
                    format!("{}.{}%", permille / 10, permille % 10)
                }
            },
        },
        Panel {
            label: "queue depth",
            title: "deepest request queue",
            points_of: |l| &l.queue_depth,
            scale: |depth| depth.to_string(),
        },
        Panel {
            label: "queue time",
            title: "longest queue time (µs)",
            points_of: |l| &l.queue_time_us,
            scale: |us| {
                if us < 1_000 {
                    format!("{us} µs")
                } else if us % 1_000 == 0 {
                    format!("{} ms", us / 1_000)
                } else {
                    format!("{:.1} ms", us as f64 / 1_000.0)
                }
            },
        },
    ];
    let h = 80;
    let mut strip = String::new();
    let strip_h = fault_strip(&mut strip, faults, end_ns, 4);
    let top_of = |i: u64| strip_h + 10 + i * (h + 30);
    let height = top_of(panels.len() as u64 - 1) + h + 20;
    let mut out = String::new();
    open(&mut out, "broker-load", height, "request pipeline load per broker");
    bands(&mut out, faults, end_ns, top_of(0), height);
    out += &strip;
    for (i, panel) in panels.iter().enumerate() {
        let top = top_of(i as u64);
        let max = lines.iter().flat_map(|l| (panel.points_of)(l).iter().map(|p| p.1)).max().unwrap_or(1).max(1);
        let max = y_axis(&mut out, max, (top, h), &panel.scale, panel.label);
        for line in lines {
            let style = format!(r#"stroke="{}" stroke-width="1.5""#, colour(line.broker));
            let title = format!("{}: {}", broker(line.broker), panel.title);
            step_line(&mut out, (panel.points_of)(line), end_ns, max, (top, h), &style, &title);
        }
        time_axis(&mut out, end_ns, top + h);
    }
    out += "</svg>";
    out
}

/// The colour of a mark in the log-order strip.
fn mark_colour(mark: Mark) -> &'static str {
    match mark {
        Mark::Fine => "#c7c7c7",
        Mark::Reordered => "#9467bd",
        Mark::Duplicated => "#ff7f0e",
        Mark::Lost => "#d62728",
    }
}

/// One partition's log as a strip of offsets: each pixel column shows the worst mark of
/// the offsets it covers (lost > duplicated > reordered > fine).
pub(crate) fn log_order_strip(order: &LogOrder) -> String {
    let end = order.marks.keys().next_back().map_or(1, |o| o + 1);
    let columns = PLOT.min(end).max(1);
    let mut worst = vec![None::<Mark>; columns as usize];
    for (&o, &m) in &order.marks {
        let c = (u128::from(o) * u128::from(columns) / u128::from(end)) as usize;
        worst[c] = Some(worst[c].map_or(m, |w| w.max(m)));
    }
    let width = PLOT / columns;
    let mut out = String::new();
    open(&mut out, &format!("log-{}", order.tp), 44, &format!("log order of {}", order.tp));
    margin_label(&mut out, 20, &esc(&order.tp));
    // Runs of equal columns, fine ones first; marked ones on top, at least 3 pixels wide
    // so that a single lost record stays visible among thousands.
    let mut runs: Vec<(usize, usize, Mark)> = Vec::new();
    let mut c = 0;
    while c < worst.len() {
        let mut run = c + 1;
        while run < worst.len() && worst[run] == worst[c] {
            run += 1;
        }
        if let Some(mark) = worst[c] {
            runs.push((c, run, mark));
        }
        c = run;
    }
    runs.sort_by_key(|r| (r.2, r.0));
    for (c, run, mark) in runs {
        let first = c as u64 * end / columns;
        let w = ((run - c) as u64 * width).max(if mark == Mark::Fine { 1 } else { 3 });
        let _ = write!(
            out,
            r#"<rect x="{}" y="6" width="{w}" height="20" fill="{}"><title>offsets from {first}: {:?}</title></rect>"#,
            LEFT + c as u64 * width,
            mark_colour(mark),
            mark
        );
    }
    let _ = write!(
        out,
        r##"<text x="{LEFT}" y="40" font-size="10" fill="#555">offset 0</text><text x="{}" y="40" font-size="10" text-anchor="end" fill="#555">{}</text></svg>"##,
        LEFT + columns * width,
        end - 1
    );
    out
}

/// The legend of the log-order strips.
pub(crate) fn log_order_legend(lang: Lang) -> String {
    [Mark::Fine, Mark::Reordered, Mark::Duplicated, Mark::Lost]
        .into_iter()
        .map(|m| {
            format!(
                r#"<span class="key" style="background:{}"></span>{}"#,
                mark_colour(m),
                match m {
                    Mark::Fine => lang.pick("in order", "顺序正确"),
                    Mark::Reordered =>
                        lang.pick("behind a record its producer sent later", "排在其生产者更晚发送的消息之后"),
                    Mark::Duplicated => lang.pick("at more than one offset", "出现在不止一个位移上"),
                    Mark::Lost => lang.pick("acknowledged at this offset, lost", "在这个位移上被确认，后来丢失"),
                }
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The window of the lag chart: each step is the largest lag of 100 ms.
const LAG_WINDOW_NS: u64 = 100_000_000;

/// One group's lag per partition over time, the largest of each 100 ms (one colour per
/// partition, legend below),
/// faults shaded; a red tick under the axis wherever retention deleted records the
/// group had not consumed.
pub(crate) fn lag_chart(group: &GroupLag, faults: &[FaultBand], end_ns: u64) -> String {
    const PARTITION_COLOURS: [&str; 8] =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];
    let mut strip = String::new();
    let strip_h = fault_strip(&mut strip, faults, end_ns, 4);
    let (top, h) = (strip_h + 10, 120);
    let legend_top = top + h + 30;
    let per_row = 6;
    let rows = group.partitions.len().div_ceil(per_row) as u64;
    let height = legend_top + 16 * rows + 6;
    let mut out = String::new();
    open(&mut out, &format!("lag-{}", group.group), height, &format!("consumer lag of group {}", group.group));
    bands(&mut out, faults, end_ns, top, height);
    out += &strip;
    let max = group.partitions.iter().filter_map(|p| p.peak()).map(|p| p.1).max().unwrap_or(1).max(1);
    let max = y_axis(&mut out, max, (top, h), &|v| short(v), "lag (records)");
    for (i, p) in group.partitions.iter().enumerate() {
        let colour = PARTITION_COLOURS[i % PARTITION_COLOURS.len()];
        let style = format!(r#"stroke="{colour}" stroke-width="1.5""#);
        let peaks = window_peaks(&p.points, LAG_WINDOW_NS, end_ns);
        step_line(&mut out, &peaks, end_ns, max, (top, h), &style, &format!("lag of {} (records)", p.tp));
        for &(t, records) in &p.deletions {
            let _ = write!(
                out,
                r##"<rect class="deleted" x="{}" y="{}" width="2" height="6" fill="#d62728"><title>{}: retention deleted {records} records {} had not read</title></rect>"##,
                x(t, end_ns),
                top + h + 1,
                secs(t),
                esc(&format!("of {} the group {}", p.tp, group.group))
            );
        }
        let (row, column) = ((i / per_row) as u64, (i % per_row) as u64);
        legend_entry(&mut out, (LEFT + column * (PLOT / per_row as u64), legend_top + 16 * row), colour, &p.tp);
    }
    time_axis(&mut out, end_ns, top + h);
    out += "</svg>";
    out
}

/// A legend entry at `(x, y)`: a short line in `colour`, then `text`.
pub(crate) fn legend_entry(out: &mut String, (x, y): (u64, u64), colour: &str, text: &str) {
    let _ = write!(
        out,
        r##"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}" font-size="11" fill="#333">{}</text>"##,
        x + 18,
        x + 24,
        y + 4,
        esc(text)
    );
}

/// Partitions in a few characters: `orders-0,3,5` for one topic, else each name.
fn partitions_text(keys: &[String]) -> String {
    let mut by_topic: Vec<(&str, Vec<&str>)> = Vec::new();
    for k in keys {
        let (topic, n) = k.rsplit_once('-').unwrap_or((k, ""));
        match by_topic.last_mut() {
            Some((t, ns)) if *t == topic => ns.push(n),
            _ => by_topic.push((topic, vec![n])),
        }
    }
    by_topic.iter().map(|(t, ns)| format!("{t}-{}", ns.join(","))).collect::<Vec<_>>().join(" ")
}

/// A member's name as its lane's label, short enough for the margin: a KIP-848 member
/// id (a UUID of the client's) is cut to its first characters (the spans' tooltips
/// give it whole).
fn lane_label(name: &str) -> String {
    if name.chars().count() <= 11 {
        name.to_string()
    } else {
        name.chars().take(8).collect::<String>() + "…"
    }
}

/// One consumer group over time: a lane per member showing the partitions it held (the
/// group checkers' ownership rule), a marker at each generation (member epoch under
/// KIP-848) with its number above, faults on top.
pub(crate) fn group_chart(group: &GroupLanes, faults: &[FaultBand], end_ns: u64) -> String {
    const LANE: u64 = 18;
    let mut strip = String::new();
    let strip_h = fault_strip(&mut strip, faults, end_ns, 4);
    // Generation numbers above the lanes, in rows so that they do not overlap.
    let labels: Vec<String> =
        group.generations.iter().map(|(_, l)| l.rsplit(' ').next().unwrap_or(l).to_string()).collect();
    let spans: Vec<(u64, u64, u64)> = group
        .generations
        .iter()
        .zip(&labels)
        .map(|((t, _), l)| {
            let px = x(*t, end_ns);
            (px, px, text_width(l))
        })
        .collect();
    let placed = rows(&spans);
    let label_rows = placed.iter().map(|p| p.0 + 1).max().unwrap_or(0);
    let gen_top = strip_h + 8;
    let lanes_top = gen_top + 11 * label_rows + 14;
    let height = lanes_top + LANE * group.members.len() as u64 + 24;
    let mut out = String::new();
    open(
        &mut out,
        &format!("group-{}", group.group),
        height,
        &format!("members and assignments of group {}", group.group),
    );
    bands(&mut out, faults, end_ns, lanes_top, height - 20);
    out += &strip;
    let title = group.generations.first().map_or("generation", |(_, l)| l.rsplit_once(' ').map_or("", |p| p.0));
    margin_label(&mut out, gen_top + 9, &esc(title));
    for (((t, label), short_label), &(row, _)) in group.generations.iter().zip(&labels).zip(&placed) {
        let px = x(*t, end_ns);
        let _ = write!(
            out,
            r##"<g class="generation" data-story="{}"><line x1="{px}" y1="{}" x2="{px}" y2="{}" stroke="#555" stroke-dasharray="2 2"/><text x="{}" y="{}" font-size="9" fill="#333">{}</text></g>"##,
            esc(&format!("{}: {label} of {} formed", secs(*t), group.group)),
            gen_top + 11 * row + 10,
            height - 20,
            px + 1,
            gen_top + 11 * row + 9,
            esc(short_label)
        );
    }
    const SPAN_COLOURS: [&str; 2] = ["#1f77b4", "#6baed6"];
    for (i, member) in group.members.iter().enumerate() {
        let ly = lanes_top + LANE * i as u64;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="#eee"/><text x="4" y="{}" font-size="10" fill="#333">{}</text>"##,
            ly + LANE - 1,
            LEFT + PLOT,
            ly + LANE - 1,
            ly + 12,
            esc(&lane_label(&member.name))
        );
        for (j, (from, to, keys, label)) in member.spans.iter().enumerate() {
            let (x0, x1) = (x(*from, end_ns), x(*to, end_ns));
            let text = partitions_text(keys);
            let story = format!("{} held {text} from {} to {} ({label})", member.name, secs(*from), secs(*to));
            let _ = write!(
                out,
                r##"<g class="holding" data-story="{}"><rect x="{x0}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.8"/>"##,
                esc(&story),
                ly + 2,
                (x1 - x0).max(1),
                LANE - 5,
                SPAN_COLOURS[j % 2]
            );
            let count = format!("{}", keys.len());
            let shown = if text_width(&text) + 4 <= x1 - x0 {
                text
            } else if text_width(&count) + 2 <= x1 - x0 {
                count
            } else {
                String::new()
            };
            if !shown.is_empty() {
                let _ = write!(
                    out,
                    r##"<text x="{}" y="{}" font-size="9" fill="#fff">{}</text>"##,
                    x0 + 2,
                    ly + 12,
                    esc(&shown)
                );
            }
            out += "</g>";
        }
    }
    time_axis(&mut out, end_ns, height - 20);
    out += "</svg>";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_spans_and_their_labels_go_in_separate_rows() {
        // Two spans overlapping; a third after the first.
        let placed = rows(&[(100, 300, 50), (150, 200, 50), (310, 400, 80)]);
        assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1, 0]);
        // A short span with a long label: the next span, clear of the span but not of
        // its label, goes below; one clear of the label too shares the row.
        let placed = rows(&[(100, 110, 120), (150, 160, 20), (230, 240, 20)]);
        assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1, 0]);
        // A label that would run off the right edge starts early enough to fit.
        let (_, lx) = rows(&[(880, 890, 60)])[0];
        assert!(lx + 60 <= WIDTH, "{lx}");
    }

    #[test]
    fn y_axes_tick_round_values_up_to_a_whole_step_above_the_largest() {
        let mut out = String::new();
        let top = y_axis(&mut out, 9_100, (10, 100), &|v| short(v), "offset");
        assert_eq!(top, 10_000);
        for label in [">0<", ">2000<", ">4000<", ">8000<", ">10k<", ">offset<"] {
            assert!(out.contains(label), "{label} in {out}");
        }
        assert_eq!(nice_step(3), 1);
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(240), 50);
    }
}
