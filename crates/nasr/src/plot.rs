//! SVG charts (plotters).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use nasr_methods::darts::AlphaRecord;
use nasr_methods::proxyless::{ProxylessConfig, ProxylessEpoch};
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
    /// softmax(alpha) of every edge (DARTS) or layer (ProxylessNAS) against epochs, from a
    /// run's alphas.jsonl.
    Alphas {
        /// The DARTS or ProxylessNAS run folder.
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
                    "reading {} (is {} a DARTS or ProxylessNAS run?)",
                    path.display(),
                    run.display()
                )
            })?;
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty())
                .collect();
            let Some(&(_, first)) = lines.first() else {
                anyhow::bail!("{} holds no epochs yet", path.display());
            };
            let parse = |(i, line): &(usize, &str)| -> Result<serde_json::Value> {
                serde_json::from_str(line)
                    .with_context(|| format!("{} line {}", path.display(), i + 1))
            };
            let chart = if parse(&(0, first))?.get("probabilities").is_some() {
                let records = lines
                    .iter()
                    .map(|l| Ok(serde_json::from_value::<ProxylessEpoch>(parse(l)?)?))
                    .collect::<Result<Vec<_>>>()
                    .with_context(|| format!("reading {}", path.display()))?;
                AlphaChart::proxyless(&records, &layer_options(&run)?)?
            } else {
                let records = lines
                    .iter()
                    .map(|l| Ok(serde_json::from_value::<AlphaRecord>(parse(l)?)?))
                    .collect::<Result<Vec<_>>>()
                    .with_context(|| format!("reading {}", path.display()))?;
                AlphaChart::darts(&records)?
            };
            let out = out.unwrap_or_else(|| run.join("alphas.svg"));
            alphas(&chart, &out)?;
            println!("wrote {}", out.display());
            Ok(())
        }
    }
}

/// The option names of every layer of a ProxylessNAS run's space, from its `config.toml`.
fn layer_options(run: &Path) -> Result<Vec<Vec<String>>> {
    use nasr_space::Space;
    let path = run.join("config.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (the run's space)", path.display()))?;
    let config: ProxylessConfig = toml::from_str(&text)
        .with_context(|| format!("{}: not a ProxylessNAS config", path.display()))?;
    let space = nasr_space::MobileNetSpace::new(config.space.mobilenet("proxyless")?.clone())?;
    Ok(space
        .decisions()
        .iter()
        .map(|d| d.options.clone())
        .collect())
}

/// What an alphas chart draws: a title, one panel per edge or layer (its title and its
/// options' names), and each epoch's weights (rows by panel, columns by option).
pub struct AlphaChart {
    /// The chart's title.
    pub title: String,
    /// Each panel's title and option names.
    pub panels: Vec<(String, Vec<String>)>,
    /// Panels per (row, column).
    pub grid: (usize, usize),
    /// Pixels.
    pub size: (u32, u32),
    /// Each epoch (from 1) with its weights.
    pub epochs: Vec<(usize, Vec<Vec<f64>>)>,
}

impl AlphaChart {
    /// A DARTS run's op weights; the space is told by their shape: 6 x 5 is NB201, 28 x 8 the
    /// DARTS space (normal cell, then reduce).
    pub fn darts(records: &[AlphaRecord]) -> Result<Self> {
        let first = &records[0].weights;
        let (rows, columns) = (first.len(), first.first().map_or(0, Vec::len));
        let names = |ops: &[&str]| ops.iter().map(|op| op.to_string()).collect::<Vec<_>>();
        let (panels, grid, size): (Vec<(String, Vec<String>)>, _, _) = match (rows, columns) {
            (6, 5) => (
                NB201_EDGES
                    .iter()
                    .map(|(to, from)| (format!("edge {from} -> {to}"), names(&NB201_OPS)))
                    .collect(),
                (2, 3),
                (1200, 700),
            ),
            (28, 8) => (
                darts_edge_names()
                    .into_iter()
                    .map(|edge| (edge, names(&DARTS_OPS)))
                    .collect(),
                (4, 7),
                (2100, 1200),
            ),
            _ => anyhow::bail!(
                "alphas.jsonl holds {rows} x {columns} weights: not NB201 (6 x 5) or DARTS (28 x 8)"
            ),
        };
        Ok(Self {
            title: "DARTS: op weights per edge".into(),
            panels,
            grid,
            size,
            epochs: records
                .iter()
                .map(|r| (r.epoch, r.weights.clone()))
                .collect(),
        })
    }

    /// A ProxylessNAS run's path probabilities, one panel per layer of options `options`.
    pub fn proxyless(records: &[ProxylessEpoch], options: &[Vec<String>]) -> Result<Self> {
        let rows: Vec<usize> = records[0].probabilities.iter().map(Vec::len).collect();
        let expected: Vec<usize> = options.iter().map(Vec::len).collect();
        if rows != expected {
            anyhow::bail!(
                "alphas.jsonl holds layers of {rows:?} options, the run's space {expected:?}"
            );
        }
        let columns = options.len().clamp(1, 5);
        let grid = (options.len().div_ceil(columns), columns);
        Ok(Self {
            title: "ProxylessNAS: path probabilities per layer".into(),
            panels: options
                .iter()
                .enumerate()
                .map(|(layer, names)| (format!("layer {layer}"), names.clone()))
                .collect(),
            grid,
            size: (300 * grid.1 as u32 + 100, 260 * grid.0 as u32 + 60),
            epochs: records
                .iter()
                .map(|r| (r.epoch, r.probabilities.clone()))
                .collect(),
        })
    }
}

/// The weights against epochs: one panel per edge or layer, one line per option, from the
/// uniform start at epoch 0.
pub fn alphas(chart: &AlphaChart, path: &Path) -> Result<()> {
    let error = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let root = SVGBackend::new(path, chart.size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let root = root
        .titled(&chart.title, ("sans-serif", 22))
        .map_err(|e| error(&e))?;
    let epochs = chart.epochs.len() as f64;
    for (index, ((title, ops), panel)) in chart
        .panels
        .iter()
        .zip(root.split_evenly(chart.grid).iter())
        .enumerate()
    {
        let mut plot = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..epochs.max(1.0), 0f64..1f64)
            .map_err(|e| error(&e))?;
        plot.configure_mesh()
            .x_desc("epoch")
            .x_labels((chart.epochs.len() + 1).min(11))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| error(&e))?;
        // Epoch 0 is the near-uniform start: the mean of the first epoch's weights (1/n under
        // softmax; Fair DARTS's sigmoids start near 1/2).
        let start = chart.epochs[0].1[index].iter().sum::<f64>() / ops.len() as f64;
        for (op, name) in ops.iter().enumerate() {
            let color = COLORS[op % COLORS.len()];
            let points: Vec<(f64, f64)> = std::iter::once((0.0, start))
                .chain(
                    chart
                        .epochs
                        .iter()
                        .map(|(epoch, weights)| (*epoch as f64, weights[index][op])),
                )
                .collect();
            let style = color.stroke_width(2);
            plot.draw_series(LineSeries::new(points, style))
                .map_err(|e| error(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        // A legend on the first panel of each distinct option list (ProxylessNAS's residual
        // layers add skip).
        if !chart.panels[..index]
            .iter()
            .any(|(_, earlier)| earlier == ops)
        {
            plot.configure_series_labels()
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

/// Accuracy against a cost (named by `x_desc`) of a Pareto front, as points joined in cost order.
pub fn pareto(points: &[(f64, f64)], title: &str, x_desc: &str, path: &Path) -> Result<()> {
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
        .x_desc(x_desc)
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
