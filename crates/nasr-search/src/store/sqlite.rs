use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::store::Store;
use crate::store::shared::TrialColumns;
use crate::{SearchError, Trial, TrialRecord};

/// Version of the store's schema; a file of another version is refused. Version 1 saved the
/// whole trial book inside the strategy state; version 2 saves only the policy and generator,
/// and the trials as their rows.
const SCHEMA_VERSION: i64 = 2;

/// A store in one SQLite file (in the run folder). Each step is one transaction with
/// `synchronous = FULL`, so it is on disk when the call returns.
pub struct SqliteStore {
    path: PathBuf,
    connection: Connection,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, SearchError> {
        let error = store_error(path);
        let connection = Connection::open(path).map_err(&error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS trials (
                     id INTEGER PRIMARY KEY, arch TEXT NOT NULL, fidelity TEXT NOT NULL,
                     state TEXT NOT NULL, metrics TEXT NOT NULL, error TEXT);
                 CREATE TABLE IF NOT EXISTS strategy (id INTEGER PRIMARY KEY CHECK (id = 0), state TEXT NOT NULL);",
            )
            .map_err(&error)?;
        let mut store = Self {
            path: path.to_path_buf(),
            connection,
        };
        if store.meta("schema_version")?.is_none() {
            store.set_meta("schema_version", &SCHEMA_VERSION.to_string())?;
        }
        store.check_schema()?;
        Ok(store)
    }

    /// The store at `path` opened to read only, as a report reads a search that may still be
    /// running: nothing is created or written (a missing file is an error), and the search
    /// writing it goes on undisturbed.
    pub fn open_read_only(path: &Path) -> Result<Self, SearchError> {
        let error = store_error(path);
        let connection =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(&error)?;
        let store = Self {
            path: path.to_path_buf(),
            connection,
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Refuses a store of another schema version than this nasr's.
    fn check_schema(&self) -> Result<(), SearchError> {
        let path = &self.path;
        match self.meta("schema_version")? {
            None => Err(SearchError::Store {
                path: path.to_path_buf(),
                problem: "not a nasr experiment store (no schema_version)".into(),
            }),
            Some(version) if version == SCHEMA_VERSION.to_string() => Ok(()),
            Some(version) => {
                let age = match version.parse::<i64>() {
                    Ok(v) if v < SCHEMA_VERSION => "older",
                    _ => "newer",
                };
                Err(SearchError::Store {
                    path: path.to_path_buf(),
                    problem: format!(
                        "store schema version {version} is {age} than the one this nasr reads \
                         ({SCHEMA_VERSION}); rerun the search into a new folder"
                    ),
                })
            }
        }
    }

    /// Replaces every trial and the strategy state with `trials` and `state`, in one
    /// transaction: a copy of a study from another store (`nasr study export`).
    pub fn import(
        &mut self,
        trials: &[TrialRecord],
        state: Option<&serde_json::Value>,
    ) -> Result<(), SearchError> {
        let error = store_error(&self.path);
        let transaction = self.connection.transaction().map_err(&error)?;
        transaction
            .execute_batch("DELETE FROM trials; DELETE FROM strategy;")
            .map_err(&error)?;
        for record in trials {
            insert_trial(&transaction, record).map_err(&error)?;
        }
        if let Some(state) = state {
            transaction
                .execute(
                    "INSERT INTO strategy (id, state) VALUES (0, ?1)",
                    params![state.to_string()],
                )
                .map_err(&error)?;
        }
        transaction.commit().map_err(&error)
    }

    /// Writes one trial row and the strategy state in one transaction.
    fn write(
        &mut self,
        record: &TrialRecord,
        state: &serde_json::Value,
    ) -> Result<(), SearchError> {
        let error = store_error(&self.path);
        let transaction = self.connection.transaction().map_err(&error)?;
        insert_trial(&transaction, record).map_err(&error)?;
        transaction
            .execute(
                "INSERT OR REPLACE INTO strategy (id, state) VALUES (0, ?1)",
                params![state.to_string()],
            )
            .map_err(&error)?;
        transaction.commit().map_err(&error)
    }
}

/// The columns of a row selected as `id, arch, fidelity, state, metrics, error` (the run
/// folder's `trials` and a shared study's `nasr_trials` alike).
pub(super) fn trial_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<TrialColumns> {
    Ok(TrialColumns {
        id: row.get(0)?,
        arch: row.get(1)?,
        fidelity: row.get(2)?,
        state: row.get(3)?,
        metrics: row.get(4)?,
        error: row.get(5)?,
    })
}

/// Writes (or overwrites) `record`'s row.
fn insert_trial(connection: &Connection, record: &TrialRecord) -> rusqlite::Result<()> {
    let row = TrialColumns::of(record);
    connection.execute(
        "INSERT OR REPLACE INTO trials (id, arch, fidelity, state, metrics, error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            row.id,
            row.arch,
            row.fidelity,
            row.state,
            row.metrics,
            row.error
        ],
    )?;
    Ok(())
}

fn store_error(path: &Path) -> impl Fn(rusqlite::Error) -> SearchError + '_ {
    move |e| SearchError::Store {
        path: path.to_path_buf(),
        problem: e.to_string(),
    }
}

impl Store for SqliteStore {
    fn record_ask(&mut self, trial: &Trial, state: &serde_json::Value) -> Result<(), SearchError> {
        let record = TrialRecord::running(trial);
        self.write(&record, state)
    }

    fn record_tell(
        &mut self,
        record: &TrialRecord,
        state: &serde_json::Value,
    ) -> Result<(), SearchError> {
        self.write(record, state)
    }

    fn strategy_state(&self) -> Result<Option<serde_json::Value>, SearchError> {
        let text: Option<String> = self
            .connection
            .query_row("SELECT state FROM strategy WHERE id = 0", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(store_error(&self.path))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| SearchError::Store {
                path: self.path.clone(),
                problem: format!("corrupt strategy state: {e}"),
            })
        })
        .transpose()
    }

    fn trials(&self) -> Result<Vec<TrialRecord>, SearchError> {
        let error = store_error(&self.path);
        let mut statement = self
            .connection
            .prepare("SELECT id, arch, fidelity, state, metrics, error FROM trials ORDER BY id")
            .map_err(&error)?;
        let rows = statement.query_map([], trial_columns).map_err(&error)?;
        let mut trials = Vec::new();
        for columns in rows {
            let record = columns.map_err(&error)?.decode();
            trials.push(record.map_err(|problem| SearchError::Store {
                path: self.path.clone(),
                problem,
            })?);
        }
        Ok(trials)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, SearchError> {
        self.connection
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(store_error(&self.path))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SearchError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(|_| ())
            .map_err(store_error(&self.path))
    }
}
