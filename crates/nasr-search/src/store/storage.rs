//! Where shared studies live, as `--storage` names it: `postgresql://...` (a PostgreSQL
//! database, for workers on any machines) or `sqlite:PATH` (an SQLite file, for worker
//! processes on one machine).

use std::path::PathBuf;

use crate::SearchError;
use crate::store::{PostgresStore, SharedStudy, SqliteStudy, redact_url};

/// A database of shared studies.
#[derive(Clone)]
pub enum StudyStorage {
    /// A PostgreSQL database, by its URL (which may hold a password: never shown).
    Postgres(String),
    /// An SQLite file.
    Sqlite(PathBuf),
}

impl std::fmt::Debug for StudyStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl StudyStorage {
    /// The storage `text` names: a `postgresql://` or `postgres://` URL, or `sqlite:PATH`.
    pub fn parse(text: &str) -> Result<Self, SearchError> {
        if text.starts_with("postgresql://") || text.starts_with("postgres://") {
            return Ok(Self::Postgres(text.to_string()));
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            // `sqlite:///abs/path` (Optuna's and SQLAlchemy's form) and `sqlite:path` alike.
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad_storage("sqlite: needs a file path (sqlite:PATH)"));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err(bad_storage(&format!(
            "expected postgresql://USER:PASSWORD@HOST/DATABASE or sqlite:PATH, got {:?}",
            redact_url(text)
        )))
    }

    /// The storage as it may be shown: the URL's password redacted.
    pub fn shown(&self) -> String {
        match self {
            Self::Postgres(url) => redact_url(url),
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
        }
    }

    /// Creates the study `name` recording `meta` (its config under `config`), refused if the
    /// name exists, unless `load_if_exists`, when it is opened and must record the same.
    pub fn create(
        &self,
        name: &str,
        meta: &[(&str, &str)],
        load_if_exists: bool,
    ) -> Result<Box<dyn SharedStudy>, SearchError> {
        Ok(match self {
            Self::Postgres(url) => {
                Box::new(PostgresStore::create(url, name, meta, load_if_exists)?)
            }
            Self::Sqlite(path) => Box::new(SqliteStudy::create(path, name, meta, load_if_exists)?),
        })
    }

    /// Opens the existing study `name`.
    pub fn open(&self, name: &str) -> Result<Box<dyn SharedStudy>, SearchError> {
        Ok(match self {
            Self::Postgres(url) => Box::new(PostgresStore::open(url, name)?),
            Self::Sqlite(path) => Box::new(SqliteStudy::open(path, name)?),
        })
    }

    /// The names of its studies, oldest first.
    pub fn list(&self) -> Result<Vec<String>, SearchError> {
        match self {
            Self::Postgres(url) => PostgresStore::list(url),
            Self::Sqlite(path) => SqliteStudy::list(path),
        }
    }

    /// Deletes the study `name` and its trials; whether there was one.
    pub fn delete(&self, name: &str) -> Result<bool, SearchError> {
        match self {
            Self::Postgres(url) => PostgresStore::delete(url, name),
            Self::Sqlite(path) => SqliteStudy::delete(path, name),
        }
    }
}

fn bad_storage(problem: &str) -> SearchError {
    SearchError::Config {
        field: "storage".into(),
        problem: problem.to_string(),
    }
}
