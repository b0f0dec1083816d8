//! Timing of nasr's training, supernet and evaluation steps on one network, the numbers
//! `nasr bench` reports and the PyTorch twins in `bench/` match. Measurement only; no test
//! depends on the times.
//!
//! - [`steps`]: a training step of one network, and supernet steps (single path, strictly
//!   fair, mixed, DARTS);
//! - [`eval`]: inference on a random batch, and an evaluation pass over a dataset;
//! - [`ops`]: forward + backward of single ops;
//! - [`memory`]: resident memory, so that a step's memory is its growth from before the first
//!   step to the peak.

pub mod eval;
pub mod memory;
pub mod ops;
pub mod steps;

pub use eval::{time_evaluation, time_inference};
pub use ops::{BENCH_OPS, time_op};
pub use steps::{SupernetStepMode, time_supernet_steps, time_train_steps};

use std::time::Duration;

use burn::tensor::{Device, Int, Tensor, TensorData};
use nasr_space::mobilenet::{MobileNetConfig, MobileNetSpace};
use nasr_space::ofa::{OfaConfig, OfaSpace};
use nasr_space::{Nb201Space, SeedStreams, Space};
use rand::Rng;
use serde::{Deserialize, Serialize};

use nasr_nn::NnError;
use nasr_nn::nets::mobilenet::{MobileNetNetwork, MobileNetSupernet};
use nasr_nn::nets::nb201::{Nb201Network, Nb201NetworkConfig, Nb201Supernet};
use nasr_nn::nets::ofa::{OfaNet, OfaSupernet};

/// The NB201 architecture the benchmarks time by default: convolutions on five of six edges.
pub const NB201_ARCH: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

/// The layer choices a MobileNet benchmark cycles through by default, one per layer:
/// every kernel and both expansions, so each depthwise size runs at each width.
pub const MOBILENET_ARCH_CYCLE: [&str; 6] = ["k3_e3", "k5_e6", "k7_e3", "k3_e6", "k5_e3", "k7_e6"];

/// The network a benchmark times, with its space's sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "space", rename_all = "snake_case")]
pub enum BenchNetwork {
    /// A NAS-Bench-201 network.
    Nb201 {
        /// Architecture (canonical NB201 string).
        arch: String,
        /// Channels of the first stage (C).
        channels: usize,
        /// Cells per stage (N).
        cells: usize,
    },
    /// A MobileNet-space network; its input size, channels and classes are the benchmark's.
    #[serde(rename = "mobilenet")]
    MobileNet {
        /// Architecture (canonical MobileNet string, `k3_e3-k5_e6-...`).
        arch: String,
        /// The space's sizes.
        config: MobileNetConfig,
    },
    /// A sub-network of the Once-for-All space, as `nasr train --space ofa` trains it; its input
    /// channels and classes are the benchmark's, its resolution the architecture's (a batch of
    /// another size is resized to it first, as OFA's networks do).
    Ofa {
        /// Architecture (canonical OFA string, `r28|k7_e6-...|...`).
        arch: String,
        /// The space's sizes.
        config: OfaConfig,
    },
}

impl BenchNetwork {
    /// NB201 at C=16, N=5 with [`NB201_ARCH`].
    pub fn nb201() -> Self {
        Self::Nb201 {
            arch: NB201_ARCH.into(),
            channels: 16,
            cells: 5,
        }
    }

    /// A MobileNet network of `config`: `arch`, or by default one layer per entry of
    /// [`MOBILENET_ARCH_CYCLE`], repeated as the space has layers.
    pub fn mobilenet(config: MobileNetConfig, arch: Option<String>) -> Self {
        let layers: usize = config.stages.iter().map(|s| s.layers).sum();
        let arch = arch.unwrap_or_else(|| {
            (0..layers)
                .map(|i| MOBILENET_ARCH_CYCLE[i % MOBILENET_ARCH_CYCLE.len()])
                .collect::<Vec<_>>()
                .join("-")
        });
        Self::MobileNet { arch, config }
    }

    /// A sub-network of the OFA space of `config`: `arch`, or by default the largest one (every
    /// unit at its largest depth, every layer at the largest kernel and expansion, the largest
    /// resolution), the network progressive shrinking trains first.
    pub fn ofa(config: OfaConfig, arch: Option<String>) -> Result<Self, NnError> {
        let arch = match arch {
            Some(arch) => arch,
            None => {
                let space = OfaSpace::new(config.clone())?;
                let largest = config.resolutions.len() - 1;
                space.format(&space.extreme(&space.everything(), true, largest))
            }
        };
        Ok(Self::Ofa { arch, config })
    }

    /// The space's name, as `--space` writes it.
    pub fn space_name(&self) -> &'static str {
        match self {
            Self::Nb201 { .. } => "nb201",
            Self::MobileNet { .. } => "mobilenet",
            Self::Ofa { .. } => "ofa",
        }
    }
}

/// What to time: a network, the batch it takes, and how many steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainStepBench {
    /// The network and its space's sizes.
    pub network: BenchNetwork,
    /// Images per step.
    pub batch_size: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub resolution: usize,
    /// Classes.
    pub classes: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
}

impl Default for TrainStepBench {
    /// NB201 C=16 N=5 on batches of 64x3x32x32, 3 warm-up and 20 timed steps.
    fn default() -> Self {
        Self {
            network: BenchNetwork::nb201(),
            batch_size: 64,
            in_channels: 3,
            resolution: 32,
            classes: 10,
            warmup: 3,
            steps: 20,
        }
    }
}

/// A network of either space, built for a benchmark (one per benchmark, so the variants' sizes
/// do not matter).
#[allow(clippy::large_enum_variant)]
pub(crate) enum BuiltNetwork {
    Nb201(Nb201Network),
    MobileNet(MobileNetNetwork),
    Ofa(OfaNet),
}

/// A supernet of either space, built for a benchmark, with its space.
#[allow(clippy::large_enum_variant)]
pub(crate) enum BuiltSupernet {
    Nb201(Nb201Supernet, Nb201Space),
    MobileNet(MobileNetSupernet, MobileNetSpace),
    Ofa(OfaSupernet, OfaSpace),
}

impl TrainStepBench {
    /// The NB201 sizes of this benchmark.
    fn nb201_network(&self, channels: usize, cells: usize) -> Nb201NetworkConfig {
        Nb201NetworkConfig {
            channels,
            cells,
            in_channels: self.in_channels,
            classes: self.classes,
        }
    }

    /// The MobileNet space of `config` at this benchmark's input and classes.
    fn mobilenet_space(&self, config: &MobileNetConfig) -> Result<MobileNetSpace, NnError> {
        Ok(MobileNetSpace::new(MobileNetConfig {
            input_size: self.resolution,
            in_channels: self.in_channels,
            classes: self.classes,
            ..config.clone()
        })?)
    }

    /// The OFA space of `config` at this benchmark's input channels and classes.
    fn ofa_space(&self, config: &OfaConfig) -> Result<OfaSpace, NnError> {
        Ok(OfaSpace::new(OfaConfig {
            in_channels: self.in_channels,
            classes: self.classes,
            ..config.clone()
        })?)
    }

    /// The network, initialised from stream `init` of seed 0.
    pub(crate) fn build_network(&self, device: &Device) -> Result<BuiltNetwork, NnError> {
        let mut init = SeedStreams::new(0).stream("init");
        Ok(match &self.network {
            BenchNetwork::Nb201 {
                arch,
                channels,
                cells,
            } => {
                let arch = Nb201Space::new().parse(arch)?;
                let network = self.nb201_network(*channels, *cells);
                BuiltNetwork::Nb201(nasr_nn::init::seeded(&mut init, || {
                    network.init(&arch, device)
                })?)
            }
            BenchNetwork::MobileNet { arch, config } => {
                let space = self.mobilenet_space(config)?;
                let arch = space.parse(arch)?;
                BuiltNetwork::MobileNet(nasr_nn::init::seeded(&mut init, || {
                    MobileNetNetwork::new(&space, &arch, device)
                })?)
            }
            BenchNetwork::Ofa { arch, config } => {
                let space = self.ofa_space(config)?;
                let arch = space.parse(arch)?;
                BuiltNetwork::Ofa(nasr_nn::init::seeded(&mut init, || {
                    OfaNet::new(&space, &arch, device)
                })?)
            }
        })
    }

    /// The supernet of the network's space (its `arch` is not used), initialised from stream
    /// `init` of seed 0.
    pub(crate) fn build_supernet(&self, device: &Device) -> Result<BuiltSupernet, NnError> {
        let mut init = SeedStreams::new(0).stream("init");
        Ok(match &self.network {
            BenchNetwork::Nb201 {
                channels, cells, ..
            } => {
                let network = self.nb201_network(*channels, *cells);
                let supernet =
                    nasr_nn::init::seeded(&mut init, || Nb201Supernet::new(&network, device))?;
                BuiltSupernet::Nb201(supernet, Nb201Space::new())
            }
            BenchNetwork::MobileNet { config, .. } => {
                let space = self.mobilenet_space(config)?;
                let supernet = nasr_nn::init::seeded(&mut init, || {
                    Ok::<_, NnError>(MobileNetSupernet::new(&space, device))
                })?;
                BuiltSupernet::MobileNet(supernet, space)
            }
            BenchNetwork::Ofa { config, .. } => {
                let space = self.ofa_space(config)?;
                let supernet = nasr_nn::init::seeded(&mut init, || {
                    Ok::<_, NnError>(OfaSupernet::new(&space, device))
                })?;
                BuiltSupernet::Ofa(supernet, space)
            }
        })
    }
}

/// The timed steps of a benchmark, and the memory they added.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTimes {
    /// Wall time of each timed step.
    pub times: Vec<Duration>,
    /// Peak resident memory during the steps minus resident memory before the first, in MiB
    /// (see [`memory::MemoryWatch`]).
    pub memory_growth_mib: Option<f64>,
    /// Parameters of the timed network or supernet.
    pub params: usize,
}

impl StepTimes {
    /// The median step time.
    pub fn median(&self) -> Duration {
        median(&self.times)
    }

    /// The fastest step.
    pub fn min(&self) -> Duration {
        self.times.iter().copied().min().unwrap_or_default()
    }
}

/// The median of `times` (the mean of the middle two for an even count).
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// Normal images and uniform labels of `bench`'s batch shape from stream `name`.
fn random_batch(
    bench: &TrainStepBench,
    name: &str,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let mut rng = SeedStreams::new(0).stream(name);
    let shape = [
        bench.batch_size,
        bench.in_channels,
        bench.resolution,
        bench.resolution,
    ];
    let pixels: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let labels: Vec<i64> = (0..bench.batch_size)
        .map(|_| rng.random_range(0..bench.classes as i64))
        .collect();
    (
        Tensor::<4>::from_data(TensorData::new(pixels, shape), device),
        Tensor::<1, Int>::from_data(TensorData::new(labels, [bench.batch_size]), device),
    )
}

/// Blocks until `device` has finished all queued work, so a timed step ends when its work does:
/// GPU backends run asynchronously; on the eager CPU backend this returns at once.
fn wait_for(device: &Device) -> Result<(), NnError> {
    device.sync().map_err(|error| NnError::Device {
        problem: format!("{error:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ofa_bench(arch: Option<&str>) -> TrainStepBench {
        TrainStepBench {
            network: BenchNetwork::ofa(OfaConfig::default(), arch.map(String::from)).unwrap(),
            batch_size: 2,
            in_channels: 1,
            resolution: 28,
            warmup: 0,
            steps: 1,
            ..TrainStepBench::default()
        }
    }

    /// The default OFA network is the largest sub-network; a step of a smaller one times a
    /// network of fewer parameters, and the step runs at another input size (resized).
    #[test]
    fn the_ofa_bench_times_the_largest_subnetwork_by_default() {
        let largest = ofa_bench(None);
        let BenchNetwork::Ofa { arch, .. } = &largest.network else {
            panic!("an ofa network")
        };
        assert_eq!(
            arch,
            "r28|k7_e6-k7_e6-k7_e6-k7_e6|k7_e6-k7_e6-k7_e6-k7_e6|k7_e6-k7_e6-k7_e6-k7_e6|\
             k7_e6-k7_e6-k7_e6-k7_e6|k7_e6-k7_e6-k7_e6-k7_e6"
        );
        let small = ofa_bench(Some(
            "r16|k3_e3-k3_e3|k3_e3-k3_e3|k3_e3-k3_e3|k3_e3-k3_e3|k3_e3-k3_e3",
        ));
        let compute = nasr_nn::Compute::Cpu;
        let big = time_train_steps(&largest, compute).unwrap();
        let little = time_train_steps(&small, compute).unwrap();
        assert_eq!(big.times.len(), 1);
        assert!(
            little.params < big.params,
            "{} vs {}",
            little.params,
            big.params
        );
    }

    /// The OFA supernet runs the path mode; a mode it does not run is refused by name, never
    /// timed as another.
    #[test]
    fn the_ofa_supernet_runs_the_path_mode_and_refuses_the_others() {
        let bench = ofa_bench(None);
        let compute = nasr_nn::Compute::Cpu;
        let path = time_supernet_steps(&bench, SupernetStepMode::Path, compute).unwrap();
        assert_eq!(path.times.len(), 1);
        for mode in [SupernetStepMode::StrictFair, SupernetStepMode::Mixed] {
            let error = time_supernet_steps(&bench, mode, compute).unwrap_err();
            assert!(error.to_string().contains(mode.name()), "{mode:?}: {error}");
        }
    }
}
