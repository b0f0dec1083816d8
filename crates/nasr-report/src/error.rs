use std::path::PathBuf;

use thiserror::Error;

/// What can stop a report: each names the folder or file.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The folder holds none of the records a nasr run writes.
    #[error(
        "{path} is not a nasr run folder: it has no config.toml, experiment.sqlite or \
         metrics.json (give the --out folder of a nasr command, or a folder of such folders)"
    )]
    NotARun {
        /// The folder.
        path: PathBuf,
    },
    /// A record was written by a newer nasr than this one.
    #[error(
        "{path}: {field} {found} is newer than this nasr reads ({supported}); report it with \
         the nasr that wrote it"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// The version field.
        field: &'static str,
        /// The version found.
        found: u64,
        /// The newest this nasr reads.
        supported: u64,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record could not be parsed.
    #[error("{path}: {problem}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        problem: String,
    },
    /// The experiment store could not be read.
    #[error(transparent)]
    Store(#[from] nasr_search::SearchError),
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
