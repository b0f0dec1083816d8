//! Classify images (`nasr predict`) with a finished training run's network or with an ONNX
//! model nasr exported, run by tract (a second, pure-Rust runtime): the class and its
//! softmax probability per image, and the accuracy where labels are known.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nasr_data::{ImageShape, Images};
use nasr_nn::NnError;
use serde::Serialize;
use tract_onnx::prelude::{
    Datum, Framework, InferenceFact, InferenceModelExt, IntoRunnable, Tensor, TypedRunnableModel,
    tvec,
};

use crate::run::RunOptions;
use crate::trained_run::TrainedRun;

/// Images per forward: the evaluation's own batch.
const BATCH: usize = nasr_nn::eval::EVAL_FORWARD_IMAGES;

/// A model to classify with.
pub enum Model {
    /// A `nasr train` run folder's network.
    Run(Box<TrainedRun>),
    /// An ONNX model exported by `nasr export`.
    Onnx(Box<OnnxModel>),
}

/// An exported ONNX model, loaded by tract, with what its metadata says of its input.
pub struct OnnxModel {
    path: PathBuf,
    model: tract_onnx::prelude::InferenceModel,
    shape: ImageShape,
    classes: usize,
    plans: std::sync::Mutex<HashMap<usize, Arc<TypedRunnableModel>>>,
}

/// One image's prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The image (file, and index within it).
    pub name: String,
    /// The predicted class.
    pub class: usize,
    /// Its softmax probability.
    pub probability: f32,
    /// The true class, where known.
    pub label: Option<usize>,
}

impl Model {
    /// The model at `path`: a run folder (its data read from `data_dir`, for the
    /// normalisation it was trained with), or an `.onnx` file.
    pub fn load(path: &Path, data_dir: &Path, options: &RunOptions) -> Result<Self, NnError> {
        if path.is_dir() {
            return Ok(Self::Run(Box::new(TrainedRun::load(
                path, data_dir, options,
            )?)));
        }
        OnnxModel::load(path).map(|m| Self::Onnx(Box::new(m)))
    }

    /// The shape of the images it takes.
    pub fn input_shape(&self) -> ImageShape {
        match self {
            Self::Run(run) => run.data().parts.test.shape,
            Self::Onnx(onnx) => onnx.shape,
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        match self {
            Self::Run(run) => run.data().parts.train.classes,
            Self::Onnx(onnx) => onnx.classes,
        }
    }

    /// The logits of `images`, `[images, classes]` row by row.
    pub fn logits(&self, images: &Images) -> Result<Vec<f32>, NnError> {
        match self {
            Self::Run(run) => Ok(run.logits(&images.to_dataset(self.classes()), BATCH)),
            Self::Onnx(onnx) => onnx.logits(images),
        }
    }

    /// Each image's class and probability.
    pub fn predict(&self, images: &Images) -> Result<Vec<Prediction>, NnError> {
        let logits = self.logits(images)?;
        let classes = self.classes();
        Ok(logits
            .chunks_exact(classes)
            .enumerate()
            .map(|(i, row)| {
                let (class, probability) = most_likely(row);
                Prediction {
                    name: images.names[i].clone(),
                    class,
                    probability,
                    label: images.labels.as_ref().map(|l| usize::from(l[i])),
                }
            })
            .collect())
    }
}

/// The largest logit's class and its softmax probability.
fn most_likely(logits: &[f32]) -> (usize, f32) {
    let (class, &best) = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("a model has classes");
    let sum: f32 = logits.iter().map(|l| (l - best).exp()).sum();
    (class, 1.0 / sum)
}

/// The fraction of `predictions` whose class is their label (None without labels).
pub fn accuracy(predictions: &[Prediction]) -> Option<f64> {
    let labelled: Option<Vec<bool>> = predictions
        .iter()
        .map(|p| p.label.map(|l| l == p.class))
        .collect();
    let hits = labelled?;
    if hits.is_empty() {
        return None;
    }
    Some(hits.iter().filter(|&&hit| hit).count() as f64 / hits.len() as f64)
}

impl OnnxModel {
    /// The model of `path`; its metadata must say its input shape and classes (as nasr's
    /// exports do).
    pub fn load(path: &Path) -> Result<Self, NnError> {
        let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
        let bad = |problem: String| NnError::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let metadata = nasr_nn::export::read_metadata(&bytes)
            .map_err(|e| bad(format!("not an ONNX model ({e})")))?;
        let field = |key: &str| {
            metadata.get(key).cloned().ok_or_else(|| {
                bad(format!(
                    "its metadata_props have no `{key}`: not a model `nasr export` wrote"
                ))
            })
        };
        let dims: Vec<usize> = field("input_shape")?
            .split(',')
            .map(|d| d.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("metadata input_shape: {e}")))?;
        let [channels, height, width] = dims[..] else {
            return Err(bad(format!(
                "metadata input_shape has {} dimensions, not 3",
                dims.len()
            )));
        };
        let classes = field("classes")?
            .parse::<usize>()
            .map_err(|e| bad(format!("metadata classes: {e}")))?;
        let model = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())
            .map_err(|e| bad(format!("tract cannot read it: {e:#}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            model,
            shape: ImageShape {
                channels,
                height,
                width,
            },
            classes,
            plans: Default::default(),
        })
    }

    /// tract's plan for batches of `batch` images, built once per batch size.
    fn plan(&self, batch: usize) -> Result<Arc<TypedRunnableModel>, NnError> {
        let mut plans = self.plans.lock().expect("plans lock");
        if let Some(plan) = plans.get(&batch) {
            return Ok(plan.clone());
        }
        let shape = self.shape;
        let fact = InferenceFact::dt_shape(
            f32::datum_type(),
            [batch, shape.channels, shape.height, shape.width],
        );
        let plan = self
            .model
            .clone()
            .with_input_fact(0, fact)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| self.tract_error(e))?;
        plans.insert(batch, plan.clone());
        Ok(plan)
    }

    fn tract_error(&self, e: impl std::fmt::Display) -> NnError {
        NnError::Checkpoint {
            path: self.path.clone(),
            problem: format!("tract: {e:#}"),
        }
    }

    /// The logits of `images` (pixels scaled to [0, 1]; the model normalises), `[images,
    /// classes]` row by row.
    pub fn logits(&self, images: &Images) -> Result<Vec<f32>, NnError> {
        self.logits_in_batches(images, BATCH)
    }

    /// [`OnnxModel::logits`] in forwards of `batch` images (the last may be smaller).
    pub fn logits_in_batches(&self, images: &Images, batch: usize) -> Result<Vec<f32>, NnError> {
        let per_image = self.shape.len();
        let mut logits = Vec::with_capacity(images.len() * self.classes);
        for chunk in images.pixels.chunks(batch.max(1) * per_image) {
            let batch = chunk.len() / per_image;
            let pixels: Vec<f32> = chunk.iter().map(|&p| f32::from(p) / 255.0).collect();
            let s = self.shape;
            let input = Tensor::from_shape(&[batch, s.channels, s.height, s.width], &pixels)
                .map_err(|e| self.tract_error(e))?;
            let outputs = self
                .plan(batch)?
                .run(tvec!(input.into()))
                .map_err(|e| self.tract_error(e))?;
            let view = outputs[0]
                .to_plain_array_view::<f32>()
                .map_err(|e| self.tract_error(e))?;
            logits.extend(view.iter().copied());
        }
        Ok(logits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_likely_class_has_the_softmax_probability_of_its_logit() {
        let (class, p) = most_likely(&[0.0, 2.0, 1.0]);
        assert_eq!(class, 1);
        let expected = 2f32.exp() / (1.0 + 2f32.exp() + 1f32.exp());
        assert!((p - expected).abs() < 1e-6, "{p} vs {expected}");
    }

    #[test]
    fn accuracy_needs_every_label() {
        let p = |class, label| Prediction {
            name: String::new(),
            class,
            probability: 1.0,
            label,
        };
        assert_eq!(accuracy(&[p(1, Some(1)), p(2, Some(0))]), Some(0.5));
        assert_eq!(accuracy(&[p(1, Some(1)), p(2, None)]), None);
    }
}
