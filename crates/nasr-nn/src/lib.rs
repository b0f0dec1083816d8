//! burn modules for nasr: the NAS-Bench-201 ops and network, named parameters and safetensors
//! checkpoints, SGD, and the training loop.
//!
//! Models run on burn's `flex` CPU backend, with `autodiff` enabled for training
//! ([`train_device`]); evaluation runs on the plain device ([`eval_device`]).
#![deny(missing_docs)]

pub mod bench;
pub mod compare;
pub mod darts;
pub mod darts_net;
mod error;
pub mod fairnas;
pub mod init;
pub mod kernels;
pub mod mobilenet;
pub mod multi_fidelity;
pub mod nb201;
pub mod ops;
pub mod params;
pub mod rank_eval;
pub mod rsws;
pub mod run;
pub mod sampling_rank;
pub mod schedule;
pub mod sgd;
pub mod supernet;
pub mod train;

pub use error::NnError;

use burn::tensor::Device;

/// The CPU device with autodiff, for training.
pub fn train_device() -> Device {
    Device::flex().autodiff()
}

/// The CPU device without autodiff, for evaluation.
pub fn eval_device() -> Device {
    Device::flex()
}
