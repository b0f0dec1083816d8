//! Latency lookup tables: the time of each block of a MobileNet-space network at its input
//! shape, measured on one machine (`nasr latency measure`, which nasr-nn's `latency` module
//! implements), and the latency of a whole architecture predicted from them by summing its
//! blocks' entries, as ProxylessNAS's `LatencyEstimator` does. The table's type is generic over
//! the sizes of the space it was measured for; the `ofa` space's keys are in
//! [`crate::ofa_latency`].
//!
//! Keys follow ProxylessNAS (`utils/latency_estimator.py`): `Conv-input:28x28x1-output:28x28x8`
//! for the stem, `expanded_conv-input:28x28x8-output:28x28x8-expand:3-kernel:5-stride:1-idskip:1`
//! for an MBConv layer (`idskip:1` where the block adds its input), `Conv_1-input:7x7x32-output:
//! 7x7x64` for the head conv and `Logits-input:7x7x64-output:10` for pooling and classifier. A
//! skipped layer costs nothing.

use std::collections::BTreeMap;
use std::path::Path;

use nasr_space::mobilenet::{LayerChoice, LayerShape, MobileNetConfig, MobileNetSpace};
use nasr_space::{Arch, Space};
use serde::{Deserialize, Serialize};

use crate::SearchError;
use crate::rank::kendall_tau;

/// The version of the table file this build writes and reads.
pub const TABLE_FORMAT: u32 = 1;

/// Where a table was measured: what must match for its figures to hold on another machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// The processor's model name (`/proc/cpuinfo`).
    pub cpu: String,
    /// The instruction-set route of nasr's kernels (`avx512`, `avx2`, `portable`).
    pub kernel_route: String,
    /// Threads the kernels ran on.
    pub threads: usize,
    /// The compute backend (`flex`: burn's CPU backend with nasr's kernels).
    pub backend: String,
}

impl Machine {
    /// Each field where `other` differs, named, with both values.
    pub fn differences(&self, other: &Machine) -> Vec<String> {
        let fields = [
            ("cpu", &self.cpu, &other.cpu),
            ("kernel route", &self.kernel_route, &other.kernel_route),
            ("backend", &self.backend, &other.backend),
        ];
        let mut out: Vec<String> = fields
            .iter()
            .filter(|(_, a, b)| a != b)
            .map(|(name, a, b)| format!("{name}: table {a:?}, here {b:?}"))
            .collect();
        if self.threads != other.threads {
            out.push(format!(
                "threads: table {}, here {}",
                self.threads, other.threads
            ));
        }
        out
    }
}

/// A latency lookup table of one space's blocks on one machine; `S` is the space's sizes
/// (the MobileNet space's [`MobileNetConfig`], or the `ofa` space's, see
/// [`crate::ofa_latency`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyTable<S = MobileNetConfig> {
    /// [`TABLE_FORMAT`] of the writer.
    pub format: u32,
    /// nasr's version that measured it.
    pub nasr_version: String,
    /// Where it was measured.
    pub machine: Machine,
    /// The sizes of the space it was measured for.
    pub space: S,
    /// Images per forward pass.
    pub batch_size: usize,
    /// Untimed passes before the timed ones, per entry.
    pub warmup: usize,
    /// Timed passes per entry; an entry is their median.
    pub repeats: usize,
    /// Interleaved rounds the timed passes were spread over (every entry timed in turn each
    /// round); 1 in tables that timed one entry after another.
    #[serde(default = "one_round")]
    pub rounds: usize,
    /// Milliseconds per key (the median of `repeats` evaluation-mode forwards).
    pub entries: BTreeMap<String, f64>,
    /// Milliseconds a whole network takes beyond the sum of its blocks' entries (allocation and
    /// cache effects between blocks), fitted on `overhead_fitted_on` random architectures; 0 if
    /// none were measured.
    pub overhead_ms: f64,
    /// Architectures the overhead was fitted on.
    pub overhead_fitted_on: usize,
    /// Milliseconds each block of a network takes beyond its entry, fitted with
    /// `overhead_ms` on architectures of varied depth: negative where a block timed alone pays
    /// a per-call cost it does not pay inside a network. 0 in tables that predate it.
    #[serde(default)]
    pub block_overhead_ms: f64,
}

impl<S: Serialize + serde::de::DeserializeOwned> LatencyTable<S> {
    /// The entry of `key`, or an error naming it.
    pub fn entry(&self, key: &str) -> Result<f64, SearchError> {
        self.entries
            .get(key)
            .copied()
            .ok_or_else(|| SearchError::LatencyKey { key: key.into() })
    }

    /// Fits the overheads by least squares: `measured - predicted = overhead + blocks *
    /// block_overhead` over architectures with `blocks` blocks each, the predictions made
    /// without either overhead. Architectures all of one depth fit the constant alone.
    pub fn fit_overhead(&mut self, predicted_without: &[f64], blocks: &[usize], measured: &[f64]) {
        assert_eq!(predicted_without.len(), measured.len(), "paired figures");
        assert_eq!(blocks.len(), measured.len(), "paired figures");
        let n = measured.len();
        self.overhead_fitted_on = n;
        (self.overhead_ms, self.block_overhead_ms) = (0.0, 0.0);
        if n == 0 {
            return;
        }
        let gaps: Vec<f64> = measured
            .iter()
            .zip(predicted_without)
            .map(|(m, p)| m - p)
            .collect();
        let depths: Vec<f64> = blocks.iter().map(|&b| b as f64).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
        let (mean_gap, mean_depth) = (mean(&gaps), mean(&depths));
        let spread: f64 = depths.iter().map(|d| (d - mean_depth).powi(2)).sum();
        if spread > 0.0 {
            let covariance: f64 = depths
                .iter()
                .zip(&gaps)
                .map(|(d, g)| (d - mean_depth) * (g - mean_gap))
                .sum();
            self.block_overhead_ms = covariance / spread;
        }
        self.overhead_ms = mean_gap - self.block_overhead_ms * mean_depth;
    }

    /// Reads a table, refusing another format version by name.
    pub fn load(path: &Path) -> Result<Self, SearchError> {
        let file = |problem: String| SearchError::File {
            path: path.into(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| file(format!("not a latency table (JSON): {e}")))?;
        let format = value.get("format").and_then(|f| f.as_u64());
        if format != Some(TABLE_FORMAT as u64) {
            return Err(file(format!(
                "latency table format {format:?}; this nasr reads format {TABLE_FORMAT}"
            )));
        }
        let table: Self =
            serde_json::from_value(value).map_err(|e| file(format!("not a latency table: {e}")))?;
        if let Some((key, value)) = table
            .entries
            .iter()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(file(format!(
                "entry {key:?} is {value}: latencies are non-negative milliseconds"
            )));
        }
        Ok(table)
    }

    /// Writes the table as pretty JSON, through a temporary file, so that a crash never leaves
    /// half a table under `path`.
    pub fn save(&self, path: &Path) -> Result<(), SearchError> {
        let file = |problem: String| SearchError::File {
            path: path.into(),
            problem,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| file(e.to_string()))?;
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, text + "\n").map_err(|e| file(e.to_string()))?;
        std::fs::rename(&partial, path).map_err(|e| file(e.to_string()))
    }
}

impl LatencyTable {
    /// The space the table was measured for.
    pub fn space(&self) -> Result<MobileNetSpace, SearchError> {
        MobileNetSpace::new(self.space.clone()).map_err(|e| SearchError::Config {
            field: "latency table space".into(),
            problem: e.to_string(),
        })
    }

    /// The stem, head and classifier together: what every architecture of `space` pays.
    pub fn fixed_ms(&self, space: &MobileNetSpace) -> Result<f64, SearchError> {
        fixed_keys(space).iter().map(|key| self.entry(key)).sum()
    }

    /// Option `option` of layer `layer`: its block's entry plus the per-block overhead, 0 for
    /// `skip`.
    pub fn layer_ms(
        &self,
        space: &MobileNetSpace,
        layer: usize,
        option: usize,
    ) -> Result<f64, SearchError> {
        match layer_key(space, layer, option) {
            Some(key) => Ok(self.entry(&key)? + self.block_overhead_ms),
            None => Ok(0.0),
        }
    }

    /// Whether the table was measured for the layers of `space`: the same sizes, with or
    /// without skip (skip costs nothing, so one table serves a layout both ways).
    pub fn measured_for(&self, space: &MobileNetConfig) -> bool {
        let same_skip = MobileNetConfig {
            allow_skip: space.allow_skip,
            ..self.space.clone()
        };
        same_skip == *space
    }

    /// The predicted latency of `arch`: its blocks' entries plus the fitted overhead.
    pub fn predict(&self, space: &MobileNetSpace, arch: &Arch) -> Result<f64, SearchError> {
        space.check(arch).map_err(|e| SearchError::Config {
            field: "architecture".into(),
            problem: e.to_string(),
        })?;
        let mut total = self.fixed_ms(space)? + self.overhead_ms;
        for (layer, &option) in arch.choices.iter().enumerate() {
            total += self.layer_ms(space, layer, option)?;
        }
        Ok(total)
    }

    /// The blocks `arch` runs: its layers that are not `skip`.
    pub fn blocks(space: &MobileNetSpace, arch: &Arch) -> usize {
        arch.choices
            .iter()
            .enumerate()
            .filter(|&(layer, &option)| layer_key(space, layer, option).is_some())
            .count()
    }
}

/// A table's predicted latency as a cost model, beside the space's own parameter and
/// multiply-add counts: metric `latency_ms` of the searches that bound or minimise latency.
pub struct TableCosts<'a> {
    space: &'a MobileNetSpace,
    table: &'a LatencyTable,
}

impl<'a> TableCosts<'a> {
    /// The costs of `space`'s architectures under `table`, or an error naming the first key
    /// of `space` that the table lacks.
    pub fn new(space: &'a MobileNetSpace, table: &'a LatencyTable) -> Result<Self, SearchError> {
        for key in space_keys(space) {
            table.entry(&key)?;
        }
        Ok(Self { space, table })
    }
}

impl crate::cost::CostModel for TableCosts<'_> {
    /// Every key is known to be there ([`TableCosts::new`]); an architecture of another space
    /// gets no latency, which a search counts as infeasible.
    fn cost(&self, arch: &Arch) -> crate::cost::Cost {
        crate::cost::Cost {
            latency_ms: self.table.predict(self.space, arch).ok(),
            ..crate::cost::CostModel::cost(self.space, arch)
        }
    }
}

fn one_round() -> usize {
    1
}

/// The key of the stem, head and classifier of `space`, in that order.
pub fn fixed_keys(space: &MobileNetSpace) -> [String; 3] {
    let c = space.config();
    let stem_out = c.input_size.div_ceil(c.stem_stride);
    let (last_size, last_channels) = space
        .layers()
        .last()
        .map_or((stem_out, c.stem_channels), |l| (l.size_out(), l.c_out));
    [
        format!(
            "Conv-input:{s}x{s}x{}-output:{o}x{o}x{}",
            c.in_channels,
            c.stem_channels,
            s = c.input_size,
            o = stem_out
        ),
        format!(
            "Conv_1-input:{s}x{s}x{last_channels}-output:{s}x{s}x{}",
            c.head_channels,
            s = last_size
        ),
        format!(
            "Logits-input:{s}x{s}x{}-output:{}",
            c.head_channels,
            c.classes,
            s = last_size
        ),
    ]
}

/// Every key a table of `space` holds: the stem, head and classifier, then each layer's
/// blocks in layer and option order (a shape repeated across layers once).
pub fn space_keys(space: &MobileNetSpace) -> Vec<String> {
    let mut keys: Vec<String> = fixed_keys(space).into();
    for (layer, decision) in space.decisions().iter().enumerate() {
        for key in (0..decision.options.len()).filter_map(|option| layer_key(space, layer, option))
        {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// The key of an MBConv block of `kernel` and `expansion` at `shape`.
pub fn block_key(shape: &LayerShape, kernel: usize, expansion: usize) -> String {
    format!(
        "expanded_conv-input:{i}x{i}x{}-output:{o}x{o}x{}-expand:{expansion}-kernel:{kernel}-stride:{}-idskip:{}",
        shape.c_in,
        shape.c_out,
        shape.stride,
        u8::from(shape.residual()),
        i = shape.size_in,
        o = shape.size_out(),
    )
}

/// The key of option `option` of layer `layer`; `None` for `skip`.
pub fn layer_key(space: &MobileNetSpace, layer: usize, option: usize) -> Option<String> {
    match space.choice(layer, option) {
        LayerChoice::MbConv { kernel, expansion } => {
            Some(block_key(&space.layers()[layer], kernel, expansion))
        }
        LayerChoice::Skip => None,
    }
}

/// How well predicted latencies match measured ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictionQuality {
    /// Mean of `|predicted - measured| / measured`.
    pub mean_relative_error: f64,
    /// Root mean square of `predicted - measured`, in milliseconds.
    pub rmse_ms: f64,
    /// Kendall's tau-b between the two: whether the prediction orders networks as measured.
    pub kendall_tau: f64,
}

impl PredictionQuality {
    /// The quality of `predicted` against `measured` (paired, in milliseconds).
    pub fn of(predicted: &[f64], measured: &[f64]) -> Self {
        assert_eq!(predicted.len(), measured.len(), "paired figures");
        let n = measured.len() as f64;
        let pairs = || predicted.iter().zip(measured);
        Self {
            mean_relative_error: pairs().map(|(p, m)| (p - m).abs() / m).sum::<f64>() / n,
            rmse_ms: (pairs().map(|(p, m)| (p - m).powi(2)).sum::<f64>() / n).sqrt(),
            kendall_tau: kendall_tau(predicted, measured),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use nasr_space::mobilenet::{MobileNetConfig, Stage};

    pub(crate) fn space() -> MobileNetSpace {
        MobileNetSpace::new(MobileNetConfig {
            stages: vec![
                Stage {
                    channels: 8,
                    layers: 2,
                    stride: 1,
                },
                Stage {
                    channels: 16,
                    layers: 1,
                    stride: 2,
                },
            ],
            allow_skip: true,
            ..MobileNetConfig::default()
        })
        .unwrap()
    }

    /// A table whose every entry of `space` is given by `value(key)`.
    pub(crate) fn table(space: &MobileNetSpace, value: impl Fn(&str) -> f64) -> LatencyTable {
        let entries = space_keys(space)
            .into_iter()
            .map(|key| {
                let ms = value(&key);
                (key, ms)
            })
            .collect();
        LatencyTable {
            format: TABLE_FORMAT,
            nasr_version: "test".into(),
            machine: Machine {
                cpu: "cpu".into(),
                kernel_route: "portable".into(),
                threads: 1,
                backend: "flex".into(),
            },
            space: space.config().clone(),
            batch_size: 1,
            warmup: 1,
            repeats: 1,
            rounds: 1,
            entries,
            overhead_ms: 0.0,
            overhead_fitted_on: 0,
            block_overhead_ms: 0.0,
        }
    }

    #[test]
    fn keys_are_in_proxylessnas_format() {
        let space = space();
        let [stem, head, logits] = fixed_keys(&space);
        assert_eq!(stem, "Conv-input:28x28x1-output:28x28x8");
        assert_eq!(head, "Conv_1-input:14x14x16-output:14x14x64");
        assert_eq!(logits, "Logits-input:14x14x64-output:10");
        // Layer 1 is residual (8 -> 8, stride 1); layer 2 halves the map.
        assert_eq!(
            layer_key(&space, 1, 3).unwrap(),
            "expanded_conv-input:28x28x8-output:28x28x8-expand:6-kernel:5-stride:1-idskip:1"
        );
        assert_eq!(
            layer_key(&space, 2, 0).unwrap(),
            "expanded_conv-input:28x28x8-output:14x14x16-expand:3-kernel:3-stride:2-idskip:0"
        );
        let skip = space.decisions()[1].options.len() - 1;
        assert_eq!(layer_key(&space, 1, skip), None);
    }

    #[test]
    fn the_prediction_is_the_sum_of_the_entries_and_skip_costs_nothing() {
        let space = space();
        let table = table(&space, |key| key.len() as f64 / 100.0);
        let skip = space.decisions()[1].options.len() - 1;
        let arch = Arch::new(vec![0, skip, 5]);
        let expected: f64 = fixed_keys(&space)
            .iter()
            .map(|k| k.len() as f64 / 100.0)
            .sum::<f64>()
            + layer_key(&space, 0, 0).unwrap().len() as f64 / 100.0
            + layer_key(&space, 2, 5).unwrap().len() as f64 / 100.0;
        assert!((table.predict(&space, &arch).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn a_missing_key_is_an_error_that_names_it() {
        let space = space();
        let mut table = table(&space, |_| 1.0);
        let key = layer_key(&space, 2, 1).unwrap();
        table.entries.remove(&key);
        let error = table
            .predict(&space, &Arch::new(vec![0, 0, 1]))
            .unwrap_err();
        assert!(error.to_string().contains(&key), "{error}");
    }

    #[test]
    fn table_costs_add_the_prediction_to_the_space_counts_and_need_every_key() {
        use crate::cost::CostModel;
        let space = space();
        let mut table = table(&space, |key| key.len() as f64 / 100.0);
        let arch = Arch::new(vec![0, 2, 5]);
        let cost = TableCosts::new(&space, &table).unwrap().cost(&arch);
        let counted = space.cost(&arch);
        assert_eq!(cost.flops, Some(counted.flops));
        assert_eq!(cost.params, Some(counted.params));
        assert_eq!(cost.latency_ms, Some(table.predict(&space, &arch).unwrap()));
        let key = layer_key(&space, 2, 4).unwrap();
        table.entries.remove(&key);
        let error = TableCosts::new(&space, &table).err().unwrap().to_string();
        assert!(error.contains(&key), "{error}");
    }

    #[test]
    fn a_table_serves_its_layout_with_and_without_skip_but_no_other_sizes() {
        let space = space();
        let table = table(&space, |_| 1.0);
        assert!(table.measured_for(space.config()));
        let no_skip = MobileNetConfig {
            allow_skip: false,
            ..space.config().clone()
        };
        assert!(table.measured_for(&no_skip));
        let wider = MobileNetConfig {
            head_channels: space.config().head_channels + 1,
            ..space.config().clone()
        };
        assert!(!table.measured_for(&wider));
    }

    #[test]
    fn the_overhead_is_the_mean_gap_and_enters_every_prediction() {
        let space = space();
        let mut table = table(&space, |_| 1.0);
        let arch = Arch::new(vec![0, 0, 0]);
        let without = table.predict(&space, &arch).unwrap();
        table.fit_overhead(&[1.0, 2.0, 3.0], &[3, 3, 3], &[1.5, 2.5, 4.0]);
        assert!((table.overhead_ms - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(table.block_overhead_ms, 0.0, "one depth fits no slope");
        assert_eq!(table.overhead_fitted_on, 3);
        assert!((table.predict(&space, &arch).unwrap() - without - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_per_block_overhead_is_fitted_on_varied_depths_and_skip_pays_none() {
        let space = space();
        let mut table = table(&space, |_| 1.0);
        let skip = space.decisions()[1].options.len() - 1;
        let (deep, shallow) = (Arch::new(vec![0, 0, 0]), Arch::new(vec![0, skip, 0]));
        assert_eq!(LatencyTable::<MobileNetConfig>::blocks(&space, &deep), 3);
        assert_eq!(LatencyTable::<MobileNetConfig>::blocks(&space, &shallow), 2);
        let (deep_ms, shallow_ms) = (
            table.predict(&space, &deep).unwrap(),
            table.predict(&space, &shallow).unwrap(),
        );
        // Each block runs 0.06 ms faster in a network than alone; the network pays 0.5 ms.
        let measured = |ms: f64, blocks: f64| ms + 0.5 - 0.06 * blocks;
        table.fit_overhead(
            &[deep_ms, shallow_ms, deep_ms],
            &[3, 2, 3],
            &[
                measured(deep_ms, 3.0),
                measured(shallow_ms, 2.0),
                measured(deep_ms, 3.0),
            ],
        );
        assert!((table.overhead_ms - 0.5).abs() < 1e-12);
        assert!((table.block_overhead_ms + 0.06).abs() < 1e-12);
        let predicted = table.predict(&space, &shallow).unwrap();
        assert!((predicted - measured(shallow_ms, 2.0)).abs() < 1e-12);
        assert_eq!(table.layer_ms(&space, 1, skip).unwrap(), 0.0);
    }

    #[test]
    fn a_table_round_trips_and_another_format_is_refused_by_name() {
        let space = space();
        let table = table(&space, |_| 0.25);
        let dir = std::env::temp_dir().join(format!("nasr-latency-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("table.json");
        table.save(&path).unwrap();
        assert_eq!(LatencyTable::load(&path).unwrap(), table);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"format\": 1", "\"format\": 9")).unwrap();
        let error = LatencyTable::<MobileNetConfig>::load(&path)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("table.json") && error.contains("format"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn machines_name_what_differs() {
        let here = table(&space(), |_| 1.0).machine;
        let mut other = here.clone();
        assert!(here.differences(&other).is_empty());
        other.kernel_route = "avx2".into();
        other.threads = 2;
        let differences = here.differences(&other);
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[0].contains("kernel route"));
    }

    #[test]
    fn prediction_quality_is_zero_error_for_a_perfect_prediction() {
        let measured = [1.0, 2.0, 4.0];
        let perfect = PredictionQuality::of(&measured, &measured);
        assert_eq!(perfect.mean_relative_error, 0.0);
        assert_eq!(perfect.rmse_ms, 0.0);
        assert_eq!(perfect.kendall_tau, 1.0);
        let off = PredictionQuality::of(&[1.1, 1.8, 4.4], &measured);
        assert!((off.mean_relative_error - 0.1).abs() < 1e-12);
        assert!(off.rmse_ms > 0.0 && off.kendall_tau == 1.0);
    }
}
