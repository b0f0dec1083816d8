//! `nasr robustness`: trained networks' test accuracy against a fault rate, as JSON and an
//! SVG chart.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use nasr_methods::robustness::{RobustnessCurve, robustness_curve};
use nasr_methods::run::RunOptions;
use plotters::prelude::*;

use crate::cli::DataDirArg;
use crate::fault_flags::FaultArgs;

/// Flags of `nasr robustness`.
#[derive(Debug, Args)]
pub struct RobustnessArgs {
    /// `nasr train` run folders to measure (one curve each).
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub faults: FaultArgs,
    /// The rates to sweep, comma-separated (gaussian: sigmas).
    #[arg(long, value_delimiter = ',', required = true, value_name = "R1,R2,...")]
    pub rates: Vec<f64>,
    /// Fault draws per rate.
    #[arg(long, default_value_t = 5)]
    pub draws: usize,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Write the curves as JSON here.
    #[arg(long, value_name = "FILE.json")]
    pub out: PathBuf,
    /// Draw the curves to this SVG (default: beside --out).
    #[arg(long, value_name = "FILE.svg")]
    pub svg: Option<PathBuf>,
}

pub fn run(args: RobustnessArgs, compute: nasr_nn::Compute) -> Result<()> {
    let Some(fault) = args.faults.family()? else {
        bail!("nasr robustness needs --fault MODEL");
    };
    if args.faults.fault_rate.is_some() || args.faults.fault_sigma.is_some() {
        bail!("nasr robustness sweeps --rates; --fault-rate and --fault-sigma do not apply");
    }
    let options = RunOptions {
        show_progress: false,
        compute,
    };
    let data_dir = args.data_dir.resolve();
    let mut curves = Vec::new();
    for run in &args.runs {
        let curve = robustness_curve(run, fault, &args.rates, args.draws, &data_dir, &options)
            .with_context(|| format!("robustness of {}", run.display()))?;
        print(&curve);
        curves.push(curve);
    }
    let mut json = serde_json::to_vec_pretty(&curves)?;
    json.push(b'\n');
    std::fs::write(&args.out, json).with_context(|| format!("writing {}", args.out.display()))?;
    let svg = args
        .svg
        .clone()
        .unwrap_or_else(|| args.out.with_extension("svg"));
    chart(&curves, &svg)?;
    println!("curves {} and {}", args.out.display(), svg.display());
    Ok(())
}

fn print(curve: &RobustnessCurve) {
    println!(
        "{} ({}): clean test accuracy {:.4}",
        curve.run, curve.arch, curve.clean_accuracy
    );
    println!("  {:>12}  {:>8}  {:>7}", curve.fault.name(), "mean", "sd");
    for point in &curve.points {
        println!(
            "  {:>12}  {:>8.4}  {:>7.4}",
            point.rate, point.accuracy.mean, point.accuracy.sd
        );
    }
}

/// Test accuracy (%) against the rate, one line with a +-sd band per run.
fn chart(curves: &[RobustnessCurve], path: &std::path::Path) -> Result<()> {
    let error = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let rates: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.rate))
        .collect();
    let max_rate = rates.iter().copied().fold(0.0, f64::max).max(1e-12);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let first = &curves[0];
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("test accuracy under {} faults", first.fault.name()),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..max_rate, 0f64..100f64)
        .map_err(|e| error(&e))?;
    chart
        .configure_mesh()
        .x_desc(first.rate_name.as_str())
        .y_desc("test accuracy (%)")
        .draw()
        .map_err(|e| error(&e))?;
    for (index, curve) in curves.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let points: Vec<(f64, f64, f64)> =
            std::iter::once((0.0, 100.0 * curve.clean_accuracy, 0.0))
                .chain(
                    curve
                        .points
                        .iter()
                        .map(|p| (p.rate, 100.0 * p.accuracy.mean, 100.0 * p.accuracy.sd)),
                )
                .collect();
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|(r, m, s)| (*r, m + s))
            .chain(points.iter().rev().map(|(r, m, s)| (*r, m - s)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                color.mix(0.15).filled(),
            )))
            .map_err(|e| error(&e))?;
        let label = format!("{} ({})", curve.run, curve.arch);
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(r, m, _)| (*r, *m)),
                color.stroke_width(2),
            ))
            .map_err(|e| error(&e))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))?;
    Ok(())
}
