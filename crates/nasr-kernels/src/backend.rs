//! nasr's kernels as a burn backend extension: on `Flex` the ops run the kernels of
//! [`super::conv`], [`super::batch_norm`](mod@super::batch_norm) and [`super::pool`], and under
//! `Autodiff<Flex>` backward steps of our own compute the gradients with them, in place of
//! burn's generic compositions.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Flex, backend_extension};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};

use super::batch_norm::{self, Clamp, NormGeometry};
use super::conv::{self, ConvGeometry};
use super::pool::{self, PoolGeometry};

/// The ops nasr runs through its own kernels.
#[backend_extension(Flex, Autodiff)]
pub trait NasrKernels: Backend {
    /// `conv2d(x, weight)` without bias: `x` is `[batch, c_in, h, w]`, `weight` is
    /// `[c_out, c_in / groups, kh, kw]`.
    fn nasr_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// `clamp(conv2d(x, weight) + shift)`, `shift` one value per output channel: a convolution
    /// with BatchNorm (and a clamp) folded in, for inference. No gradient on the plain device.
    fn nasr_conv2d_folded(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        clamp: Option<Clamp>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// Training-mode BatchNorm of `[batch, channels, h, w]` with the batch's statistics, its
    /// output clipped by `clamp`: `(output, mean, biased variance)`. The statistics carry no
    /// gradient.
    fn nasr_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        clamp: Option<Clamp>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Inference-mode BatchNorm of `[batch, channels, h, w]` with given statistics, its output
    /// clipped by `clamp`.
    fn nasr_batch_norm_eval(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        clamp: Option<Clamp>,
    ) -> FloatTensor<Self>;

    /// Average pooling of `[batch, channels, h, w]` with the same padding on both sides of an
    /// axis, rounding the output size down (no `ceil_mode`).
    fn nasr_avg_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> FloatTensor<Self>;
}

fn geometry(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> ConvGeometry {
    let [batch, c_in, h, w] = dims4(x);
    let [c_out, _, kh, kw] = dims4(weight);
    ConvGeometry {
        batch,
        c_in,
        c_out,
        groups: options.groups,
        input: [h, w],
        kernel: [kh, kw],
        stride: options.stride,
        pad_begin: options.padding_begin(),
        pad_end: options.padding_end(),
        dilation: options.dilation,
    }
}

fn dims4(tensor: &FlexTensor) -> [usize; 4] {
    let shape = tensor.layout().shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

fn values(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("a contiguous f32 tensor (checked by the caller)")
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Our kernels take f32; any other float type goes through burn's own convolution.
fn is_f32(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

impl NasrKernels for Flex {
    fn nasr_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        if !is_f32(&[&x, &weight]) {
            return Flex::conv2d(x, weight, None, options);
        }
        let g = geometry(&x, &weight, &options);
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let [out_h, out_w] = g.output();
        let y = conv::forward(&g, values(&x), values(&weight));
        tensor(y, [g.batch, g.c_out, out_h, out_w])
    }

    fn nasr_conv2d_folded(
        x: FlexTensor,
        weight: FlexTensor,
        shift: FlexTensor,
        clamp: Option<Clamp>,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        if !is_f32(&[&x, &weight, &shift]) {
            return clamped::<Flex>(Flex::conv2d(x, weight, Some(shift), options), clamp);
        }
        let g = geometry(&x, &weight, &options);
        let (x, weight, shift) = (
            x.to_contiguous(),
            weight.to_contiguous(),
            shift.to_contiguous(),
        );
        let [out_h, out_w] = g.output();
        let epilogue = conv::Epilogue {
            shift: values(&shift),
            clamp,
        };
        let y = conv::forward_with(&g, values(&x), values(&weight), Some(epilogue));
        tensor(y, [g.batch, g.c_out, out_h, out_w])
    }

    fn nasr_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        clamp: Option<Clamp>,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        if !is_f32(&[&x, &gamma, &beta]) {
            let stats = Flex::batch_norm_train(x, gamma, beta, epsilon);
            return (
                clamped::<Flex>(stats.output, clamp),
                stats.mean,
                stats.variance,
            );
        }
        let shape = dims4(&x);
        let g = norm_geometry(shape);
        let (x, gamma, beta) = (
            x.to_contiguous(),
            gamma.to_contiguous(),
            beta.to_contiguous(),
        );
        let (y, mean, variance) = batch_norm::train_forward(
            &g,
            values(&x),
            values(&gamma),
            values(&beta),
            epsilon,
            clamp,
        );
        (tensor(y, shape), vector(mean), vector(variance))
    }

    fn nasr_batch_norm_eval(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        clamp: Option<Clamp>,
    ) -> FlexTensor {
        if !is_f32(&[&x, &gamma, &beta, &mean, &variance]) {
            let y = Flex::batch_norm(x, gamma, beta, mean, variance, epsilon);
            return clamped::<Flex>(y, clamp);
        }
        let shape = dims4(&x);
        let [x, gamma, beta, mean, variance] =
            [x, gamma, beta, mean, variance].map(|t| t.to_contiguous());
        let y = batch_norm::inference(
            &norm_geometry(shape),
            values(&x),
            [
                values(&gamma),
                values(&beta),
                values(&mean),
                values(&variance),
            ],
            epsilon,
            clamp,
        );
        tensor(y, shape)
    }

    fn nasr_avg_pool2d(
        x: FlexTensor,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> FlexTensor {
        if !is_f32(&[&x]) {
            return Flex::avg_pool2d(x, kernel, stride, padding, count_include_pad, false);
        }
        let p = pool_geometry(dims4(&x), kernel, stride, padding, count_include_pad);
        let [out_h, out_w] = p.conv.output();
        let y = pool::forward(&p, values(&x.to_contiguous()));
        tensor(y, [p.conv.batch, p.conv.c_in, out_h, out_w])
    }
}

/// `y` clipped by `clamp` through burn's own op, where nasr's kernels do not run.
fn clamped<B: Backend>(y: FloatTensor<B>, clamp: Option<Clamp>) -> FloatTensor<B> {
    match clamp {
        Some(Clamp { min, max }) => B::float_clamp(y, min.into(), max.into()),
        None => y,
    }
}

fn pool_geometry(
    [batch, channels, h, w]: [usize; 4],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    count_include_pad: bool,
) -> PoolGeometry {
    PoolGeometry {
        conv: ConvGeometry {
            batch,
            c_in: channels,
            c_out: channels,
            groups: channels,
            input: [h, w],
            kernel,
            stride,
            pad_begin: padding,
            pad_end: padding,
            dilation: [1, 1],
        },
        count_include_pad,
    }
}

/// The backward step of [`NasrKernels::nasr_avg_pool2d`]: it needs only the shapes.
#[derive(Debug)]
struct AvgPoolBackward;

impl Backward<Flex, 1> for AvgPoolBackward {
    type State = PoolGeometry;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [x_parent] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        if let Some(parent) = x_parent {
            let p = ops.state;
            let dx = pool::backward(&p, values(&dy));
            let [h, w] = p.conv.input;
            grads.register::<Flex>(parent.id, tensor(dx, [p.conv.batch, p.conv.c_in, h, w]));
        }
    }
}

fn norm_geometry([batch, channels, h, w]: [usize; 4]) -> NormGeometry {
    NormGeometry {
        batch,
        channels,
        plane: h * w,
    }
}

fn vector(values: Vec<f32>) -> FlexTensor {
    let len = values.len();
    FlexTensor::from_data(TensorData::new(values, [len]))
}

/// The backward step of [`NasrKernels::nasr_batch_norm_train`]: gradients of the input, gamma
/// and beta, from the input, gamma and the batch statistics; through the clamp first, from the
/// clipped output, where there is one.
#[derive(Debug)]
struct BatchNormBackward;

/// What [`BatchNormBackward`] keeps: the input's and gamma's checkpoints, the batch mean and
/// variance, epsilon, and the clipped output with its clamp.
type BatchNormState = (
    NodeId,
    NodeId,
    FlexTensor,
    FlexTensor,
    f64,
    Option<(FlexTensor, Clamp)>,
);

impl Backward<Flex, 3> for BatchNormBackward {
    type State = BatchNormState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_parent, gamma_parent, beta_parent] = ops.parents;
        let mut dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x_id, gamma_id, mean, variance, epsilon, clamped) = ops.state;
        if let Some((y, clamp)) = clamped {
            if !dy.is_unique() {
                dy = tensor(values(&dy).to_vec(), dims4(&dy));
            }
            clamp.mask_gradient(dy.storage_mut::<f32>(), values(&y.to_contiguous()));
        }
        let x = checkpointer
            .retrieve_node_output::<FlexTensor>(x_id)
            .to_contiguous();
        let gamma = checkpointer
            .retrieve_node_output::<FlexTensor>(gamma_id)
            .to_contiguous();
        let shape = dims4(&x);
        let (dx, dgamma, dbeta) = batch_norm::train_backward(
            &norm_geometry(shape),
            values(&x),
            [values(&gamma), values(&mean), values(&variance)],
            epsilon,
            values(&dy),
        );
        for (parent, grad) in [
            (x_parent, tensor(dx, shape)),
            (gamma_parent, vector(dgamma)),
            (beta_parent, vector(dbeta)),
        ] {
            if let Some(parent) = parent {
                grads.register::<Flex>(parent.id, grad);
            }
        }
    }
}

/// The backward step of [`NasrKernels::nasr_conv2d`]: the input and weight gradients, each only
/// when its parent asks for it.
#[derive(Debug)]
struct Conv2dBackward;

impl Backward<Flex, 2> for Conv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_parent, weight_parent] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_id, weight_id, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_id);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_id);
        let g = geometry(&x, &weight, &options);
        let dy = dy.to_contiguous();
        if let Some(parent) = x_parent {
            let dx = conv::backward_input(&g, values(&weight.to_contiguous()), values(&dy));
            let [h, w] = g.input;
            grads.register::<Flex>(parent.id, tensor(dx, [g.batch, g.c_in, h, w]));
        }
        if let Some(parent) = weight_parent {
            let dw = conv::backward_weight(&g, values(&x.to_contiguous()), values(&dy));
            grads.register::<Flex>(parent.id, tensor(dw, dims4(&weight)));
        }
    }
}

impl<C: CheckpointStrategy> NasrKernels for Autodiff<Flex, C> {
    /// Inference under autodiff is rare (evaluation runs on the plain device): burn's
    /// differentiable convolution and clamp serve.
    fn nasr_conv2d_folded(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        clamp: Option<Clamp>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        clamped::<Self>(Self::conv2d(x, weight, Some(shift), options), clamp)
    }

    fn nasr_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        if !is_f32(&[x.primitive(), weight.primitive()]) {
            return Self::conv2d(x, weight, None, options);
        }
        match Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_id = prep.checkpoint(&x);
                let weight_id = prep.checkpoint(&weight);
                let y =
                    Flex::nasr_conv2d(x.into_primitive(), weight.into_primitive(), options.clone());
                prep.finish((x_id, weight_id, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::nasr_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }
    fn nasr_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        clamp: Option<Clamp>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        if !is_f32(&[x.primitive(), gamma.primitive(), beta.primitive()]) {
            let stats = Self::batch_norm_train(x, gamma, beta, epsilon);
            return (
                clamped::<Self>(stats.output, clamp),
                stats.mean,
                stats.variance,
            );
        }
        let (y, mean, variance) = Flex::nasr_batch_norm_train(
            x.primitive().clone(),
            gamma.primitive().clone(),
            beta.primitive().clone(),
            epsilon,
            clamp,
        );
        let output = match BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_id = prep.checkpoint(&x);
                let gamma_id = prep.checkpoint(&gamma);
                let output = clamp.map(|clamp| (y.clone(), clamp));
                let state = (
                    x_id,
                    gamma_id,
                    mean.clone(),
                    variance.clone(),
                    epsilon,
                    output,
                );
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (output, Self::from_inner(mean), Self::from_inner(variance))
    }

    /// Evaluation under autodiff is rare (validation runs on the plain device): burn's
    /// differentiable composition serves.
    fn nasr_batch_norm_eval(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        clamp: Option<Clamp>,
    ) -> FloatTensor<Self> {
        clamped::<Self>(
            Self::batch_norm(x, gamma, beta, mean, variance, epsilon),
            clamp,
        )
    }

    fn nasr_avg_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
    ) -> FloatTensor<Self> {
        if !is_f32(&[x.primitive()]) {
            return Self::avg_pool2d(x, kernel, stride, padding, count_include_pad, false);
        }
        let geometry = pool_geometry(
            dims4(x.primitive()),
            kernel,
            stride,
            padding,
            count_include_pad,
        );
        match AvgPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = Flex::nasr_avg_pool2d(
                    x.into_primitive(),
                    kernel,
                    stride,
                    padding,
                    count_include_pad,
                );
                prep.finish(geometry, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::nasr_avg_pool2d(
                x.into_primitive(),
                kernel,
                stride,
                padding,
                count_include_pad,
            )),
        }
    }
}
