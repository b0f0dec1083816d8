//! The architecture side of a gradient-based search (DARTS, ProxylessNAS), saved beside each
//! epoch's weight checkpoint as `checkpoints/alphas-epoch-NNN.json`, and its per-epoch log as
//! `alphas.jsonl`. The alpha checkpoint is written before the trainer's, so that a resumed run
//! always finds the one of the epoch it resumes at.

use std::path::{Path, PathBuf};

use nasr_nn::NnError;
use nasr_nn::params::write_atomically;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Alpha (with its optimiser's state) and the log of the epochs so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AlphaCheckpoint<A, R> {
    pub alphas: A,
    pub log: Vec<R>,
}

fn path(checkpoints: &Path, epochs: usize) -> PathBuf {
    checkpoints.join(format!("alphas-epoch-{epochs:03}.json"))
}

impl<A: Serialize + DeserializeOwned, R: Serialize + DeserializeOwned> AlphaCheckpoint<A, R> {
    /// The checkpoint of `epochs` completed epochs in `checkpoints` (none at 0).
    pub fn load(checkpoints: &Path, epochs: usize) -> Result<Option<Self>, NnError> {
        if epochs == 0 {
            return Ok(None);
        }
        let path = path(checkpoints, epochs);
        let text = std::fs::read_to_string(&path).map_err(|e| NnError::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| NnError::Checkpoint {
                path: path.clone(),
                problem: e.to_string(),
            })
    }

    /// Writes it as the checkpoint of `epochs` completed epochs, atomically.
    pub fn save(&self, checkpoints: &Path, epochs: usize) -> Result<(), NnError> {
        let json = serde_json::to_vec(self).expect("alphas serialise");
        std::fs::create_dir_all(checkpoints).map_err(|e| NnError::io(checkpoints, e))?;
        write_atomically(&path(checkpoints, epochs), &json)
    }
}

/// `records` as JSON lines (`alphas.jsonl`).
pub(crate) fn write_json_lines<R: Serialize>(path: &Path, records: &[R]) -> Result<(), NnError> {
    let text: String = records
        .iter()
        .map(|record| serde_json::to_string(record).expect("records serialise") + "\n")
        .collect();
    write_atomically(path, text.as_bytes())
}
