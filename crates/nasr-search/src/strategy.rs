//! The ask/tell contract, the bookkeeping every strategy shares, and the generic [`Search`]
//! that enforces the contract around a strategy-specific [`Policy`].

use std::sync::Arc;

use nasr_space::{Arch, Space};
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Fidelity, Goal, Metrics, Outcome, SearchError};

/// Identifies a trial within one search: 0, 1, 2, ... in ask order.
pub type TrialId = u64;

/// An architecture handed out for evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trial {
    /// Its id.
    pub id: TrialId,
    /// The architecture to evaluate.
    pub arch: Arch,
    /// How much effort to spend on it.
    pub fidelity: Fidelity,
}

/// Where a trial stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Asked, not yet told.
    Running,
    /// Told with finite metrics.
    Complete,
    /// Told with a failure, or with a NaN or infinite metric.
    Failed,
    /// Asked, then abandoned: the worker evaluating it is gone (no heartbeat). It is never
    /// told; its architecture is asked again under a new id ([`Strategy::ask_again`]).
    Stale,
}

/// Everything known about one trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Its id.
    pub id: TrialId,
    /// The architecture.
    pub arch: Arch,
    /// The fidelity it was (or is being) evaluated at.
    pub fidelity: Fidelity,
    /// Where it stands.
    pub state: TrialState,
    /// Its metrics (empty unless complete).
    pub metrics: Metrics,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl TrialRecord {
    /// Whether the trial was told (complete or failed).
    pub fn is_told(&self) -> bool {
        matches!(self.state, TrialState::Complete | TrialState::Failed)
    }

    /// The record of a trial just asked.
    pub fn running(trial: &Trial) -> Self {
        Self {
            id: trial.id,
            arch: trial.arch.clone(),
            fidelity: trial.fidelity,
            state: TrialState::Running,
            metrics: Metrics::new(),
            error: None,
        }
    }
}

/// The trials of a search and the goal that ranks them. Shared by every strategy, so the
/// ask/tell rules hold for all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialBook {
    goal: Goal,
    trials: Vec<TrialRecord>,
}

impl TrialBook {
    /// An empty book ranking trials by `goal`.
    pub fn new(goal: Goal) -> Self {
        Self {
            goal,
            trials: Vec::new(),
        }
    }

    /// The goal.
    pub fn goal(&self) -> &Goal {
        &self.goal
    }

    /// All trials, in id order.
    pub fn trials(&self) -> &[TrialRecord] {
        &self.trials
    }

    /// The trial `id`.
    pub fn get(&self, id: TrialId) -> Option<&TrialRecord> {
        self.trials.get(id as usize)
    }

    /// The score of a trial under the goal: `None` unless complete and feasible.
    pub fn score(&self, record: &TrialRecord) -> Option<f64> {
        match record.state {
            TrialState::Complete => self.goal.score(&record.metrics),
            _ => None,
        }
    }

    /// Number of trials told (complete or failed); running and stale ones are not.
    pub fn finished(&self) -> usize {
        self.trials.iter().filter(|t| t.is_told()).count()
    }

    /// The best feasible complete trial at the highest fidelity evaluated (the earliest among
    /// equals): a score after more epochs outranks any score after fewer.
    pub fn best(&self) -> Option<&TrialRecord> {
        let mut best: Option<(&TrialRecord, (usize, f64))> = None;
        for record in &self.trials {
            if let Some(score) = self.score(record) {
                let key = (record.fidelity.rank(), score);
                if best.is_none_or(|(_, b)| key.0 > b.0 || (key.0 == b.0 && key.1 > b.1)) {
                    best = Some((record, key));
                }
            }
        }
        best.map(|(record, _)| record)
    }

    /// The book of `trials` as recorded: ids must run 0, 1, 2, ... in order.
    pub fn from_trials(goal: Goal, trials: Vec<TrialRecord>) -> Result<Self, SearchError> {
        if let Some((position, record)) = trials
            .iter()
            .enumerate()
            .find(|(position, record)| record.id != *position as TrialId)
        {
            return Err(SearchError::State(format!(
                "recorded trial {position} (in id order) has id {}; ids must run 0, 1, 2, ...",
                record.id
            )));
        }
        Ok(Self { goal, trials })
    }

    fn open(&mut self, arch: Arch, fidelity: Fidelity) -> Trial {
        let trial = Trial {
            id: self.trials.len() as TrialId,
            arch,
            fidelity,
        };
        self.trials.push(TrialRecord::running(&trial));
        trial
    }

    /// Marks a running trial stale.
    fn abandon(&mut self, id: TrialId) -> Result<(), SearchError> {
        let record = self
            .trials
            .get_mut(id as usize)
            .filter(|r| r.state == TrialState::Running)
            .ok_or(SearchError::NotRunning(id))?;
        record.state = TrialState::Stale;
        Ok(())
    }

    /// Closes a running trial. A NaN or infinite metric makes it failed.
    fn close(&mut self, id: TrialId, outcome: Outcome) -> Result<&TrialRecord, SearchError> {
        let record = self
            .trials
            .get_mut(id as usize)
            .filter(|r| r.state == TrialState::Running)
            .ok_or(SearchError::NotRunning(id))?;
        match outcome {
            Outcome::Complete(metrics) => match metrics.iter().find(|(_, v)| !v.is_finite()) {
                Some((name, value)) => {
                    record.state = TrialState::Failed;
                    record.error = Some(format!("metric {name} is {value}"));
                }
                None => {
                    record.state = TrialState::Complete;
                    record.metrics = metrics;
                }
            },
            Outcome::Failed(reason) => {
                record.state = TrialState::Failed;
                record.error = Some(reason);
            }
        }
        Ok(record)
    }
}

/// A search strategy in ask/tell form.
///
/// The rules every implementation keeps:
/// - `ask` always returns a new trial, with the next id; several trials may run at once.
/// - Only a running trial can be told; telling any other id is [`SearchError::NotRunning`].
/// - A NaN or infinite metric makes the trial [`TrialState::Failed`]; failed and infeasible
///   trials never count as the best.
/// - The whole state is [`Strategy::state`] (random generator included) plus the trials:
///   building the same strategy and loading both continues exactly where the saved one stood,
///   running trials included (they are returned by [`Strategy::running`] to be evaluated
///   again).
pub trait Strategy: Send {
    /// The strategy's name (`rs`, `rea`, ...).
    fn name(&self) -> &'static str;
    /// Proposes the next architecture to evaluate.
    fn ask(&mut self) -> Trial;
    /// Reports the outcome of a running trial.
    fn tell(&mut self, id: TrialId, outcome: Outcome) -> Result<(), SearchError>;
    /// The trials so far.
    fn book(&self) -> &TrialBook;
    /// The strategy's own state (its policy and random generator), as a serde value. The
    /// trials are not part of it: a store keeps them as rows, and [`Strategy::load_state`]
    /// takes them back, so a state saved after every step costs the same at any trial count.
    fn state(&self) -> serde_json::Value;
    /// Restores a state saved by [`Strategy::state`] of the same strategy, together with every
    /// trial recorded up to the moment it was saved (in id order).
    fn load_state(
        &mut self,
        state: serde_json::Value,
        trials: Vec<TrialRecord>,
    ) -> Result<(), SearchError>;

    /// Marks the running trial `id` stale: its evaluation was lost (the worker holding it is
    /// gone). The policy does not see it; [`Strategy::ask_again`] asks its architecture anew.
    fn abandon(&mut self, id: TrialId) -> Result<(), SearchError>;

    /// A new trial of `trial`'s architecture and fidelity, with the next id, without the
    /// policy proposing (its generator does not move): how a stale trial is asked again.
    fn ask_again(&mut self, trial: &Trial) -> Trial;

    /// The best feasible trial so far.
    fn best(&self) -> Option<&TrialRecord> {
        self.book().best()
    }

    /// Trials asked and not yet told.
    fn running(&self) -> Vec<Trial> {
        self.book()
            .trials()
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .map(|t| Trial {
                id: t.id,
                arch: t.arch.clone(),
                fidelity: t.fidelity,
            })
            .collect()
    }
}

/// What distinguishes one strategy from another: how it proposes, and what it learns from each
/// finished trial. [`Search`] wraps a policy into a [`Strategy`].
pub trait Policy: Serialize + DeserializeOwned + Send {
    /// The strategy's name.
    const NAME: &'static str;

    /// The next architecture to try, and the fidelity to evaluate it at (single-fidelity
    /// strategies always say [`Fidelity::Full`]).
    fn propose(
        &mut self,
        space: &dyn Space,
        book: &TrialBook,
        rng: &mut ChaCha12Rng,
    ) -> (Arch, Fidelity);

    /// Learns from a trial that just finished (complete or failed).
    fn observe(&mut self, book: &TrialBook, finished: TrialId);

    /// Trial `new` asks the architecture and fidelity of the stale trial `old` again: a policy
    /// that keeps per-trial bookkeeping (ASHA's rung of each trial) carries it over. Most
    /// policies keep none.
    fn asked_again(&mut self, _old: TrialId, _new: TrialId) {}
}

/// A [`Strategy`] made of a [`Policy`], a [`TrialBook`] and a seeded generator.
pub struct Search<P: Policy> {
    space: Arc<dyn Space + Send + Sync>,
    /// The trials; not part of the saved state (a store keeps them as rows).
    book: TrialBook,
    /// What [`Strategy::state`] saves: small however long the search runs.
    state: SearchState<P>,
}

#[derive(Serialize, Deserialize)]
struct SearchState<P> {
    strategy: String,
    policy: P,
    rng: ChaCha12Rng,
}

impl<P: Policy> Search<P> {
    /// A search over `space` toward `goal`, drawing from a generator seeded with `seed`.
    pub fn new(space: Arc<dyn Space + Send + Sync>, goal: Goal, policy: P, seed: u64) -> Self {
        Self {
            space,
            book: TrialBook::new(goal),
            state: SearchState {
                strategy: P::NAME.to_string(),
                policy,
                rng: ChaCha12Rng::seed_from_u64(seed),
            },
        }
    }

    /// The policy, for strategy-specific queries (NSGA-II's front, REINFORCE's distribution).
    pub fn policy(&self) -> &P {
        &self.state.policy
    }
}

impl<P: Policy> Strategy for Search<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn ask(&mut self) -> Trial {
        let state = &mut self.state;
        let (arch, fidelity) =
            state
                .policy
                .propose(self.space.as_ref(), &self.book, &mut state.rng);
        self.book.open(arch, fidelity)
    }

    fn tell(&mut self, id: TrialId, outcome: Outcome) -> Result<(), SearchError> {
        self.book.close(id, outcome)?;
        self.state.policy.observe(&self.book, id);
        Ok(())
    }

    fn abandon(&mut self, id: TrialId) -> Result<(), SearchError> {
        self.book.abandon(id)
    }

    fn ask_again(&mut self, trial: &Trial) -> Trial {
        let again = self.book.open(trial.arch.clone(), trial.fidelity);
        self.state.policy.asked_again(trial.id, again.id);
        again
    }

    fn book(&self) -> &TrialBook {
        &self.book
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("strategy state serialises")
    }

    fn load_state(
        &mut self,
        state: serde_json::Value,
        trials: Vec<TrialRecord>,
    ) -> Result<(), SearchError> {
        // Check the name first: another strategy's policy would fail to parse less clearly.
        let strategy = state
            .get("strategy")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown");
        if strategy != P::NAME {
            return Err(SearchError::State(format!(
                "the state is of strategy {strategy}, not {}",
                P::NAME
            )));
        }
        let book = TrialBook::from_trials(self.book.goal().clone(), trials)?;
        self.state =
            serde_json::from_value(state).map_err(|e| SearchError::State(e.to_string()))?;
        self.book = book;
        Ok(())
    }
}
