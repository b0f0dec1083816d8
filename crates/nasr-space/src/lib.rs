//! Search spaces as pure data.
//!
//! An architecture is a point in a product of named categorical decisions: an [`Arch`] holds one
//! option index per [`Decision`] of a [`Space`]. Because every space has this one shape, every
//! search strategy works on every space without knowing it. This crate never touches tensors.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod arch;
pub mod darts;
mod error;
pub mod mobilenet;
pub mod nb201;
pub mod ofa;
pub mod streams;

pub use arch::{Arch, Decision, Space};
pub use darts::DartsSpace;
pub use error::SpaceError;
pub use mobilenet::MobileNetSpace;
pub use nb201::Nb201Space;
pub use ofa::OfaSpace;
pub use streams::{EpochStream, SeedStreams};
