//! A latency model of Once-for-All sub-networks on devices nasr cannot reach, fitted to the
//! published measurements of HELP (Lee et al., NeurIPS 2021): 5,000 sub-networks of OFA's
//! ImageNet space timed on four GPUs at three batch sizes (`ofa_latency_help.csv`: `index, ks,
//! e, d, r`, then one column per device and batch, e.g. `titan_rtx_1`, in milliseconds).
//!
//! The model is linear in OFA's encoding, once as it is and once scaled by (r / 224)^2: each
//! active layer's kernel and expansion costs a fixed time (a launch, at batch 1 most of it)
//! plus a time that grows with the pixels it sees; plus a constant and a resolution term.
//! Fitted by ridge least squares on 80% of the rows, judged on the other 20%.

use std::path::Path;

use nasr_space::ofa::OfaSubnet;
use serde::{Deserialize, Serialize};

use crate::SearchError;
use crate::rank::kendall_tau;

/// OFA's kernels and expansions, in encoding order.
const KERNELS: [usize; 3] = [3, 5, 7];
const EXPANSIONS: [usize; 3] = [3, 4, 6];
/// OFA's layer slots: 5 units of up to 4 layers.
const SLOTS: usize = 20;
const MAX_DEPTH: usize = 4;
/// The resolution the pixel terms are relative to.
const BASE_RESOLUTION: f64 = 224.0;
/// Ridge penalty: enough to pin the weights of one-hots that never vary together.
const RIDGE: f64 = 1e-6;

/// One measured sub-network of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpRow {
    /// The sub-network, in OFA's form (20 slots, 5 depths, ImageNet resolution).
    pub subnet: OfaSubnet,
    /// Its latency per column, in milliseconds.
    pub latencies: Vec<f64>,
}

/// HELP's OFA table: its device columns and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpTable {
    /// Column names (`<device>_<batch>`).
    pub devices: Vec<String>,
    /// The rows.
    pub rows: Vec<HelpRow>,
}

impl HelpTable {
    /// Reads `ofa_latency_help.csv`; a malformed row is named with its line and field.
    pub fn load(path: &Path) -> Result<Self, SearchError> {
        let file = |problem: String| SearchError::File {
            path: path.into(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        if header.len() < 6 || header[..5] != ["index", "ks", "e", "d", "r"] {
            return Err(file(format!(
                "expected HELP's OFA header `index,ks,e,d,r,<device columns>`, got {:?}",
                header
            )));
        }
        let devices: Vec<String> = header[5..].iter().map(|s| s.to_string()).collect();
        let rows = lines
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                parse_row(line, devices.len()).map_err(|p| file(format!("line {}: {p}", n + 2)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { devices, rows })
    }

    /// The index of column `device`, or an error listing the columns.
    pub fn column(&self, device: &str) -> Result<usize, SearchError> {
        self.devices
            .iter()
            .position(|d| d == device)
            .ok_or_else(|| SearchError::Config {
                field: "latency device".into(),
                problem: format!("{device:?} is not one of {}", self.devices.join(", ")),
            })
    }
}

fn parse_row(line: &str, columns: usize) -> Result<HelpRow, String> {
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != 5 + columns {
        return Err(format!("{} fields, expected {}", fields.len(), 5 + columns));
    }
    let list =
        |name: &str, text: &str, len: usize, allowed: &[usize]| -> Result<Vec<usize>, String> {
            let values: Vec<usize> = text
                .split_whitespace()
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("{name}: {v:?} is not a number"))
                })
                .collect::<Result<_, _>>()?;
            if values.len() != len || values.iter().any(|v| !allowed.contains(v)) {
                return Err(format!(
                    "{name}: expected {len} values of {allowed:?}, got {text:?}"
                ));
            }
            Ok(values)
        };
    let subnet = OfaSubnet {
        ks: list("ks", fields[1], SLOTS, &KERNELS)?,
        e: list("e", fields[2], SLOTS, &EXPANSIONS)?,
        d: list("d", fields[3], SLOTS / MAX_DEPTH, &[2, 3, 4])?,
        r: fields[4]
            .trim()
            .parse()
            .map_err(|_| format!("r: {:?} is not a number", fields[4]))?,
    };
    let latencies = fields[5..]
        .iter()
        .map(|v| match v.trim().parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms > 0.0 => Ok(ms),
            _ => Err(format!(
                "latency {v:?} is not a positive number of milliseconds"
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(HelpRow { subnet, latencies })
}

/// The model's inputs of `subnet`: per active slot a kernel and an expansion one-hot, then
/// the same scaled by (r / 224)^2, then 1 and (r / 224)^2.
pub fn features(subnet: &OfaSubnet) -> Vec<f64> {
    let pixels = (subnet.r as f64 / BASE_RESOLUTION).powi(2);
    let mut onehots = vec![0.0; SLOTS * 6];
    for (unit, &depth) in subnet.d.iter().enumerate() {
        for position in 0..depth.min(MAX_DEPTH) {
            let slot = unit * MAX_DEPTH + position;
            let (Some(k), Some(e)) = (
                KERNELS
                    .iter()
                    .position(|&k| Some(&k) == subnet.ks.get(slot)),
                EXPANSIONS
                    .iter()
                    .position(|&e| Some(&e) == subnet.e.get(slot)),
            ) else {
                continue;
            };
            onehots[slot * 6 + k] = 1.0;
            onehots[slot * 6 + 3 + e] = 1.0;
        }
    }
    let mut all = onehots.clone();
    all.extend(onehots.iter().map(|v| v * pixels));
    all.extend([1.0, pixels]);
    all
}

/// A fitted latency model of one column, with its held-out quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceLatencyModel {
    /// The column (`<device>_<batch>`).
    pub device: String,
    /// One weight per [`features`] entry.
    pub weights: Vec<f64>,
    /// Mean of |predicted - measured| / measured over the held-out rows.
    pub held_out_relative_error: f64,
    /// Kendall tau between predicted and measured on the held-out rows.
    pub held_out_kendall_tau: f64,
    /// Rows fitted on and held out.
    pub rows: (usize, usize),
}

impl DeviceLatencyModel {
    /// Fits column `device` of `table` on every fifth row left out (rows 4, 9, 14, ... held
    /// out), then judges it on those.
    pub fn fit(table: &HelpTable, device: &str) -> Result<Self, SearchError> {
        let column = table.column(device)?;
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (n, row) in table.rows.iter().enumerate() {
            let pair = (features(&row.subnet), row.latencies[column]);
            if n % 5 == 4 {
                test.push(pair)
            } else {
                train.push(pair)
            }
        }
        if train.len() < 2 * features(&table.rows[0].subnet).len() || test.is_empty() {
            return Err(SearchError::Config {
                field: "latency table".into(),
                problem: format!("{} rows are too few to fit the model", table.rows.len()),
            });
        }
        let weights = ridge_least_squares(&train);
        let predict = |x: &[f64]| dot(&weights, x);
        let predicted: Vec<f64> = test.iter().map(|(x, _)| predict(x)).collect();
        let measured: Vec<f64> = test.iter().map(|(_, y)| *y).collect();
        let relative = predicted
            .iter()
            .zip(&measured)
            .map(|(p, m)| (p - m).abs() / m)
            .sum::<f64>()
            / measured.len() as f64;
        Ok(Self {
            device: device.into(),
            held_out_relative_error: relative,
            held_out_kendall_tau: kendall_tau(&predicted, &measured),
            rows: (train.len(), test.len()),
            weights,
        })
    }

    /// The predicted latency of `subnet` in milliseconds.
    pub fn predict(&self, subnet: &OfaSubnet) -> f64 {
        dot(&self.weights, &features(subnet))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Weights minimising the squared error plus `RIDGE` times their squared norm, by the normal
/// equations and Cholesky.
fn ridge_least_squares(pairs: &[(Vec<f64>, f64)]) -> Vec<f64> {
    let n = pairs[0].0.len();
    let mut gram = vec![0.0; n * n];
    let mut rhs = vec![0.0; n];
    for (x, y) in pairs {
        for i in 0..n {
            if x[i] == 0.0 {
                continue;
            }
            rhs[i] += x[i] * y;
            for j in 0..n {
                gram[i * n + j] += x[i] * x[j];
            }
        }
    }
    let scale = pairs.len() as f64;
    (0..n).for_each(|i| gram[i * n + i] += RIDGE * scale);
    // Cholesky: gram = L L^T, then two triangular solves.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            l[i * n + j] = if i == j {
                (gram[i * n + i] - sum).max(f64::MIN_POSITIVE).sqrt()
            } else {
                (gram[i * n + j] - sum) / l[j * n + j]
            };
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        let sum: f64 = (0..i).map(|k| l[i * n + k] * z[k]).sum();
        z[i] = (rhs[i] - sum) / l[i * n + i];
    }
    let mut w = vec![0.0; n];
    for i in (0..n).rev() {
        let sum: f64 = (i + 1..n).map(|k| l[k * n + i] * w[k]).sum();
        w[i] = (z[i] - sum) / l[i * n + i];
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Latencies made by a known linear rule (a launch per layer, a per-pixel time growing
    /// with the expansion) are recovered: the fit is near exact on rows it never saw.
    #[test]
    fn a_linear_latency_rule_is_recovered_on_held_out_rows() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
        let rows = (0..1000)
            .map(|_| {
                let s = OfaSubnet {
                    ks: (0..SLOTS)
                        .map(|_| KERNELS[rng.random_range(0..3)])
                        .collect(),
                    e: (0..SLOTS)
                        .map(|_| EXPANSIONS[rng.random_range(0..3)])
                        .collect(),
                    d: (0..5).map(|_| rng.random_range(2..=4)).collect(),
                    r: 128 + 4 * rng.random_range(0..25),
                };
                let pixels = (s.r as f64 / 224.0).powi(2);
                let ms = 1.0
                    + s.d
                        .iter()
                        .enumerate()
                        .flat_map(|(u, &d)| (0..d).map(move |p| u * MAX_DEPTH + p))
                        .map(|slot| 0.1 + 0.02 * s.e[slot] as f64 * pixels)
                        .sum::<f64>();
                HelpRow {
                    subnet: s,
                    latencies: vec![ms],
                }
            })
            .collect();
        let table = HelpTable {
            devices: vec!["fake_1".into()],
            rows,
        };
        let model = DeviceLatencyModel::fit(&table, "fake_1").unwrap();
        assert!(model.held_out_relative_error < 1e-3, "{model:?}");
        let err = DeviceLatencyModel::fit(&table, "tpu_1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"tpu_1\" is not one of fake_1"), "{err}");
    }

    #[test]
    fn a_bad_row_is_named_by_line_and_field() {
        let dir = std::env::temp_dir().join(format!("nasr-help-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.csv");
        let ks = vec!["3"; 20].join(" ");
        let e = vec!["4"; 20].join(" ");
        std::fs::write(
            &path,
            format!(
                "index,ks,e,d,r,gpu_1\n0,{ks},{e},2 2 2 2 2,224,1.5\n1,{ks},{e},2 2 9 2 2,224,1.5\n"
            ),
        )
        .unwrap();
        let err = HelpTable::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 3") && err.contains("d: expected 5 values"),
            "{err}"
        );
    }
}
