//! Reading a run folder: which command wrote it (from its marker files and its config's keys,
//! since a run folder's `config.toml` is the method's config without the experiment file's
//! `method` tag), and its records, checked against the versions this nasr reads. Records are
//! read as JSON values: their types live in crates that depend on burn, which a report does
//! not need.
//!
//! A run in progress has no final records yet; the readers fall back to what it has written
//! so far (the experiment store, read without writing; the trainer's `progress.json`).

use std::path::{Path, PathBuf};

use nasr_search::TrialRecord;
use nasr_search::store::{SqliteStore, Store};
use serde_json::Value;

use crate::ReportError;

/// The newest `format_version` of `metrics.json`, `best.json` and `front.json` records.
pub const RECORD_FORMAT: u64 = 1;
/// The newest `format_version` of a trainer's `checkpoints/progress.json`.
pub const PROGRESS_FORMAT: u64 = 2;
/// The newest `format` of a latency table (`latency.json`).
pub const LATENCY_FORMAT: u64 = 1;

/// The command that wrote a run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `nasr train` (and every `retrain/`, `final/` and `nasr ofa extract` folder).
    Train,
    /// A search of the NAS-Bench-201 table (random, REA, REINFORCE, NSGA-II).
    TableSearch,
    /// Random search with weight sharing.
    Rsws,
    /// ASHA or Hyperband over standalone training.
    MultiFidelity,
    /// FairNAS or SPOS, with NSGA-II over the supernet.
    FairNas,
    /// DARTS (also the demo).
    Darts,
    /// ProxylessNAS.
    Proxyless,
    /// Once-for-All progressive shrinking.
    Ofa,
    /// DNA.
    Dna,
    /// FTT-NAS.
    Ftt,
    /// Rank evaluation of the NB201 supernet.
    RankEval,
    /// Rank evaluation of MobileNet supernets (fair, uniform, DNA).
    SamplingRank,
    /// Methods compared over seeds.
    Compare,
}

impl RunKind {
    /// The method's name, as a user calls it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Train => "training run",
            Self::TableSearch => "NAS-Bench-201 table search",
            Self::Rsws => "random search with weight sharing",
            Self::MultiFidelity => "multi-fidelity search",
            Self::FairNas => "FairNAS / SPOS",
            Self::Darts => "DARTS",
            Self::Proxyless => "ProxylessNAS",
            Self::Ofa => "Once-for-All",
            Self::Dna => "DNA",
            Self::Ftt => "FTT-NAS",
            Self::RankEval => "rank evaluation",
            Self::SamplingRank => "supernet sampling rank evaluation",
            Self::Compare => "method comparison",
        }
    }
}

/// A run folder, its kind and its config.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder.
    pub path: PathBuf,
    /// Which command wrote it.
    pub kind: RunKind,
    /// Its config: `config.toml`, or the experiment store's (a table search).
    pub config: Value,
    /// The config as the user reads it (TOML, or the store's JSON).
    pub config_text: String,
}

impl RunFolder {
    /// The run folder at `path`.
    pub fn open(path: &Path) -> Result<Self, ReportError> {
        if !path.is_dir() {
            return Err(ReportError::NotARun {
                path: path.to_path_buf(),
            });
        }
        let toml_path = path.join("config.toml");
        let (config, config_text) = if toml_path.is_file() {
            let text =
                std::fs::read_to_string(&toml_path).map_err(|e| ReportError::io(&toml_path, e))?;
            let value: toml::Value = toml::from_str(&text).map_err(|e| ReportError::Parse {
                path: toml_path.clone(),
                problem: e.to_string(),
            })?;
            let json = serde_json::to_value(value).map_err(|e| ReportError::Parse {
                path: toml_path.clone(),
                problem: e.to_string(),
            })?;
            (json, text)
        } else if path.join("experiment.sqlite").is_file() {
            let store = SqliteStore::open_read_only(&path.join("experiment.sqlite"))?;
            let text = store.meta("config")?.unwrap_or_else(|| "{}".into());
            let json = serde_json::from_str(&text).unwrap_or(Value::Null);
            let pretty = serde_json::to_string_pretty(&json).unwrap_or(text);
            (json, pretty)
        } else {
            (Value::Null, String::new())
        };
        let kind = detect(path, &config).ok_or_else(|| ReportError::NotARun {
            path: path.to_path_buf(),
        })?;
        let folder = Self {
            path: path.to_path_buf(),
            kind,
            config,
            config_text,
        };
        folder.check_versions()?;
        Ok(folder)
    }

    /// The sub-folder `name` as a run folder, where it is one.
    pub fn sub(&self, name: &str) -> Option<RunFolder> {
        let path = self.path.join(name);
        path.join("config.toml")
            .is_file()
            .then(|| RunFolder::open(&path).ok())
            .flatten()
    }

    /// The JSON file `name` of the folder, `None` where it is not (yet) written.
    pub fn json(&self, name: &str) -> Result<Option<Value>, ReportError> {
        let path = self.path.join(name);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ReportError::Parse {
                path,
                problem: e.to_string(),
            })
    }

    /// The JSON lines of `name`, empty where it is not written; a last line cut short by a
    /// run still writing it is left out.
    pub fn json_lines(&self, name: &str) -> Result<Vec<Value>, ReportError> {
        let path = self.path.join(name);
        if !path.is_file() {
            return Ok(Vec::new());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut values = Vec::with_capacity(lines.len());
        for (index, line) in lines.iter().enumerate() {
            match serde_json::from_str(line) {
                Ok(value) => values.push(value),
                Err(_) if index + 1 == lines.len() && !text.ends_with('\n') => {}
                Err(e) => {
                    return Err(ReportError::Parse {
                        path,
                        problem: format!("line {}: {e}", index + 1),
                    });
                }
            }
        }
        Ok(values)
    }

    /// The search's trials: from the experiment store where there is one (a run in
    /// progress has only that), else from `trials.jsonl`.
    pub fn trials(&self) -> Result<Vec<TrialRecord>, ReportError> {
        let store = self.path.join("experiment.sqlite");
        if store.is_file() {
            return Ok(SqliteStore::open_read_only(&store)?.trials()?);
        }
        let path = self.path.join("trials.jsonl");
        self.json_lines("trials.jsonl")?
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|e| ReportError::Parse {
                    path: path.clone(),
                    problem: e.to_string(),
                })
            })
            .collect()
    }

    /// The training epochs so far: `metrics.json`'s (a training run's record, or a bare list of
    /// epochs), else the trainer's `checkpoints/progress.json` of a run still training.
    pub fn epochs(&self) -> Result<Vec<Epoch>, ReportError> {
        let records = match self.json("metrics.json")? {
            Some(Value::Array(epochs)) => epochs,
            Some(metrics) => match metrics.get("epochs") {
                Some(Value::Array(epochs)) => epochs.clone(),
                _ => Vec::new(),
            },
            None => match self.json("checkpoints/progress.json")? {
                Some(progress) => progress
                    .get("history")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                None => Vec::new(),
            },
        };
        Ok(records.iter().filter_map(Epoch::from_json).collect())
    }

    /// Refuses records newer than this nasr reads.
    fn check_versions(&self) -> Result<(), ReportError> {
        let checks: [(&str, &'static str, u64); 5] = [
            ("metrics.json", "format_version", RECORD_FORMAT),
            ("best.json", "format_version", RECORD_FORMAT),
            (
                "checkpoints/progress.json",
                "format_version",
                PROGRESS_FORMAT,
            ),
            ("latency.json", "format", LATENCY_FORMAT),
            ("front.json", "format_version", RECORD_FORMAT),
        ];
        for (name, field, supported) in checks {
            let Some(value) = self.json(name)? else {
                continue;
            };
            let records = match &value {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for record in records {
                if let Some(found) = record.get(field).and_then(Value::as_u64)
                    && found > supported
                {
                    return Err(ReportError::Newer {
                        path: self.path.join(name),
                        field,
                        found,
                        supported,
                    });
                }
            }
        }
        Ok(())
    }

    /// The space the run searched or trained (`nb201`, `darts`, `mobilenet`, ...), from its
    /// config's `[space.<name>]` table.
    pub fn space(&self) -> Option<String> {
        let space = self
            .config
            .get("space")
            .or_else(|| self.config.pointer("/run/space"))
            .or_else(|| self.config.pointer("/supernet/space"))?;
        space.as_object()?.keys().next().cloned()
    }
}

/// Which command wrote the folder, from its marker files and its config's keys.
fn detect(path: &Path, config: &Value) -> Option<RunKind> {
    let has = |key: &str| config.get(key).is_some();
    let file = |name: &str| path.join(name).is_file();
    Some(if file("compare.json") || has("budget_epochs") {
        RunKind::Compare
    } else if file("rank_eval.json") || (has("supernet") && has("standalone") && !has("seeds")) {
        RunKind::RankEval
    } else if file("sampling_rank.json") || (has("seeds") && has("methods")) {
        RunKind::SamplingRank
    } else if config.get("arch").is_some_and(Value::is_string) {
        RunKind::Train
    } else if has("candidates") {
        RunKind::Rsws
    } else if has("run") && has("eta") {
        RunKind::MultiFidelity
    } else if has("sampling") {
        RunKind::FairNas
    } else if has("order") || has("relaxation") {
        RunKind::Darts
    } else if has("arch_every") {
        RunKind::Proxyless
    } else if has("phases") {
        RunKind::Ofa
    } else if has("teacher") && has("blocks") {
        RunKind::Dna
    } else if has("fault_draws") {
        RunKind::Ftt
    } else if file("experiment.sqlite") || file("trials.jsonl") {
        RunKind::TableSearch
    } else {
        return None;
    })
}

/// One training epoch, as every trainer records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epoch {
    /// 1-based.
    pub epoch: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy, in [0, 1].
    pub train_accuracy: f64,
    /// Validation accuracy, in [0, 1].
    pub valid_accuracy: f64,
}

impl Epoch {
    fn from_json(v: &Value) -> Option<Self> {
        let f = |key: &str| v.get(key).and_then(Value::as_f64);
        Some(Self {
            epoch: f("epoch")?,
            train_loss: f("train_loss").unwrap_or(f64::NAN),
            train_accuracy: f("train_accuracy").unwrap_or(f64::NAN),
            valid_accuracy: f("valid_accuracy").unwrap_or(f64::NAN),
        })
    }
}

/// `v`'s number at the JSON pointer `pointer` (`/best/arch`), where it is one.
pub fn number(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer).and_then(Value::as_f64)
}

/// `v`'s string at `pointer`, where it is one.
pub fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}
