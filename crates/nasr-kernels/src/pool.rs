//! Average pooling over NCHW planes on plain `f32` slices. A `k`x`k` average pool is a depthwise
//! convolution with all-one weights followed by a division by each window's size, so it runs
//! [`super::conv`]'s convolution and then scales; the backward scales first.

use rayon::prelude::*;

use super::conv::{self, ConvGeometry};

/// An average pool over `channels`-channel images: window, stride and padding as in
/// [`ConvGeometry`], and whether padded pixels count in a window's size (PyTorch's
/// `count_include_pad`).
#[derive(Clone, Copy, Debug)]
pub struct PoolGeometry {
    /// The window as a depthwise convolution (one group per channel).
    pub conv: ConvGeometry,
    /// Whether the padding counts in the divisor.
    pub count_include_pad: bool,
}

impl PoolGeometry {
    /// `1 / window size` for every output pixel of one plane: with `count_include_pad` the
    /// window is clipped to the padded input, without it to the input itself.
    fn inverse_counts(&self) -> Vec<f32> {
        let g = &self.conv;
        let [out_h, out_w] = g.output();
        let span = |axis: usize, o: usize| {
            let start = (o * g.stride[axis]) as isize - g.pad_begin[axis] as isize;
            let end = start + g.kernel[axis] as isize;
            let (lo, hi) = if self.count_include_pad {
                (start, end.min((g.input[axis] + g.pad_end[axis]) as isize))
            } else {
                (start.max(0), end.min(g.input[axis] as isize))
            };
            (hi - lo).max(1) as f32
        };
        (0..out_h)
            .flat_map(|oy| (0..out_w).map(move |ox| (oy, ox)))
            .map(|(oy, ox)| 1.0 / (span(0, oy) * span(1, ox)))
            .collect()
    }

    fn ones(&self) -> Vec<f32> {
        vec![1.0; self.conv.c_in * self.conv.kernel[0] * self.conv.kernel[1]]
    }
}

/// The pooled batch.
pub fn forward(p: &PoolGeometry, x: &[f32]) -> Vec<f32> {
    let mut y = conv::forward(&p.conv, x, &p.ones());
    scale_planes(&mut y, &p.inverse_counts());
    y
}

/// The input gradient, given the output gradient `dy`.
pub fn backward(p: &PoolGeometry, dy: &[f32]) -> Vec<f32> {
    let mut scaled = dy.to_vec();
    scale_planes(&mut scaled, &p.inverse_counts());
    conv::backward_input(&p.conv, &p.ones(), &scaled)
}

fn scale_planes(values: &mut [f32], factors: &[f32]) {
    values.par_chunks_mut(factors.len()).for_each(|plane| {
        for (v, f) in plane.iter_mut().zip(factors) {
            *v *= f;
        }
    });
}
