//! The experiment store: every trial and the strategy's state, so that a search can be killed
//! at any point and resumed.
//!
//! The driver ([`drive`]) records each ask before evaluating and each tell after, each together
//! with the strategy state at that moment. A resumed search loads the last state, evaluates
//! again the trials that were running, and goes on: no completed trial is lost or repeated.

mod memory;
mod postgresql;
mod shared;
mod sqlite;
mod sqlite_study;
mod storage;
mod tls;

pub use memory::MemoryStore;
pub use postgresql::{PostgresStore, redact_url};
pub use shared::{Claim, SharedStudy, StudySnapshot, Told, TrialTimes};
pub use sqlite::SqliteStore;
pub use sqlite_study::SqliteStudy;
pub use storage::StudyStorage;

use crate::{Evaluator, Outcome, SearchError, Strategy, Trial, TrialRecord};

/// Durable record of a search.
///
/// Guarantees every implementation keeps:
/// - **Atomic steps.** [`Store::record_ask`] and [`Store::record_tell`] each write the trial and
///   the strategy state together, or neither.
/// - **One row per step.** A step writes its trial's row and the (small) strategy state, never
///   the other trials: a search's cost per step does not grow with its length, and the strategy
///   is resumed from the state and the trial rows together.
/// - **Durability.** When either returns `Ok`, what it wrote survives a crash of the process
///   (and, for on-disk stores, of the machine: the write is synced). [`MemoryStore`] is durable
///   only for the life of the process.
/// - **Readers.** A reader (another connection, or [`Store::trials`] here) sees the state after
///   some complete step, never half of one.
pub trait Store {
    /// Records that `trial` was asked; `state` is the strategy state right after the ask.
    fn record_ask(&mut self, trial: &Trial, state: &serde_json::Value) -> Result<(), SearchError>;
    /// Records that a trial was told; `state` is the strategy state right after the tell.
    fn record_tell(
        &mut self,
        record: &TrialRecord,
        state: &serde_json::Value,
    ) -> Result<(), SearchError>;
    /// The last recorded strategy state, if any step was recorded.
    fn strategy_state(&self) -> Result<Option<serde_json::Value>, SearchError>;
    /// Every recorded trial, in id order.
    fn trials(&self) -> Result<Vec<TrialRecord>, SearchError>;
    /// A value stored under `key` (the search config, for instance).
    fn meta(&self, key: &str) -> Result<Option<String>, SearchError>;
    /// Stores `value` under `key`.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SearchError>;
}

/// Runs the search until `queries` trials have finished, recording every step in `store` when
/// given one. If the store holds a state, the strategy resumes from it first: trials that were
/// running are evaluated again. `on_finished` sees each trial as it finishes. One evaluation
/// runs at a time, so the search is reproducible bit for bit.
///
/// Without a store nothing is recorded, which keeps benchmark loops free of serialisation.
pub fn drive<'a, E: Evaluator + Send>(
    strategy: &'a mut dyn Strategy,
    evaluator: E,
    store: Option<&'a mut (dyn Store + Send)>,
    queries: usize,
    on_finished: &'a mut (dyn FnMut(&TrialRecord) + Send),
) -> Result<(), SearchError> {
    drive_parallel(strategy, vec![evaluator], store, queries, on_finished)
}

/// What the workers of [`drive_parallel`] share, behind one lock.
struct Shared<'a> {
    strategy: &'a mut dyn Strategy,
    store: Option<&'a mut (dyn Store + Send)>,
    on_finished: &'a mut (dyn FnMut(&TrialRecord) + Send),
    /// Trials that were running when the search was resumed, to evaluate again first.
    redo: Vec<Trial>,
    error: Option<SearchError>,
}

/// [`drive`] with one thread per evaluator: each worker asks, evaluates without holding the
/// lock, and tells. Trials are asked until `queries` have been asked in all, so the search ends
/// with `queries` finished trials. With more than one worker the order in which trials finish,
/// and so what an adaptive strategy proposes, depends on timing: only a single worker is
/// reproducible bit for bit.
pub fn drive_parallel<'a, E: Evaluator + Send>(
    strategy: &'a mut dyn Strategy,
    evaluators: Vec<E>,
    store: Option<&'a mut (dyn Store + Send)>,
    queries: usize,
    on_finished: &'a mut (dyn FnMut(&TrialRecord) + Send),
) -> Result<(), SearchError> {
    if let Some(store) = store.as_deref()
        && let Some(state) = store.strategy_state()?
    {
        strategy.load_state(state, store.trials()?)?;
    }
    let mut redo = strategy.running();
    redo.reverse();
    let shared = std::sync::Mutex::new(Shared {
        strategy,
        store,
        on_finished,
        redo,
        error: None,
    });
    std::thread::scope(|scope| {
        for mut evaluator in evaluators {
            let shared = &shared;
            scope.spawn(move || worker(shared, &mut evaluator, queries));
        }
    });
    let shared = shared
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match shared.error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn worker(shared: &std::sync::Mutex<Shared<'_>>, evaluator: &mut dyn Evaluator, queries: usize) {
    let lock = || {
        shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    loop {
        let trial = {
            let mut guard = lock();
            let s = &mut *guard;
            if s.error.is_some() {
                return;
            }
            match s.redo.pop() {
                Some(trial) => trial,
                None if s.strategy.book().trials().len() < queries => {
                    let trial = s.strategy.ask();
                    let recorded = match s.store.as_mut() {
                        Some(store) => store.record_ask(&trial, &s.strategy.state()),
                        None => Ok(()),
                    };
                    if let Err(error) = recorded {
                        s.error = Some(error);
                        return;
                    }
                    trial
                }
                None => return,
            }
        };
        let outcome = match evaluator.evaluate(&trial.arch, trial.fidelity) {
            Ok(metrics) => Outcome::Complete(metrics),
            Err(error) => Outcome::Failed(error.to_string()),
        };
        let mut guard = lock();
        let s = &mut *guard;
        let told = s.strategy.tell(trial.id, outcome).and_then(|()| {
            let record = s
                .strategy
                .book()
                .get(trial.id)
                .expect("a told trial is in the book");
            if let Some(store) = s.store.as_mut() {
                store.record_tell(record, &s.strategy.state())?;
            }
            (s.on_finished)(record);
            Ok(())
        });
        if let Err(error) = told {
            s.error = Some(error);
            return;
        }
    }
}
