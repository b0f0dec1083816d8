//! How a trained network's accuracy degrades under faults (FTT-NAS's robustness curves): a
//! finished `nasr train` run folder's network, its test set, a fault model swept over rates,
//! the test accuracy at each rate over R fault draws (mean and sd).

use std::path::Path;

use nasr_nn::NnError;
use nasr_nn::eval::faulty::{FaultyAccuracy, faulty_accuracy};
use nasr_nn::faults::{FaultFamily, FaultModel};
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

/// A finished `nasr train` run folder's network, loaded with its data: what robustness and
/// FTT-NAS's final report measure under faults.
pub struct TrainedRun {
    config: TrainRunConfig,
    data: RunData,
    network: AnyNetwork,
    arch: String,
    device: burn::tensor::Device,
}

impl TrainedRun {
    /// The run of `folder` (its `config.toml` and `model.safetensors`), its data from
    /// `data_dir`.
    pub fn load(folder: &Path, data_dir: &Path, options: &RunOptions) -> Result<Self, NnError> {
        let (config, _) = TrainRunConfig::read_from(folder)?;
        let data = RunData::load(&config.data, config.seed, data_dir)?;
        let device = options.compute.eval_device();
        let built = build_network(
            &config,
            data.parts.test.shape,
            data.parts.train.classes,
            &device,
            &mut data.streams.stream("init"),
        )?;
        let network = built.network.load(&folder.join("model.safetensors"))?;
        Ok(Self {
            config,
            data,
            network,
            arch: built.arch,
            device,
        })
    }

    /// Its architecture, canonical.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Test accuracy under `faults` over `draws` draws from streams `<name>/<draw>` of the
    /// run's seed (the default, fault-free model: one draw is the clean accuracy).
    pub fn test_accuracy(&self, faults: FaultModel, draws: usize, name: &str) -> FaultyAccuracy {
        let streams = SeedStreams::new(self.config.seed);
        let data = (&self.data.parts.test, &self.data.normalization);
        let batch = self.config.train.eval_batch_size;
        let (device, streams) = (&self.device, (&streams, name));
        match &self.network {
            AnyNetwork::Nb201(m) => faulty_accuracy(m, data, batch, device, faults, draws, streams),
            AnyNetwork::Darts(m, _) => {
                faulty_accuracy(m, data, batch, device, faults, draws, streams)
            }
            AnyNetwork::MobileNet(m) => {
                faulty_accuracy(m, data, batch, device, faults, draws, streams)
            }
            AnyNetwork::Ofa(m) => faulty_accuracy(m, data, batch, device, faults, draws, streams),
        }
    }
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
        arch: run.arch,
        fault,
        rate_name: fault.rate_name().into(),
        clean_accuracy,
        points,
    })
}
