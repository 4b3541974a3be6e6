//! The experiment plot: panels of lines over one varied setting's values, evenly spaced
//! along x in the order given (`1, 2, 4, ... 256` reads as a log scale). Hand-written
//! SVG with integer coordinates, so the same figures always give the same bytes.

use super::svg::{esc, legend_entry};
use std::fmt::Write;

/// Plot width in pixels, the left margin (for the scale) and the right one (legend).
const WIDTH: u64 = 900;
const LEFT: u64 = 70;
const RIGHT: u64 = 190;
/// One panel's plot height, and the space above it for its title.
const PANEL_HEIGHT: u64 = 130;
const PANEL_TITLE: u64 = 44;
/// Series colours (cycled).
const COLOURS: [&str; 6] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/// One line of a panel: its legend name and a value per x position (`None`: no point).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend text.
    pub name: String,
    /// The values, one per x position.
    pub values: Vec<Option<f64>>,
}

/// One panel: a title naming the quantity and its unit, and its lines on one scale
/// from 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The title, with the unit: `acknowledged records/s`.
    pub title: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// A number as a scale label: `12.5k`, `310`, `0.42`.
fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The plot: `panels` stacked, sharing the x axis of `x_labels` (named `x_key`).
pub fn line_plot(x_key: &str, x_labels: &[String], panels: &[Panel]) -> String {
    let plot_width = WIDTH - LEFT - RIGHT;
    let height = panels.len() as u64 * (PANEL_HEIGHT + PANEL_TITLE) + 40;
    let columns = x_labels.len().max(1) as u64;
    let x = |i: usize| LEFT + (2 * i as u64 + 1) * plot_width / (2 * columns);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}">"#,
        esc(&format!("experiment over {x_key}"))
    );
    out += r##"<rect width="100%" height="100%" fill="#fff"/>"##;
    for (p, panel) in panels.iter().enumerate() {
        let top = p as u64 * (PANEL_HEIGHT + PANEL_TITLE) + PANEL_TITLE;
        let base = top + PANEL_HEIGHT;
        let max = panel.series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |m, v| m.max(*v));
        let max = if max > 0.0 { max * 1.1 } else { 1.0 };
        let y = |v: f64| base - ((v / max).clamp(0.0, 1.0) * PANEL_HEIGHT as f64).round() as u64;
        let _ = write!(
            out,
            r##"<text x="{LEFT}" y="{}" font-size="12" font-weight="bold" fill="#333">{}</text>"##,
            top - 8,
            esc(&panel.title)
        );
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{base}" x2="{}" y2="{base}" stroke="#888"/><line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{base}" stroke="#888"/>"##,
            LEFT + plot_width
        );
        for fraction in [0.5, 1.0] {
            let v = max / 1.1 * fraction;
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" y1="{py}" x2="{}" y2="{py}" stroke="#eee"/><text x="{}" y="{}" font-size="10" text-anchor="end" fill="#555">{}</text>"##,
                LEFT + plot_width,
                LEFT - 4,
                y(v) + 3,
                short(v),
                py = y(v)
            );
        }
        for (s, series) in panel.series.iter().enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let points: Vec<String> =
                series.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| format!("{},{}", x(i), y(v)))).collect();
            let _ = write!(
                out,
                r##"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"##,
                points.join(" "),
                esc(&series.name)
            );
            for (i, v) in series.values.iter().enumerate() {
                if let Some(v) = v {
                    let _ = write!(
                        out,
                        r##"<circle cx="{}" cy="{}" r="3" fill="{colour}"><title>{} = {}: {}</title></circle>"##,
                        x(i),
                        y(*v),
                        esc(x_key),
                        esc(&x_labels[i]),
                        short(*v)
                    );
                }
            }
            legend_entry(&mut out, (LEFT + plot_width + 12, top + 14 + s as u64 * 16), colour, &series.name);
        }
        for (i, label) in x_labels.iter().enumerate() {
            let _ = write!(
                out,
                r##"<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
                x(i),
                base + 12,
                esc(label)
            );
        }
    }
    let _ = write!(
        out,
        r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#333">{}</text>"##,
        LEFT + plot_width / 2,
        height - 6,
        esc(x_key)
    );
    out += "</svg>";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_is_a_point_and_a_missing_one_is_skipped() {
        let panel = Panel {
            title: "acknowledged records/s".into(),
            series: vec![Series { name: "acked".into(), values: vec![Some(100.0), None, Some(400.0)] }],
        };
        let svg = line_plot("partitions", &["1".into(), "4".into(), "16".into()], &[panel]);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("<title>partitions = 16: 400</title>"), "{svg}");
        assert!(svg.contains(">acknowledged records/s</text>"));
        // The largest value sits below the panel's top, 10% headroom; 0 is the base.
        let points = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        let ys: Vec<u64> = points.split(' ').map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
        assert!(ys[1] < ys[0], "400 is drawn above 100: {points}");
        assert_eq!(short(12_400.0), "12k");
        assert_eq!(short(1_240.0), "1.2k");
        assert_eq!(short(0.424), "0.42");
    }
}
