//! How a trained network's accuracy degrades under faults (FTT-NAS's robustness curves): a
//! finished `nasr train` run folder's network, its test set, a fault model swept over rates,
//! the test accuracy at each rate over R fault draws (mean and sd).

use std::path::Path;

use nasr_nn::NnError;
use nasr_nn::eval::faulty::{FaultyAccuracy, faulty_accuracy};
use nasr_nn::faults::FaultFamily;
use nasr_space::SeedStreams;
use serde::{Deserialize, Serialize};

use crate::run::{RunData, RunOptions, TrainRunConfig};
use crate::run_network::{AnyNetwork, build_network};

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
    let config_path = folder.join("config.toml");
    let text = std::fs::read_to_string(&config_path).map_err(|e| NnError::io(&config_path, e))?;
    let config: TrainRunConfig = toml::from_str(&text).map_err(|e| NnError::Checkpoint {
        path: config_path.clone(),
        problem: format!("not the config of a nasr train run: {e}"),
    })?;
    for &rate in rates {
        fault.at(rate).validate()?;
    }
    let data = RunData::load(&config.data, config.seed, data_dir)?;
    let device = options.compute.eval_device();
    let test = &data.parts.test;
    let built = build_network(
        &config,
        test.shape,
        data.parts.train.classes,
        &device,
        &mut data.streams.stream("init"),
    )?;
    let network = built.network.load(&folder.join("model.safetensors"))?;
    let streams = SeedStreams::new(config.seed);
    let measure = |rate: Option<f64>| {
        let faults = rate.map(|r| fault.at(r)).unwrap_or_default();
        let name = format!("robustness/{}", rate.unwrap_or(0.0));
        let draws = if rate.is_some() { draws } else { 1 };
        let data = (test, &data.normalization);
        let batch = config.train.eval_batch_size;
        let streams = (&streams, name.as_str());
        match &network {
            AnyNetwork::Nb201(m) => {
                faulty_accuracy(m, data, batch, &device, faults, draws, streams)
            }
            AnyNetwork::Darts(m, _) => {
                faulty_accuracy(m, data, batch, &device, faults, draws, streams)
            }
            AnyNetwork::MobileNet(m) => {
                faulty_accuracy(m, data, batch, &device, faults, draws, streams)
            }
            AnyNetwork::Ofa(m) => faulty_accuracy(m, data, batch, &device, faults, draws, streams),
        }
    };
    let clean_accuracy = measure(None).mean;
    let points = rates
        .iter()
        .map(|&rate| RobustnessPoint {
            rate,
            accuracy: measure(Some(rate)),
        })
        .collect();
    Ok(RobustnessCurve {
        run: folder.display().to_string(),
        arch: built.arch,
        fault,
        rate_name: fault.rate_name().into(),
        clean_accuracy,
        points,
    })
}
