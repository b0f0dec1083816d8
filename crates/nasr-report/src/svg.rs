//! Inline SVG charts: line charts (one series per line, a mark per point), scatter plots and
//! their axes, written as text. Every data point is one `<circle class="mark">` (or `<rect
//! class="mark">` in a strip), so that a reader of the page, or a test of the rendered DOM,
//! can count what a chart holds.

use std::fmt::Write;

use crate::html::escape;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
/// The room on the right a legend takes.
const LEGEND: f64 = 170.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// Ten distinguishable colours (matplotlib's tab10), for series in order.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// One line of a chart: its name (the legend) and its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// A line chart: several series over shared axes, with a mark at each point.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Draw the lines as steps (a best-so-far curve holds until the next improvement).
    pub steps: bool,
}

/// One point of a scatter plot, with a tooltip.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// Tooltip (the architecture, say).
    pub title: String,
    /// Drawn larger and in the second colour (the pick, the front).
    pub highlight: bool,
}

/// A scatter plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterChart {
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// The points.
    pub points: Vec<ScatterPoint>,
    /// Draw the y = x diagonal (predicted against measured).
    pub diagonal: bool,
}

/// A linear map from data to pixels on one axis.
#[derive(Debug, Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
    /// Every value is a whole number (epochs, trials): ticks are whole too.
    whole: bool,
}

impl Axis {
    fn new(values: impl Iterator<Item = f64>, from: f64, to: f64) -> Self {
        let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        let whole = !values.is_empty() && values.iter().all(|v| v.fract() == 0.0);
        let (mut lo, mut hi) = values
            .iter()
            .copied()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-12 {
            let pad = if lo.abs() > 1e-12 {
                lo.abs() * 0.05
            } else {
                0.5
            };
            (lo, hi) = (lo - pad, hi + pad);
        }
        let pad = (hi - lo) * 0.04;
        Self {
            lo: lo - pad,
            hi: hi + pad,
            from,
            to,
            whole,
        }
    }

    fn map(&self, v: f64) -> f64 {
        self.from + (v - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }

    /// About five round tick values inside the range.
    fn ticks(&self) -> Vec<f64> {
        let span = self.hi - self.lo;
        let raw = span / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| span / s <= 6.0)
            .unwrap_or(magnitude * 10.0);
        let step = if self.whole {
            step.max(1.0).round()
        } else {
            step
        };
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(|i| i as f64 * step).collect()
    }
}

/// A number as a tick label: short, no trailing zeros.
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.1e}");
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

fn open_svg(out: &mut String, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{}">"#,
        escape(label)
    );
}

/// The frame, grid, ticks and axis labels.
fn axes(out: &mut String, x: &Axis, y: &Axis, x_label: &str, y_label: &str) {
    let (x0, x1, y0, y1) = (LEFT, x.to, HEIGHT - BOTTOM, TOP);
    let _ = write!(
        out,
        r##"<rect x="{x0}" y="{y1}" width="{}" height="{}" fill="#fff" stroke="#999"/>"##,
        x1 - x0,
        y0 - y1
    );
    for t in x.ticks() {
        let px = x.map(t);
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" y1="{y0}" x2="{px:.1}" y2="{y1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            y0 + 16.0,
            format_number(t)
        );
    }
    for t in y.ticks() {
        let py = y.map(t);
        let _ = write!(
            out,
            r##"<line x1="{x0}" y1="{py:.1}" x2="{x1}" y2="{py:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            x0 - 6.0,
            py + 4.0,
            format_number(t)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
        (x0 + x1) / 2.0,
        HEIGHT - 6.0,
        escape(x_label)
    );
    let _ = write!(
        out,
        r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"#,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

fn x_axis(values: impl Iterator<Item = f64>) -> Axis {
    Axis::new(values, LEFT, WIDTH - RIGHT)
}

/// The x axis of a chart with a legend on its right.
fn x_axis_beside_legend(values: impl Iterator<Item = f64>) -> Axis {
    Axis::new(values, LEFT, WIDTH - RIGHT - LEGEND)
}

fn y_axis(values: impl Iterator<Item = f64>) -> Axis {
    Axis::new(values, HEIGHT - BOTTOM, TOP)
}

impl LineChart {
    /// The number of marks the chart draws: one per point of every series.
    pub fn marks(&self) -> usize {
        self.series.iter().map(|s| s.points.len()).sum()
    }

    /// The chart as an `<svg>` element, with a legend where there are several series.
    pub fn to_svg(&self) -> String {
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let with_legend = self.series.len() > 1;
        let x = if with_legend {
            x_axis_beside_legend(points().map(|p| p.0))
        } else {
            x_axis(points().map(|p| p.0))
        };
        let y = y_axis(points().map(|p| p.1));
        let mut out = String::new();
        open_svg(
            &mut out,
            &format!("{} against {}", self.y_label, self.x_label),
        );
        axes(&mut out, &x, &y, &self.x_label, &self.y_label);
        for (index, series) in self.series.iter().enumerate() {
            let colour = PALETTE[index % PALETTE.len()];
            let path = self.path(series, &x, &y);
            let _ = write!(
                out,
                r#"<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8"/>"#
            );
            for &(px, py) in &series.points {
                let _ = write!(
                    out,
                    r#"<circle class="mark" cx="{:.1}" cy="{:.1}" r="2.6" fill="{colour}"><title>{}: {}, {}</title></circle>"#,
                    x.map(px),
                    y.map(py),
                    escape(&series.name),
                    format_number(px),
                    format_number(py)
                );
            }
        }
        if with_legend {
            legend(&mut out, self.series.iter().map(|s| s.name.as_str()));
        }
        out.push_str("</svg>");
        out
    }

    fn path(&self, series: &Series, x: &Axis, y: &Axis) -> String {
        let mut path = String::new();
        let mut previous: Option<(f64, f64)> = None;
        for &(px, py) in &series.points {
            let (sx, sy) = (x.map(px), y.map(py));
            if let (true, Some((_, last_y))) = (self.steps, previous) {
                let _ = write!(path, "{sx:.1},{last_y:.1} ");
            }
            let _ = write!(path, "{sx:.1},{sy:.1} ");
            previous = Some((sx, sy));
        }
        path
    }
}

/// The series' names on the right of the plot, as many as fit (then "and N more").
fn legend<'a>(out: &mut String, names: impl Iterator<Item = &'a str>) {
    let names: Vec<&str> = names.collect();
    let fit = ((HEIGHT - TOP - BOTTOM) / 14.0) as usize;
    let x = WIDTH - RIGHT - LEGEND + 12.0;
    for (index, name) in names.iter().enumerate().take(fit) {
        let colour = PALETTE[index % PALETTE.len()];
        let y = TOP + 10.0 + 14.0 * index as f64;
        let shown = if index + 1 == fit && names.len() > fit {
            format!("and {} more", names.len() - index)
        } else {
            name.to_string()
        };
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{y:.1}" class="legend">{}</text>"#,
            y - 9.0,
            x + 14.0,
            escape(&shown)
        );
    }
}

impl ScatterChart {
    /// The number of marks: one per point.
    pub fn marks(&self) -> usize {
        self.points.len()
    }

    /// The chart as an `<svg>` element.
    pub fn to_svg(&self) -> String {
        let both = || self.points.iter().flat_map(|p| [p.x, p.y]);
        let (x, y) = if self.diagonal {
            (x_axis(both()), y_axis(both()))
        } else {
            (
                x_axis(self.points.iter().map(|p| p.x)),
                y_axis(self.points.iter().map(|p| p.y)),
            )
        };
        let mut out = String::new();
        open_svg(
            &mut out,
            &format!("{} against {}", self.y_label, self.x_label),
        );
        axes(&mut out, &x, &y, &self.x_label, &self.y_label);
        if self.diagonal {
            let (lo, hi) = (x.lo.max(y.lo), x.hi.min(y.hi));
            let _ = write!(
                out,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888" stroke-dasharray="4 3"/>"##,
                x.map(lo),
                y.map(lo),
                x.map(hi),
                y.map(hi)
            );
        }
        // Highlighted points last, so they are drawn on top.
        let order = self
            .points
            .iter()
            .filter(|p| !p.highlight)
            .chain(self.points.iter().filter(|p| p.highlight));
        for point in order {
            let (r, colour) = if point.highlight {
                (4.5, PALETTE[3])
            } else {
                (3.0, PALETTE[0])
            };
            let _ = write!(
                out,
                r#"<circle class="mark" cx="{:.1}" cy="{:.1}" r="{r}" fill="{colour}" fill-opacity="0.75"><title>{}: {}, {}</title></circle>"#,
                x.map(point.x),
                y.map(point.y),
                escape(&point.title),
                format_number(point.x),
                format_number(point.y)
            );
        }
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_draws_one_mark_per_point() {
        let chart = LineChart {
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: vec![
                Series {
                    name: "train".into(),
                    points: vec![(1.0, 2.0), (2.0, 1.5), (3.0, 1.0)],
                },
                Series {
                    name: "valid <b>".into(),
                    points: vec![(1.0, 2.5), (2.0, 2.0)],
                },
            ],
            steps: true,
        };
        let svg = chart.to_svg();
        assert_eq!(chart.marks(), 5);
        assert_eq!(svg.matches(r#"class="mark""#).count(), 5);
        assert!(svg.contains("valid &lt;b&gt;"), "names are escaped");
    }

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        let axis = Axis::new([0.13, 0.92].into_iter(), 0.0, 100.0);
        let ticks = axis.ticks();
        assert!(ticks.len() >= 3, "{ticks:?}");
        assert!(ticks.iter().all(|t| *t >= axis.lo && *t <= axis.hi));
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(3.0), "3");
    }

    #[test]
    fn a_flat_or_empty_series_still_has_a_range() {
        let axis = Axis::new([5.0, 5.0].into_iter(), 0.0, 100.0);
        assert!(axis.hi > axis.lo);
        let empty = Axis::new(std::iter::empty(), 0.0, 100.0);
        assert!(empty.hi > empty.lo);
    }
}
