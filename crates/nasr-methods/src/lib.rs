//! nasr's NAS methods and studies, each wiring over the building blocks of `nasr-nn`,
//! `nasr-search` and `nasr-data`: one module per method, plus the run folder they share.
//!
//! - [`space`]: the space a config names, with its network sizes ([`space::SpaceConfig`]);
//! - [`run`]: the training run folder (config, metrics, checkpoints) every method writes;
//! - [`rsws`]: random search with weight sharing on the NB201 supernet;
//! - [`multi_fidelity`]: ASHA and asynchronous Hyperband over standalone training;
//! - [`fairnas`]: strictly fair supernet training on the MobileNet space, NSGA-II over it;
//! - [`path_steps`]: the single-path training steps (uniform, strictly fair) and validation path;
//! - [`darts`]: DARTS (first and second order, Fair DARTS, DARTS-) on the NB201 and DARTS spaces;
//! - [`proxyless`]: ProxylessNAS (binary gates, `two` mode, a latency loss from a measured
//!   table) on the MobileNet spaces;
//! - [`dna`]: DNA (blocks distilled from a teacher's features, per-block scores, exact
//!   selection under a budget) on the MobileNet space;
//! - [`ftt`]: FTT-NAS (a fault-tolerantly trained supernet, REINFORCE or REA over its paths
//!   rewarded clean and under faults, fault-tolerant retraining) on the NB201 and DARTS spaces;
//! - [`robustness`]: trained networks' accuracy against a fault rate;
//! - [`trained_run`]: a finished training run's network: its test accuracy, logits, ONNX
//!   export; [`predict`]: classify images with a run or an exported model;
//! - [`ofa`]: Once-for-All (progressive shrinking, extraction, the accuracy predictor,
//!   specialisation under a budget);
//! - [`experiment`]: any of these as one config tagged by method, checked and run;
//! - studies: [`compare`] (methods at equal budget over seeds), [`rank_eval`] and
//!   [`sampling_rank`] (how well a supernet ranks);
//! - [`bench`]: timing of the training and supernet steps.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod alpha_checkpoint;
pub mod bench;
pub mod compare;
pub mod darts;
pub mod dna;
pub mod experiment;
pub mod fairnas;
pub mod ftt;
pub mod latency_table;
pub mod multi_fidelity;
pub mod ofa;
pub mod path_steps;
pub mod predict;
pub mod proxyless;
pub mod rank_eval;
pub mod robustness;
pub mod rsws;
pub mod run;
pub mod run_network;
pub mod sampling_rank;
pub mod space;
pub mod trained_run;
