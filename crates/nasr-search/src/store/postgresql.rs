//! The experiment store on a PostgreSQL server: many studies in one database, each a row of
//! `nasr_studies` (with its strategy state) and its trials as rows of `nasr_trials`, so that
//! processes on many machines can share one study.
//!
//! Every step is one transaction that locks the study's row (`SELECT ... FOR UPDATE`) before
//! it writes the trial and the strategy state, so steps of different processes are applied one
//! at a time, in one sequence, and a reader sees the state after some complete step. A
//! serialization failure or deadlock is retried; a dropped connection is opened again.
//! Loading a study takes two queries, whatever its number of trials.
//!
//! The URL's password is never shown: errors and [`PostgresStore::url`] carry it redacted.

use std::sync::{Mutex, MutexGuard};

use postgres::{Client, NoTls, Transaction};

use crate::store::Store;
use crate::{Outcome, SearchError, Strategy, Trial, TrialId, TrialRecord, TrialState};

/// The version of the tables this nasr writes; a database of another version is refused.
const SCHEMA_VERSION: i32 = 1;

/// How often a step is tried when the server reports a serialization failure or deadlock, or
/// the connection drops.
const ATTEMPTS: usize = 5;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS nasr_schema (version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS nasr_studies (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        strategy_state TEXT,
        created TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS nasr_meta (
        study BIGINT NOT NULL REFERENCES nasr_studies (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (study, key));
    CREATE TABLE IF NOT EXISTS nasr_trials (
        study BIGINT NOT NULL REFERENCES nasr_studies (id) ON DELETE CASCADE,
        id BIGINT NOT NULL,
        arch TEXT NOT NULL,
        fidelity TEXT NOT NULL,
        state TEXT NOT NULL,
        metrics TEXT NOT NULL,
        error TEXT,
        -- The worker holding a running trial, and when it last said it is alive.
        worker TEXT,
        heartbeat TIMESTAMPTZ,
        -- For a trial asked again: the stale trial it replaces.
        redo_of BIGINT,
        PRIMARY KEY (study, id));";

/// One study's store on a PostgreSQL server.
pub struct PostgresStore {
    /// The URL as given, to connect again; never shown (no `Debug`).
    connect_url: String,
    /// The URL, its password redacted.
    url: String,
    /// The connection: behind a lock because the sync client needs `&mut` to read, and the
    /// store's readers take `&self`.
    client: Mutex<Client>,
    study: i64,
    name: String,
}

/// `url` with its password replaced by `***` (in the `user:password@` part and in a
/// `password=` parameter).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let (start, end) = (scheme_end + 3 + colon + 1, scheme_end + 3 + at);
            out.replace_range(start..end, "***");
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(position) = lower.find("password=") {
        let start = position + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

impl PostgresStore {
    /// Creates the study `name` in the database at `url` with `config` (the search config, as
    /// JSON) as its `config` meta. An existing study of that name is refused, unless
    /// `load_if_exists`, when it is opened (and must have the same config).
    pub fn create(
        url: &str,
        name: &str,
        config: &str,
        load_if_exists: bool,
    ) -> Result<Self, SearchError> {
        let mut client = connect(url, name)?;
        let error = database_error(url, name);
        let mut tx = client.transaction().map_err(&error)?;
        let existing: Option<i64> = tx
            .query_opt("SELECT id FROM nasr_studies WHERE name = $1", &[&name])
            .map_err(&error)?
            .map(|row| row.get(0));
        let study = match existing {
            Some(id) if load_if_exists => id,
            Some(_) => {
                return Err(problem(
                    url,
                    name,
                    "a study of this name exists (load it with --load-if-exists, or delete it)",
                ));
            }
            None => {
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO nasr_studies (name) VALUES ($1) RETURNING id",
                        &[&name],
                    )
                    .map_err(&error)?
                    .get(0);
                tx.execute(
                    "INSERT INTO nasr_meta (study, key, value) VALUES ($1, 'config', $2)",
                    &[&id, &config],
                )
                .map_err(&error)?;
                id
            }
        };
        tx.commit().map_err(&error)?;
        let store = Self::with(url, client, study, name);
        if let Some(stored) = store.meta("config")?
            && stored != config
        {
            return Err(problem(
                url,
                name,
                "the study exists with another config; give it another name",
            ));
        }
        Ok(store)
    }

    /// Opens the existing study `name` in the database at `url`.
    pub fn open(url: &str, name: &str) -> Result<Self, SearchError> {
        let mut client = connect(url, name)?;
        let study: i64 = client
            .query_opt("SELECT id FROM nasr_studies WHERE name = $1", &[&name])
            .map_err(database_error(url, name))?
            .ok_or_else(|| {
                problem(
                    url,
                    name,
                    "no such study (create it with `nasr study create`)",
                )
            })?
            .get(0);
        Ok(Self::with(url, client, study, name))
    }

    fn with(url: &str, client: Client, study: i64, name: &str) -> Self {
        Self {
            connect_url: url.to_string(),
            url: redact_url(url),
            client: Mutex::new(client),
            study,
            name: name.to_string(),
        }
    }

    /// The connection, opened again where the server dropped it.
    fn client(&self) -> Result<MutexGuard<'_, Client>, SearchError> {
        let mut client = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if client.is_closed() {
            *client = connect(&self.connect_url, &self.name)?;
        }
        Ok(client)
    }

    /// The names of the studies in the database at `url`, oldest first.
    pub fn list(url: &str) -> Result<Vec<String>, SearchError> {
        let mut client = connect(url, "-")?;
        let rows = client
            .query("SELECT name FROM nasr_studies ORDER BY id", &[])
            .map_err(database_error(url, "-"))?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Deletes the study `name` and all its trials; whether there was one.
    pub fn delete(url: &str, name: &str) -> Result<bool, SearchError> {
        let mut client = connect(url, name)?;
        let deleted = client
            .execute("DELETE FROM nasr_studies WHERE name = $1", &[&name])
            .map_err(database_error(url, name))?;
        Ok(deleted > 0)
    }

    /// The database's URL, its password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The study's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `step` in a transaction that holds the study's row lock, retrying it where the
    /// server asks for a retry (serialization failure, deadlock) or the connection dropped.
    fn step(&self, step: StepFn<'_>) -> Result<(), SearchError> {
        self.transact(true, step)
    }

    /// [`PostgresStore::step`] without the study's lock, for a write of one row that orders
    /// with nothing else (a heartbeat).
    fn plain_step(&self, step: StepFn<'_>) -> Result<(), SearchError> {
        self.transact(false, step)
    }

    fn transact(&self, lock_study: bool, step: StepFn<'_>) -> Result<(), SearchError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let mut client = self.client()?;
            match try_step(&mut client, self.study, lock_study, step) {
                Ok(()) => return Ok(()),
                Err(StepError::Search(e)) => return Err(e),
                Err(StepError::Db(e)) if retryable(&e) || client.is_closed() => {
                    last = Some(e);
                    drop(client);
                    std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
                }
                Err(StepError::Db(e)) => return Err(self.error(e)),
            }
        }
        Err(self.error(last.expect("a failed attempt")))
    }

    /// The rows of a read-only `query` with `params`, retried as a step is.
    fn read(
        &self,
        query: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, SearchError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let mut client = self.client()?;
            match client.query(query, params) {
                Ok(rows) => return Ok(rows),
                Err(e) if retryable(&e) || client.is_closed() => {
                    last = Some(e);
                    drop(client);
                    std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
                }
                Err(e) => return Err(self.error(e)),
            }
        }
        Err(self.error(last.expect("a failed attempt")))
    }

    fn error(&self, e: postgres::Error) -> SearchError {
        problem(&self.url, &self.name, &describe(&e))
    }

    fn corrupt(&self, what: &str, e: serde_json::Error) -> SearchError {
        problem(&self.url, &self.name, &format!("corrupt {what}: {e}"))
    }

    /// Writes `record` and `state` in one step.
    fn write(&self, record: &TrialRecord, state: &serde_json::Value) -> Result<(), SearchError> {
        let row = TrialRow::of(record);
        let state = state.to_string();
        self.step(&|tx, study| {
            tx.execute(
                "INSERT INTO nasr_trials (study, id, arch, fidelity, state, metrics, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (study, id) DO UPDATE SET arch = EXCLUDED.arch, \
                 fidelity = EXCLUDED.fidelity, state = EXCLUDED.state, \
                 metrics = EXCLUDED.metrics, error = EXCLUDED.error",
                &[
                    &study,
                    &row.id,
                    &row.arch,
                    &row.fidelity,
                    &row.state,
                    &row.metrics,
                    &row.error,
                ],
            )?;
            tx.execute(
                "UPDATE nasr_studies SET strategy_state = $2 WHERE id = $1",
                &[&study, &state],
            )?;
            Ok(())
        })
    }
}

/// Why a step failed: the server, or the strategy (a state that does not load, a tell it
/// refuses), which is not retried.
enum StepError {
    Db(postgres::Error),
    Search(SearchError),
}

impl From<postgres::Error> for StepError {
    fn from(e: postgres::Error) -> Self {
        Self::Db(e)
    }
}

impl From<SearchError> for StepError {
    fn from(e: SearchError) -> Self {
        Self::Search(e)
    }
}

/// A step: the transaction and the study's id.
type StepFn<'a> = &'a dyn Fn(&mut Transaction<'_>, i64) -> Result<(), StepError>;

/// One attempt at a step: the study's row locked (where asked), `step`, commit.
fn try_step(
    client: &mut Client,
    study: i64,
    lock_study: bool,
    step: StepFn<'_>,
) -> Result<(), StepError> {
    let mut tx = client.transaction()?;
    if lock_study {
        tx.query_one(
            "SELECT id FROM nasr_studies WHERE id = $1 FOR UPDATE",
            &[&study],
        )?;
    }
    step(&mut tx, study)?;
    Ok(tx.commit()?)
}

/// A trial row (`id, arch, fidelity, state, metrics, error`) as a record.
fn trial_of_row(row: &postgres::Row) -> Result<TrialRecord, SearchError> {
    let json = |i: usize| row.get::<_, String>(i);
    let corrupt = |e: serde_json::Error| SearchError::State(format!("corrupt trial row: {e}"));
    Ok(TrialRecord {
        id: row.get::<_, i64>(0) as u64,
        arch: serde_json::from_str(&json(1)).map_err(corrupt)?,
        fidelity: serde_json::from_str(&json(2)).map_err(corrupt)?,
        state: serde_json::from_str(&json(3)).map_err(corrupt)?,
        metrics: serde_json::from_str(&json(4)).map_err(corrupt)?,
        error: row.get(5),
    })
}

/// A trial as its row's columns (JSON text, as the SQLite store writes them).
struct TrialRow {
    id: i64,
    arch: String,
    fidelity: String,
    state: String,
    metrics: String,
    error: Option<String>,
}

impl TrialRow {
    fn of(record: &TrialRecord) -> Self {
        Self {
            id: record.id as i64,
            arch: to_json(&record.arch),
            fidelity: to_json(&record.fidelity),
            state: to_json(&record.state),
            metrics: to_json(&record.metrics),
            error: record.error.clone(),
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("store values serialise")
}

fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

fn problem(url: &str, study: &str, problem: &str) -> SearchError {
    SearchError::Database {
        url: redact_url(url),
        study: study.to_string(),
        problem: problem.to_string(),
    }
}

fn database_error<'a>(
    url: &'a str,
    study: &'a str,
) -> impl Fn(postgres::Error) -> SearchError + 'a {
    move |e| problem(url, study, &describe(&e))
}

/// What the server said (its message and SQLSTATE), or what failed on the way to it: the
/// client's own `Display` says only "db error".
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A connection to `url`, with nasr's tables created where missing (under an advisory lock,
/// so that workers starting together do not race) and their version checked.
fn connect(url: &str, study: &str) -> Result<Client, SearchError> {
    let error = database_error(url, study);
    let mut client = Client::connect(url, NoTls).map_err(&error)?;
    let mut tx = client.transaction().map_err(&error)?;
    // Any constant: one lock for nasr's schema in this database.
    tx.execute("SELECT pg_advisory_xact_lock(7223142201)", &[])
        .map_err(&error)?;
    tx.batch_execute(SCHEMA).map_err(&error)?;
    let version: Option<i32> = tx
        .query_opt("SELECT version FROM nasr_schema", &[])
        .map_err(&error)?
        .map(|row| row.get(0));
    match version {
        None => {
            tx.execute(
                "INSERT INTO nasr_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .map_err(&error)?;
        }
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) => {
            let age = if v < SCHEMA_VERSION { "older" } else { "newer" };
            return Err(problem(
                url,
                study,
                &format!(
                    "the database's nasr tables are of version {v}, {age} than this nasr's \
                     ({SCHEMA_VERSION})"
                ),
            ));
        }
    }
    tx.commit().map_err(&error)?;
    Ok(client)
}

/// What became of a worker's tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Told {
    /// Recorded: the trial as it now stands.
    Recorded(TrialRecord),
    /// Refused: the trial is no longer this worker's (it went stale and was asked again, or
    /// was told already). Nothing was written.
    Refused(TrialId),
}

/// What a claim gives a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// A trial to evaluate.
    Trial(Trial),
    /// Nothing to ask now, but trials are running elsewhere: one may yet go stale.
    Wait,
    /// Every trial is asked and none is running: the study is finished.
    Done,
}

/// The trial rows and strategy state of a study, as one transaction reads them.
struct Loaded {
    state: Option<serde_json::Value>,
    trials: Vec<TrialRecord>,
}

/// Many workers on one study: each step (claim, tell) is one transaction under the study's
/// row lock that loads the strategy's state and trials (two queries), applies the step to the
/// strategy and writes it back, so asks form one sequence whoever asks.
///
/// Guarantees, beyond [`Store`]'s, for many processes:
/// - **One holder.** A claimed trial is recorded with its worker; no other claim returns it.
/// - **Durable tells.** When [`PostgresStore::finish`] returns [`Told::Recorded`], the outcome
///   and the strategy state after it are committed (the server's own durability).
/// - **Readers** (another connection, `nasr study status`) see the study after some complete
///   step.
/// - **Dead workers.** A running trial whose heartbeat is older than the timeout becomes
///   [`TrialState::Stale`] at the next claim, and its architecture is asked again under a new
///   id (before any new proposal); the dead worker's late tell is [`Told::Refused`].
impl PostgresStore {
    /// Claims the next trial for `worker`: marks trials whose heartbeat is older than
    /// `timeout` stale, then asks a stale trial's architecture again or, while fewer than
    /// `queries` trials are asked (stale ones not counted), a new one. `strategy` is fresh or
    /// left over from an earlier step; it is loaded from the study first.
    pub fn claim(
        &self,
        strategy: &mut dyn Strategy,
        worker: &str,
        queries: usize,
        timeout: std::time::Duration,
    ) -> Result<Claim, SearchError> {
        let claimed = std::cell::RefCell::new(Claim::Done);
        let strategy = std::cell::RefCell::new(strategy);
        let seconds = timeout.as_secs_f64();
        self.step(&|tx, study| {
            // The trials of dead workers go stale; the book loaded next sees them so.
            tx.execute(
                "UPDATE nasr_trials SET state = $3, worker = NULL WHERE study = $1 \
                 AND state = $4 AND heartbeat < now() - make_interval(secs => $2)",
                &[
                    &study,
                    &seconds,
                    &to_json(&TrialState::Stale),
                    &to_json(&TrialState::Running),
                ],
            )?;
            let loaded = load(tx, study)?;
            let mut strategy = strategy.borrow_mut();
            if let Some(state) = loaded.state.clone() {
                strategy.load_state(state, loaded.trials.clone())?;
            }
            let redo = next_redo(tx, study)?;
            let asked = loaded
                .trials
                .iter()
                .filter(|t| t.state != TrialState::Stale)
                .count();
            let (trial, redo_of) = match redo {
                Some(old) => {
                    let old = &loaded.trials[old as usize];
                    let again = Trial {
                        id: old.id,
                        arch: old.arch.clone(),
                        fidelity: old.fidelity,
                    };
                    (strategy.ask_again(&again), Some(old.id as i64))
                }
                None if asked < queries => (strategy.ask(), None),
                None => {
                    let running = loaded.trials.iter().any(|t| t.state == TrialState::Running);
                    *claimed.borrow_mut() = if running { Claim::Wait } else { Claim::Done };
                    return Ok(());
                }
            };
            let row = TrialRow::of(&TrialRecord::running(&trial));
            tx.execute(
                "INSERT INTO nasr_trials (study, id, arch, fidelity, state, metrics, error, \
                 worker, heartbeat, redo_of) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, now(), $8)",
                &[
                    &study,
                    &row.id,
                    &row.arch,
                    &row.fidelity,
                    &row.state,
                    &row.metrics,
                    &worker,
                    &redo_of,
                ],
            )?;
            write_state(tx, study, &strategy.state())?;
            *claimed.borrow_mut() = Claim::Trial(trial);
            Ok(())
        })?;
        Ok(claimed.into_inner())
    }

    /// Says that `worker` is still evaluating trial `id`; false when the trial is no longer
    /// its (stale, or told).
    pub fn heartbeat(&self, id: TrialId, worker: &str) -> Result<bool, SearchError> {
        let updated = std::cell::Cell::new(0);
        self.plain_step(&|tx, study| {
            updated.set(tx.execute(
                "UPDATE nasr_trials SET heartbeat = now() WHERE study = $1 AND id = $2 \
                 AND worker = $3 AND state = $4",
                &[
                    &study,
                    &(id as i64),
                    &worker,
                    &to_json(&TrialState::Running),
                ],
            )?);
            Ok(())
        })?;
        Ok(updated.get() == 1)
    }

    /// Tells the outcome of trial `id`, which `worker` claimed. Refused, writing nothing, when
    /// the trial is no longer the worker's.
    pub fn finish(
        &self,
        strategy: &mut dyn Strategy,
        worker: &str,
        id: TrialId,
        outcome: Outcome,
    ) -> Result<Told, SearchError> {
        let told = std::cell::RefCell::new(Told::Refused(id));
        let strategy = std::cell::RefCell::new(strategy);
        let outcome = std::cell::RefCell::new(Some(outcome));
        self.step(&|tx, study| {
            let holder = tx.query_opt(
                "SELECT 1 FROM nasr_trials WHERE study = $1 AND id = $2 AND worker = $3 \
                 AND state = $4",
                &[
                    &study,
                    &(id as i64),
                    &worker,
                    &to_json(&TrialState::Running),
                ],
            )?;
            if holder.is_none() {
                *told.borrow_mut() = Told::Refused(id);
                return Ok(());
            }
            let loaded = load(tx, study)?;
            let mut strategy = strategy.borrow_mut();
            if let Some(state) = loaded.state {
                strategy.load_state(state, loaded.trials)?;
            }
            // A retried attempt tells the same outcome again.
            let outcome = outcome.borrow().clone().expect("an outcome");
            strategy.tell(id, outcome)?;
            let record = strategy.book().get(id).expect("told").clone();
            let row = TrialRow::of(&record);
            tx.execute(
                "UPDATE nasr_trials SET state = $3, metrics = $4, error = $5, worker = NULL \
                 WHERE study = $1 AND id = $2",
                &[&study, &row.id, &row.state, &row.metrics, &row.error],
            )?;
            write_state(tx, study, &strategy.state())?;
            *told.borrow_mut() = Told::Recorded(record);
            Ok(())
        })?;
        Ok(told.into_inner())
    }
}

/// The study's strategy state and trials, in id order: the two queries a step loads.
fn load(tx: &mut Transaction<'_>, study: i64) -> Result<Loaded, StepError> {
    let state: Option<String> = tx
        .query_one(
            "SELECT strategy_state FROM nasr_studies WHERE id = $1",
            &[&study],
        )?
        .get(0);
    let rows = tx.query(
        "SELECT id, arch, fidelity, state, metrics, error FROM nasr_trials WHERE study = $1 \
         ORDER BY id",
        &[&study],
    )?;
    let trials = rows.iter().map(trial_of_row).collect::<Result<_, _>>()?;
    let state = state
        .map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| SearchError::State(format!("corrupt strategy state: {e}")))?;
    Ok(Loaded { state, trials })
}

/// The oldest stale trial not yet asked again.
fn next_redo(tx: &mut Transaction<'_>, study: i64) -> Result<Option<i64>, postgres::Error> {
    Ok(tx
        .query_opt(
            "SELECT t.id FROM nasr_trials t WHERE t.study = $1 AND t.state = $2 AND NOT EXISTS \
             (SELECT 1 FROM nasr_trials r WHERE r.study = t.study AND r.redo_of = t.id) \
             ORDER BY t.id LIMIT 1",
            &[&study, &to_json(&TrialState::Stale)],
        )?
        .map(|row| row.get(0)))
}

fn write_state(
    tx: &mut Transaction<'_>,
    study: i64,
    state: &serde_json::Value,
) -> Result<(), postgres::Error> {
    tx.execute(
        "UPDATE nasr_studies SET strategy_state = $2 WHERE id = $1",
        &[&study, &state.to_string()],
    )?;
    Ok(())
}

impl Store for PostgresStore {
    fn record_ask(&mut self, trial: &Trial, state: &serde_json::Value) -> Result<(), SearchError> {
        self.write(&TrialRecord::running(trial), state)
    }

    fn record_tell(
        &mut self,
        record: &TrialRecord,
        state: &serde_json::Value,
    ) -> Result<(), SearchError> {
        self.write(record, state)
    }

    fn strategy_state(&self) -> Result<Option<serde_json::Value>, SearchError> {
        let rows = self.read(
            "SELECT strategy_state FROM nasr_studies WHERE id = $1",
            &[&self.study],
        )?;
        let text: Option<String> = rows.first().and_then(|row| row.get(0));
        text.map(|t| serde_json::from_str(&t).map_err(|e| self.corrupt("strategy state", e)))
            .transpose()
    }

    fn trials(&self) -> Result<Vec<TrialRecord>, SearchError> {
        let rows = self.read(
            "SELECT id, arch, fidelity, state, metrics, error FROM nasr_trials \
             WHERE study = $1 ORDER BY id",
            &[&self.study],
        )?;
        rows.iter().map(trial_of_row).collect()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, SearchError> {
        let rows = self.read(
            "SELECT value FROM nasr_meta WHERE study = $1 AND key = $2",
            &[&self.study, &key],
        )?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SearchError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.step(&|tx, study| {
            tx.execute(
                "INSERT INTO nasr_meta (study, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (study, key) DO UPDATE SET value = EXCLUDED.value",
                &[&study, &key, &value],
            )?;
            Ok(())
        })
    }
}
