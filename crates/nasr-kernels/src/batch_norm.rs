//! BatchNorm over an NCHW batch on plain `f32` slices: one pass for the statistics and one to
//! normalise, forward and backward. burn composes the same from a dozen tensor ops, each a full
//! pass over memory with its own allocation, and a transposed copy for the per-channel means.
//!
//! Per-channel sums run in `f64`, one channel per task, in a fixed order: the results do not
//! depend on the number of threads.
//!
//! A [`Clamp`] after the normalisation (ReLU6 in MBConv blocks) runs inside the same pass, and
//! its gradient mask inside the backward's: a separate clamp would be two more passes over
//! memory and one more tensor held for the backward.

use rayon::prelude::*;

use std::mem::MaybeUninit;

use super::buffers::{assume_written, uninit_vec};
use super::route;

/// The sizes of one BatchNorm input: `[batch, channels, plane]`, `plane` being height times
/// width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Channels, each normalised on its own.
    pub channels: usize,
    /// Pixels per channel and image.
    pub plane: usize,
}

impl NormGeometry {
    fn count(&self) -> f64 {
        (self.batch * self.plane) as f64
    }

    /// `f(c)` for every channel `c`, channels in parallel.
    fn per_channel<T: Send>(&self, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
        (0..self.channels).into_par_iter().map(f).collect()
    }

    /// The planes of channel `c` in `values`, image by image.
    fn planes<'a>(&self, values: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        let (stride, plane) = (self.channels * self.plane, self.plane);
        values[c * plane..]
            .chunks(stride)
            .map(move |image| &image[..plane])
    }
}

/// Clipping of BatchNorm's output to `[min, max]`, fused into its passes: ReLU6 is
/// [`Clamp::RELU6`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clamp {
    /// Lower bound.
    pub min: f32,
    /// Upper bound.
    pub max: f32,
}

impl Clamp {
    /// ReLU6: `min(max(x, 0), 6)`.
    pub const RELU6: Clamp = Clamp { min: 0.0, max: 6.0 };

    /// `v` clipped to the bounds; NaN stays NaN (as PyTorch's clamp keeps it), so a diverged
    /// step still shows in the loss.
    #[inline(always)]
    pub(crate) fn apply(self, v: f32) -> f32 {
        // Two selects, not nested branches: they vectorise.
        let v = if v < self.min { self.min } else { v };
        if v > self.max { self.max } else { v }
    }

    /// Whether the gradient passes at clipped output `y`: strictly inside the bounds, as
    /// PyTorch's ReLU6 (hardtanh) backward decides from its input. An output strictly inside
    /// the bounds came from an input strictly inside them, so the output alone decides.
    #[inline(always)]
    fn passes(self, y: f32) -> bool {
        y > self.min && y < self.max
    }

    /// Zeroes `dy` wherever the clamp's output `y` was clipped: the gradient through the clamp.
    pub fn mask_gradient(self, dy: &mut [f32], y: &[f32]) {
        assert_eq!(
            dy.len(),
            y.len(),
            "a gradient of another shape than the output"
        );
        dy.par_chunks_mut(1 << 14)
            .zip(y.par_chunks(1 << 14))
            .for_each(|(d, y)| mask_chunk(d, y, self));
    }
}

/// Accumulator lanes: sixteen independent f32 sums vectorise, where one sum would wait on the
/// previous add at every element.
const LANES: usize = 16;
/// Vectors of lanes summed side by side: four independent adds in flight, where one vector's
/// adds would wait on each other.
const ACCUMULATORS: usize = 4;
/// Elements summed in f32 before their lanes are added to the f64 totals.
const BLOCK: usize = 256;

/// `Σ f(a[i], b[i])` over two planes, for each of the `N` values `f` returns: in f32 lanes
/// within blocks of [`BLOCK`] elements and in f64 lanes across blocks, so large planes keep
/// their precision. The order of the sums is fixed by the plane's length alone.
#[inline(always)]
fn lane_sums<const N: usize>(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> [f32; N]) -> [f64; N] {
    let mut totals = [[0.0f64; LANES]; N];
    let mut rest = [0.0f64; N];
    for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let mut sums = [[[0.0f32; LANES]; ACCUMULATORS]; N];
        let (wide_a, wide_b) = (
            a.chunks_exact(LANES * ACCUMULATORS),
            b.chunks_exact(LANES * ACCUMULATORS),
        );
        let (tail_a, tail_b) = (wide_a.remainder(), wide_b.remainder());
        for (ca, cb) in wide_a.zip(wide_b) {
            for k in 0..ACCUMULATORS {
                for i in 0..LANES {
                    let values = f(ca[k * LANES + i], cb[k * LANES + i]);
                    for (sum, value) in sums.iter_mut().zip(values) {
                        sum[k][i] += value;
                    }
                }
            }
        }
        let (narrow_a, narrow_b) = (tail_a.chunks_exact(LANES), tail_b.chunks_exact(LANES));
        for (&x, &y) in narrow_a.remainder().iter().zip(narrow_b.remainder()) {
            for (r, value) in rest.iter_mut().zip(f(x, y)) {
                *r += value as f64;
            }
        }
        for (ca, cb) in narrow_a.zip(narrow_b) {
            for i in 0..LANES {
                let values = f(ca[i], cb[i]);
                for (sum, value) in sums.iter_mut().zip(values) {
                    sum[0][i] += value;
                }
            }
        }
        for (total, [s0, s1, s2, s3]) in totals.iter_mut().zip(sums) {
            for i in 0..LANES {
                total[i] += ((s0[i] + s1[i]) + (s2[i] + s3[i])) as f64;
            }
        }
    }
    let mut out = rest;
    for (o, total) in out.iter_mut().zip(totals) {
        for lane in total {
            *o += lane;
        }
    }
    out
}

/// `Σ f(a[i], b[i])`: [`lane_sums`] of one value.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let [sum] = lane_sums(a, b, |x, y| [f(x, y)]);
    sum
}

// The passes below, compiled per kernel route: each is the same arithmetic in the same order on
// every route (explicit lanes, no fused multiply-adds), so every route gives the same bytes.

route::compiled_per_route!(
    /// [`channel_moments_body`] on the active route.
    fn channel_moments = channel_moments_body(g: &NormGeometry, x: &[f32], c: usize) -> (f64, f64)
);

/// Channel `c`'s mean and biased variance: two passes, the second over centred values, so
/// that E[x^2] and E[x]^2 do not cancel. The channel's planes are still in cache for the second.
#[inline(always)]
fn channel_moments_body(g: &NormGeometry, x: &[f32], c: usize) -> (f64, f64) {
    // Plain loops, not `map(..).sum()`: the fold of that adapter was compiled out of line,
    // without the route's instructions.
    let mut sum = 0.0;
    for plane in g.planes(x, c) {
        sum += lane_sum(plane, plane, |v, _| v);
    }
    let mean = sum / g.count();
    let m = mean as f32;
    let mut squares = 0.0;
    for plane in g.planes(x, c) {
        squares += lane_sum(plane, plane, |v, _| (v - m) * (v - m));
    }
    (mean, squares / g.count())
}

route::compiled_per_route!(
    /// [`affine_plane_body`] on the active route.
    fn affine_plane = affine_plane_body(
        out: &mut [MaybeUninit<f32>],
        input: &[f32],
        scale_shift: [f32; 2],
        clamp: Option<Clamp>,
    )
);

/// `out = input * a + b` for one plane, clipped by `clamp`.
#[inline(always)]
fn affine_plane_body(
    out: &mut [MaybeUninit<f32>],
    input: &[f32],
    [a, b]: [f32; 2],
    clamp: Option<Clamp>,
) {
    match clamp {
        Some(clamp) => {
            for (o, &i) in out.iter_mut().zip(input) {
                o.write(clamp.apply(i * a + b));
            }
        }
        None => {
            for (o, &i) in out.iter_mut().zip(input) {
                o.write(i * a + b);
            }
        }
    }
}

route::compiled_per_route!(
    /// [`gradient_sums_body`] on the active route.
    fn gradient_sums = gradient_sums_body(
        g: &NormGeometry,
        dy: &[f32],
        x: &[f32],
        c: usize,
        mean: f32,
    ) -> (f64, f64)
);

/// Channel `c`'s `sum(dy)` and `sum(dy * (x - mean))`.
#[inline(always)]
fn gradient_sums_body(g: &NormGeometry, dy: &[f32], x: &[f32], c: usize, mean: f32) -> (f64, f64) {
    let (mut s, mut p) = (0.0, 0.0);
    for (d, x) in g.planes(dy, c).zip(g.planes(x, c)) {
        let [plane_s, plane_p] = lane_sums(d, x, |d, x| [d, d * (x - mean)]);
        s += plane_s;
        p += plane_p;
    }
    (s, p)
}

route::compiled_per_route!(
    /// [`gradient_plane_body`] on the active route.
    fn gradient_plane = gradient_plane_body(
        out: &mut [MaybeUninit<f32>],
        xs: &[f32],
        ds: &[f32],
        coefficients: [f32; 3],
    )
);

/// `out = dy * a + x * b + c` for one plane.
#[inline(always)]
fn gradient_plane_body(out: &mut [MaybeUninit<f32>], xs: &[f32], ds: &[f32], [a, b, c]: [f32; 3]) {
    for ((o, &x), &d) in out.iter_mut().zip(xs).zip(ds) {
        o.write(d * a + x * b + c);
    }
}

route::compiled_per_route!(
    /// [`mask_chunk_body`] on the active route.
    fn mask_chunk = mask_chunk_body(dy: &mut [f32], y: &[f32], clamp: Clamp)
);

/// Zeroes `dy` where `clamp` clipped `y`: a select, not a branch, so that it vectorises.
#[inline(always)]
fn mask_chunk_body(dy: &mut [f32], y: &[f32], clamp: Clamp) {
    for (d, &y) in dy.iter_mut().zip(y) {
        *d = if clamp.passes(y) { *d } else { 0.0 };
    }
}

/// Training-mode statistics and output: `(y, mean, biased variance)`, `y` clipped by `clamp`.
pub fn train_forward(
    g: &NormGeometry,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
    clamp: Option<Clamp>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mean, variance): (Vec<f64>, Vec<f64>) = g
        .per_channel(|c| channel_moments(g, x, c))
        .into_iter()
        .unzip();
    let y = normalise(g, x, [gamma, beta], [&mean, &variance], epsilon, clamp);
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (y, to_f32(mean), to_f32(variance))
}

/// Inference-mode output with given statistics, clipped by `clamp`.
pub fn inference(
    g: &NormGeometry,
    x: &[f32],
    [gamma, beta, mean, variance]: [&[f32]; 4],
    epsilon: f64,
    clamp: Option<Clamp>,
) -> Vec<f32> {
    let widen = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
    let statistics = [&widen(mean)[..], &widen(variance)[..]];
    normalise(g, x, [gamma, beta], statistics, epsilon, clamp)
}

/// `y = (x - mean) / sqrt(variance + epsilon) * gamma + beta`, clipped by `clamp`, one plane
/// per task.
fn normalise(
    g: &NormGeometry,
    x: &[f32],
    [gamma, beta]: [&[f32]; 2],
    [mean, variance]: [&[f64]; 2],
    epsilon: f64,
    clamp: Option<Clamp>,
) -> Vec<f32> {
    let (scale, shift): (Vec<f32>, Vec<f32>) = (0..g.channels)
        .map(|c| {
            let scale = gamma[c] as f64 / (variance[c] + epsilon).sqrt();
            (scale as f32, (beta[c] as f64 - mean[c] * scale) as f32)
        })
        .unzip();
    let mut y = uninit_vec(x.len());
    y.par_chunks_mut(g.plane)
        .zip(x.par_chunks(g.plane))
        .enumerate()
        .for_each(|(plane, (out, input))| {
            let (a, b) = (scale[plane % g.channels], shift[plane % g.channels]);
            affine_plane(out, input, [a, b], clamp);
        });
    // SAFETY: every plane of `y` was written in full above.
    unsafe { assume_written(y) }
}

/// The gradients `(dx, dgamma, dbeta)` of training-mode BatchNorm, given its input, `gamma`,
/// the batch statistics it used and the gradient `dy` of its output (before any clamp: see
/// [`Clamp::mask_gradient`]).
pub fn train_backward(
    g: &NormGeometry,
    x: &[f32],
    [gamma, mean, variance]: [&[f32]; 3],
    epsilon: f64,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let inv_std: Vec<f64> = variance
        .iter()
        .map(|&v| 1.0 / (v as f64 + epsilon).sqrt())
        .collect();
    // Per channel: dbeta = sum(dy) and dgamma = sum(dy * x_hat) = inv_std * sum(dy * (x - mean)).
    let (dbeta, dgamma): (Vec<f64>, Vec<f64>) = g
        .per_channel(|c| {
            let (s, p) = gradient_sums(g, dy, x, c, mean[c]);
            (s, inv_std[c] * p)
        })
        .into_iter()
        .unzip();
    // dx = gamma * inv_std * (dy - dbeta / n - x_hat * dgamma / n), as dy * a + x * b + c.
    let n = g.count();
    let coefficients: Vec<[f32; 3]> = (0..g.channels)
        .map(|c| {
            let k = gamma[c] as f64 * inv_std[c];
            let b = -k * inv_std[c] * dgamma[c] / n;
            let c0 = -k * dbeta[c] / n - b * mean[c] as f64;
            [k as f32, b as f32, c0 as f32]
        })
        .collect();
    let mut dx = uninit_vec(x.len());
    dx.par_chunks_mut(g.plane)
        .zip(x.par_chunks(g.plane).zip(dy.par_chunks(g.plane)))
        .enumerate()
        .for_each(|(plane, (out, (xs, ds)))| {
            gradient_plane(out, xs, ds, coefficients[plane % g.channels]);
        });
    // SAFETY: every plane of `dx` was written in full above.
    let dx = unsafe { assume_written(dx) };
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (dx, to_f32(dgamma), to_f32(dbeta))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random values in [-1.5, 1.5].
    fn values(len: usize, seed: u32) -> Vec<f32> {
        crate::pseudo_random(len, seed)
            .into_iter()
            .map(|v| 1.5 * v)
            .collect()
    }

    const G: NormGeometry = NormGeometry {
        batch: 3,
        channels: 4,
        plane: 10,
    };

    fn loss(x: &[f32], gamma: &[f32], beta: &[f32], probe: &[f32]) -> f64 {
        let (y, _, _) = train_forward(&G, x, gamma, beta, 1e-5, None);
        y.iter()
            .zip(probe)
            .map(|(y, p)| *y as f64 * *p as f64)
            .sum()
    }

    #[test]
    fn the_output_has_zero_mean_and_unit_variance_per_channel_before_the_affine() {
        let x = values(120, 1);
        let (y, mean, variance) = train_forward(&G, &x, &[1.0; 4], &[0.0; 4], 0.0, None);
        for c in 0..4 {
            let channel: Vec<f32> = (0..3)
                .flat_map(|b| y[(b * 4 + c) * 10..][..10].to_vec())
                .collect();
            let m: f32 = channel.iter().sum::<f32>() / 30.0;
            let v: f32 = channel.iter().map(|y| (y - m) * (y - m)).sum::<f32>() / 30.0;
            assert!(
                m.abs() < 1e-5 && (v - 1.0).abs() < 1e-4,
                "channel {c}: {m} {v}"
            );
            let raw: Vec<f32> = (0..3)
                .flat_map(|b| x[(b * 4 + c) * 10..][..10].to_vec())
                .collect();
            assert!((raw.iter().sum::<f32>() / 30.0 - mean[c]).abs() < 1e-5);
            assert!(variance[c] > 0.0);
        }
    }

    #[test]
    fn the_clamp_clips_lets_nan_through_and_masks_clipped_gradients() {
        let clamp = Clamp::RELU6;
        let ys: Vec<f32> = [-1.0, 0.0, 3.0, 6.0, 7.5, f32::NAN]
            .into_iter()
            .map(|v| clamp.apply(v))
            .collect();
        assert_eq!(&ys[..5], &[0.0, 0.0, 3.0, 6.0, 6.0]);
        assert!(ys[5].is_nan(), "NaN must stay NaN");
        let mut dy = vec![1.0; 5];
        clamp.mask_gradient(&mut dy, &ys[..5]);
        assert_eq!(dy, [0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    /// Each gradient against a central difference of <probe, y>.
    #[test]
    fn gradients_match_central_differences() {
        let (x, gamma, beta, probe) = (values(120, 2), values(4, 3), values(4, 4), values(120, 5));
        let (_, mean, variance) = train_forward(&G, &x, &gamma, &beta, 1e-5, None);
        let (dx, dgamma, dbeta) = train_backward(&G, &x, [&gamma, &mean, &variance], 1e-5, &probe);
        let h = 1e-2f32;
        let check = |analytic: f32, bump: &dyn Fn(f32) -> f64, what: &str| {
            let numeric = (bump(h) - bump(-h)) / (2.0 * h as f64);
            assert!(
                (analytic as f64 - numeric).abs() < 2e-3 * numeric.abs().max(1.0),
                "{what}: {analytic} vs {numeric}"
            );
        };
        for i in [0, 7, 33, 119] {
            check(
                dx[i],
                &|d| {
                    let mut x = x.clone();
                    x[i] += d;
                    loss(&x, &gamma, &beta, &probe)
                },
                "dx",
            );
        }
        for c in 0..4 {
            check(
                dgamma[c],
                &|d| {
                    let mut g = gamma.clone();
                    g[c] += d;
                    loss(&x, &g, &beta, &probe)
                },
                "dgamma",
            );
            check(
                dbeta[c],
                &|d| {
                    let mut b = beta.clone();
                    b[c] += d;
                    loss(&x, &gamma, &b, &probe)
                },
                "dbeta",
            );
        }
    }
}
