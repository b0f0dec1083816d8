//! A finished `nasr train` run folder's network, loaded with its data: what robustness,
//! FTT-NAS's final report, ONNX export and prediction start from.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use nasr_data::{Batcher, Dataset, Normalization};
use nasr_nn::NnError;
use nasr_nn::eval::faulty::{FaultyAccuracy, faulty_accuracy};
use nasr_nn::faults::FaultModel;
use nasr_nn::train::{Classifier, to_tensors};
use nasr_space::SeedStreams;

use crate::run::{RunData, RunOptions, TrainRunConfig};
use crate::run_network::{AnyNetwork, ClassifierTask, build_network};

/// A trained run's network on the evaluation device, with the run's config and data.
pub struct TrainedRun {
    config: TrainRunConfig,
    data: RunData,
    network: AnyNetwork,
    arch: String,
    device: Device,
}

impl TrainedRun {
    /// The run of `folder` (its `config.toml` and `model.safetensors`), its data from
    /// `data_dir`.
    pub fn load(folder: &Path, data_dir: &Path, options: &RunOptions) -> Result<Self, NnError> {
        let (config, _) = TrainRunConfig::read_from(folder)?;
        let weights = folder.join("model.safetensors");
        if !weights.is_file() {
            return Err(NnError::Checkpoint {
                path: weights,
                problem: "missing: the run has not finished training (a `nasr train` run \
                          folder holds its weights once its test accuracy is written)"
                    .into(),
            });
        }
        let data = RunData::load(&config.data, config.seed, data_dir)?;
        let device = options.compute.eval_device();
        let built = build_network(
            &config,
            data.parts.test.shape,
            data.parts.train.classes,
            &device,
            &mut data.streams.stream("init"),
        )?;
        let network = built.network.load(&weights)?;
        Ok(Self {
            config,
            data,
            network,
            arch: built.arch,
            device,
        })
    }

    /// Its architecture, canonical.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Its config.
    pub fn config(&self) -> &TrainRunConfig {
        &self.config
    }

    /// Its data (split as it was trained), normalisation and checksums.
    pub fn data(&self) -> &RunData {
        &self.data
    }

    /// Test accuracy under `faults` over `draws` draws from streams `<name>/<draw>` of the
    /// run's seed (the default, fault-free model: one draw is the clean accuracy).
    pub fn test_accuracy(&self, faults: FaultModel, draws: usize, name: &str) -> FaultyAccuracy {
        self.network.apply(FaultyTest {
            run: self,
            faults,
            draws,
            name,
        })
    }

    /// The evaluation-mode logits of every image of `dataset` (`[images, classes]`, row by
    /// row), normalised as the run's training data, in forwards of `batch_size`.
    pub fn logits(&self, dataset: &Dataset, batch_size: usize) -> Vec<f32> {
        self.network.apply(Logits {
            dataset,
            normalization: &self.data.normalization,
            batch_size,
            device: &self.device,
        })
    }

    /// The network as an ONNX model (bytes): a dynamic batch axis, the normalisation folded
    /// in (inputs are pixels in [0, 1]), and metadata_props naming the architecture, space,
    /// nasr version, dataset and its checksums, seed and classes.
    pub fn onnx(&self) -> Result<Vec<u8>, NnError> {
        self.network.apply(Export {
            run: self,
            metadata: self.metadata(),
        })
    }

    /// What an exported model records of the run.
    fn metadata(&self) -> BTreeMap<String, String> {
        let shape = self.data.parts.test.shape;
        let entries = [
            ("arch", self.arch.clone()),
            ("space", self.config.space.name().to_string()),
            ("nasr_version", env!("CARGO_PKG_VERSION").to_string()),
            ("dataset", self.config.data.name.to_string()),
            ("dataset_train_sha256", self.data.checksums.train.clone()),
            ("dataset_test_sha256", self.data.checksums.test.clone()),
            ("seed", self.config.seed.to_string()),
            ("classes", self.data.parts.train.classes.to_string()),
            (
                "input_shape",
                format!("{},{},{}", shape.channels, shape.height, shape.width),
            ),
        ];
        entries
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect()
    }
}

struct FaultyTest<'a> {
    run: &'a TrainedRun,
    faults: FaultModel,
    draws: usize,
    name: &'a str,
}

impl ClassifierTask for FaultyTest<'_> {
    type Output = FaultyAccuracy;
    fn run<M: Classifier>(self, model: &M) -> FaultyAccuracy {
        let run = self.run;
        let streams = SeedStreams::new(run.config.seed);
        let data = (&run.data.parts.test, &run.data.normalization);
        let batch = run.config.train.eval_batch_size;
        faulty_accuracy(
            model,
            data,
            batch,
            &run.device,
            self.faults,
            self.draws,
            (&streams, self.name),
        )
    }
}

struct Logits<'a> {
    dataset: &'a Dataset,
    normalization: &'a Normalization,
    batch_size: usize,
    device: &'a Device,
}

impl ClassifierTask for Logits<'_> {
    type Output = Vec<f32>;
    fn run<M: Classifier>(self, model: &M) -> Vec<f32> {
        let batcher = Batcher::sequential(self.dataset, self.normalization, self.batch_size);
        let mut logits = Vec::new();
        for index in 0..batcher.len() {
            let (images, _) = to_tensors(&batcher.plain_batch(index), self.dataset, self.device);
            let batch = model.forward(images).into_data().convert::<f32>();
            logits.extend(batch.try_to_vec::<f32>().expect("f32 logits"));
        }
        logits
    }
}

struct Export<'a> {
    run: &'a TrainedRun,
    metadata: BTreeMap<String, String>,
}

impl ClassifierTask for Export<'_> {
    type Output = Result<Vec<u8>, NnError>;
    fn run<M: Classifier>(self, model: &M) -> Result<Vec<u8>, NnError> {
        let data = &self.run.data;
        nasr_nn::export::export_onnx(
            model,
            data.parts.test.shape,
            &data.normalization,
            &self.metadata,
        )
    }
}
