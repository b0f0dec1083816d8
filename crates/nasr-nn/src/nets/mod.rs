//! One layout per space: each folder holds the space's standalone network (`network.rs`) and
//! its supernet (`supernet.rs`) side by side, around the parts they share (`mod.rs`), so that a
//! supernet path and the network extracted from it name their parameters alike.
//!
//! - [`nb201`]: NAS-Bench-201 cells in its macro skeleton;
//! - [`darts`]: the DARTS search network and the evaluation network of a genotype;
//! - [`mobilenet`]: MobileNetV2-style stacks of MBConv layers;
//! - [`ofa`]: Once-for-All's elastic supernet (one network, every sub-network).

pub mod darts;
pub mod mobilenet;
pub mod nb201;
pub mod ofa;
