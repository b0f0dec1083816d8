use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong in a search.
#[derive(Debug, Error)]
pub enum SearchError {
    /// `tell` named a trial that is not running (unknown, or already told).
    #[error("trial {0} is not running: only a running trial can be told")]
    NotRunning(u64),
    /// A configuration value is invalid; names the field.
    #[error("invalid search config: {field} {problem}")]
    Config {
        /// The field.
        field: String,
        /// What was wrong.
        problem: String,
    },
    /// A saved strategy state does not fit the strategy it is loaded into.
    #[error("cannot restore strategy state: {0}")]
    State(String),
    /// A data file is missing or malformed.
    #[error("{path}: {problem}")]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        problem: String,
    },
    /// A latency table has no entry for a block an architecture needs.
    #[error(
        "the latency table has no entry {key:?}: it was measured for another space or sizes \
         (measure one for this space with `nasr latency measure`)"
    )]
    LatencyKey {
        /// The missing key.
        key: String,
    },
    /// The experiment store failed.
    #[error("experiment store {path}: {problem}")]
    Store {
        /// The store's file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// The experiment store on a database server failed; the URL's password is redacted.
    #[error("experiment store {url}, study {study}: {problem}")]
    Database {
        /// The database's URL, without its password.
        url: String,
        /// The study.
        study: String,
        /// What went wrong.
        problem: String,
    },
    /// An evaluation failed (training diverged, data missing, ...).
    #[error("evaluation failed: {0}")]
    Evaluation(String),
    /// An architecture error.
    #[error(transparent)]
    Space(#[from] nasr_space::SpaceError),
}
