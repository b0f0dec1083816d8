//! Elastic layers of Once-for-All (Cai et al., ICLR 2020; code: `DynamicSeparableConv2d`):
//! one stored weight serves every sub-network that takes a part of it.
//!
//! [`ElasticDepthwise`] is OFA's elastic kernel: only the largest (7x7) depthwise weight is
//! stored; a 5x5 kernel is its centre 5x5, each channel's 25 values multiplied by a learned
//! 25x25 matrix, and a 3x3 kernel the centre 3x3 of that transformed 5x5 multiplied by a 9x9
//! matrix. The matrices are shared by the layer's channels and start as the identity, where the
//! small kernels are plain centre crops. A sub-network with fewer middle channels takes the
//! first ones (elastic width).

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use nasr_kernels::conv2d_same;

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
        Ok(conv2d_same(x, weight, self.stride, channels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let reference = conv2d_same(x, weight, 1, 4);
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
}
