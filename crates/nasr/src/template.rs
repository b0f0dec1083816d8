//! The training settings `nasr rank-eval` and `nasr compare` start from (NB201 networks).

use anyhow::Result;
use nasr_methods::run::{DataConfig, TrainRunConfig};
use nasr_methods::space::{NetworkSize, SpaceConfig};
use nasr_nn::train::TrainConfig;

/// Dataset and subset, network sizes (C, N), batch size and seed from the flags; everything
/// else at its default.
pub fn run_template(
    data: &str,
    train_subset: Option<usize>,
    (channels, cells): (usize, usize),
    batch_size: usize,
    seed: u64,
) -> Result<TrainRunConfig> {
    Ok(TrainRunConfig {
        seed,
        space: SpaceConfig::Nb201(NetworkSize { channels, cells }),
        data: DataConfig {
            name: data.parse()?,
            train_subset,
            ..DataConfig::default()
        },
        train: TrainConfig {
            batch_size,
            ..TrainConfig::default()
        },
        ..TrainRunConfig::default()
    })
}
