//! burn building blocks for nasr, and no methods. The methods that wire them together live in
//! `nasr-methods`.
//!
//! - [`ops`]: typed candidate ops of every space, named by what they are;
//! - [`supernet`]: the supernet modes (single path, mixed) with one mixed op, and BatchNorm
//!   recalibration;
//! - [`nets`]: one folder per space, its network and its supernet side by side;
//! - [`train`]: the trainer, whose step returns its loss; SGD and Adam; schedules; checkpoints;
//! - [`eval`]: accuracy, and the supernet evaluator every weight-sharing method ranks with;
//! - [`latency`]: latency lookup tables and end-to-end latency, measured on this machine;
//!   [`ofa_latency`] the same for the `ofa` space;
//! - [`export`]: ONNX export of any classifier, normalisation folded in, metadata added;
//! - [`init`] and [`params`]: seeded initialisation, dotted parameter names, safetensors.
//!
//! Models run where a [`Compute`] says, passed to every function that makes tensors (no
//! process-wide setting): burn's `flex` CPU backend by default, with `autodiff` for training
//! ([`Compute::train_device`]); evaluation runs on the plain device ([`Compute::eval_device`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod eval;
pub mod export;
pub mod faults;
pub mod init;
pub mod latency;
pub mod nets;
pub mod ofa_latency;
pub mod ops;
pub mod params;
pub mod supernet;
pub mod train;

pub use error::NnError;

use burn::tensor::Device;

/// Where nasr computes. The CPU needs no feature; the others exist in builds with the feature
/// of the same name (`gpu`: burn's wgpu backend, Vulkan on NVIDIA; `cuda`: burn's CUDA backend).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compute {
    /// burn's `flex` CPU backend with nasr's kernels.
    #[default]
    Cpu,
    /// The default wgpu adapter (a discrete GPU where there is one).
    Gpu,
    /// The first CUDA device.
    Cuda,
}

impl Compute {
    /// Whether this build can compute there.
    pub fn is_built(self) -> bool {
        match self {
            Compute::Cpu => true,
            Compute::Gpu => cfg!(feature = "gpu"),
            Compute::Cuda => cfg!(feature = "cuda"),
        }
    }

    fn device(self) -> Device {
        match self {
            #[cfg(feature = "gpu")]
            Compute::Gpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            Compute::Cuda => Device::cuda(0),
            _ => Device::flex(),
        }
    }

    /// Fails, naming the feature to build with, where this build cannot compute there.
    pub fn check_built(self) -> Result<(), NnError> {
        if self.is_built() {
            return Ok(());
        }
        let feature = if self == Compute::Gpu { "gpu" } else { "cuda" };
        Err(NnError::Config {
            field: "device",
            problem: format!(
                "{feature} needs a build with the `{feature}` feature \
                 (`cargo build --release --features {feature}`)"
            ),
        })
    }

    /// The device with autodiff, for training.
    pub fn train_device(self) -> Device {
        self.device().autodiff()
    }

    /// The device without autodiff, for evaluation.
    pub fn eval_device(self) -> Device {
        self.device()
    }
}
