use std::collections::BTreeMap;

use crate::store::Store;
use crate::{SearchError, Trial, TrialRecord};

/// A store in memory: for tests, benchmarks and searches that need no resume.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    trials: BTreeMap<u64, TrialRecord>,
    state: Option<serde_json::Value>,
    meta: BTreeMap<String, String>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn record_ask(&mut self, trial: &Trial, state: &serde_json::Value) -> Result<(), SearchError> {
        let record = TrialRecord::running(trial);
        self.trials.insert(trial.id, record);
        self.state = Some(state.clone());
        Ok(())
    }

    fn record_tell(
        &mut self,
        record: &TrialRecord,
        state: &serde_json::Value,
    ) -> Result<(), SearchError> {
        self.trials.insert(record.id, record.clone());
        self.state = Some(state.clone());
        Ok(())
    }

    fn strategy_state(&self) -> Result<Option<serde_json::Value>, SearchError> {
        Ok(self.state.clone())
    }

    fn trials(&self) -> Result<Vec<TrialRecord>, SearchError> {
        Ok(self.trials.values().cloned().collect())
    }

    fn meta(&self, key: &str) -> Result<Option<String>, SearchError> {
        Ok(self.meta.get(key).cloned())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SearchError> {
        self.meta.insert(key.to_string(), value.to_string());
        Ok(())
    }
}
