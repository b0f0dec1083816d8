//! `nasr export`: a trained run's network as an ONNX model (a dynamic batch axis, the input
//! normalisation in the graph, metadata naming the run).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use nasr_methods::run::RunOptions;
use nasr_methods::trained_run::TrainedRun;

use crate::cli::DataDirArg;

/// Flags of `nasr export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A `nasr train` run folder, or a method's run folder whose `retrain/` is one (DARTS,
    /// ProxylessNAS, DNA); an `nasr ofa extract` folder is a train run folder too.
    #[arg(value_name = "RUN")]
    pub run: PathBuf,
    /// Where to write the model (default: the train run folder's `model.onnx`).
    #[arg(long, value_name = "FILE.onnx")]
    pub out: Option<PathBuf>,
    /// The ONNX operator set (burn-onnx 0.22 writes only 18).
    #[arg(long, default_value_t = nasr_nn::export::OPSET)]
    pub opset: i64,
    #[command(flatten)]
    pub data_dir: DataDirArg,
}

/// `nasr export`.
pub fn run(args: ExportArgs, compute: nasr_nn::Compute) -> Result<()> {
    if args.opset != nasr_nn::export::OPSET {
        bail!(
            "--opset {}: the exporter (burn-onnx 0.22) writes opset {} only",
            args.opset,
            nasr_nn::export::OPSET
        );
    }
    let folder = train_run_folder(&args.run)?;
    let options = RunOptions {
        show_progress: false,
        compute,
    };
    let run = TrainedRun::load(&folder, &args.data_dir.resolve(), &options)
        .with_context(|| format!("loading the run {}", folder.display()))?;
    let onnx = run
        .onnx()
        .with_context(|| format!("exporting {}", folder.display()))?;
    let out = args.out.unwrap_or_else(|| folder.join("model.onnx"));
    nasr_nn::params::write_atomically(&out, &onnx)
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{} ({}, {} bytes, opset {}): input float32 [batch, {}], pixels in [0, 1]",
        out.display(),
        run.arch(),
        onnx.len(),
        nasr_nn::export::OPSET,
        {
            let s = run.data().parts.test.shape;
            format!("{}, {}, {}", s.channels, s.height, s.width)
        }
    );
    Ok(())
}

/// `run` if it is a training run folder (it has `config.toml` and `model.safetensors`), else
/// its `retrain/` where that is one.
fn train_run_folder(run: &Path) -> Result<PathBuf> {
    let is_train_run =
        |f: &Path| f.join("config.toml").is_file() && f.join("model.safetensors").is_file();
    if is_train_run(run) {
        return Ok(run.to_path_buf());
    }
    let retrain = run.join("retrain");
    if is_train_run(&retrain) {
        return Ok(retrain);
    }
    if !run.is_dir() {
        bail!("{}: no such run folder", run.display());
    }
    bail!(
        "{} is not a trained run: it has no config.toml and model.safetensors (a `nasr train` \
         run folder, or a search whose retrain/ holds one, once training has finished)",
        run.display()
    )
}
