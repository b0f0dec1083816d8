//! `nasr bench train-step`.

use anyhow::Result;
use nasr_nn::bench::{TrainStepBench, median, time_train_steps};

use crate::cli::{BenchArgs, BenchCommand};

pub fn run(args: BenchArgs) -> Result<()> {
    match args.command {
        BenchCommand::TrainStep {
            channels,
            cells,
            batch_size,
            resolution,
            in_channels,
            warmup,
            steps,
            json,
        } => {
            let bench = TrainStepBench {
                channels,
                cells,
                batch_size,
                resolution,
                in_channels,
                warmup,
                steps: steps.max(1),
                ..TrainStepBench::default()
            };
            let times = time_train_steps(&bench)?;
            let median_ms = median(&times).as_secs_f64() * 1e3;
            let min_ms = times.iter().min().map_or(0.0, |t| t.as_secs_f64() * 1e3);
            if json {
                let report = serde_json::json!({
                    "bench": "train-step",
                    "framework": "nasr (burn flex)",
                    "config": bench,
                    "median_ms": median_ms,
                    "min_ms": min_ms,
                    "peak_rss_mib": peak_rss_mib(),
                });
                println!("{report}");
            } else {
                println!(
                    "train step, NB201 C={channels} N={cells}, batch {batch_size}x{in_channels}x{resolution}x{resolution}: \
                     median {median_ms:.1} ms, min {min_ms:.1} ms over {} steps",
                    times.len()
                );
            }
            Ok(())
        }
    }
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if the system reports it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
