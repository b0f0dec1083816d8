//! Once-for-All (Cai et al., ICLR 2020): one elastic supernet trained once, then a
//! sub-network for each budget without training again.
//!
//! - [`shrinking`]: progressive shrinking, the training of the supernet (`nasr search
//!   --strategy ofa`);
//! - [`trained`]: a finished progressive-shrinking run read back with its data;
//! - [`extract`]: one sub-network cut out into an ordinary training run folder (`nasr ofa
//!   extract`);
//! - [`predictor`]: the run's accuracy predictor, fitted to measured sub-networks (`nasr ofa
//!   predictor`);
//! - [`specialize`]: the best sub-network within a budget, by constrained evolution over the
//!   predictor (`nasr ofa specialize`).

pub mod extract;
pub mod predictor;
pub mod shrinking;
pub mod specialize;
pub mod trained;

pub use extract::{ExtractResult, extract_subnet};
pub use shrinking::{
    OfaResult, Phase, PhaseRecord, ProgressiveShrinkingConfig, ScoredSubnet, ofa_phases,
    progressive_shrinking_run, without_shrinking,
};
pub use trained::TrainedSupernet;
