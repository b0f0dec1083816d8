//! Shared studies in one SQLite file (`--storage sqlite:PATH`): the tables of the PostgreSQL
//! store, many studies to a file, for worker processes on one machine.
//!
//! Every step is one `BEGIN IMMEDIATE` transaction, which takes the file's write lock, so
//! steps of different processes are applied one at a time; a process waiting for the lock
//! waits (busy timeout) rather than failing. The file is in WAL mode with `synchronous =
//! FULL`: a step is on disk when it returns, and readers see the state after some complete
//! step. WAL needs shared memory between the processes, so the file must be on a local disk
//! of the machine they run on: workers on several machines share a PostgreSQL database.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::store::Store;
use crate::store::shared::{
    self, Step, StepError, StudyBackend, StudyRows, StudySnapshot, TrialColumns, TrialTimes,
    differing_meta, parse_state, state_json,
};
use crate::store::sqlite::trial_columns;
use crate::{SearchError, Trial, TrialId, TrialRecord, TrialState};

/// The version of the tables this nasr writes; a file of another version is refused.
const SCHEMA_VERSION: i64 = 1;

/// How long a step waits for another process's step before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a step waiting for the lock tries again.
const LOCK_POLL: Duration = Duration::from_micros(200);

/// The busy handler: waits for the lock in short sleeps, for up to [`BUSY_TIMEOUT`]. SQLite's
/// own handler sleeps up to 100 ms at a time, which left a waiting worker asleep long after
/// the lock was free: four workers stepped slower than one.
fn wait_for_lock(attempt: i32) -> bool {
    std::thread::sleep(LOCK_POLL);
    LOCK_POLL * (attempt.max(0) as u32) < BUSY_TIMEOUT
}

/// The current time in seconds since the Unix epoch, in SQL (`julianday` has millisecond
/// precision on every SQLite version).
const NOW: &str = "((julianday('now') - 2440587.5) * 86400.0)";

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS nasr_schema (version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS nasr_studies (
        -- AUTOINCREMENT: a deleted study's id is never given to a new one, which workers of
        -- the deleted one would otherwise work on.
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        strategy_state TEXT,
        created REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS nasr_meta (
        study INTEGER NOT NULL REFERENCES nasr_studies (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (study, key));
    CREATE TABLE IF NOT EXISTS nasr_trials (
        study INTEGER NOT NULL REFERENCES nasr_studies (id) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        arch TEXT NOT NULL,
        fidelity TEXT NOT NULL,
        state TEXT NOT NULL,
        metrics TEXT NOT NULL,
        error TEXT,
        worker TEXT,
        heartbeat REAL,
        redo_of INTEGER,
        asked_at REAL NOT NULL,
        told_at REAL,
        PRIMARY KEY (study, id));";

/// One study in an SQLite file shared by worker processes on one machine.
pub struct SqliteStudy {
    path: PathBuf,
    location: String,
    /// The connection: behind a lock because the store's readers take `&self` and the
    /// heartbeat thread shares the store.
    connection: Mutex<Connection>,
    study: i64,
    name: String,
}

impl SqliteStudy {
    /// Creates the study `name` in the file at `path` (created where missing) with `meta` (the
    /// search config under `config`, the data's checksums, ...), written in the same
    /// transaction. An existing study of that name is refused, unless `load_if_exists`, when
    /// it is opened, and must record the same values.
    pub fn create(
        path: &Path,
        name: &str,
        meta: &[(&str, &str)],
        load_if_exists: bool,
    ) -> Result<Self, SearchError> {
        let mut connection = connect(path)?;
        let error = file_error(path, name);
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&error)?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM nasr_studies WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(&error)?;
        let study = match existing {
            Some(id) if load_if_exists => id,
            Some(_) => {
                return Err(problem(
                    path,
                    name,
                    "a study of this name exists (load it with --load-if-exists, or delete it)",
                ));
            }
            None => {
                tx.execute(
                    &format!("INSERT INTO nasr_studies (name, created) VALUES (?1, {NOW})"),
                    [name],
                )
                .map_err(&error)?;
                let id = tx.last_insert_rowid();
                for (key, value) in meta {
                    tx.execute(
                        "INSERT INTO nasr_meta (study, key, value) VALUES (?1, ?2, ?3)",
                        params![id, key, value],
                    )
                    .map_err(&error)?;
                }
                id
            }
        };
        tx.commit().map_err(&error)?;
        let store = Self::with(path, connection, study, name);
        match differing_meta(&store, meta)? {
            Some(why) => Err(problem(path, name, &why)),
            None => Ok(store),
        }
    }

    /// Opens the existing study `name` in the file at `path`.
    pub fn open(path: &Path, name: &str) -> Result<Self, SearchError> {
        if !path.exists() {
            return Err(problem(
                path,
                name,
                "no such file (create a study in it with `nasr study create`)",
            ));
        }
        let connection = connect(path)?;
        let study: i64 = connection
            .query_row(
                "SELECT id FROM nasr_studies WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(file_error(path, name))?
            .ok_or_else(|| {
                problem(
                    path,
                    name,
                    "no such study (create it with `nasr study create`)",
                )
            })?;
        Ok(Self::with(path, connection, study, name))
    }

    /// The names of the studies in the file at `path`, oldest first (none if it is missing).
    pub fn list(path: &Path) -> Result<Vec<String>, SearchError> {
        if !path.exists() {
            return Ok(Vec::new());
        }
        let connection = connect(path)?;
        let error = file_error(path, "-");
        let mut statement = connection
            .prepare("SELECT name FROM nasr_studies ORDER BY id")
            .map_err(&error)?;
        let names = statement
            .query_map([], |row| row.get(0))
            .map_err(&error)?
            .collect::<Result<_, _>>()
            .map_err(&error)?;
        Ok(names)
    }

    /// Deletes the study `name` and all its trials; whether there was one.
    pub fn delete(path: &Path, name: &str) -> Result<bool, SearchError> {
        if !path.exists() {
            return Ok(false);
        }
        let connection = connect(path)?;
        let deleted = connection
            .execute("DELETE FROM nasr_studies WHERE name = ?1", [name])
            .map_err(file_error(path, name))?;
        Ok(deleted > 0)
    }

    fn with(path: &Path, connection: Connection, study: i64, name: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            location: format!("sqlite:{}", path.display()),
            connection: Mutex::new(connection),
            study,
            name: name.to_string(),
        }
    }

    /// Runs `step` in one `BEGIN IMMEDIATE` transaction (the file's write lock), tried again
    /// where another process held the lock past the busy timeout.
    fn transact(&self, step: Step<'_, rusqlite::Error>) -> Result<(), SearchError> {
        let error = file_error(&self.path, &self.name);
        let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let attempt = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StepError::Db)
                .and_then(|tx| {
                    step(&mut SqliteRows {
                        tx: &tx,
                        study: self.study,
                    })?;
                    tx.commit().map_err(StepError::Db)
                });
            match attempt {
                Ok(()) => return Ok(()),
                Err(StepError::Search(e)) => return Err(e),
                Err(StepError::Db(e)) if busy(&e) => last = Some(e),
                Err(StepError::Db(e)) => return Err(error(e)),
            }
        }
        Err(error(last.expect("a failed attempt")))
    }

    fn error(&self) -> impl Fn(rusqlite::Error) -> SearchError + '_ {
        file_error(&self.path, &self.name)
    }
}

/// How often a step is tried when another process holds the file's lock past the timeout.
const ATTEMPTS: usize = 5;

impl From<rusqlite::Error> for StepError<rusqlite::Error> {
    fn from(e: rusqlite::Error) -> Self {
        Self::Db(e)
    }
}

fn busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn problem(path: &Path, study: &str, problem: &str) -> SearchError {
    SearchError::Database {
        url: format!("sqlite:{}", path.display()),
        study: study.to_string(),
        problem: problem.to_string(),
    }
}

fn file_error<'a>(path: &'a Path, study: &'a str) -> impl Fn(rusqlite::Error) -> SearchError + 'a {
    move |e| problem(path, study, &e.to_string())
}

/// A connection to the file at `path`, with nasr's tables created where missing and their
/// version checked.
fn connect(path: &Path) -> Result<Connection, SearchError> {
    let error = file_error(path, "-");
    let mut connection = Connection::open(path).map_err(&error)?;
    connection
        .busy_handler(Some(wait_for_lock))
        .map_err(&error)?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(&error)?;
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&error)?;
    tx.execute_batch(SCHEMA).map_err(&error)?;
    let version: Option<i64> = tx
        .query_row("SELECT version FROM nasr_schema", [], |row| row.get(0))
        .optional()
        .map_err(&error)?;
    match version {
        None => {
            tx.execute(
                "INSERT INTO nasr_schema (version) VALUES (?1)",
                [SCHEMA_VERSION],
            )
            .map_err(&error)?;
        }
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) => {
            let age = if v < SCHEMA_VERSION { "older" } else { "newer" };
            return Err(problem(
                path,
                "-",
                &format!(
                    "the file's nasr tables are of version {v}, {age} than this nasr's \
                     ({SCHEMA_VERSION})"
                ),
            ));
        }
    }
    tx.commit().map_err(&error)?;
    Ok(connection)
}

/// One step's rows: the study's, in a transaction that holds the file's lock.
struct SqliteRows<'a, 'b> {
    tx: &'a rusqlite::Transaction<'b>,
    study: i64,
}

impl StudyRows for SqliteRows<'_, '_> {
    type Error = rusqlite::Error;

    fn mark_stale(&mut self, timeout: Duration) -> Result<(), StepError<Self::Error>> {
        self.tx.execute(
            &format!(
                "UPDATE nasr_trials SET state = ?3 WHERE study = ?1 AND state = ?4 \
                 AND heartbeat < {NOW} - ?2"
            ),
            params![
                self.study,
                timeout.as_secs_f64(),
                state_json(TrialState::Stale),
                state_json(TrialState::Running)
            ],
        )?;
        Ok(())
    }

    fn load(&mut self) -> Result<StudySnapshot, StepError<Self::Error>> {
        let state: Option<String> = self
            .tx
            .query_row(
                "SELECT strategy_state FROM nasr_studies WHERE id = ?1",
                [self.study],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                SearchError::State("the study was deleted while this process worked on it".into())
            })?;
        Ok(StudySnapshot {
            state: parse_state(state)?,
            trials: trials(self.tx, self.study)?,
        })
    }

    fn next_redo(&mut self) -> Result<Option<TrialId>, StepError<Self::Error>> {
        Ok(self
            .tx
            .query_row(
                "SELECT t.id FROM nasr_trials t WHERE t.study = ?1 AND t.state = ?2 \
                 AND NOT EXISTS (SELECT 1 FROM nasr_trials r \
                 WHERE r.study = t.study AND r.redo_of = t.id) ORDER BY t.id LIMIT 1",
                params![self.study, state_json(TrialState::Stale)],
                |row| row.get::<_, i64>(0),
            )
            .optional()?
            .map(|id| id as TrialId))
    }

    fn insert_claimed(
        &mut self,
        record: &TrialRecord,
        worker: &str,
        redo_of: Option<TrialId>,
    ) -> Result<(), StepError<Self::Error>> {
        let row = TrialColumns::of(record);
        self.tx.execute(
            &format!(
                "INSERT INTO nasr_trials (study, id, arch, fidelity, state, metrics, error, \
                 worker, heartbeat, redo_of, asked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, {NOW}, ?8, {NOW})"
            ),
            params![
                self.study,
                row.id,
                row.arch,
                row.fidelity,
                row.state,
                row.metrics,
                worker,
                redo_of.map(|id| id as i64)
            ],
        )?;
        Ok(())
    }

    fn holds(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM nasr_trials WHERE study = ?1 AND id = ?2 AND worker = ?3 \
                 AND state = ?4",
                params![
                    self.study,
                    id as i64,
                    worker,
                    state_json(TrialState::Running)
                ],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn release(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>> {
        let released = self.tx.execute(
            "UPDATE nasr_trials SET state = ?4 WHERE study = ?1 AND id = ?2 AND worker = ?3 \
             AND state = ?5",
            params![
                self.study,
                id as i64,
                worker,
                state_json(TrialState::Stale),
                state_json(TrialState::Running)
            ],
        )?;
        Ok(released == 1)
    }

    fn beat(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>> {
        let beaten = self.tx.execute(
            &format!(
                "UPDATE nasr_trials SET heartbeat = {NOW} WHERE study = ?1 AND id = ?2 \
                 AND worker = ?3 AND state = ?4"
            ),
            params![
                self.study,
                id as i64,
                worker,
                state_json(TrialState::Running)
            ],
        )?;
        Ok(beaten == 1)
    }

    fn upsert_trial(&mut self, record: &TrialRecord) -> Result<(), StepError<Self::Error>> {
        let row = TrialColumns::of(record);
        let told = record.state != TrialState::Running;
        self.tx.execute(
            &format!(
                "INSERT INTO nasr_trials (study, id, arch, fidelity, state, metrics, error, \
                 asked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {NOW}) \
                 ON CONFLICT (study, id) DO UPDATE SET arch = excluded.arch, \
                 fidelity = excluded.fidelity, state = excluded.state, \
                 metrics = excluded.metrics, error = excluded.error, \
                 told_at = CASE WHEN ?8 THEN {NOW} END"
            ),
            params![
                self.study,
                row.id,
                row.arch,
                row.fidelity,
                row.state,
                row.metrics,
                row.error,
                told
            ],
        )?;
        Ok(())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StepError<Self::Error>> {
        self.tx.execute(
            "INSERT INTO nasr_meta (study, key, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT (study, key) DO UPDATE SET value = excluded.value",
            params![self.study, key, value],
        )?;
        Ok(())
    }

    fn write_state(&mut self, state: &serde_json::Value) -> Result<(), StepError<Self::Error>> {
        self.tx.execute(
            "UPDATE nasr_studies SET strategy_state = ?2 WHERE id = ?1",
            params![self.study, state.to_string()],
        )?;
        Ok(())
    }
}

/// Every trial of `study`, in id order.
fn trials(
    connection: &Connection,
    study: i64,
) -> Result<Vec<TrialRecord>, StepError<rusqlite::Error>> {
    let mut statement = connection.prepare_cached(
        "SELECT id, arch, fidelity, state, metrics, error FROM nasr_trials WHERE study = ?1 \
         ORDER BY id",
    )?;
    let rows = statement.query_map([study], trial_columns)?;
    let mut trials = Vec::new();
    for columns in rows {
        trials.push(columns?.record()?);
    }
    Ok(trials)
}

impl StudyBackend for SqliteStudy {
    type Error = rusqlite::Error;

    fn locked(&self, step: Step<'_, Self::Error>) -> Result<(), SearchError> {
        self.transact(step)
    }

    /// SQLite has one write lock for the whole file: every write takes it.
    fn unlocked(&self, step: Step<'_, Self::Error>) -> Result<(), SearchError> {
        self.locked(step)
    }

    fn timeline(&self) -> Result<Vec<TrialTimes>, SearchError> {
        let connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let mut statement = connection
            .prepare(
                "SELECT id, asked_at, told_at, worker FROM nasr_trials WHERE study = ?1 \
                 ORDER BY id",
            )
            .map_err(self.error())?;
        let times = statement
            .query_map([self.study], |row| {
                Ok(TrialTimes {
                    id: row.get::<_, i64>(0)? as TrialId,
                    asked: row.get(1)?,
                    told: row.get(2)?,
                    worker: row.get(3)?,
                })
            })
            .map_err(self.error())?
            .collect::<Result<_, _>>()
            .map_err(self.error())?;
        Ok(times)
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl Store for SqliteStudy {
    fn record_ask(&mut self, trial: &Trial, state: &serde_json::Value) -> Result<(), SearchError> {
        shared::record(self, &TrialRecord::running(trial), state)
    }

    fn record_tell(
        &mut self,
        record: &TrialRecord,
        state: &serde_json::Value,
    ) -> Result<(), SearchError> {
        shared::record(self, record, state)
    }

    fn strategy_state(&self) -> Result<Option<serde_json::Value>, SearchError> {
        let connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let text: Option<String> = connection
            .query_row(
                "SELECT strategy_state FROM nasr_studies WHERE id = ?1",
                [self.study],
                |row| row.get(0),
            )
            .map_err(self.error())?;
        parse_state(text)
    }

    fn trials(&self) -> Result<Vec<TrialRecord>, SearchError> {
        let connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        trials(&connection, self.study).map_err(|e| match e {
            StepError::Db(e) => self.error()(e),
            StepError::Search(e) => e,
        })
    }

    fn meta(&self, key: &str) -> Result<Option<String>, SearchError> {
        let connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        connection
            .query_row(
                "SELECT value FROM nasr_meta WHERE study = ?1 AND key = ?2",
                params![self.study, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.error())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SearchError> {
        shared::set_meta(self, key, value)
    }
}
