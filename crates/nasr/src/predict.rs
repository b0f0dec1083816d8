//! `nasr predict`: classify images with a trained run or an exported ONNX model.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use nasr_methods::predict::{Model, accuracy};
use nasr_methods::run::RunOptions;

use crate::cli::DataDirArg;

/// Flags of `nasr predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A `nasr train` run folder, or an `.onnx` file `nasr export` wrote.
    #[arg(value_name = "MODEL_OR_RUN")]
    pub model: PathBuf,
    /// Images: IDX image files (gzipped or not), CIFAR-10 `.bin` batches, `.png` files, or
    /// folders of `.png` files. Nothing is resized: images must have the model's shape.
    #[arg(required = true, value_name = "IMAGES")]
    pub images: Vec<PathBuf>,
    /// An IDX label file for the images (prints the accuracy).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Classify only the first N images.
    #[arg(long, value_name = "N")]
    pub first: Option<usize>,
    /// Print only the count and the accuracy, not a line per image.
    #[arg(long)]
    pub summary: bool,
    #[command(flatten)]
    pub data_dir: DataDirArg,
}

/// `nasr predict`.
pub fn run(args: PredictArgs, compute: nasr_nn::Compute) -> Result<()> {
    let options = RunOptions {
        show_progress: false,
        compute,
    };
    let model = Model::load(&args.model, &args.data_dir.resolve(), &options)
        .with_context(|| format!("loading {}", args.model.display()))?;
    let mut images = nasr_data::read_images(&args.images, model.input_shape())?;
    if let Some(path) = &args.labels {
        let labels = nasr_data::read_idx_labels(path)?;
        if labels.len() != images.len() {
            bail!(
                "{} holds {} labels for {} images",
                path.display(),
                labels.len(),
                images.len()
            );
        }
        images.labels = Some(labels);
    }
    if let Some(first) = args.first {
        images = images.first(first);
    }
    let predictions = model.predict(&images)?;
    if !args.summary {
        println!("{:<32} {:>5} {:>11}", "image", "class", "probability");
        for p in &predictions {
            let label = p
                .label
                .map(|l| format!("  (label {l})"))
                .unwrap_or_default();
            println!(
                "{:<32} {:>5} {:>11.4}{label}",
                p.name, p.class, p.probability
            );
        }
    }
    match accuracy(&predictions) {
        Some(acc) => println!("{} images, accuracy {acc:.4}", predictions.len()),
        None => println!("{} images", predictions.len()),
    }
    Ok(())
}
