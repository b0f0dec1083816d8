//! A stateless worker on a shared study: claim a trial, evaluate it while a second
//! connection beats its heartbeat, tell it; again until the study is finished, this worker's
//! `max_trials` are done, or it is asked to stop. Everything it needs is in the study, so any
//! number of workers on any machines can start and die at any time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::store::{Claim, PostgresStore, Told};
use crate::{Evaluator, Outcome, SearchError, Strategy};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Its name in the study (unique among live workers: host and process id, say).
    pub name: String,
    /// The trials the study completes.
    pub queries: usize,
    /// Stop after this many trials of this worker's.
    pub max_trials: Option<usize>,
    /// How often the heartbeat is written while a trial is evaluated.
    pub heartbeat: Duration,
    /// How long a running trial may go without a heartbeat before it is stale.
    pub timeout: Duration,
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Trials it evaluated and told.
    pub told: usize,
    /// Tells refused because the trial had gone stale meanwhile.
    pub refused: usize,
}

/// Runs a worker on `store`'s study; `beat` is a second connection to it, for the heartbeat.
/// `strategy` is the study's strategy, built from its config (its state comes from the study).
/// Returns when the study is finished, `max_trials` are done, or `stop` is set (checked
/// between trials, so a trial is always told before the worker exits).
pub fn run_worker(
    store: &PostgresStore,
    beat: &PostgresStore,
    strategy: &mut dyn Strategy,
    evaluator: &mut dyn Evaluator,
    config: &WorkerConfig,
    stop: &AtomicBool,
) -> Result<WorkerReport, SearchError> {
    let mut report = WorkerReport::default();
    while !stop.load(Ordering::SeqCst)
        && config
            .max_trials
            .is_none_or(|max| report.told + report.refused < max)
    {
        let trial = match store.claim(strategy, &config.name, config.queries, config.timeout)? {
            Claim::Trial(trial) => trial,
            Claim::Wait => {
                std::thread::sleep(config.heartbeat);
                continue;
            }
            Claim::Done => break,
        };
        let outcome = evaluate_beating(beat, evaluator, &trial, config)?;
        match store.finish(strategy, &config.name, trial.id, outcome)? {
            Told::Recorded(_) => report.told += 1,
            Told::Refused(_) => report.refused += 1,
        }
    }
    Ok(report)
}

/// The outcome of `trial`, with its heartbeat written every `config.heartbeat` meanwhile.
fn evaluate_beating(
    beat: &PostgresStore,
    evaluator: &mut dyn Evaluator,
    trial: &crate::Trial,
    config: &WorkerConfig,
) -> Result<Outcome, SearchError> {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let beating = scope.spawn(|| -> Result<(), SearchError> {
            let tick = Duration::from_millis(20).min(config.heartbeat);
            let mut waited = Duration::ZERO;
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(tick);
                waited += tick;
                if waited >= config.heartbeat {
                    waited = Duration::ZERO;
                    beat.heartbeat(trial.id, &config.name)?;
                }
            }
            Ok(())
        });
        let outcome = match evaluator.evaluate(&trial.arch, trial.fidelity) {
            Ok(metrics) => Outcome::Complete(metrics),
            Err(error) => Outcome::Failed(error.to_string()),
        };
        done.store(true, Ordering::SeqCst);
        beating
            .join()
            .expect("the heartbeat thread does not panic")?;
        Ok(outcome)
    })
}
