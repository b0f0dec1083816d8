//! How a trained network's accuracy degrades under faults (FTT-NAS's robustness curves): a
//! finished `nasr train` run folder's network, its test set, a fault model swept over rates,
//! the test accuracy at each rate over R fault draws (mean and sd).

use std::path::Path;

use nasr_nn::NnError;
use nasr_nn::eval::faulty::FaultyAccuracy;
use nasr_nn::faults::{FaultFamily, FaultModel};
use serde::{Deserialize, Serialize};

use crate::run::RunOptions;
use crate::trained_run::TrainedRun;

/// One run's accuracy against the fault rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessCurve {
    /// The run folder.
    pub run: String,
    /// Its architecture.
    pub arch: String,
    /// The fault model swept.
    pub fault: FaultFamily,
    /// What the rate is.
    pub rate_name: String,
    /// Test accuracy without faults.
    pub clean_accuracy: f64,
    /// Each rate and the test accuracy under it.
    pub points: Vec<RobustnessPoint>,
}

/// The test accuracy at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessPoint {
    /// The rate.
    pub rate: f64,
    /// Accuracy over the draws.
    pub accuracy: FaultyAccuracy,
}

/// The robustness curve of the run folder `folder` under `fault` at `rates`, `draws` draws
/// each (streams `robustness/<rate>/<draw>` of the run's seed), on its own test set.
pub fn robustness_curve(
    folder: &Path,
    fault: FaultFamily,
    rates: &[f64],
    draws: usize,
    data_dir: &Path,
    options: &RunOptions,
) -> Result<RobustnessCurve, NnError> {
    for &rate in rates {
        fault.at(rate).validate()?;
    }
    let run = TrainedRun::load(folder, data_dir, options)?;
    let clean_accuracy = run
        .test_accuracy(FaultModel::default(), 1, "robustness/0")
        .mean;
    let points = rates
        .iter()
        .map(|&rate| RobustnessPoint {
            rate,
            accuracy: run.test_accuracy(fault.at(rate), draws, &format!("robustness/{rate}")),
        })
        .collect();
    Ok(RobustnessCurve {
        run: folder.display().to_string(),
        arch: run.arch().to_string(),
        fault,
        rate_name: fault.rate_name().into(),
        clean_accuracy,
        points,
    })
}
