//! burn building blocks for nasr, and no methods. The methods that wire them together live in
//! `nasr-methods`.
//!
//! - [`ops`]: typed candidate ops of every space, named by what they are;
//! - [`supernet`]: the supernet modes (single path, mixed) with one mixed op, and BatchNorm
//!   recalibration;
//! - [`nets`]: one folder per space, its network and its supernet side by side;
//! - [`train`]: the trainer, whose step returns its loss; SGD and Adam; schedules; checkpoints;
//! - [`eval`]: accuracy, and the supernet evaluator every weight-sharing method ranks with;
//! - [`init`] and [`params`]: seeded initialisation, dotted parameter names, safetensors.
//!
//! Models run on burn's `flex` CPU backend, with `autodiff` enabled for training
//! ([`train_device`]); evaluation runs on the plain device ([`eval_device`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod eval;
pub mod init;
pub mod nets;
pub mod ops;
pub mod params;
pub mod supernet;
pub mod train;

pub use error::NnError;

use std::sync::atomic::{AtomicU8, Ordering};

use burn::tensor::Device;

/// Where nasr computes. The CPU needs no feature; the others exist in builds with the feature
/// of the same name (`gpu`: burn's wgpu backend, Vulkan on NVIDIA; `cuda`: burn's CUDA backend).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Compute {
    /// burn's `flex` CPU backend with nasr's kernels.
    #[default]
    Cpu = 0,
    /// The default wgpu adapter (a discrete GPU where there is one).
    Gpu = 1,
    /// The first CUDA device.
    Cuda = 2,
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
}

static COMPUTE: AtomicU8 = AtomicU8::new(Compute::Cpu as u8);

/// Makes every later [`train_device`] and [`eval_device`] compute on `compute`, for the whole
/// process. Fails, naming the feature to build with, where this build lacks it.
pub fn use_compute(compute: Compute) -> Result<(), NnError> {
    if !compute.is_built() {
        let feature = if compute == Compute::Gpu {
            "gpu"
        } else {
            "cuda"
        };
        return Err(NnError::Config {
            field: "device",
            problem: format!(
                "{feature} needs a build with the `{feature}` feature \
                 (`cargo build --release --features {feature}`)"
            ),
        });
    }
    COMPUTE.store(compute as u8, Ordering::Relaxed);
    Ok(())
}

/// The device chosen by [`use_compute`] (the CPU unless told otherwise).
pub fn compute() -> Compute {
    match COMPUTE.load(Ordering::Relaxed) {
        n if n == Compute::Gpu as u8 => Compute::Gpu,
        n if n == Compute::Cuda as u8 => Compute::Cuda,
        _ => Compute::Cpu,
    }
}

/// The compute device with autodiff, for training.
pub fn train_device() -> Device {
    compute().device().autodiff()
}

/// The compute device without autodiff, for evaluation.
pub fn eval_device() -> Device {
    compute().device()
}
