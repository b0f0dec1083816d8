//! ONNX export of any [`Classifier`]: burn-onnx's exporter traces the evaluation-mode forward
//! (BatchNorm on its running statistics) at two batch sizes, so the batch axis is dynamic
//! (`batch`), and nasr adds the model's metadata to the ONNX proto it writes.
//!
//! The input normalisation is folded into the graph: the model takes pixels in `[0, 1]`
//! (`u8 / 255`), `[batch, channels, height, width]`, and computes `x / std - mean / std` per
//! channel before the network, so a deployer needs no nasr-specific preprocessing. The
//! metadata records the mean and std anyway (`normalization_mean`, `normalization_std`), with
//! `input` saying what the model expects.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use burn_onnx::export::{AxisSpec, InputSpec, OnnxExporter};
use nasr_data::{ImageShape, Normalization};
use onnx_ir::{Message, ModelProto};

use crate::NnError;
use crate::train::Classifier;

/// The ONNX operator set the exporter writes (burn-onnx 0.22 writes only 18).
pub const OPSET: i64 = 18;

/// The name of the batch axis in the exported model.
pub const BATCH_AXIS: &str = "batch";

/// `model` as an ONNX model (protobuf bytes) for images of `shape`, the `normalization` folded
/// in, with `metadata` added to its `metadata_props` (with `input` and the normalisation).
/// `model` must be on an evaluation (non-autodiff) device.
pub fn export_onnx<M: Classifier>(
    model: &M,
    shape: ImageShape,
    normalization: &Normalization,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, NnError> {
    check_normalization(shape, normalization)?;
    // The exporter moves the samples onto its capture device; only their shapes matter.
    let device = Device::flex();
    let images = |batch: usize| {
        let dims = [batch, shape.channels, shape.height, shape.width];
        Tensor::<4>::zeros(dims, &device)
    };
    let scale: Vec<f32> = normalization.std.iter().map(|s| 1.0 / s).collect();
    let shift: Vec<f32> = (normalization.mean.iter().zip(&normalization.std))
        .map(|(m, s)| -m / s)
        .collect();
    let forward = |m: &M, x: Tensor<4>| {
        // Created on the traced input's device: the exporter records them as constants.
        let per_channel = |values: &[f32]| {
            let data = TensorData::new(values.to_vec(), [1, values.len(), 1, 1]);
            Tensor::<4>::from_data(data, &x.device())
        };
        let (scale, shift) = (per_channel(&scale), per_channel(&shift));
        m.forward(x * scale + shift)
    };
    let spec = InputSpec::new(vec![
        AxisSpec::dynamic(BATCH_AXIS),
        AxisSpec::Static,
        AxisSpec::Static,
        AxisSpec::Static,
    ]);
    let onnx = OnnxExporter::new()
        .export_dynamic(model, images(2), images(3), &[spec], forward)
        .map_err(|e| NnError::Export {
            problem: e.to_string(),
        })?;
    with_metadata(
        onnx.as_bytes(),
        &full_metadata(shape, normalization, metadata),
    )
}

fn check_normalization(shape: ImageShape, normalization: &Normalization) -> Result<(), NnError> {
    let channels = shape.channels;
    if normalization.mean.len() != channels || normalization.std.len() != channels {
        return Err(NnError::Config {
            field: "normalization",
            problem: format!(
                "has {} means and {} standard deviations for images of {channels} channels",
                normalization.mean.len(),
                normalization.std.len()
            ),
        });
    }
    if !normalization.std.iter().all(|s| s.is_finite() && *s > 0.0) {
        return Err(NnError::Config {
            field: "normalization.std",
            problem: format!("must be positive and finite, got {:?}", normalization.std),
        });
    }
    Ok(())
}

/// The metadata the model carries: the caller's, then what the input is.
fn full_metadata(
    shape: ImageShape,
    normalization: &Normalization,
    metadata: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let list = |v: &[f32]| {
        let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        items.join(",")
    };
    let mut all = metadata.clone();
    all.insert(
        "input".into(),
        format!(
            "float32 [{BATCH_AXIS}, {}, {}, {}], pixels in [0, 1] (u8 / 255); the \
             normalisation is in the graph",
            shape.channels, shape.height, shape.width
        ),
    );
    all.insert("normalization_mean".into(), list(&normalization.mean));
    all.insert("normalization_std".into(), list(&normalization.std));
    all
}

/// `onnx` with `metadata` appended to its `metadata_props`, and nasr as its producer.
fn with_metadata(onnx: &[u8], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, NnError> {
    let problem = |e: &dyn std::fmt::Display| NnError::Export {
        problem: format!("the exporter's ONNX proto: {e}"),
    };
    let mut model = ModelProto::parse_from_bytes(onnx).map_err(|e| problem(&e))?;
    model.producer_name = "nasr".into();
    model.producer_version = env!("CARGO_PKG_VERSION").into();
    for (key, value) in metadata {
        model.metadata_props.push(Default::default());
        let entry = model.metadata_props.last_mut().expect("just pushed");
        entry.key = key.clone();
        entry.value = value.clone();
    }
    model.write_to_bytes().map_err(|e| problem(&e))
}

/// The `metadata_props` of an ONNX model's bytes.
pub fn read_metadata(onnx: &[u8]) -> Result<BTreeMap<String, String>, NnError> {
    let model = ModelProto::parse_from_bytes(onnx).map_err(|e| NnError::Export {
        problem: format!("not an ONNX model: {e}"),
    })?;
    Ok(model
        .metadata_props
        .iter()
        .map(|entry| (entry.key.clone(), entry.value.clone()))
        .collect())
}
