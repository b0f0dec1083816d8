use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong when reading, checking or downloading data. Each variant names the file.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A gzip stream ended early or is corrupt.
    #[error("{path}: truncated or corrupt gzip data ({source})")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The file does not start with the expected magic number.
    #[error("{path}: wrong magic number 0x{found:08x}, expected 0x{expected:08x} ({what})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
        /// The magic number expected.
        expected: u32,
        /// What kind of file was expected.
        what: &'static str,
    },
    /// The header's dimensions are not what the format needs.
    #[error("{path}: wrong dimensions: {problem}")]
    BadDimensions {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        problem: String,
    },
    /// The file is shorter (or longer) than its header says.
    #[error("{path}: expected {expected} bytes of data, found {found}")]
    WrongLength {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// An image file and its label file disagree on the number of examples.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels.
        label_count: usize,
    },
    /// A label is not a valid class index.
    #[error(
        "{path}: label {label} of example {index} is out of range (the dataset has {classes} classes)"
    )]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Example index.
        index: usize,
        /// The label found.
        label: u16,
        /// Number of classes.
        classes: usize,
    },
    /// A CSV line could not be read.
    #[error("{path}, line {line}: {problem}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        problem: String,
    },
    /// An expected data file is missing.
    #[error("{path} not found: {hint}")]
    Missing {
        /// The missing file.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// The dataset name is not one nasr knows.
    #[error("unknown dataset {name:?}; known: {known}")]
    UnknownDataset {
        /// The name given.
        name: String,
        /// The names nasr knows.
        known: String,
    },
    /// A downloaded file does not have the published checksum.
    #[error("{file}: sha256 {found} does not match the published {expected}; nothing was written")]
    Checksum {
        /// The file (URL or name).
        file: String,
        /// The published checksum.
        expected: String,
        /// The checksum of what arrived.
        found: String,
    },
    /// A download failed.
    #[error("downloading {url}: {problem}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// A split, subset or batch request that the data cannot satisfy.
    #[error("{0}")]
    BadRequest(String),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
