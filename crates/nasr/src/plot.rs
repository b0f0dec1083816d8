//! SVG charts (plotters).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use nasr_methods::darts::AlphaRecord;
use nasr_search::bench::BenchResult;
use nasr_space::darts::DARTS_OPS;
use nasr_space::nb201::{NB201_EDGES, NB201_OPS};
use plotters::prelude::*;

/// Flags of `nasr plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// What to draw.
    #[command(subcommand)]
    pub what: PlotCommand,
}

/// The charts `nasr plot` draws.
#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    /// softmax(alpha) of every edge against epochs, from a DARTS run's alphas.jsonl.
    Alphas {
        /// The DARTS run folder.
        run: PathBuf,
        /// Where to write the SVG (default: RUN/alphas.svg).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// `nasr plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    match args.what {
        PlotCommand::Alphas { run, out } => {
            let path = run.join("alphas.jsonl");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading {} (is {} a DARTS run?)",
                    path.display(),
                    run.display()
                )
            })?;
            let records = text
                .lines()
                .enumerate()
                .map(|(i, line)| {
                    serde_json::from_str::<AlphaRecord>(line)
                        .with_context(|| format!("{} line {}", path.display(), i + 1))
                })
                .collect::<Result<Vec<_>>>()?;
            if records.is_empty() {
                anyhow::bail!("{} holds no epochs yet", path.display());
            }
            let out = out.unwrap_or_else(|| run.join("alphas.svg"));
            alphas(&records, &out)?;
            println!("wrote {}", out.display());
            Ok(())
        }
    }
}

/// The op weights against epochs: one panel per edge, one line per op. The space is told by
/// the shape of the weights: 6 x 5 is NB201, 28 x 8 the DARTS space (normal cell, then reduce).
pub fn alphas(records: &[AlphaRecord], path: &Path) -> Result<()> {
    let error = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let first = &records[0].weights;
    let AlphaLayout {
        ops,
        panels,
        grid,
        size,
    } = AlphaLayout::of(first.len(), first[0].len())?;
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let root = root
        .titled("DARTS: op weights per edge", ("sans-serif", 22))
        .map_err(|e| error(&e))?;
    let epochs = records.len() as f64;
    let start = records[0].weights[0].iter().sum::<f64>() / ops.len() as f64;
    for ((edge, title), panel) in panels
        .iter()
        .enumerate()
        .zip(root.split_evenly(grid).iter())
    {
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..epochs.max(1.0), 0f64..1f64)
            .map_err(|e| error(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels((records.len() + 1).min(11))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| error(&e))?;
        for (op, name) in ops.iter().enumerate() {
            let color = COLORS[op % COLORS.len()];
            // Epoch 0 is the near-uniform start.
            let points: Vec<(f64, f64)> = std::iter::once((0.0, start))
                .chain(
                    records
                        .iter()
                        .map(|r| (r.epoch as f64, r.weights[edge][op])),
                )
                .collect();
            let style = color.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(|e| error(&e))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        if edge == 0 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 11))
                .draw()
                .map_err(|e| error(&e))?;
        }
    }
    root.present().map_err(|e| error(&e))?;
    Ok(())
}

/// The panels of an alphas chart, by the shape of the weights.
struct AlphaLayout {
    ops: &'static [&'static str],
    panels: Vec<String>,
    grid: (usize, usize),
    size: (u32, u32),
}

impl AlphaLayout {
    fn of(rows: usize, columns: usize) -> Result<Self> {
        match (rows, columns) {
            (6, 5) => Ok(Self {
                ops: &NB201_OPS,
                panels: NB201_EDGES
                    .iter()
                    .map(|(to, from)| format!("edge {from} -> {to}"))
                    .collect(),
                grid: (2, 3),
                size: (1200, 700),
            }),
            (28, 8) => Ok(Self {
                ops: &DARTS_OPS,
                panels: darts_edge_names(),
                grid: (4, 7),
                size: (2100, 1200),
            }),
            _ => anyhow::bail!(
                "alphas.jsonl holds {rows} x {columns} weights: not NB201 (6 x 5) or DARTS (28 x 8)"
            ),
        }
    }
}

/// "normal: node 2 <- 0", ... for the 14 edges of each DARTS cell.
fn darts_edge_names() -> Vec<String> {
    ["normal", "reduce"]
        .iter()
        .flat_map(|cell| {
            (0..4).flat_map(move |node| {
                (0..node + 2).map(move |input| format!("{cell}: node {} <- {input}", node + 2))
            })
        })
        .collect()
}

/// Mean best-so-far accuracy against queries, one line per strategy, with a +-1 standard
/// deviation band, and the table's optimum as a dashed reference.
pub fn best_so_far(results: &[BenchResult], optimum: f64, title: &str, path: &Path) -> Result<()> {
    let curves: Vec<Vec<(f64, f64)>> = results.iter().map(BenchResult::curve_mean_std).collect();
    let queries = curves.iter().map(Vec::len).max().unwrap_or(0);
    let low = curves
        .iter()
        .flat_map(|c| c.iter().skip(queries / 10).map(|(m, s)| m - s))
        .filter(|v| v.is_finite())
        .fold(optimum, f64::min);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    let error = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1f64..queries.max(2) as f64, (low - 0.2)..(optimum + 0.2))
        .map_err(|e| error(&e))?;
    chart
        .configure_mesh()
        .x_desc("queries")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("best test accuracy so far (%)")
        .draw()
        .map_err(|e| error(&e))?;
    for (index, (result, curve)) in results.iter().zip(&curves).enumerate() {
        let color = COLORS[index % COLORS.len()];
        let points: Vec<(f64, f64, f64)> = curve
            .iter()
            .enumerate()
            .filter(|(_, (m, _))| m.is_finite())
            .map(|(q, (m, s))| ((q + 1) as f64, *m, *s))
            .collect();
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|(q, m, s)| (*q, m + s))
            .chain(points.iter().rev().map(|(q, m, s)| (*q, m - s)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                color.mix(0.15).filled(),
            )))
            .map_err(|e| error(&e))?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(q, m, _)| (*q, *m)),
                color.stroke_width(2),
            ))
            .map_err(|e| error(&e))?
            .label(result.strategy.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(DashedLineSeries::new(
            [(1.0, optimum), (queries.max(2) as f64, optimum)],
            6,
            4,
            BLACK.stroke_width(1),
        ))
        .map_err(|e| error(&e))?
        .label(format!("table optimum {optimum:.2}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))?;
    Ok(())
}

/// Accuracy against multiply-adds (millions) of a Pareto front, as points joined in FLOP order.
pub fn pareto(points: &[(f64, f64)], title: &str, path: &Path) -> Result<()> {
    let error = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let (x_max, (y_min, y_max)) = points
        .iter()
        .fold((0.0f64, (1.0f64, 0.0f64)), |(x, (lo, hi)), (px, py)| {
            (x.max(*px), (lo.min(*py), hi.max(*py)))
        });
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            0f64..(x_max * 1.1).max(1e-3),
            (y_min - 0.02).max(0.0)..(y_max + 0.02).min(1.0),
        )
        .map_err(|e| error(&e))?;
    chart
        .configure_mesh()
        .x_desc("multiply-adds (millions)")
        .y_desc("supernet validation accuracy")
        .draw()
        .map_err(|e| error(&e))?;
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    chart
        .draw_series(LineSeries::new(
            sorted.iter().copied(),
            COLORS[0].stroke_width(1),
        ))
        .map_err(|e| error(&e))?;
    chart
        .draw_series(
            sorted
                .iter()
                .map(|&p| Circle::new(p, 4, COLORS[0].filled())),
        )
        .map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))?;
    Ok(())
}
