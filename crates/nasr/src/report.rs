//! `nasr report`: one self-contained HTML page of a run folder, or of each run in a folder
//! of runs with an index.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

/// Flags of `nasr report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run folder (the --out of any nasr command), or a folder of run folders.
    #[arg(value_name = "RUN_OR_DIR")]
    pub run: PathBuf,
    /// Where to write the page (default: RUN_OR_DIR/report.html).
    #[arg(long, value_name = "FILE.html")]
    pub out: Option<PathBuf>,
}

/// `nasr report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let pages = nasr_report::write_report(&args.run, args.out.as_deref())
        .with_context(|| format!("reporting {}", args.run.display()))?;
    for page in pages {
        println!("{}", page.display());
    }
    Ok(())
}
