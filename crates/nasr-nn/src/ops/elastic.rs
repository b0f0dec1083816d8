//! Elastic layers of Once-for-All (Cai et al., ICLR 2020; code: `DynamicSeparableConv2d`):
//! one stored weight serves every sub-network that takes a part of it.
//!
//! [`ElasticDepthwise`] is OFA's elastic kernel: only the largest (7x7) depthwise weight is
//! stored; a 5x5 kernel is its centre 5x5, each channel's 25 values multiplied by a learned
//! 25x25 matrix, and a 3x3 kernel the centre 3x3 of that transformed 5x5 multiplied by a 9x9
//! matrix. The matrices are shared by the layer's channels and start as the identity, where the
//! small kernels are plain centre crops.
//!
//! [`ElasticMbConv`] is OFA's `DynamicMBConvLayer`: an MBConv stored at its largest expansion
//! whose sub-networks take the first `mid` middle channels of every weight, BatchNorm and
//! squeeze-excite (elastic width). [`ElasticMbConv::reorganize_middle`] sorts the middle
//! channels by importance first, so the prefix a smaller width keeps is the most important one.

use burn::module::{Module, Param, RunningState};
use burn::nn::BatchNormConfig;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use nasr_kernels::{BatchNorm, Conv2d, conv2d_centred};
use nasr_space::ofa::{
    Activation, LayerSetting, OfaUnit, SlotShape, middle_channels, squeeze_channels,
};

use crate::NnError;

/// A depthwise convolution whose kernel size and channel count are chosen per forward.
#[derive(Module, Debug)]
pub struct ElasticDepthwise {
    /// The largest kernel: `[channels, 1, k_max, k_max]`.
    pub weight: Param<Tensor<4>>,
    /// One `[k^2, k^2]` matrix per smaller kernel, largest first (OFA's `7to5_matrix`,
    /// `5to3_matrix`).
    pub transforms: Vec<Param<Tensor<2>>>,
    /// The kernel sizes, largest first.
    pub kernels: Vec<usize>,
    /// Stride.
    pub stride: usize,
}

impl ElasticDepthwise {
    /// A layer of `channels` taking kernels `kernels` (odd, any order) at `stride`, the largest
    /// weight drawn as burn draws a depthwise convolution's and the transforms the identity.
    pub fn new(channels: usize, kernels: &[usize], stride: usize, device: &Device) -> Self {
        let mut kernels = kernels.to_vec();
        kernels.sort_unstable_by(|a, b| b.cmp(a));
        let largest = kernels[0];
        let conv = super::mbconv::conv(channels, channels, largest, stride, channels, device);
        let transforms = kernels[1..]
            .iter()
            .map(|&k| Param::from_tensor(Tensor::<2>::eye(k * k, device)))
            .collect();
        Self {
            weight: conv.weight,
            transforms,
            kernels,
            stride,
        }
    }

    /// The kernel of size `kernel` for the first `channels` channels:
    /// `[channels, 1, kernel, kernel]`, differentiable in the stored weight and the transforms.
    pub fn kernel_weight(&self, kernel: usize, channels: usize) -> Result<Tensor<4>, NnError> {
        let steps = self.steps_to(kernel, channels)?;
        let largest = self.kernels[0];
        let mut weight = self
            .weight
            .val()
            .slice([0..channels, 0..1, 0..largest, 0..largest]);
        let mut size = largest;
        for step in 0..steps {
            let k = self.kernels[step + 1];
            let start = (size - k) / 2;
            let crop = weight.slice([0..channels, 0..1, start..start + k, start..start + k]);
            // Row vectors times M^T: each channel's k^2 values through the shared matrix.
            weight = crop
                .reshape([channels, k * k])
                .matmul(self.transforms[step].val().transpose())
                .reshape([channels, 1, k, k]);
            size = k;
        }
        Ok(weight)
    }

    /// How many transforms lead from the largest kernel to `kernel`; an error names a kernel
    /// the layer does not offer or more channels than it has.
    fn steps_to(&self, kernel: usize, channels: usize) -> Result<usize, NnError> {
        let [stored, ..] = self.weight.dims();
        if channels == 0 || channels > stored {
            return Err(NnError::Config {
                field: "elastic width",
                problem: format!("asked for {channels} channels of a layer of {stored}"),
            });
        }
        self.kernels
            .iter()
            .position(|&k| k == kernel)
            .ok_or_else(|| NnError::Config {
                field: "elastic kernel",
                problem: format!("kernel {kernel} is not one of {:?}", self.kernels),
            })
    }

    /// `[batch, channels, s, s]` -> `[batch, channels, ceil(s / stride), ...]` with the kernel
    /// of size `kernel`, on the first `channels` channels (the input's).
    pub fn forward(&self, x: Tensor<4>, kernel: usize) -> Result<Tensor<4>, NnError> {
        let [_, channels, _, _] = x.dims();
        let weight = self.kernel_weight(kernel, channels)?;
        Ok(conv2d_centred(x, weight, self.stride, channels))
    }
}

/// h-swish: `x * relu6(x + 3) / 6` (MobileNetV3).
pub fn hswish(x: Tensor<4>) -> Tensor<4> {
    x.clone() * hsigmoid(x)
}

/// h-sigmoid: `relu6(x + 3) / 6`, with `relu6(y)` written `relu(y) - relu(y - 6)` because
/// burn-onnx 0.22's exporter has no lowering for `clamp`. Both subtractions are exact for
/// `y < 2^24` (Sterbenz), so this is `clamp(y, 0, 6)` to the bit.
pub fn hsigmoid(x: Tensor<4>) -> Tensor<4> {
    let y = x.add_scalar(3.0);
    (relu(y.clone()) - relu(y.sub_scalar(6.0))).div_scalar(6.0)
}

fn activate(x: Tensor<4>, activation: Activation) -> Tensor<4> {
    match activation {
        Activation::Relu => relu(x),
        Activation::HSwish => hswish(x),
    }
}

/// The first `rows` output channels (and `columns` input channels) of a 1x1 or depthwise
/// weight, `[out, in, k, k]`.
fn weight_prefix(weight: Tensor<4>, rows: usize, columns: usize) -> Tensor<4> {
    let [_, _, kh, kw] = weight.dims();
    weight.slice([0..rows, 0..columns, 0..kh, 0..kw])
}

/// A 1x1 convolution's first `rows` x `columns` weight, and its bias prefix where it has one.
fn conv1x1_prefix(conv: &Conv2d, x: Tensor<4>, rows: usize) -> Tensor<4> {
    let columns = x.dims()[1];
    let y = conv2d_centred(x, weight_prefix(conv.weight.val(), rows, columns), 1, 1);
    match &conv.bias {
        Some(bias) => y + bias.val().narrow(0, 0, rows).reshape([1, -1, 1, 1]),
        None => y,
    }
}

/// Squeeze-excite on an elastic width (OFA's `DynamicSE`): global pooling, a 1x1 reduction to
/// `make_divisible(mid / 4, 8)` channels with bias and ReLU, a 1x1 expansion back with bias and
/// h-sigmoid, the input scaled by the result. Stored at the largest width; a smaller one takes
/// the first channels of both convolutions.
#[derive(Module, Debug)]
pub struct ElasticSqueezeExcite {
    /// Middle -> reduced, with bias.
    pub reduce: Conv2d,
    /// Reduced -> middle, with bias.
    pub expand: Conv2d,
}

impl ElasticSqueezeExcite {
    fn new(middle: usize, device: &Device) -> Self {
        let reduced = squeeze_channels(middle);
        let conv = |c_in, c_out| -> Conv2d {
            burn::nn::conv::Conv2dConfig::new([c_in, c_out], [1, 1])
                .init(device)
                .into()
        };
        Self {
            reduce: conv(middle, reduced),
            expand: conv(reduced, middle),
        }
    }

    /// `x * hsigmoid(expand(relu(reduce(mean(x)))))` on `x`'s channels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let middle = x.dims()[1];
        // Columns first, then rows, as OFA's pooling has always been computed here.
        let pooled = super::mean_over(x.clone(), [3, 2]);
        let reduced = relu(conv1x1_prefix(
            &self.reduce,
            pooled,
            squeeze_channels(middle),
        ));
        x * hsigmoid(conv1x1_prefix(&self.expand, reduced, middle))
    }
}

/// One elastic MBConv layer slot of the OFA space: 1x1 expansion + BN + activation, elastic
/// depthwise + BN + activation, squeeze-excite where the unit has it, 1x1 projection + BN, and
/// the input added where the slot is residual.
#[derive(Module, Debug)]
pub struct ElasticMbConv {
    /// 1x1 expansion to the largest middle width.
    pub expand: Conv2d,
    /// BatchNorm after it.
    pub expand_bn: BatchNorm,
    /// The elastic depthwise convolution.
    pub depthwise: ElasticDepthwise,
    /// BatchNorm after it.
    pub depthwise_bn: BatchNorm,
    /// Squeeze-excite, where the unit has it.
    pub squeeze_excite: Option<ElasticSqueezeExcite>,
    /// 1x1 projection.
    pub project: Conv2d,
    /// BatchNorm after it.
    pub project_bn: BatchNorm,
    /// h-swish (else ReLU) after the expansion and the depthwise convolution.
    pub hswish: bool,
    /// Add the input to the output.
    pub residual: bool,
}

impl ElasticMbConv {
    /// The slot `shape` of `unit`, stored at the largest of `kernels` and `expansions`.
    pub fn new(
        shape: &SlotShape,
        unit: &OfaUnit,
        kernels: &[usize],
        expansions: &[usize],
        device: &Device,
    ) -> Self {
        let largest = expansions.iter().copied().max().expect("expansions");
        let middle = middle_channels(shape.c_in, largest);
        let bn = |channels| -> BatchNorm { BatchNormConfig::new(channels).init(device).into() };
        Self {
            expand: super::mbconv::conv(shape.c_in, middle, 1, 1, 1, device),
            expand_bn: bn(middle),
            depthwise: ElasticDepthwise::new(middle, kernels, shape.stride, device),
            depthwise_bn: bn(middle),
            squeeze_excite: unit
                .squeeze_excite
                .then(|| ElasticSqueezeExcite::new(middle, device)),
            project: super::mbconv::conv(middle, shape.c_out, 1, 1, 1, device),
            project_bn: bn(shape.c_out),
            hswish: unit.activation == Activation::HSwish,
            residual: shape.residual(),
        }
    }

    /// The layer with its projection BatchNorm's scale at 0, so that a residual slot starts as
    /// the identity, as the MobileNet supernet's blocks do
    /// ([`crate::ops::mbconv::MbConv::with_zero_last_gamma`]).
    pub fn with_zero_last_gamma(mut self) -> Self {
        self.project_bn = super::mbconv::zero_scale(self.project_bn);
        self
    }

    fn activation(&self) -> Activation {
        if self.hswish {
            Activation::HSwish
        } else {
            Activation::Relu
        }
    }

    /// Middle channels at `expansion`: OFA's `make_divisible(round(c_in * e), 8)`, at most the
    /// stored width.
    pub fn middle(&self, expansion: usize) -> Result<usize, NnError> {
        let [stored, c_in, _, _] = self.expand.weight.dims();
        let middle = middle_channels(c_in, expansion);
        if middle > stored {
            return Err(NnError::Config {
                field: "elastic width",
                problem: format!(
                    "expansion {expansion} needs {middle} middle channels; the layer stores {stored}"
                ),
            });
        }
        Ok(middle)
    }

    /// `[batch, c_in, s, s]` -> `[batch, c_out, ceil(s / stride), ...]` with `setting`'s kernel
    /// and the middle width of its expansion.
    pub fn forward(&self, x: Tensor<4>, setting: LayerSetting) -> Result<Tensor<4>, NnError> {
        let middle = self.middle(setting.expansion)?;
        let mut h = conv1x1_prefix(&self.expand, x.clone(), middle);
        h = activate(self.expand_bn.forward_prefix(h, None), self.activation());
        h = self.depthwise.forward(h, setting.kernel)?;
        h = activate(self.depthwise_bn.forward_prefix(h, None), self.activation());
        if let Some(se) = &self.squeeze_excite {
            h = se.forward(h);
        }
        let [c_out, ..] = self.project.weight.dims();
        let y = self
            .project_bn
            .forward_prefix(conv1x1_prefix(&self.project, h, c_out), None);
        Ok(if self.residual { y + x } else { y })
    }

    /// Importance of each stored middle channel: the L1 norm of the projection's weights that
    /// read it (OFA's `re_organize_middle_weights`).
    pub fn middle_importance(&self) -> Vec<f32> {
        input_l1(self.project.weight.val())
    }

    /// The middle channels sorted by descending importance: the expansion's output rows, both
    /// middle BatchNorms, the depthwise filters, squeeze-excite (its reduced channels likewise
    /// sorted by their expansion weights) and the projection's input columns, permuted alike.
    /// The full layer computes the same function (to float rounding of reordered sums).
    pub fn reorganize_middle(mut self) -> Self {
        let order = descending(&self.middle_importance());
        let device = self.project.weight.device();
        let index = |order: &[usize]| {
            let values: Vec<i64> = order.iter().map(|&i| i as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(values, [order.len()]), &device)
        };
        let middle = index(&order);
        self.expand.weight = permute(self.expand.weight, 0, &middle);
        self.expand_bn = permute_bn(self.expand_bn, &middle);
        self.depthwise.weight = permute(self.depthwise.weight, 0, &middle);
        self.depthwise_bn = permute_bn(self.depthwise_bn, &middle);
        self.project.weight = permute(self.project.weight, 1, &middle);
        if let Some(mut se) = self.squeeze_excite.take() {
            se.reduce.weight = permute(se.reduce.weight, 1, &middle);
            se.expand.weight = permute(se.expand.weight, 0, &middle);
            se.expand.bias = se.expand.bias.map(|b| permute(b, 0, &middle));
            // The reduced channels, by the L1 norm of the expansion weights reading them.
            let inner = index(&descending(&input_l1(se.expand.weight.val())));
            se.expand.weight = permute(se.expand.weight, 1, &inner);
            se.reduce.weight = permute(se.reduce.weight, 0, &inner);
            se.reduce.bias = se.reduce.bias.map(|b| permute(b, 0, &inner));
            self.squeeze_excite = Some(se);
        }
        self
    }
}

/// The L1 norm of each input channel's weights, `[out, in, k, k]` -> `in` sums.
fn input_l1(weight: Tensor<4>) -> Vec<f32> {
    let [c_out, c_in, _, _] = weight.dims();
    weight
        .abs()
        .sum_dim(3)
        .sum_dim(2)
        .reshape([c_out, c_in])
        .sum_dim(0)
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("f32 sums")
}

/// Indices of `values` from largest to smallest (ties keep their order).
fn descending(values: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order
}

/// A parameter with its entries along `dim` taken in `order`, keeping its id and whether it
/// trains.
fn permute<const D: usize>(
    param: Param<Tensor<D>>,
    dim: usize,
    order: &Tensor<1, Int>,
) -> Param<Tensor<D>> {
    param.map(|value| {
        let trains = value.is_require_grad();
        // From the values alone, so that the result is a fresh leaf of no graph.
        let permuted =
            Tensor::<D>::from_data(value.to_data(), &value.device()).select(dim, order.clone());
        if trains {
            permuted.require_grad()
        } else {
            permuted
        }
    })
}

/// A BatchNorm with its channels taken in `order`: scale, shift and running statistics.
fn permute_bn(mut bn: BatchNorm, order: &Tensor<1, Int>) -> BatchNorm {
    bn.gamma = permute(bn.gamma, 0, order);
    bn.beta = permute(bn.beta, 0, order);
    let running = |state: &RunningState<Tensor<1>>| {
        RunningState::new(state.value_sync().select(0, order.clone()))
    };
    bn.running_mean = running(&bn.running_mean);
    bn.running_var = running(&bn.running_var);
    bn
}

#[cfg(test)]
mod tests {
    use super::*;

    /// h-sigmoid without `clamp` (for the exporter) is the clamped one to the bit.
    #[test]
    fn hsigmoid_with_relus_is_the_clamped_one_to_the_bit() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random(
            [4, 8, 5, 5],
            burn::tensor::Distribution::Normal(0.0, 4.0),
            &device,
        )
        .require_grad();
        let ours = hsigmoid(x.clone());
        let clamped = x.clone().add_scalar(3.0).clamp(0.0, 6.0).div_scalar(6.0);
        let bits = crate::ops::bits;
        assert_eq!(bits(ours.clone()), bits(clamped.clone()));
        let (a, b) = (ours.sum().backward(), clamped.sum().backward());
        assert_eq!(bits(x.grad(&a).unwrap()), bits(x.grad(&b).unwrap()));
    }
    use burn::tensor::TensorData;
    use nasr_space::SeedStreams;

    fn layer(device: &Device) -> ElasticDepthwise {
        crate::init::seeded(&mut SeedStreams::new(3).stream("init"), || {
            Ok::<_, NnError>(ElasticDepthwise::new(6, &[3, 5, 7], 1, device))
        })
        .unwrap()
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn with_identity_transforms_the_small_kernels_are_centre_crops() {
        let device = crate::Compute::Cpu.train_device();
        let layer = layer(&device);
        let shapes: Vec<[usize; 2]> = layer.transforms.iter().map(|t| t.dims()).collect();
        assert_eq!(shapes, vec![[25, 25], [9, 9]]);
        for (k, start) in [(5, 1), (3, 2)] {
            let crop = layer
                .weight
                .val()
                .slice([0..4, 0..1, start..start + k, start..start + k]);
            assert_eq!(
                values(layer.kernel_weight(k, 4).unwrap()),
                values(crop),
                "kernel {k}"
            );
        }
        assert_eq!(
            values(layer.kernel_weight(7, 6).unwrap()),
            values(layer.weight.val())
        );
        let err = layer.kernel_weight(4, 6).unwrap_err().to_string();
        assert!(err.contains("kernel 4 is not one of [7, 5, 3]"), "{err}");
        assert!(layer.kernel_weight(3, 7).is_err());
    }

    #[test]
    fn a_small_kernel_runs_its_transformed_weight_and_trains_both_matrices() {
        let device = crate::Compute::Cpu.train_device();
        let mut layer = layer(&device);
        // Non-identity transforms: the 3x3 kernel goes through both.
        let twist = |n: usize| {
            let data: Vec<f32> = (0..n * n)
                .map(|i| {
                    if i % (n + 1) == 0 {
                        1.0
                    } else {
                        0.01 * (i % 7) as f32
                    }
                })
                .collect();
            Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(data, [n, n]),
                &device,
            ))
        };
        layer.transforms = vec![twist(25), twist(9)];
        let x =
            crate::init::normal_tensor([2, 4, 6, 6], &mut SeedStreams::new(4).stream("x"), &device);
        let y = layer.forward(x.clone(), 3).unwrap();
        let weight = layer.kernel_weight(3, 4).unwrap();
        let reference = conv2d_centred(x, weight, 1, 4);
        assert_eq!(y.dims(), [2, 4, 6, 6]);
        assert_eq!(values(y.clone()), values(reference));
        let grads = y.sum().backward();
        for (i, transform) in layer.transforms.iter().enumerate() {
            let grad = transform.grad(&grads).expect("the transform takes part");
            let norm: f32 = values(grad).iter().map(|g| g * g).sum();
            assert!(norm > 0.0, "transform {i} has no gradient");
        }
        // The 7x7 weight's outer ring does not reach a 3x3 kernel: its gradient is zero there.
        let grad = values(layer.weight.grad(&grads).unwrap());
        assert_eq!(grad[0], 0.0);
        assert!(grad.iter().any(|&g| g != 0.0));
    }
    /// Slot 1 of the OFA space's second unit (24 -> 24 at stride 1, ReLU, squeeze-excite):
    /// residual, 144 stored middle channels.
    fn mbconv(device: &Device, seed: u64) -> (ElasticMbConv, [usize; 4]) {
        let space = nasr_space::OfaSpace::new(nasr_space::ofa::OfaConfig::default()).unwrap();
        let config = space.config();
        let shape = space.slots()[config.max_depth + 1];
        let unit = config.units[1];
        assert!(unit.squeeze_excite && shape.residual());
        let layer = crate::init::seeded(&mut SeedStreams::new(seed).stream("init"), || {
            Ok::<_, NnError>(ElasticMbConv::new(
                &shape,
                &unit,
                &config.kernels,
                &config.expansions,
                device,
            ))
        })
        .unwrap()
        .train();
        (layer, [3, shape.c_in, 7, 7])
    }

    fn max_difference(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn reorganising_the_middle_channels_sorts_them_and_keeps_the_full_layers_output() {
        let device = crate::Compute::Cpu.train_device();
        let (layer, input) = mbconv(&device, 5);
        let x = crate::init::normal_tensor(input, &mut SeedStreams::new(6).stream("x"), &device);
        let full = LayerSetting {
            kernel: 7,
            expansion: 6,
        };
        let before = values(layer.forward(x.clone(), full).unwrap());
        // In evaluation too: the running statistics move with their channels.
        let x_eval = crate::init::normal_tensor(
            input,
            &mut SeedStreams::new(6).stream("x"),
            &crate::Compute::Cpu.eval_device(),
        );
        let eval =
            |l: &ElasticMbConv| values(l.clone().valid().forward(x_eval.clone(), full).unwrap());
        let eval_before = eval(&layer);
        let sorted = layer.reorganize_middle();
        assert!(max_difference(&eval_before, &eval(&sorted)) < 1e-5);
        let importance = sorted.middle_importance();
        assert_eq!(importance.len(), 144);
        assert!(
            importance.windows(2).all(|w| w[0] >= w[1]),
            "{importance:?}"
        );
        let after = values(sorted.forward(x, full).unwrap());
        assert!(max_difference(&before, &after) < 1e-5);
        assert_ne!(
            before,
            values(
                sorted
                    .forward(
                        crate::init::normal_tensor(
                            input,
                            &mut SeedStreams::new(7).stream("x"),
                            &device
                        ),
                        full,
                    )
                    .unwrap()
            )
        );
    }

    #[test]
    fn a_smaller_width_trains_and_writes_only_its_prefix_of_the_running_statistics() {
        let device = crate::Compute::Cpu.train_device();
        let (layer, input) = mbconv(&device, 8);
        let x = crate::init::normal_tensor(input, &mut SeedStreams::new(9).stream("x"), &device);
        let running = |layer: &ElasticMbConv| values(layer.expand_bn.running_mean.value_sync());
        let start = running(&layer);
        let small = LayerSetting {
            kernel: 3,
            expansion: 3,
        };
        assert_eq!(layer.middle(3).unwrap(), 72);
        let y = layer.forward(x.clone(), small).unwrap();
        assert_eq!(y.dims(), [3, 24, 7, 7]);
        let after = running(&layer);
        assert!(after[..72].iter().zip(&start[..72]).any(|(a, b)| a != b));
        assert_eq!(
            after[72..],
            start[72..],
            "channels past the width keep their statistics"
        );
        // The same step is deterministic, and the gradient reaches only the active rows.
        let (again, _) = mbconv(&device, 8);
        assert_eq!(values(again.forward(x, small).unwrap()), values(y.clone()));
        let grads = y.sum().backward();
        let expand = values(layer.expand.weight.grad(&grads).unwrap());
        let per_row = input[1];
        assert!(expand[..72 * per_row].iter().any(|&g| g != 0.0));
        assert!(expand[72 * per_row..].iter().all(|&g| g == 0.0));
        let err = layer.middle(8).unwrap_err().to_string();
        assert!(
            err.contains("needs 192 middle channels; the layer stores 144"),
            "{err}"
        );
    }
}
