//! The training settings `nasr rank-eval` and `nasr compare` start from.

use anyhow::Result;
use nasr_methods::experiment::SpaceName;
use nasr_methods::run::{DataConfig, NetworkSize, TrainRunConfig};
use nasr_nn::train::TrainConfig;

/// Dataset and subset, network sizes (C, N), batch size and seed from the flags; everything
/// else at its default.
pub fn run_template(
    space: SpaceName,
    data: &str,
    train_subset: Option<usize>,
    (channels, cells): (usize, usize),
    batch_size: usize,
    seed: u64,
) -> Result<TrainRunConfig> {
    Ok(TrainRunConfig {
        seed,
        space,
        data: DataConfig {
            name: data.parse()?,
            train_subset,
            ..DataConfig::default()
        },
        network: NetworkSize { channels, cells },
        train: TrainConfig {
            batch_size,
            ..TrainConfig::default()
        },
        ..TrainRunConfig::default()
    })
}
