//! The NAS-Bench-201 table as an evaluator: final test accuracy of all 15,625 cells on CIFAR-10,
//! CIFAR-100 and ImageNet16-120 (NATS-Bench, 200 epochs, seed-averaged), and measured latency
//! on 27 device settings (HELP, NeurIPS 2021).
//!
//! The table holds test accuracy only, so searches on it optimise test accuracy (the
//! NAS-Bench-201 paper searched on validation accuracy).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use nasr_space::nb201::NB201_SIZE;
use nasr_space::{Arch, Nb201Space, Space};
use serde::{Deserialize, Serialize};

use crate::{Cost, CostModel, Evaluator, Fidelity, Metrics, SearchError};

/// File of test accuracies, under the data folder.
pub const ACCURACY_FILE: &str = "nas-bench-201/nats_bench_tss_test_acc_200ep.csv";
/// File of latencies, under the data folder.
pub const LATENCY_FILE: &str = "nas-bench-201/nb201_latency_help.csv";

/// The three datasets of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nb201Dataset {
    /// CIFAR-10 (trained on train + valid).
    Cifar10,
    /// CIFAR-100.
    Cifar100,
    /// ImageNet16-120.
    #[serde(rename = "imagenet16-120")]
    ImageNet16,
}

impl Nb201Dataset {
    fn column(self) -> usize {
        match self {
            Self::Cifar10 => 0,
            Self::Cifar100 => 1,
            Self::ImageNet16 => 2,
        }
    }
}

impl fmt::Display for Nb201Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cifar10 => "cifar10",
            Self::Cifar100 => "cifar100",
            Self::ImageNet16 => "imagenet16-120",
        })
    }
}

impl FromStr for Nb201Dataset {
    type Err = SearchError;

    fn from_str(name: &str) -> Result<Self, SearchError> {
        match name {
            "cifar10" => Ok(Self::Cifar10),
            "cifar100" => Ok(Self::Cifar100),
            "imagenet16-120" | "ImageNet16-120" => Ok(Self::ImageNet16),
            other => Err(SearchError::Config {
                field: "dataset".into(),
                problem: format!(
                    "unknown NAS-Bench-201 dataset {other:?}; known: cifar10, cifar100, imagenet16-120"
                ),
            }),
        }
    }
}

/// The whole table in memory.
#[derive(Debug, Clone)]
pub struct Nb201Table {
    /// Test accuracy (%) per architecture index, per dataset column.
    accuracy: Vec<[f64; 3]>,
    /// Latency device names, in column order.
    devices: Vec<String>,
    /// Latency (ms) per architecture index, per device.
    latency: Vec<Vec<f64>>,
}

impl Nb201Table {
    /// Reads both files from the data folder (`<dir>/nas-bench-201/...`).
    pub fn load(data_dir: &Path) -> Result<Self, SearchError> {
        let accuracy = read_accuracy(&data_dir.join(ACCURACY_FILE))?;
        let (devices, latency) = read_latency(&data_dir.join(LATENCY_FILE))?;
        Ok(Self {
            accuracy,
            devices,
            latency,
        })
    }

    /// Test accuracy (%) of architecture `index` on `dataset`.
    pub fn accuracy(&self, index: usize, dataset: Nb201Dataset) -> f64 {
        self.accuracy[index][dataset.column()]
    }

    /// The latency device settings (`pixel3`, `gold_6226`, `2080ti_32`, ...).
    pub fn devices(&self) -> &[String] {
        &self.devices
    }

    /// Column of a device setting, or an error listing the known ones.
    pub fn device(&self, name: &str) -> Result<usize, SearchError> {
        self.devices
            .iter()
            .position(|d| d == name)
            .ok_or_else(|| SearchError::Config {
                field: "objective_device".into(),
                problem: format!(
                    "unknown device {name:?}; known: {}",
                    self.devices.join(", ")
                ),
            })
    }

    /// Latency (ms) of architecture `index` on device column `device`.
    pub fn latency(&self, index: usize, device: usize) -> f64 {
        self.latency[index][device]
    }

    /// The best test accuracy on `dataset` among architectures whose latency on `device` is at
    /// most the budget (all architectures without a budget), with its index.
    pub fn optimum(
        &self,
        dataset: Nb201Dataset,
        budget: Option<(usize, f64)>,
    ) -> Option<(usize, f64)> {
        (0..NB201_SIZE)
            .filter(|&i| budget.is_none_or(|(device, max)| self.latency(i, device) <= max))
            .map(|i| (i, self.accuracy(i, dataset)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }
}

fn file_error(path: &Path, problem: String) -> SearchError {
    SearchError::File {
        path: path.to_path_buf(),
        problem,
    }
}

fn read_text(path: &Path) -> Result<String, SearchError> {
    std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (the NAS-Bench-201 table; point --data-dir or NASR_DATA at the folder holding nas-bench-201/)"
        } else {
            ""
        };
        file_error(path, format!("{e}{hint}"))
    })
}

/// Checks that row `row`'s arch string is the architecture at that index.
fn check_arch(path: &Path, space: &Nb201Space, row: usize, text: &str) -> Result<(), SearchError> {
    let arch = space
        .parse(text)
        .map_err(|e| file_error(path, format!("row {}: {e}", row + 1)))?;
    if space.index_of(&arch)? != row {
        return Err(file_error(
            path,
            format!(
                "row {}: {text} is not NAS-Bench-201 architecture {row}",
                row + 1
            ),
        ));
    }
    Ok(())
}

fn parse_number(path: &Path, row: usize, field: &str) -> Result<f64, SearchError> {
    field
        .trim()
        .parse::<f64>()
        .map_err(|_| file_error(path, format!("row {}: {field:?} is not a number", row + 1)))
}

fn read_accuracy(path: &Path) -> Result<Vec<[f64; 3]>, SearchError> {
    let text = read_text(path)?;
    let space = Nb201Space::new();
    let mut rows = Vec::with_capacity(NB201_SIZE);
    for (row, line) in text.lines().skip(1).enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 5 {
            return Err(file_error(
                path,
                format!(
                    "row {}: expected 5 columns, found {}",
                    row + 1,
                    fields.len()
                ),
            ));
        }
        check_arch(path, &space, row, fields[3])?;
        rows.push([
            parse_number(path, row, fields[0])?,
            parse_number(path, row, fields[1])?,
            parse_number(path, row, fields[2])?,
        ]);
    }
    if rows.len() != NB201_SIZE {
        return Err(file_error(
            path,
            format!("expected {NB201_SIZE} architectures, found {}", rows.len()),
        ));
    }
    Ok(rows)
}

fn read_latency(path: &Path) -> Result<(Vec<String>, Vec<Vec<f64>>), SearchError> {
    let text = read_text(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    if header.len() < 3 || header[0] != "index" || header[1] != "arch" {
        return Err(file_error(
            path,
            "expected a header starting with index,arch".into(),
        ));
    }
    let devices: Vec<String> = header[2..].iter().map(|d| d.to_string()).collect();
    let space = Nb201Space::new();
    let mut rows = Vec::with_capacity(NB201_SIZE);
    for (row, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != header.len() {
            return Err(file_error(
                path,
                format!(
                    "row {}: expected {} columns, found {}",
                    row + 1,
                    header.len(),
                    fields.len()
                ),
            ));
        }
        check_arch(path, &space, row, fields[1])?;
        let values = fields[2..]
            .iter()
            .map(|f| parse_number(path, row, f))
            .collect::<Result<Vec<f64>, _>>()?;
        rows.push(values);
    }
    if rows.len() != NB201_SIZE {
        return Err(file_error(
            path,
            format!("expected {NB201_SIZE} architectures, found {}", rows.len()),
        ));
    }
    Ok((devices, rows))
}

/// Looks architectures up in the table: `accuracy` (test %, of the chosen dataset) and, when a
/// device is chosen, `latency_ms`.
#[derive(Debug, Clone)]
pub struct Nb201Evaluator<'a> {
    table: &'a Nb201Table,
    space: Nb201Space,
    dataset: Nb201Dataset,
    device: Option<usize>,
}

impl<'a> Nb201Evaluator<'a> {
    /// Accuracy on `dataset`, plus latency on `device` when given.
    pub fn new(table: &'a Nb201Table, dataset: Nb201Dataset, device: Option<usize>) -> Self {
        Self {
            table,
            space: Nb201Space::new(),
            dataset,
            device,
        }
    }
}

impl Evaluator for Nb201Evaluator<'_> {
    fn evaluate(&mut self, arch: &Arch, _fidelity: Fidelity) -> Result<Metrics, SearchError> {
        let index = self.space.index_of(arch)?;
        let mut metrics = Metrics::from([(
            "accuracy".to_string(),
            self.table.accuracy(index, self.dataset),
        )]);
        if let Some(device) = self.device {
            metrics.insert("latency_ms".into(), self.table.latency(index, device));
        }
        Ok(metrics)
    }
}

impl CostModel for Nb201Evaluator<'_> {
    fn cost(&self, arch: &Arch) -> Cost {
        let latency_ms = match (self.space.index_of(arch), self.device) {
            (Ok(index), Some(device)) => Some(self.table.latency(index, device)),
            _ => None,
        };
        Cost {
            latency_ms,
            ..Cost::default()
        }
    }
}
