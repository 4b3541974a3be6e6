//! Hand-written SVG charts over simulated time: step lines, fault bands, election
//! markers, lanes and the log-order strip. Coordinates are integers, so the same run
//! always gives the same bytes.

use super::lag::{window_peaks, GroupLag};
use super::timeline::{BrokerLoadLine, Bucket, FaultBand, LogOrder, Mark, PartitionTimeline};
use crate::check::describe::{broker, secs};
use std::fmt::Write;

/// Chart width in pixels, and the plot's left margin.
const WIDTH: u64 = 900;
const LEFT: u64 = 60;
const PLOT: u64 = WIDTH - LEFT - 10;
/// One colour per broker (cycled).
const COLOURS: [&str; 6] = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

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

fn open(out: &mut String, id: &str, height: u64, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}">"#,
        esc(label)
    );
}

/// Shaded fault bands over the whole height, with the fault as tooltip.
fn bands(out: &mut String, bands: &[FaultBand], end_ns: u64, height: u64) {
    for b in bands {
        let (x0, x1) = (x(b.from_ns, end_ns), x(b.to_ns, end_ns));
        let _ = write!(
            out,
            r##"<rect class="fault" x="{x0}" y="0" width="{}" height="{height}" fill="#d62728" fill-opacity="0.12"><title>{}</title></rect>"##,
            (x1 - x0).max(2),
            esc(&b.label)
        );
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
            r##"<text x="{px}" y="{}" font-size="10" text-anchor="middle" fill="#555">{s} s</text>"##,
            base + 12
        );
    }
}

/// A step line through `(time, value)` points, at most one vertex pair per pixel column.
/// A small grey label in the left margin, its baseline at `y`; `text` is already escaped.
fn margin_label(out: &mut String, y: u64, text: &str) {
    let _ = write!(out, r##"<text x="4" y="{y}" font-size="10" fill="#555">{text}</text>"##);
}

fn step_line(
    out: &mut String,
    points: &[(u64, u64)],
    end_ns: u64,
    max: u64,
    (top, h): (u64, u64),
    style: &str,
    title: &str,
) {
    if points.is_empty() {
        return;
    }
    let mut d = String::new();
    let mut last: Option<(u64, u64)> = None;
    for &(t, v) in points {
        let (px, py) = (x(t, end_ns), y(v, max, top, h));
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
    let _ = write!(d, "H{}", LEFT + PLOT);
    let _ = write!(out, r#"<path d="{d}" fill="none" {style}><title>{}</title></path>"#, esc(title));
}

/// The timeline of one partition: the high watermark and every replica's log end over
/// time, fault bands, election markers, and one lane per broker showing leadership
/// (dark) and ISR membership (light).
pub(crate) fn partition_timeline(p: &PartitionTimeline, faults: &[FaultBand], end_ns: u64) -> String {
    let brokers: Vec<u32> = p
        .log_end
        .keys()
        .copied()
        .chain(p.leadership.iter().flat_map(|l| l.2.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (top, h) = (10, 140);
    let lanes_top = top + h + 24;
    let height = lanes_top + 16 * brokers.len() as u64 + 10;
    let mut out = String::new();
    open(&mut out, &format!("timeline-{}", p.tp), height, &format!("timeline of {}", p.tp));
    bands(&mut out, faults, end_ns, height);
    let max = p.log_end.values().flatten().map(|v| v.1).chain(p.high_watermark.iter().map(|v| v.1)).max().unwrap_or(1);
    margin_label(&mut out, top + 8, "offset");
    margin_label(&mut out, top + 20, &max.to_string());
    margin_label(&mut out, top + h, "0");
    for (b, points) in &p.log_end {
        let style = format!(r#"stroke="{}" stroke-width="1" stroke-dasharray="4 2""#, colour(*b));
        step_line(&mut out, points, end_ns, max, (top, h), &style, &format!("log end offset of {}", broker(*b)));
    }
    step_line(
        &mut out,
        &p.high_watermark,
        end_ns,
        max,
        (top, h),
        r##"stroke="#000" stroke-width="2""##,
        "high watermark (leader)",
    );
    time_axis(&mut out, end_ns, top + h);
    for &(t, leader, unclean) in &p.elections {
        let px = x(t, end_ns);
        let (stroke, what) = if unclean { ("#d62728", "unclean election") } else { ("#ff7f0e", "election") };
        let who = leader.map_or("no leader".to_string(), broker);
        let _ = write!(
            out,
            r#"<line class="election" x1="{px}" y1="{top}" x2="{px}" y2="{}" stroke="{stroke}" stroke-width="2"><title>{what}: {who}</title></line>"#,
            height - 4
        );
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
    }
    out += "</svg>";
    out
}

/// Acknowledged records per bucket and send latency (mean and largest), faults shaded.
pub(crate) fn throughput_chart(buckets: &[Bucket], bucket_ns: u64, faults: &[FaultBand], end_ns: u64) -> String {
    let (top, h) = (10, 100);
    let (ltop, lh) = (top + h + 30, 100);
    let height = ltop + lh + 20;
    let mut out = String::new();
    open(&mut out, "throughput", height, "throughput and latency");
    bands(&mut out, faults, end_ns, height);
    let at = |i: usize| i as u64 * bucket_ns;
    let acked: Vec<(u64, u64)> = buckets.iter().enumerate().map(|(i, b)| (at(i), b.acked)).collect();
    let max = acked.iter().map(|a| a.1).max().unwrap_or(1).max(1);
    let per_s = max * 1_000_000_000 / bucket_ns;
    margin_label(&mut out, top + 10, &format!("{per_s}/s"));
    margin_label(&mut out, top + 24, "acked");
    step_line(
        &mut out,
        &acked,
        end_ns,
        max,
        (top, h),
        r##"stroke="#1f77b4" stroke-width="1.5""##,
        "records acknowledged per bucket",
    );
    time_axis(&mut out, end_ns, top + h);
    let mean: Vec<(u64, u64)> = buckets.iter().enumerate().map(|(i, b)| (at(i), b.latency_ms_mean)).collect();
    let worst: Vec<(u64, u64)> = buckets.iter().enumerate().map(|(i, b)| (at(i), b.latency_ms_max)).collect();
    let lmax = worst.iter().map(|a| a.1).max().unwrap_or(1).max(1);
    margin_label(&mut out, ltop + 10, &format!("{lmax} ms"));
    margin_label(&mut out, ltop + 24, "latency");
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
            scale: |permille| format!("{}%", permille.div_ceil(10)),
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
            scale: |us| if us < 1_000 { format!("{us} µs") } else { format!("{} ms", us.div_ceil(1_000)) },
        },
    ];
    let h = 80;
    let top_of = |i: u64| 10 + i * (h + 30);
    let height = top_of(panels.len() as u64 - 1) + h + 20;
    let mut out = String::new();
    open(&mut out, "broker-load", height, "request pipeline load per broker");
    bands(&mut out, faults, end_ns, height);
    for (i, panel) in panels.iter().enumerate() {
        let top = top_of(i as u64);
        let max = lines.iter().flat_map(|l| (panel.points_of)(l).iter().map(|p| p.1)).max().unwrap_or(1).max(1);
        margin_label(&mut out, top + 10, &esc(&(panel.scale)(max)));
        margin_label(&mut out, top + 24, panel.label);
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
pub(crate) fn log_order_legend() -> String {
    [Mark::Fine, Mark::Reordered, Mark::Duplicated, Mark::Lost]
        .into_iter()
        .map(|m| {
            format!(
                r#"<span class="key" style="background:{}"></span>{}"#,
                mark_colour(m),
                match m {
                    Mark::Fine => "in order",
                    Mark::Reordered => "behind a record its producer sent later",
                    Mark::Duplicated => "at more than one offset",
                    Mark::Lost => "acknowledged at this offset, lost",
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
    let (top, h) = (10, 120);
    let legend_top = top + h + 30;
    let per_row = 6;
    let rows = group.partitions.len().div_ceil(per_row) as u64;
    let height = legend_top + 16 * rows + 6;
    let mut out = String::new();
    open(&mut out, &format!("lag-{}", group.group), height, &format!("consumer lag of group {}", group.group));
    bands(&mut out, faults, end_ns, height);
    let max = group.partitions.iter().filter_map(|p| p.peak()).map(|p| p.1).max().unwrap_or(1).max(1);
    margin_label(&mut out, top + 8, "lag");
    margin_label(&mut out, top + 20, &max.to_string());
    margin_label(&mut out, top + h, "0");
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
