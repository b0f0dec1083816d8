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

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use postgres::config::SslMode;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement, Transaction};

use crate::store::Store;
use crate::store::shared::{
    self, Step, StepError, StudyBackend, StudyRows, StudySnapshot, TrialColumns, TrialTimes,
    differing_meta, parse_state, state_json,
};
use crate::{SearchError, Trial, TrialId, TrialRecord, TrialState};

/// The version of the tables this nasr writes; a database of another version is refused.
const SCHEMA_VERSION: i32 = 1;

/// How often a step is tried when the server reports a serialization failure or deadlock, or
/// the connection drops (see [`PostgresStore::retrying`]).
const ATTEMPTS: usize = 12;

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
        asked_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        told_at TIMESTAMPTZ,
        PRIMARY KEY (study, id));";

/// One study's store on a PostgreSQL server.
pub struct PostgresStore {
    /// The URL as given, to connect again; never shown (no `Debug`).
    connect_url: String,
    /// The URL, its password redacted.
    url: String,
    /// The connection: behind a lock because the sync client needs `&mut` to read, and the
    /// store's readers take `&self`.
    client: Mutex<Connection>,
    study: i64,
    name: String,
}

/// `url` with its password replaced by `***` (in the `user:password@` part and in a
/// `password=` parameter).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        // The user info ends at the last `@` before the query: a password may hold a `/`
        // that its writer did not escape.
        let authority_end = rest.find('?').unwrap_or(rest.len());
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
    /// Creates the study `name` in the database at `url` with `meta` (the search config under
    /// `config`, the data's checksums, ...), written in the same transaction, so that no
    /// worker sees the study without them. An existing study of that name is refused, unless
    /// `load_if_exists`, when it is opened, and must record the same values.
    pub fn create(
        url: &str,
        name: &str,
        meta: &[(&str, &str)],
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
                for (key, value) in meta {
                    tx.execute(
                        "INSERT INTO nasr_meta (study, key, value) VALUES ($1, $2, $3)",
                        &[&id, key, value],
                    )
                    .map_err(&error)?;
                }
                id
            }
        };
        tx.commit().map_err(&error)?;
        let store = Self::with(url, client, study, name);
        match differing_meta(&store, meta)? {
            Some(why) => Err(problem(url, name, &why)),
            None => Ok(store),
        }
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
            client: Mutex::new(Connection::new(client)),
            study,
            name: name.to_string(),
        }
    }

    /// The connection, opened again where the server dropped it.
    fn client(&self) -> Result<MutexGuard<'_, Connection>, SearchError> {
        let mut connection = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if connection.client.is_closed() {
            *connection = Connection::new(connect(&self.connect_url, &self.name)?);
        }
        Ok(connection)
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

    /// Runs `step` in one transaction, holding the study's row lock where `lock_study`.
    fn transact(
        &self,
        lock_study: bool,
        step: Step<'_, postgres::Error>,
    ) -> Result<(), SearchError> {
        self.retrying(&mut |connection| try_step(connection, self.study, lock_study, step))
    }

    /// The rows of a read-only `query` with `params`, retried as a step is.
    fn read(
        &self,
        query: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, SearchError> {
        self.retrying(&mut |connection| Ok(connection.query(query, params)?))
    }

    /// Runs `attempt` until it succeeds, fails for a reason a retry cannot mend, or
    /// [`ATTEMPTS`] are spent. A serialization failure, a deadlock, a dropped connection and
    /// one that cannot be opened again are tried again after a growing pause (about 20 s in
    /// all), so that a server restart does not end a worker.
    fn retrying<T>(
        &self,
        attempt: &mut dyn FnMut(&mut Connection) -> Result<T, StepError<postgres::Error>>,
    ) -> Result<T, SearchError> {
        let mut last = None;
        for tried in 0..ATTEMPTS {
            if tried > 0 {
                let pause = Duration::from_millis(20 << (tried - 1).min(8));
                std::thread::sleep(pause.min(Duration::from_secs(5)));
            }
            let mut connection = match self.client() {
                Ok(connection) => connection,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            match attempt(&mut connection) {
                Ok(value) => return Ok(value),
                Err(StepError::Search(e)) => return Err(e),
                Err(StepError::Db(e)) if retryable(&e) || connection.client.is_closed() => {
                    last = Some(self.error(e));
                }
                Err(StepError::Db(e)) => return Err(self.error(e)),
            }
        }
        Err(last.expect("a failed attempt"))
    }

    fn error(&self, e: postgres::Error) -> SearchError {
        problem(&self.url, &self.name, &describe(&e))
    }

    fn corrupt(&self, what: &str, e: serde_json::Error) -> SearchError {
        problem(&self.url, &self.name, &format!("corrupt {what}: {e}"))
    }
}

impl From<postgres::Error> for StepError<postgres::Error> {
    fn from(e: postgres::Error) -> Self {
        Self::Db(e)
    }
}

/// A connection and its prepared statements: each statement is parsed and planned once per
/// connection, not once per step (a step is then one round trip per statement).
struct Connection {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Connection {
    fn new(client: Client) -> Self {
        Self {
            client,
            statements: HashMap::new(),
        }
    }

    /// The rows of `sql` outside any step's transaction.
    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = match self.statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.client.prepare(sql)?;
                self.statements.insert(sql, statement.clone());
                statement
            }
        };
        self.client.query(&statement, params)
    }
}

/// One attempt at a step: the study's row locked (where asked: the lock's query also reads
/// the strategy state, which every locked step needs), `step`, commit.
fn try_step(
    connection: &mut Connection,
    study: i64,
    lock_study: bool,
    step: Step<'_, postgres::Error>,
) -> Result<(), StepError<postgres::Error>> {
    let Connection { client, statements } = connection;
    let mut tx = client.transaction().map_err(StepError::Db)?;
    let mut rows = PgRows {
        tx: &mut tx,
        statements,
        study,
        state_at_lock: None,
    };
    if lock_study {
        let locked = rows.query(
            "SELECT strategy_state FROM nasr_studies WHERE id = $1 FOR UPDATE",
            &[&study],
        )?;
        let Some(row) = locked.first() else {
            return Err(StepError::Search(SearchError::State(
                "the study was deleted while this process worked on it".into(),
            )));
        };
        rows.state_at_lock = Some(row.get::<_, Option<String>>(0));
    }
    step(&mut rows)?;
    Ok(tx.commit()?)
}

/// Whether a retry may succeed: a serialization failure or deadlock, or the connection lost
/// (class 08, and class 57: the server shutting down or restarting, an administrator ending
/// the session), which the server may report before the socket is seen closed.
fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || c.code().starts_with("08")
            || c.code().starts_with("57")
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
    let config: postgres::Config = url.parse().map_err(&error)?;
    let mut client = if config.get_ssl_mode() == SslMode::Require {
        let tls = super::tls::require_connector()
            .map_err(|e| problem(url, study, &format!("setting up TLS: {e}")))?;
        config.connect(tls).map_err(|e| {
            let said = describe(&e);
            if said.contains("does not support TLS") {
                problem(
                    url,
                    study,
                    "the URL asks for TLS (sslmode=require) but the server offers none: turn \
                     on ssl in its postgresql.conf, or connect without sslmode=require",
                )
            } else {
                problem(url, study, &said)
            }
        })?
    } else {
        config.connect(NoTls).map_err(&error)?
    };
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

/// One step's rows: the study's, in a transaction that holds its lock.
struct PgRows<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    statements: &'a mut HashMap<&'static str, Statement>,
    study: i64,
    /// The strategy state as the query that took the study's lock read it (`None` in a step
    /// without the lock), so that [`StudyRows::load`] need not read it again: every step
    /// loads before it writes the state.
    state_at_lock: Option<Option<String>>,
}

impl PgRows<'_, '_> {
    /// `sql`, prepared once per connection.
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.execute(&statement, params)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.query(&statement, params)
    }
}

impl StudyRows for PgRows<'_, '_> {
    type Error = postgres::Error;

    fn mark_stale(&mut self, timeout: Duration) -> Result<(), StepError<Self::Error>> {
        let study = self.study;
        self.execute(
            "UPDATE nasr_trials SET state = $3 WHERE study = $1 AND state = $4 \
             AND heartbeat < clock_timestamp() - make_interval(secs => $2)",
            &[
                &study,
                &timeout.as_secs_f64(),
                &state_json(TrialState::Stale),
                &state_json(TrialState::Running),
            ],
        )?;
        Ok(())
    }

    fn load(&mut self) -> Result<StudySnapshot, StepError<Self::Error>> {
        let study = self.study;
        let state = match self.state_at_lock.clone() {
            Some(state) => state,
            None => self
                .query(
                    "SELECT strategy_state FROM nasr_studies WHERE id = $1",
                    &[&study],
                )?
                .first()
                .and_then(|row| row.get(0)),
        };
        let rows = self.query(TRIALS_QUERY, &[&study])?;
        let trials = rows
            .iter()
            .map(|row| columns_of_row(row).record())
            .collect::<Result<_, _>>()?;
        Ok(StudySnapshot {
            state: parse_state(state)?,
            trials,
        })
    }

    fn next_redo(&mut self) -> Result<Option<TrialId>, StepError<Self::Error>> {
        let study = self.study;
        Ok(self
            .query(
                "SELECT t.id FROM nasr_trials t WHERE t.study = $1 AND t.state = $2 \
                 AND NOT EXISTS (SELECT 1 FROM nasr_trials r \
                 WHERE r.study = t.study AND r.redo_of = t.id) ORDER BY t.id LIMIT 1",
                &[&study, &state_json(TrialState::Stale)],
            )?
            .first()
            .map(|row| row.get::<_, i64>(0) as TrialId))
    }

    fn insert_claimed(
        &mut self,
        record: &TrialRecord,
        worker: &str,
        redo_of: Option<TrialId>,
    ) -> Result<(), StepError<Self::Error>> {
        let study = self.study;
        let row = TrialColumns::of(record);
        self.execute(
            "INSERT INTO nasr_trials (study, id, arch, fidelity, state, metrics, error, \
             worker, heartbeat, redo_of) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, clock_timestamp(), $8)",
            &[
                &study,
                &row.id,
                &row.arch,
                &row.fidelity,
                &row.state,
                &row.metrics,
                &worker,
                &redo_of.map(|id| id as i64),
            ],
        )?;
        Ok(())
    }

    fn holds(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>> {
        let study = self.study;
        Ok(!self
            .query(
                "SELECT 1 FROM nasr_trials WHERE study = $1 AND id = $2 AND worker = $3 \
                 AND state = $4",
                &[
                    &study,
                    &(id as i64),
                    &worker,
                    &state_json(TrialState::Running),
                ],
            )?
            .is_empty())
    }

    fn release(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>> {
        let study = self.study;
        let released = self.execute(
            "UPDATE nasr_trials SET state = $4 WHERE study = $1 AND id = $2 AND worker = $3 \
             AND state = $5",
            &[
                &study,
                &(id as i64),
                &worker,
                &state_json(TrialState::Stale),
                &state_json(TrialState::Running),
            ],
        )?;
        Ok(released == 1)
    }

    fn beat(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>> {
        let study = self.study;
        let beaten = self.execute(
            "UPDATE nasr_trials SET heartbeat = clock_timestamp() WHERE study = $1 \
             AND id = $2 AND worker = $3 AND state = $4",
            &[
                &study,
                &(id as i64),
                &worker,
                &state_json(TrialState::Running),
            ],
        )?;
        Ok(beaten == 1)
    }

    fn upsert_trial(&mut self, record: &TrialRecord) -> Result<(), StepError<Self::Error>> {
        let study = self.study;
        let row = TrialColumns::of(record);
        let told = record.state != TrialState::Running;
        self.execute(
            "INSERT INTO nasr_trials (study, id, arch, fidelity, state, metrics, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (study, id) DO UPDATE SET arch = EXCLUDED.arch, \
             fidelity = EXCLUDED.fidelity, state = EXCLUDED.state, \
             metrics = EXCLUDED.metrics, error = EXCLUDED.error, \
             told_at = CASE WHEN $8 THEN clock_timestamp() END",
            &[
                &study,
                &row.id,
                &row.arch,
                &row.fidelity,
                &row.state,
                &row.metrics,
                &row.error,
                &told,
            ],
        )?;
        Ok(())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StepError<Self::Error>> {
        let study = self.study;
        self.execute(
            "INSERT INTO nasr_meta (study, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (study, key) DO UPDATE SET value = EXCLUDED.value",
            &[&study, &key, &value],
        )?;
        Ok(())
    }

    fn write_state(&mut self, state: &serde_json::Value) -> Result<(), StepError<Self::Error>> {
        let study = self.study;
        self.execute(
            "UPDATE nasr_studies SET strategy_state = $2 WHERE id = $1",
            &[&study, &state.to_string()],
        )?;
        Ok(())
    }
}

impl StudyBackend for PostgresStore {
    type Error = postgres::Error;

    fn locked(&self, step: Step<'_, Self::Error>) -> Result<(), SearchError> {
        self.transact(true, step)
    }

    fn unlocked(&self, step: Step<'_, Self::Error>) -> Result<(), SearchError> {
        self.transact(false, step)
    }

    fn timeline(&self) -> Result<Vec<TrialTimes>, SearchError> {
        let rows = self.read(
            "SELECT id, extract(epoch FROM asked_at)::float8, extract(epoch FROM told_at)::float8, \
             worker FROM nasr_trials WHERE study = $1 ORDER BY id",
            &[&self.study],
        )?;
        Ok(rows
            .iter()
            .map(|row| TrialTimes {
                id: row.get::<_, i64>(0) as TrialId,
                asked: row.get(1),
                told: row.get(2),
                worker: row.get(3),
            })
            .collect())
    }

    fn location(&self) -> &str {
        &self.url
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// The columns of every trial of a study, in id order (`$1`: the study).
const TRIALS_QUERY: &str = "SELECT id, arch, fidelity, state, metrics, error FROM nasr_trials \
     WHERE study = $1 ORDER BY id";

/// The columns of a row of [`TRIALS_QUERY`].
fn columns_of_row(row: &postgres::Row) -> TrialColumns {
    TrialColumns {
        id: row.get(0),
        arch: row.get(1),
        fidelity: row.get(2),
        state: row.get(3),
        metrics: row.get(4),
        error: row.get(5),
    }
}

impl Store for PostgresStore {
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
        let rows = self.read(
            "SELECT strategy_state FROM nasr_studies WHERE id = $1",
            &[&self.study],
        )?;
        let text: Option<String> = rows.first().and_then(|row| row.get(0));
        text.map(|t| serde_json::from_str(&t).map_err(|e| self.corrupt("strategy state", e)))
            .transpose()
    }

    fn trials(&self) -> Result<Vec<TrialRecord>, SearchError> {
        let rows = self.read(TRIALS_QUERY, &[&self.study])?;
        rows.iter()
            .map(|row| columns_of_row(row).record())
            .collect()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, SearchError> {
        let rows = self.read(
            "SELECT value FROM nasr_meta WHERE study = $1 AND key = $2",
            &[&self.study, &key],
        )?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), SearchError> {
        shared::set_meta(self, key, value)
    }
}
