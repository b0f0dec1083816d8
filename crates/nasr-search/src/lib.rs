//! Search strategies in ask/tell form, evaluators, the NAS-Bench-201 table, cost models, and the
//! experiment store.
//!
//! A [`Strategy`] proposes architectures ([`Strategy::ask`]) and learns from their metrics
//! ([`Strategy::tell`]); it never touches tensors and works on any [`nasr_space::Space`]. An
//! [`Evaluator`] turns an architecture into metrics. A [`store::Store`] records every trial and
//! the strategy's state, so an interrupted search resumes where it stopped.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod asha;
pub mod bench;
pub mod block_select;
pub mod constrained_evolution;
mod cost;
mod error;
mod evaluator;
pub mod evolution;
pub mod experiment;
pub mod fair;
pub mod hardware_loss;
pub mod help_latency;
pub mod latency;
mod metrics;
pub mod nb201_table;
pub mod nsga2;
pub mod ofa_latency;
pub mod predictor;
pub mod random;
pub mod rank;
pub mod registry;
pub mod reinforce;
pub mod store;
mod strategy;
pub mod worker;

pub use cost::{Cost, CostModel};
pub use error::SearchError;
pub use evaluator::{Evaluator, Fidelity};
pub use metrics::{Goal, Metrics, Outcome};
pub use strategy::{Policy, Search, Strategy, Trial, TrialBook, TrialId, TrialRecord, TrialState};
