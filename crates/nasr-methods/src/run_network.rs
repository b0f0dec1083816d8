//! The network of a training run's config, built for its data: what `train_run` trains and
//! what a finished run folder's weights load into (`nasr robustness`).

use std::path::Path;

use burn::tensor::Device;
use nasr_data::ImageShape;
use nasr_space::mobilenet::MobileNetConfig;
use nasr_space::ofa::{OfaConfig, OfaSpace};
use nasr_space::{DartsSpace, MobileNetSpace, Nb201Space, Space};

use crate::run::TrainRunConfig;
use crate::space::SpaceConfig;
use nasr_nn::NnError;
use nasr_nn::nets::darts::{DartsNetConfig, DartsNetwork};
use nasr_nn::nets::mobilenet::MobileNetNetwork;
use nasr_nn::nets::nb201::{Nb201Network, Nb201NetworkConfig};
use nasr_nn::nets::ofa::OfaNet;
use nasr_nn::train::Classifier;

/// A network of any space.
#[allow(clippy::large_enum_variant)]
pub enum AnyNetwork {
    /// NAS-Bench-201.
    Nb201(Nb201Network),
    /// DARTS' evaluation network, with its sizes (its training step needs them).
    Darts(DartsNetwork, DartsNetConfig),
    /// A MobileNet-space network.
    MobileNet(MobileNetNetwork),
    /// A Once-for-All sub-network.
    Ofa(OfaNet),
}

/// A run's network and what its metrics record of it.
pub struct RunNetwork {
    /// The network, freshly initialised.
    pub network: AnyNetwork,
    /// Its architecture, canonical.
    pub arch: String,
    /// Its NAS-Bench-201 index (NB201 only).
    pub arch_index: Option<usize>,
    /// Its multiply-adds per image (MobileNet and OFA).
    pub flops: Option<u64>,
}

/// The network of `config` for images of `shape` and `classes` classes, on `device`,
/// initialised from `init` (the run's `init` stream).
pub fn build_network(
    config: &TrainRunConfig,
    shape: ImageShape,
    classes: usize,
    device: &Device,
    init: &mut dyn rand::RngCore,
) -> Result<RunNetwork, NnError> {
    Ok(match &config.space {
        SpaceConfig::Nb201(size) => {
            let space = Nb201Space::new();
            let arch = space.parse(&config.arch)?;
            let network = Nb201NetworkConfig {
                channels: size.channels,
                cells: size.cells,
                in_channels: shape.channels,
                classes,
            };
            let model = nasr_nn::init::seeded(init, || network.init(&arch, device))?;
            RunNetwork {
                network: AnyNetwork::Nb201(model),
                arch: space.format(&arch),
                arch_index: Some(space.index_of(&arch)?),
                flops: None,
            }
        }
        SpaceConfig::Darts(sizes) => {
            let space = DartsSpace::new();
            let arch = space.parse(&config.arch)?;
            let network = DartsNetConfig {
                in_channels: shape.channels,
                classes,
                ..*sizes
            };
            let model = nasr_nn::init::seeded(init, || {
                DartsNetwork::new(&network, &space.genotype(&arch), device)
            })?;
            RunNetwork {
                network: AnyNetwork::Darts(model, network),
                arch: space.format(&arch),
                arch_index: None,
                flops: None,
            }
        }
        SpaceConfig::Mobilenet(sizes) | SpaceConfig::Proxyless(sizes) => {
            let space = MobileNetSpace::new(MobileNetConfig {
                input_size: shape.height,
                in_channels: shape.channels,
                classes,
                ..sizes.clone()
            })?;
            let arch = space.parse(&config.arch)?;
            let model =
                nasr_nn::init::seeded(init, || MobileNetNetwork::new(&space, &arch, device))?;
            RunNetwork {
                network: AnyNetwork::MobileNet(model),
                arch: space.format(&arch),
                arch_index: None,
                flops: Some(space.cost(&arch).flops),
            }
        }
        SpaceConfig::Ofa(sizes) => {
            let space = OfaSpace::new(OfaConfig {
                in_channels: shape.channels,
                classes,
                ..sizes.clone()
            })?;
            let arch = space.parse(&config.arch)?;
            let model = nasr_nn::init::seeded(init, || OfaNet::new(&space, &arch, device))?;
            RunNetwork {
                network: AnyNetwork::Ofa(model),
                arch: space.format(&arch),
                arch_index: None,
                flops: Some(space.cost(&arch).flops),
            }
        }
    })
}

impl AnyNetwork {
    /// The network with the weights of `path` (a run's `model.safetensors`).
    pub fn load(self, path: &Path) -> Result<Self, NnError> {
        let tensors = nasr_nn::params::load_safetensors(path)?;
        Ok(match self {
            Self::Nb201(m) => Self::Nb201(nasr_nn::params::load_named(m, &tensors, path)?),
            Self::Darts(m, c) => Self::Darts(nasr_nn::params::load_named(m, &tensors, path)?, c),
            Self::MobileNet(m) => Self::MobileNet(nasr_nn::params::load_named(m, &tensors, path)?),
            Self::Ofa(m) => Self::Ofa(nasr_nn::params::load_named(m, &tensors, path)?),
        })
    }
}

/// Work on a network of any space, written once for every [`Classifier`] type
/// ([`AnyNetwork::apply`]).
pub trait ClassifierTask {
    /// What the work returns.
    type Output;
    /// The work on `model`.
    fn run<M: Classifier>(self, model: &M) -> Self::Output;
}

impl AnyNetwork {
    /// `task` on this network, whichever its space.
    pub fn apply<T: ClassifierTask>(&self, task: T) -> T::Output {
        match self {
            Self::Nb201(m) => task.run(m),
            Self::Darts(m, _) => task.run(m),
            Self::MobileNet(m) => task.run(m),
            Self::Ofa(m) => task.run(m),
        }
    }
}
