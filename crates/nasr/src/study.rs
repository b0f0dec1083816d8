//! `nasr study` and `nasr worker`: a search shared by worker processes on any machines
//! through a PostgreSQL database, started by any scheduler (Slurm array jobs, Kubernetes
//! Jobs, or N processes on one machine).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use nasr_methods::experiment::ExperimentConfig;
use nasr_search::experiment::{SearchConfig, table_search_parts};
use nasr_search::nb201_table::{ACCURACY_FILE, LATENCY_FILE, Nb201Table};
use nasr_search::store::{PostgresStore, Store};
use nasr_search::worker::{WorkerConfig, run_worker};
use nasr_search::{Evaluator, Fidelity, Metrics, SearchError, TrialState};
use nasr_space::Arch;

use crate::cli::DataDirArg;

/// Where the study lives.
#[derive(Debug, Args, Clone)]
pub struct StorageArg {
    /// The database: `postgresql://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=...]`.
    #[arg(long, env = "NASR_STORAGE", value_name = "URL", hide_env_values = true)]
    pub storage: String,
}

impl StorageArg {
    fn url(&self) -> Result<&str> {
        if self.storage.starts_with("postgresql://") || self.storage.starts_with("postgres://") {
            return Ok(&self.storage);
        }
        if self.storage.starts_with("sqlite:") {
            bail!(
                "--storage sqlite:... : a study shared by workers needs a PostgreSQL database \
                 (postgresql://...); a search on one machine keeps its SQLite store in its run \
                 folder (`nasr search --out DIR`)"
            );
        }
        bail!("--storage: expected a postgresql:// URL")
    }
}

/// Flags of `nasr study`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// What to do.
    #[command(subcommand)]
    pub what: StudyCommand,
}

/// The `nasr study` commands.
#[derive(Debug, Subcommand)]
pub enum StudyCommand {
    /// Create a study from an experiment file (`method = "table"`).
    Create {
        #[command(flatten)]
        storage: StorageArg,
        /// The study's name.
        #[arg(long)]
        name: String,
        /// The experiment file.
        #[arg(short = 'c', long = "config", value_name = "FILE.toml")]
        config: PathBuf,
        /// Open the study if one of this name exists (with the same config).
        #[arg(long)]
        load_if_exists: bool,
        /// A running trial without a heartbeat for this long is stale and asked again.
        #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
        stale_after: f64,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Progress: trials complete, running, failed and stale, and the best so far.
    Status {
        #[command(flatten)]
        storage: StorageArg,
        /// The study.
        #[arg(long)]
        study: String,
    },
    /// Every study in the database.
    List {
        #[command(flatten)]
        storage: StorageArg,
    },
    /// Delete a study and its trials.
    Delete {
        #[command(flatten)]
        storage: StorageArg,
        /// The study.
        #[arg(long)]
        study: String,
    },
}

/// Flags of `nasr worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub storage: StorageArg,
    /// The study to work on.
    #[arg(long)]
    pub study: String,
    /// Stop after this many trials of this worker's.
    #[arg(long, value_name = "N")]
    pub max_trials: Option<usize>,
    #[command(flatten)]
    pub data_dir: DataDirArg,
}

/// What a study records besides the trials (meta keys).
const KIND: &str = "kind";
const DATA_SHA256: &str = "data_sha256";
const STALE_AFTER: &str = "stale_after_seconds";

/// `nasr study`.
pub fn run(args: StudyArgs) -> Result<()> {
    match args.what {
        StudyCommand::Create {
            storage,
            name,
            config,
            load_if_exists,
            stale_after,
            data_dir,
        } => create(
            storage.url()?,
            &name,
            &config,
            load_if_exists,
            stale_after,
            &data_dir,
        ),
        StudyCommand::Status { storage, study } => status(storage.url()?, &study),
        StudyCommand::List { storage } => {
            for name in PostgresStore::list(storage.url()?)? {
                println!("{name}");
            }
            Ok(())
        }
        StudyCommand::Delete { storage, study } => {
            if !PostgresStore::delete(storage.url()?, &study)? {
                bail!("no study {study}");
            }
            println!("deleted study {study}");
            Ok(())
        }
    }
}

fn create(
    url: &str,
    name: &str,
    path: &PathBuf,
    load_if_exists: bool,
    stale_after: f64,
    data_dir: &DataDirArg,
) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let experiment = ExperimentConfig::from_toml(&text, None)
        .with_context(|| format!("reading {}", path.display()))?;
    let ExperimentConfig::Table(config) = experiment else {
        bail!(
            "{}: a shared study runs a NAS-Bench-201 table search (`method = \"table\"`) for \
             now; other methods run on one machine with `nasr search`",
            path.display()
        );
    };
    if !(stale_after > 0.0 && stale_after.is_finite()) {
        bail!("--stale-after must be a positive number of seconds, got {stale_after}");
    }
    let data = data_dir.resolve();
    let checksum = table_checksum(&data)?;
    Nb201Table::load(&data)?;
    let json = serde_json::to_string(&config)?;
    let mut store = PostgresStore::create(url, name, &json, load_if_exists)?;
    store.set_meta(KIND, "table")?;
    store.set_meta(DATA_SHA256, &checksum)?;
    store.set_meta(STALE_AFTER, &stale_after.to_string())?;
    println!(
        "study {name} in {}: {} {} trials, stale after {stale_after} s",
        store.url(),
        config.strategy.as_str(),
        config.queries
    );
    Ok(())
}

/// The sha256 of the NAS-Bench-201 table's two files, as one hex string.
fn table_checksum(data: &std::path::Path) -> Result<String> {
    let mut bytes = Vec::new();
    for file in [ACCURACY_FILE, LATENCY_FILE] {
        let path = data.join(file);
        bytes.extend(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(nasr_data::fetch::sha256_hex(&bytes))
}

fn status(url: &str, name: &str) -> Result<()> {
    let store = PostgresStore::open(url, name)?;
    let config = study_config(&store)?;
    let trials = store.trials()?;
    let count = |state: TrialState| trials.iter().filter(|t| t.state == state).count();
    println!(
        "study {name}: {} of {} trials complete, {} running, {} failed, {} stale",
        count(TrialState::Complete),
        config.queries,
        count(TrialState::Running),
        count(TrialState::Failed),
        count(TrialState::Stale),
    );
    let best = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| Some((t, *t.metrics.get("accuracy")?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((trial, accuracy)) = best {
        let nb201 = nasr_space::Nb201Space::new();
        println!(
            "best {} (trial {}): accuracy {accuracy}",
            nasr_space::Space::format(&nb201, &trial.arch),
            trial.id
        );
    }
    Ok(())
}

fn study_config(store: &PostgresStore) -> Result<SearchConfig> {
    let text = store
        .meta("config")?
        .context("the study has no config: not created by `nasr study create`")?;
    Ok(serde_json::from_str(&text)?)
}

/// `nasr worker`.
pub fn worker(args: WorkerArgs) -> Result<()> {
    let url = args.storage.url()?;
    let store = PostgresStore::open(url, &args.study)?;
    let beat = PostgresStore::open(url, &args.study)?;
    let config = study_config(&store)?;
    let data = args.data_dir.resolve();
    let expected = store.meta(DATA_SHA256)?.unwrap_or_default();
    let found = table_checksum(&data)?;
    if expected != found {
        bail!(
            "the NAS-Bench-201 table in {} (sha256 {found}) is not the study's ({expected}): \
             give this worker the study's data (--data-dir or NASR_DATA)",
            data.display()
        );
    }
    let stale_after: f64 = store
        .meta(STALE_AFTER)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0);
    let table = Nb201Table::load(&data)?;
    let (mut strategy, evaluator) = table_search_parts(&config, &table)?;
    let mut evaluator = Delayed {
        inner: evaluator,
        delay: test_delay()?,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the SIGTERM handler")?;
    let name = format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
        std::process::id()
    );
    let timeout = Duration::from_secs_f64(stale_after);
    let worker = WorkerConfig {
        name: name.clone(),
        queries: config.queries,
        max_trials: args.max_trials,
        heartbeat: timeout / 4,
        timeout,
    };
    let report = run_worker(
        &store,
        &beat,
        strategy.as_mut(),
        &mut evaluator,
        &worker,
        &stop,
    )?;
    println!(
        "worker {name}: {} trials told, {} refused (gone stale meanwhile)",
        report.told, report.refused
    );
    Ok(())
}

/// `NASR_WORKER_TEST_DELAY_MS`: a pause in every evaluation, for the tests that kill a worker
/// while it holds a trial. Not for users.
fn test_delay() -> Result<Duration> {
    match std::env::var("NASR_WORKER_TEST_DELAY_MS") {
        Ok(ms) => Ok(Duration::from_millis(
            ms.parse()
                .context("NASR_WORKER_TEST_DELAY_MS: expected milliseconds")?,
        )),
        Err(_) => Ok(Duration::ZERO),
    }
}

/// An evaluator that pauses first (the test delay).
struct Delayed<E> {
    inner: E,
    delay: Duration,
}

impl<E: Evaluator> Evaluator for Delayed<E> {
    fn evaluate(&mut self, arch: &Arch, fidelity: Fidelity) -> Result<Metrics, SearchError> {
        std::thread::sleep(self.delay);
        self.inner.evaluate(arch, fidelity)
    }
}
