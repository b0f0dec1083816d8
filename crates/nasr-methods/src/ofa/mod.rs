//! Once-for-All (Cai et al., ICLR 2020): one elastic supernet trained once, then a
//! sub-network for each budget without training again.
//!
//! - [`shrinking`]: progressive shrinking, the training of the supernet (`nasr search
//!   --strategy ofa`);
//! - [`trained`]: a finished progressive-shrinking run read back with its data;
//! - [`extract`]: one sub-network cut out into an ordinary training run folder (`nasr ofa
//!   extract`).

pub mod extract;
pub mod shrinking;
pub mod trained;

pub use extract::{ExtractResult, extract_subnet};
pub use shrinking::{
    OfaResult, Phase, PhaseRecord, ProgressiveShrinkingConfig, ScoredSubnet, ofa_phases,
    progressive_shrinking_run, without_shrinking,
};
pub use trained::TrainedSupernet;
