//! `nasr study` and `nasr worker`: a search shared by worker processes through a database (a
//! PostgreSQL server for workers on any machines, an SQLite file for processes on one),
//! started by any scheduler (Slurm array jobs, Kubernetes Jobs, or N processes by hand).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use nasr_methods::experiment::ExperimentConfig;
use nasr_methods::multi_fidelity::{
    MultiFidelityConfig, StandaloneEvaluator, multi_fidelity_search, write_multi_fidelity_results,
};
use nasr_methods::run::{DataChecksums, RunOptions, open_run_folder};
use nasr_search::experiment::{
    SearchConfig, open_store, table_search_parts, table_strategy, write_table_results,
};
use nasr_search::nb201_table::{ACCURACY_FILE, LATENCY_FILE, Nb201Table};
use nasr_search::store::{SharedStudy, StudySnapshot, StudyStorage};
use nasr_search::worker::{WorkerConfig, WorkerReport, run_worker};
use nasr_search::{
    Evaluator, Fidelity, Metrics, SearchError, Strategy, TrialId, TrialRecord, TrialState,
};
use nasr_space::{Arch, Nb201Space, Space};

use crate::cli::DataDirArg;

/// Where the study lives.
#[derive(Args, Clone)]
pub struct StorageArg {
    /// The database: `postgresql://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require]` for
    /// workers on any machines, or `sqlite:PATH` for worker processes on this one.
    #[arg(long, env = "NASR_STORAGE", value_name = "URL", hide_env_values = true)]
    pub storage: String,
}

/// Shows the storage with its password redacted, as everything else does.
impl std::fmt::Debug for StorageArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&nasr_search::store::redact_url(&self.storage))
    }
}

impl StorageArg {
    fn parse(&self) -> Result<StudyStorage> {
        Ok(StudyStorage::parse(&self.storage)?)
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
    /// Create a study from an experiment file (`method = "table"`, `"asha"` or `"hyperband"`).
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
    /// The best trial so far, as JSON.
    Best {
        #[command(flatten)]
        storage: StorageArg,
        /// The study.
        #[arg(long)]
        study: String,
    },
    /// Write the study as an ordinary run folder (`nasr report` reads it; a table search's
    /// folder resumes with `nasr search`).
    Export {
        #[command(flatten)]
        storage: StorageArg,
        /// The study.
        #[arg(long)]
        study: String,
        /// The run folder to write.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
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
    /// Where trainings write their run folders (one per trial, under a folder named after this
    /// worker). Default: the system's temporary folder.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    #[command(flatten)]
    pub data_dir: DataDirArg,
}

/// What a study records besides the trials (meta keys).
const KIND: &str = "kind";
const DATA_SHA256: &str = "data_sha256";
const STALE_AFTER: &str = "stale_after_seconds";

/// What a study searches, as `nasr study create` recorded it.
enum StudyPlan {
    /// A query search on the NAS-Bench-201 table.
    Table(SearchConfig),
    /// ASHA or Hyperband over standalone training.
    MultiFidelity(Box<MultiFidelityConfig>),
}

impl StudyPlan {
    /// The plan of an experiment file.
    fn of_experiment(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let experiment = ExperimentConfig::from_toml(&text, None)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(match experiment {
            ExperimentConfig::Table(config) => Self::Table(config),
            ExperimentConfig::Asha(config) | ExperimentConfig::Hyperband(config) => {
                Self::MultiFidelity(Box::new(config))
            }
            other => bail!(
                "{}: a shared study runs a NAS-Bench-201 table search or ASHA/Hyperband \
                 (`method = \"table\"`, `\"asha\"`, `\"hyperband\"`), not {}; other methods run \
                 on one machine with `nasr search`",
                path.display(),
                other.method()
            ),
        })
    }

    /// The plan `study` records.
    fn of_study(study: &dyn SharedStudy) -> Result<Self> {
        let config = study
            .meta("config")?
            .context("the study has no config: not created by `nasr study create`")?;
        let kind = study.meta(KIND)?.unwrap_or_default();
        let parsed = match kind.as_str() {
            "table" => serde_json::from_str(&config).map(Self::Table),
            "multi_fidelity" => serde_json::from_str(&config).map(Self::MultiFidelity),
            other => bail!("the study is of kind {other:?}, which this nasr does not run"),
        };
        parsed.context("the study's config does not parse")
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Table(_) => "table",
            Self::MultiFidelity(_) => "multi_fidelity",
        }
    }

    fn config_json(&self) -> String {
        match self {
            Self::Table(c) => serde_json::to_string(c),
            Self::MultiFidelity(c) => serde_json::to_string(c),
        }
        .expect("configs serialise")
    }

    /// Trials the study completes.
    fn queries(&self) -> usize {
        match self {
            Self::Table(c) => c.queries,
            Self::MultiFidelity(c) => c.queries,
        }
    }

    /// The study's strategy, fresh (no data needed), its settings checked.
    fn strategy(&self) -> Result<Box<dyn Strategy>> {
        Ok(match self {
            Self::Table(c) => table_strategy(c)?,
            Self::MultiFidelity(c) => Box::new(multi_fidelity_search(c)?),
        })
    }

    /// The checksum of the data the study's evaluations read from `data`, which must hold it.
    fn data_checksum(&self, data: &Path) -> Result<String> {
        match self {
            Self::Table(_) => table_checksum(data),
            Self::MultiFidelity(c) => {
                let name = c.run.data.name;
                let sets = nasr_data::load(name, data)
                    .with_context(|| format!("reading {name:?} from {}", data.display()))?;
                let checksums = DataChecksums {
                    train: sets.train.content_sha256(),
                    test: sets.test.content_sha256(),
                };
                Ok(serde_json::to_string(&checksums)?)
            }
        }
    }
}

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
            &storage.parse()?,
            &name,
            &config,
            load_if_exists,
            stale_after,
            &data_dir,
        ),
        StudyCommand::Status { storage, study } => status(storage.parse()?.open(&study)?.as_ref()),
        StudyCommand::Best { storage, study } => best(storage.parse()?.open(&study)?.as_ref()),
        StudyCommand::Export {
            storage,
            study,
            out,
        } => export(storage.parse()?.open(&study)?.as_ref(), &out),
        StudyCommand::List { storage } => {
            for name in storage.parse()?.list()? {
                println!("{name}");
            }
            Ok(())
        }
        StudyCommand::Delete { storage, study } => {
            if !storage.parse()?.delete(&study)? {
                bail!("no study {study}");
            }
            println!("deleted study {study}");
            Ok(())
        }
    }
}

fn create(
    storage: &StudyStorage,
    name: &str,
    path: &Path,
    load_if_exists: bool,
    stale_after: f64,
    data_dir: &DataDirArg,
) -> Result<()> {
    let plan = StudyPlan::of_experiment(path)?;
    if !(stale_after > 0.0 && stale_after.is_finite()) {
        bail!("--stale-after must be a positive number of seconds, got {stale_after}");
    }
    plan.strategy()
        .with_context(|| format!("checking {}", path.display()))?;
    let data = data_dir.resolve();
    let checksum = plan.data_checksum(&data)?;
    if let StudyPlan::Table(config) = &plan {
        // The objective device must be a column of the table.
        table_search_parts(config, &Nb201Table::load(&data)?)?;
    }
    // Written with the study, in one transaction: a worker never sees a study without them. A
    // study loaded with --load-if-exists must record the same (config, data, timeout).
    let config = plan.config_json();
    let stale_text = stale_after.to_string();
    let meta = [
        ("config", config.as_str()),
        (KIND, plan.kind()),
        (DATA_SHA256, checksum.as_str()),
        (STALE_AFTER, stale_text.as_str()),
    ];
    let study = storage.create(name, &meta, load_if_exists)?;
    let strategy = match &plan {
        StudyPlan::Table(c) => c.strategy.as_str(),
        StudyPlan::MultiFidelity(c) => c.strategy.as_str(),
    };
    println!(
        "study {name} in {}: {strategy} {} trials, stale after {stale_after} s",
        study.location(),
        plan.queries()
    );
    Ok(())
}

/// The sha256 of the NAS-Bench-201 table's two files, as one hex string.
fn table_checksum(data: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    for file in [ACCURACY_FILE, LATENCY_FILE] {
        let path = data.join(file);
        bytes.extend(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(nasr_data::fetch::sha256_hex(&bytes))
}

/// The study's strategy as one step left it (trials included): state and trials read
/// together, while workers go on.
fn loaded_strategy(study: &dyn SharedStudy, plan: &StudyPlan) -> Result<Box<dyn Strategy>> {
    let mut strategy = plan.strategy()?;
    let snapshot = study.snapshot()?;
    if let Some(state) = snapshot.state {
        strategy.load_state(state, snapshot.trials)?;
    }
    Ok(strategy)
}

fn status(study: &dyn SharedStudy) -> Result<()> {
    let plan = StudyPlan::of_study(study)?;
    let strategy = loaded_strategy(study, &plan)?;
    let trials = strategy.book().trials();
    let count = |state: TrialState| trials.iter().filter(|t| t.state == state).count();
    println!(
        "study {}: {} of {} trials complete, {} running, {} failed, {} stale",
        study.name(),
        count(TrialState::Complete),
        plan.queries(),
        count(TrialState::Running),
        count(TrialState::Failed),
        count(TrialState::Stale),
    );
    if let Some(best) = strategy.best() {
        println!("best {}", describe(best));
    }
    Ok(())
}

/// A trial in a line: architecture, id, fidelity and metrics.
fn describe(trial: &TrialRecord) -> String {
    let metrics: Vec<String> = trial
        .metrics
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    format!(
        "{} (trial {}, {}): {}",
        Nb201Space::new().format(&trial.arch),
        trial.id,
        fidelity_text(trial.fidelity),
        metrics.join(", ")
    )
}

fn fidelity_text(fidelity: Fidelity) -> String {
    match fidelity {
        Fidelity::Full => "full".into(),
        Fidelity::Epochs(epochs) => format!("{epochs} epochs"),
    }
}

fn best(study: &dyn SharedStudy) -> Result<()> {
    let plan = StudyPlan::of_study(study)?;
    let strategy = loaded_strategy(study, &plan)?;
    let Some(best) = strategy.best() else {
        bail!("study {}: no trial is complete yet", study.name());
    };
    let nb201 = Nb201Space::new();
    let record = serde_json::json!({
        "study": study.name(),
        "trial": best.id,
        "arch": nb201.format(&best.arch),
        "index": nb201.index_of(&best.arch)?,
        "fidelity": best.fidelity,
        "metrics": best.metrics,
    });
    println!("{}", serde_json::to_string_pretty(&record)?);
    Ok(())
}

/// Writes the study as the run folder its method writes on one machine, from the study's
/// trials and strategy state.
fn export(study: &dyn SharedStudy, out: &Path) -> Result<()> {
    let plan = StudyPlan::of_study(study)?;
    let StudySnapshot { state, trials } = study.snapshot()?;
    if let StudyPlan::MultiFidelity(config) = &plan {
        open_run_folder(config, out)?;
    }
    let mut store = open_store(out, &plan.config_json())?;
    store.import(&trials, state.as_ref())?;
    let count = trials.len();
    match &plan {
        StudyPlan::Table(config) => {
            let mut strategy = plan.strategy()?;
            if let Some(state) = state {
                strategy.load_state(state, trials)?;
            }
            write_table_results(config, strategy.as_ref(), &store, out)?;
        }
        StudyPlan::MultiFidelity(config) => {
            let mut search = multi_fidelity_search(config)?;
            if let Some(state) = state {
                search.load_state(state, trials)?;
            }
            write_multi_fidelity_results(&search, &store, out)?;
        }
    }
    println!(
        "study {}: {count} trials written to {}",
        study.name(),
        out.display()
    );
    Ok(())
}

/// `nasr worker`.
pub fn worker(args: WorkerArgs, compute: nasr_nn::Compute) -> Result<()> {
    let storage = args.storage.parse()?;
    let study = storage.open(&args.study)?;
    let beat = storage.open(&args.study)?;
    let plan = StudyPlan::of_study(study.as_ref())?;
    let data = args.data_dir.resolve();
    let expected = study.meta(DATA_SHA256)?.unwrap_or_default();
    let found = plan.data_checksum(&data)?;
    if expected != found {
        bail!(
            "the data in {} (sha256 {found}) is not the study's ({expected}): give this worker \
             the study's data (--data-dir or NASR_DATA)",
            data.display()
        );
    }
    let stale_text = study
        .meta(STALE_AFTER)?
        .context("the study records no stale_after_seconds: not created by `nasr study create`")?;
    let timeout = stale_text
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .filter(|timeout| !timeout.is_zero())
        .with_context(|| {
            format!("the study's stale_after_seconds is {stale_text:?}, not a positive number")
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the SIGTERM handler")?;
    let name = format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
        std::process::id()
    );
    let config = WorkerConfig {
        name: name.clone(),
        queries: plan.queries(),
        max_trials: args.max_trials,
        heartbeat: timeout / 4,
        timeout,
    };
    let work = |strategy: &mut dyn Strategy, evaluator: &mut dyn Evaluator| {
        let mut evaluator = Delayed {
            inner: evaluator,
            delay: test_delay()?,
        };
        // Stopped during an evaluation: the trial is released, its result would be refused,
        // so the process ends here rather than finish the evaluation.
        let on_release = |id: TrialId| {
            println!("worker {name}: asked to stop; trial {id} released, for another worker");
            std::process::exit(STOPPED_EXIT_CODE);
        };
        let report = run_worker(
            study.as_ref(),
            beat.as_ref(),
            strategy,
            &mut evaluator,
            &config,
            &stop,
            &on_release,
        )?;
        anyhow::Ok(report)
    };
    let report: WorkerReport = match &plan {
        StudyPlan::Table(table_config) => {
            let table = Nb201Table::load(&data)?;
            let (mut strategy, mut evaluator) = table_search_parts(table_config, &table)?;
            work(strategy.as_mut(), &mut evaluator)?
        }
        StudyPlan::MultiFidelity(mf_config) => {
            let mut search = multi_fidelity_search(mf_config)?;
            let work_dir = args
                .work_dir
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join("nasr-worker"))
                .join(study.name())
                .join(&name);
            let mut evaluator = StandaloneEvaluator::new(
                Arc::new(Nb201Space::new()),
                mf_config.run.clone(),
                &data,
                &work_dir.join("trials"),
                RunOptions {
                    show_progress: false,
                    compute,
                },
            );
            work(&mut search, &mut evaluator)?
        }
    };
    println!(
        "worker {name}: {} trials told, {} refused (gone stale meanwhile)",
        report.told, report.refused
    );
    if stop.load(Ordering::SeqCst) {
        // Not a success: a scheduler (a Kubernetes Job's completions, say) must not count a
        // worker it stopped as one that finished its share.
        std::process::exit(STOPPED_EXIT_CODE);
    }
    Ok(())
}

/// The exit code of a worker stopped by a signal: 128 + SIGTERM, as the shell reports it.
const STOPPED_EXIT_CODE: i32 = 143;

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
struct Delayed<'a> {
    inner: &'a mut dyn Evaluator,
    delay: Duration,
}

impl Evaluator for Delayed<'_> {
    fn evaluate(&mut self, arch: &Arch, fidelity: Fidelity) -> Result<Metrics, SearchError> {
        std::thread::sleep(self.delay);
        self.inner.evaluate(arch, fidelity)
    }
}
