//! The layers every nasr network is built from: burn's `Conv2d`, `BatchNorm` and `AvgPool2d`
//! with the same fields (so the same parameter names, `conv.weight`, `bn.running_mean`), whose
//! `forward` takes nasr's kernels on the CPU and burn's own ops elsewhere.
//!
//! Each is made from burn's module, so burn's configs build them:
//! `Conv2d::from(Conv2dConfig::new([8, 16], [3, 3]).init(&device))`. A network that holds these
//! types cannot call burn's slower `forward` by mistake.

use burn::backend::Dispatch;
use burn::module::{Module, Param, RunningState};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use crate::backend::NasrKernels;
use crate::batch_norm::Clamp;

/// A 2-D convolution: burn's `Conv2d`, computed by nasr's kernels.
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[channels_out, channels_in / groups, kernel_h, kernel_w]`.
    pub weight: Param<Tensor<4>>,
    /// `[channels_out]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Stride per axis.
    pub stride: [usize; 2],
    /// Kernel size per axis.
    pub kernel_size: [usize; 2],
    /// Dilation per axis.
    pub dilation: [usize; 2],
    /// Channel groups (the input channels for a depthwise convolution).
    pub groups: usize,
    /// Padding.
    #[module(skip)]
    pub padding: PaddingConfig2d,
}

impl From<burn::nn::conv::Conv2d> for Conv2d {
    fn from(conv: burn::nn::conv::Conv2d) -> Self {
        Self {
            weight: conv.weight,
            bias: conv.bias,
            stride: conv.stride,
            kernel_size: conv.kernel_size,
            dilation: conv.dilation,
            groups: conv.groups,
            padding: conv.padding,
        }
    }
}

impl Conv2d {
    /// burn's module with the same parameters (shared, not copied).
    fn as_burn(&self) -> burn::nn::conv::Conv2d {
        burn::nn::conv::Conv2d {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            stride: self.stride,
            kernel_size: self.kernel_size,
            dilation: self.dilation,
            groups: self.groups,
            padding: self.padding.clone(),
        }
    }

    /// `[batch, channels_in, h, w]` -> `[batch, channels_out, h', w']`, as burn's `Conv2d`
    /// computes it, to float rounding.
    ///
    /// # Panics
    /// If `x` has another number of channels than the convolution takes.
    /// An active [`conv_hook`](crate::conv_hook) sees the weight before and the output after.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let Some(hook) = crate::conv_hook::active() else {
            return self.compute(x, None);
        };
        let weight = hook.borrow_mut().weight(self.weight.val());
        let [_, per_group, kh, kw] = self.weight.dims();
        let y = self.compute(x, Some(weight));
        hook.borrow_mut().output(y, per_group * kh * kw)
    }

    /// The convolution of `x` by its weight, or by `replaced` (a hook's), plus the bias.
    fn compute(&self, x: Tensor<4>, replaced: Option<Tensor<4>>) -> Tensor<4> {
        if !on_flex(&x) {
            return match replaced {
                None => self.as_burn().forward(x),
                Some(weight) => {
                    let options = self.options(&x);
                    burn::tensor::module::conv2d(
                        x,
                        weight,
                        self.bias.as_ref().map(|b| b.val()),
                        options,
                    )
                }
            };
        }
        let options = self.options(&x);
        let weight = replaced
            .unwrap_or_else(|| self.weight.val())
            .into_dispatch();
        let y = Tensor::<4>::from_dispatch(<Dispatch as NasrKernels>::nasr_conv2d(
            x.into_dispatch(),
            weight,
            options,
        ));
        match &self.bias {
            Some(bias) => y + bias.val().reshape([1, -1, 1, 1]),
            None => y,
        }
    }

    /// The kernel options of this convolution on `x`.
    ///
    /// # Panics
    /// If `x` has another number of channels than the convolution takes.
    fn options(&self, x: &Tensor<4>) -> ConvOptions<2> {
        let [_, channels, height, width] = x.dims();
        let [_, per_group, _, _] = self.weight.dims();
        assert_eq!(
            channels,
            per_group * self.groups,
            "a convolution of {} input channels given an input of shape {:?}",
            per_group * self.groups,
            x.dims()
        );
        ConvOptions::new_with_padding(
            self.stride,
            padding_pairs(
                &self.padding,
                [height, width],
                self.kernel_size,
                self.stride,
            ),
            self.dilation,
            self.groups,
        )
    }
}

/// `x` convolved by `weight` (`[channels_out, channels_in / groups, k, k]`, odd `k`) with zero
/// padding `(k - 1) / 2` on every side (PyTorch's `padding=k//2`, as every convolution of the
/// MobileNet spaces) and no bias, as [`Conv2d::forward`] computes it: for a weight computed
/// rather than stored, such as an elastic layer's channel prefix or transformed kernel.
/// Gradients flow into whatever computed `weight`.
///
/// # Panics
/// If `x` has another number of channels than `weight` and `groups` take.
pub fn conv2d_centred(x: Tensor<4>, weight: Tensor<4>, stride: usize, groups: usize) -> Tensor<4> {
    let [_, channels, height, width] = x.dims();
    let [_, per_group, kh, kw] = weight.dims();
    assert_eq!(
        channels,
        per_group * groups,
        "a convolution of {} input channels given an input of shape {:?}",
        per_group * groups,
        x.dims()
    );
    let options = ConvOptions::new_with_padding(
        [stride; 2],
        padding_pairs(
            &PaddingConfig2d::Explicit((kh - 1) / 2, (kw - 1) / 2, (kh - 1) / 2, (kw - 1) / 2),
            [height, width],
            [kh, kw],
            [stride; 2],
        ),
        [1, 1],
        groups,
    );
    if !on_flex(&x) {
        return burn::tensor::module::conv2d(x, weight, None, options);
    }
    Tensor::<4>::from_dispatch(<Dispatch as NasrKernels>::nasr_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ))
}

/// `clamp(bn(conv(x)))`, `clamp` optional. In evaluation (BatchNorm with its running
/// statistics) on the CPU, BatchNorm is folded into the convolution: the weights of output
/// channel `c` scaled by `gamma[c] / sqrt(var[c] + eps)`, and `beta[c] - mean[c] * scale` (plus
/// the scaled bias) added, with the clamp, as each output is written, so no pass over the
/// output is left for BatchNorm. In training (batch statistics) it is
/// [`BatchNorm::forward_clamped`] of [`Conv2d::forward`]. The folded outputs round differently
/// from the unfolded ones (by about 1e-6 relative).
///
/// # Panics
/// If the shapes of `x`, the convolution and the BatchNorm disagree.
pub fn conv_batch_norm(
    conv: &Conv2d,
    bn: &BatchNorm,
    x: Tensor<4>,
    clamp: Option<Clamp>,
) -> Tensor<4> {
    let device = x.device();
    let training = device.is_autodiff() && bn.training.is_enabled();
    // A hooked convolution (faults between it and its BatchNorm) is not folded.
    if training || !on_flex(&x) || crate::conv_hook::active().is_some() {
        return bn.forward_clamped(conv.forward(x), clamp);
    }
    let [c_out, per_group, kh, kw] = conv.weight.dims();
    let [channels] = bn.gamma.dims();
    assert_eq!(
        channels, c_out,
        "BatchNorm of {channels} channels after a convolution of {c_out} outputs"
    );
    let read = |t: Tensor<1>| -> Vec<f64> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 values")
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let (gamma, beta) = (read(bn.gamma.val()), read(bn.beta.val()));
    let (mean, variance) = (read(bn.running_mean.value()), read(bn.running_var.value()));
    let bias = conv.bias.as_ref().map(|b| read(b.val()));
    let scale: Vec<f64> = (0..c_out)
        .map(|c| gamma[c] / (variance[c] + bn.epsilon).sqrt())
        .collect();
    let shift: Vec<f32> = (0..c_out)
        .map(|c| {
            let bias = bias.as_ref().map_or(0.0, |b| b[c]);
            (beta[c] + (bias - mean[c]) * scale[c]) as f32
        })
        .collect();
    let taps = per_group * kh * kw;
    let weights: Vec<f32> = conv
        .weight
        .val()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 weights")
        .chunks(taps)
        .zip(&scale)
        .flat_map(|(kernel, &s)| kernel.iter().map(move |&w| (f64::from(w) * s) as f32))
        .collect();
    let options = conv.options(&x);
    let weight = Tensor::<4>::from_data(
        TensorData::new(weights, [c_out, per_group, kh, kw]),
        &device,
    );
    let shift = Tensor::<1>::from_data(TensorData::new(shift, [c_out]), &device);
    Tensor::from_dispatch(<Dispatch as NasrKernels>::nasr_conv2d_folded(
        x.into_dispatch(),
        weight.into_dispatch(),
        shift.into_dispatch(),
        clamp,
        options,
    ))
}

/// Batch normalisation over `[batch, channels, h, w]`: burn's `BatchNorm`, computed by nasr's
/// kernels.
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale per channel.
    pub gamma: Param<Tensor<1>>,
    /// Shift per channel.
    pub beta: Param<Tensor<1>>,
    /// Whether training behaviour (batch statistics) is enabled.
    pub training: Param<burn::module::Flag>,
    /// Running mean per channel.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running variance per channel.
    pub running_var: RunningState<Tensor<1>>,
    /// Weight of a batch's statistics in the running ones.
    pub momentum: f64,
    /// Added to the variance.
    pub epsilon: f64,
}

impl From<burn::nn::BatchNorm> for BatchNorm {
    fn from(bn: burn::nn::BatchNorm) -> Self {
        Self {
            gamma: bn.gamma,
            beta: bn.beta,
            training: bn.training,
            running_mean: bn.running_mean,
            running_var: bn.running_var,
            momentum: bn.momentum,
            epsilon: bn.epsilon,
        }
    }
}

impl BatchNorm {
    /// burn's module with the same parameters and running statistics (shared, not copied).
    fn as_burn(&self) -> burn::nn::BatchNorm {
        burn::nn::BatchNorm {
            gamma: self.gamma.clone(),
            beta: self.beta.clone(),
            training: self.training.clone(),
            running_mean: self.running_mean.clone(),
            running_var: self.running_var.clone(),
            momentum: self.momentum,
            epsilon: self.epsilon,
        }
    }

    /// Batch statistics (and a running-statistics update) on an autodiff device with training
    /// enabled, the running statistics otherwise, exactly as burn's `BatchNorm` decides.
    ///
    /// # Panics
    /// If `x` has another number of channels than the layer normalises.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_clamped(x, None)
    }

    /// [`BatchNorm::forward`] with its output clipped by `clamp` in the same pass (ReLU6 after
    /// an MBConv block's BatchNorms is [`Clamp::RELU6`]), and the clamp's gradient taken in
    /// BatchNorm's backward pass.
    ///
    /// # Panics
    /// If `x` has another number of channels than the layer normalises.
    pub fn forward_clamped(&self, x: Tensor<4>, clamp: Option<Clamp>) -> Tensor<4> {
        let [channels] = self.gamma.dims();
        assert_eq!(
            x.dims()[1],
            channels,
            "BatchNorm of {channels} channels given an input of shape {:?}",
            x.dims()
        );
        if !on_flex(&x) {
            return clamped(self.as_burn().forward(x), clamp);
        }
        self.normalise(x, channels, clamp)
    }

    /// [`BatchNorm::forward_clamped`] of an input with the layer's first `C` channels (an
    /// elastic layer's active width, Once-for-All's `DynamicBatchNorm2d`): the scale, shift
    /// and running statistics of those channels; a training step updates only their running
    /// statistics.
    ///
    /// # Panics
    /// If `x` has more channels than the layer normalises.
    pub fn forward_prefix(&self, x: Tensor<4>, clamp: Option<Clamp>) -> Tensor<4> {
        let [channels] = self.gamma.dims();
        let active = x.dims()[1];
        assert!(
            active <= channels,
            "BatchNorm of {channels} channels given an input of shape {:?}",
            x.dims()
        );
        if on_flex(&x) {
            return self.normalise(x, active, clamp);
        }
        if active == channels {
            return self.forward_clamped(x, clamp);
        }
        clamped(self.normalise_with_ops(x, active), clamp)
    }

    /// The first `active` channels of a per-channel tensor.
    fn prefix(&self, t: Tensor<1>, active: usize) -> Tensor<1> {
        if active == self.gamma.dims()[0] {
            t
        } else {
            t.narrow(0, 0, active)
        }
    }

    /// A batch's statistics blended into the first `active` running statistics.
    fn update_running(&self, running: &RunningState<Tensor<1>>, batch: Tensor<1>, active: usize) {
        let whole = running.value_sync().to_device(&batch.device());
        let blended = self
            .prefix(whole.clone(), active)
            .mul_scalar(1.0 - self.momentum)
            .add(batch.detach().mul_scalar(self.momentum))
            .detach();
        let updated = if active == self.gamma.dims()[0] {
            blended
        } else {
            whole.slice_assign(0..active, blended)
        };
        running.update(updated);
        // burn keeps an update aside until someone syncs; syncing now makes every reader see
        // it, such as `Module::visit` (checkpoints, extraction), which reads without syncing.
        let _ = running.value_sync();
    }

    /// nasr's kernels on the first `active` channels: batch statistics and a
    /// running-statistics update in a training step, the running statistics otherwise.
    fn normalise(&self, x: Tensor<4>, active: usize, clamp: Option<Clamp>) -> Tensor<4> {
        let device = x.device();
        let gamma = self.prefix(self.gamma.val(), active).into_dispatch();
        let beta = self.prefix(self.beta.val(), active).into_dispatch();
        if !(device.is_autodiff() && self.training.is_enabled()) {
            let statistic = |running: &RunningState<Tensor<1>>| {
                self.prefix(running.value(), active)
                    .to_device(&device)
                    .into_dispatch()
            };
            return Tensor::from_dispatch(<Dispatch as NasrKernels>::nasr_batch_norm_eval(
                x.into_dispatch(),
                gamma,
                beta,
                statistic(&self.running_mean),
                statistic(&self.running_var),
                self.epsilon,
                clamp,
            ));
        }
        let (y, mean, variance) = <Dispatch as NasrKernels>::nasr_batch_norm_train(
            x.into_dispatch(),
            gamma,
            beta,
            self.epsilon,
            clamp,
        );
        self.update_running(&self.running_mean, Tensor::from_dispatch(mean), active);
        self.update_running(&self.running_var, Tensor::from_dispatch(variance), active);
        Tensor::from_dispatch(y)
    }

    /// [`BatchNorm::normalise`] in burn's tensor ops, for devices without nasr's kernels.
    fn normalise_with_ops(&self, x: Tensor<4>, active: usize) -> Tensor<4> {
        let device = x.device();
        let column = |t: Tensor<1>| t.reshape([1, -1, 1, 1]);
        let (mean, variance) = if device.is_autodiff() && self.training.is_enabled() {
            let flat = x.clone().swap_dims(0, 1).reshape([active as i32, -1]);
            let mean = flat.clone().mean_dim(1).reshape([active]);
            let variance = flat.var_bias(1).reshape([active]);
            self.update_running(&self.running_mean, mean.clone(), active);
            self.update_running(&self.running_var, variance.clone(), active);
            (mean, variance)
        } else {
            let running =
                |r: &RunningState<Tensor<1>>| self.prefix(r.value(), active).to_device(&device);
            (running(&self.running_mean), running(&self.running_var))
        };
        let scale =
            self.prefix(self.gamma.val(), active) / variance.add_scalar(self.epsilon).sqrt();
        (x - column(mean)) * column(scale) + column(self.prefix(self.beta.val(), active))
    }
}

/// 2-D average pooling: burn's `AvgPool2d`, computed by nasr's kernels where the pool rounds
/// its output size down and pads both sides of an axis alike (every pool in nasr's spaces), by
/// burn otherwise.
#[derive(Module, Debug)]
pub struct AvgPool2d {
    /// Stride per axis.
    pub stride: [usize; 2],
    /// Window size per axis.
    pub kernel_size: [usize; 2],
    /// Padding.
    #[module(skip)]
    pub padding: PaddingConfig2d,
    /// Whether padding counts in a window's size.
    pub count_include_pad: bool,
    /// Whether the output size rounds up.
    pub ceil_mode: bool,
}

impl From<burn::nn::pool::AvgPool2d> for AvgPool2d {
    fn from(pool: burn::nn::pool::AvgPool2d) -> Self {
        Self {
            stride: pool.stride,
            kernel_size: pool.kernel_size,
            padding: pool.padding,
            count_include_pad: pool.count_include_pad,
            ceil_mode: pool.ceil_mode,
        }
    }
}

impl AvgPool2d {
    fn as_burn(&self) -> burn::nn::pool::AvgPool2d {
        burn::nn::pool::AvgPool2d {
            stride: self.stride,
            kernel_size: self.kernel_size,
            padding: self.padding.clone(),
            count_include_pad: self.count_include_pad,
            ceil_mode: self.ceil_mode,
        }
    }

    /// `[batch, channels, h, w]` -> `[batch, channels, h', w']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, height, width] = x.dims();
        let [(top, bottom), (left, right)] = padding_pairs(
            &self.padding,
            [height, width],
            self.kernel_size,
            self.stride,
        );
        if self.ceil_mode || top != bottom || left != right || !on_flex(&x) {
            return self.as_burn().forward(x);
        }
        Tensor::from_dispatch(<Dispatch as NasrKernels>::nasr_avg_pool2d(
            x.into_dispatch(),
            self.kernel_size,
            self.stride,
            [top, left],
            self.count_include_pad,
        ))
    }
}

/// Whether `x` lives on the flex CPU backend, where nasr's kernels run; elsewhere (a GPU) burn's
/// own ops do.
/// `y` clipped by `clamp` off nasr's kernels, written `relu(y - min) - relu(y - max) + min`
/// rather than `clamp`, which burn-onnx 0.22's exporter cannot lower (it traces this path).
/// For ReLU6 (`min` 0) it is `clamp` to the bit below 2^24: both subtractions are exact there.
fn clamped(y: Tensor<4>, clamp: Option<Clamp>) -> Tensor<4> {
    match clamp {
        Some(Clamp { min, max }) => relu(y.clone().sub_scalar(min))
            .sub(relu(y.sub_scalar(max)))
            .add_scalar(min),
        None => y,
    }
}

fn on_flex(x: &Tensor<4>) -> bool {
    x.device().inner() == Device::flex()
}

/// `(begin, end)` padding per axis, as burn's `Conv2d` computes it (`Same` pads the odd pixel at
/// the end).
fn padding_pairs(
    padding: &PaddingConfig2d,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [(usize, usize); 2] {
    match *padding {
        PaddingConfig2d::Valid => [(0, 0); 2],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => [0, 1].map(|axis| {
            let out = input[axis].div_ceil(stride[axis]);
            let needed =
                ((out.max(1) - 1) * stride[axis] + kernel[axis]).saturating_sub(input[axis]);
            (needed / 2, needed - needed / 2)
        }),
    }
}
