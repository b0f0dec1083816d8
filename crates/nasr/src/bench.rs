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
