use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong building, saving, loading or training a network.
#[derive(Debug, Error)]
pub enum NnError {
    /// A configuration value is invalid; names the field.
    #[error("invalid config: {field} {problem}")]
    Config {
        /// The field.
        field: &'static str,
        /// What was wrong with it.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint does not fit the network it is loaded into.
    #[error("{path}: {problem}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What did not fit.
        problem: String,
    },
    /// The compute device (a GPU) failed to run the queued work.
    #[error("the compute device failed: {problem}")]
    Device {
        /// The backend's error.
        problem: String,
    },
    /// A network could not be exported to ONNX, or an ONNX model could not be read.
    #[error("ONNX export: {problem}")]
    Export {
        /// What failed.
        problem: String,
    },
    /// Loss became NaN or infinite.
    #[error("training diverged at epoch {epoch}, step {step}: loss is {loss}")]
    Diverged {
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// The loss value.
        loss: f32,
    },
    /// A data error while training.
    #[error(transparent)]
    Data(#[from] nasr_data::DataError),
    /// An architecture error.
    #[error(transparent)]
    Space(#[from] nasr_space::SpaceError),
    /// A search error (strategy, store, sampler).
    #[error(transparent)]
    Search(#[from] nasr_search::SearchError),
}

impl NnError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
