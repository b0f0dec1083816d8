//! `nasr data fetch`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nasr_data::DatasetName;

/// Flags of `nasr data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// What to do with data.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// `nasr data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a dataset and verify its sha256 before writing anything.
    Fetch {
        /// mnist, fashion-mnist, cifar10 or cifar100.
        name: String,
        /// Folder to write into (the files go to DIR/NAME/).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Download from this URL prefix instead of the dataset's default host.
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
    },
}

pub fn run(args: DataArgs) -> Result<()> {
    match args.command {
        DataCommand::Fetch { name, dir, mirror } => {
            let dataset: DatasetName = name.parse()?;
            for path in fetch_with_progress(dataset, &dir, mirror.as_deref())? {
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}

/// Downloads with a byte progress bar on stderr; returns the verified files.
pub fn fetch_with_progress(
    dataset: DatasetName,
    dir: &std::path::Path,
    mirror: Option<&str>,
) -> Result<Vec<std::path::PathBuf>> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut current = String::new();
    let written = nasr_data::fetch::fetch(dataset, dir, mirror, &mut |file, done, total| {
        if current != file {
            current = file.to_string();
            bar.set_message(current.clone());
            bar.set_position(0);
        }
        bar.set_length(total.unwrap_or(done));
        bar.set_position(done);
    })
    .with_context(|| format!("fetching {dataset} into {}", dir.display()))?;
    bar.finish_and_clear();
    Ok(written)
}
