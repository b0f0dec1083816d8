//! Mini-batches: shuffled order, augmentation and normalisation, as flat `f32` buffers.

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{Dataset, Normalization};

/// Training-time augmentation, each part switchable (all off by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Augmentation {
    /// Zero-pad each side by this many pixels, then crop back to the original size at a random
    /// offset (0 disables it). The CIFAR standard is 4.
    pub pad_crop: usize,
    /// Mirror images left-right with probability 0.5. Leave off for digits.
    pub horizontal_flip: bool,
    /// Cutout (DeVries & Taylor 2017): set a square of this side, centred on a random pixel and
    /// clipped at the borders, to zero after normalisation (0 disables it; DARTS uses 16 on
    /// CIFAR-10).
    pub cutout: usize,
}

impl Augmentation {
    /// Whether any augmentation is enabled.
    pub fn is_enabled(&self) -> bool {
        self.pad_crop > 0 || self.horizontal_flip || self.cutout > 0
    }
}

/// One mini-batch: `images` is `[len, channels, height, width]` flattened, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Normalised pixels.
    pub images: Vec<f32>,
    /// Class labels.
    pub labels: Vec<i64>,
    /// Number of images.
    pub len: usize,
}

/// Cuts a dataset into batches, in a given order, applying normalisation and augmentation.
#[derive(Debug, Clone)]
pub struct Batcher<'a> {
    dataset: &'a Dataset,
    normalization: &'a Normalization,
    batch_size: usize,
    order: Vec<usize>,
}

impl<'a> Batcher<'a> {
    /// Batches of `batch_size` in file order (for evaluation). The last batch may be smaller.
    pub fn sequential(
        dataset: &'a Dataset,
        normalization: &'a Normalization,
        batch_size: usize,
    ) -> Self {
        Self {
            dataset,
            normalization,
            batch_size: batch_size.max(1),
            order: (0..dataset.len()).collect(),
        }
    }

    /// Batches in an order shuffled by `rng` (for training).
    pub fn shuffled(
        dataset: &'a Dataset,
        normalization: &'a Normalization,
        batch_size: usize,
        rng: &mut dyn rand::RngCore,
    ) -> Self {
        let mut batcher = Self::sequential(dataset, normalization, batch_size);
        batcher.order.shuffle(rng);
        batcher
    }

    /// Number of batches.
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// Whether there are no batches.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Batch `index`, augmented with draws from `rng` when `augmentation` is enabled.
    pub fn batch(
        &self,
        index: usize,
        augmentation: &Augmentation,
        rng: &mut dyn rand::RngCore,
    ) -> Batch {
        let start = index * self.batch_size;
        let members = &self.order[start..(start + self.batch_size).min(self.order.len())];
        let shape = self.dataset.shape;
        let mut images = Vec::with_capacity(members.len() * shape.len());
        for &i in members {
            let (dy, dx, flip) = draw_augmentation(augmentation, rng);
            let start = images.len();
            self.push_image(self.dataset.image(i), dy, dx, flip, &mut images);
            if augmentation.cutout > 0 {
                let centre = (
                    rng.random_range(0..shape.height),
                    rng.random_range(0..shape.width),
                );
                cut_out(&mut images[start..], shape, centre, augmentation.cutout);
            }
        }
        Batch {
            images,
            labels: members
                .iter()
                .map(|&i| i64::from(self.dataset.labels[i]))
                .collect(),
            len: members.len(),
        }
    }

    /// Batch `index` without augmentation (for evaluation).
    pub fn plain_batch(&self, index: usize) -> Batch {
        struct NoDraws;
        impl rand::RngCore for NoDraws {
            fn next_u32(&mut self) -> u32 {
                unreachable!("augmentation is off: nothing is drawn")
            }
            fn next_u64(&mut self) -> u64 {
                unreachable!("augmentation is off: nothing is drawn")
            }
            fn fill_bytes(&mut self, _: &mut [u8]) {
                unreachable!("augmentation is off: nothing is drawn")
            }
        }
        self.batch(index, &Augmentation::default(), &mut NoDraws)
    }

    /// Appends one normalised image, shifted by (`dy`, `dx`) with zero fill and optionally
    /// mirrored: the same result as padding, cropping and flipping, without the copies.
    fn push_image(&self, image: &[u8], dy: isize, dx: isize, flip: bool, out: &mut Vec<f32>) {
        let shape = self.dataset.shape;
        let (h, w) = (shape.height as isize, shape.width as isize);
        for c in 0..shape.channels {
            let plane =
                &image[c * shape.height * shape.width..(c + 1) * shape.height * shape.width];
            let scale = 1.0 / (255.0 * self.normalization.std[c]);
            let shift = self.normalization.mean[c] / self.normalization.std[c];
            for y in 0..h {
                for x in 0..w {
                    let sx = if flip { w - 1 - x } else { x } + dx;
                    let sy = y + dy;
                    let raw = if (0..h).contains(&sy) && (0..w).contains(&sx) {
                        plane[(sy * w + sx) as usize]
                    } else {
                        0
                    };
                    out.push(f32::from(raw) * scale - shift);
                }
            }
        }
    }
}

/// Zeroes the `side` x `side` square centred on `centre` (clipped at the borders) of every
/// channel of one image.
fn cut_out(image: &mut [f32], shape: crate::ImageShape, centre: (usize, usize), side: usize) {
    let span =
        |c: usize, limit: usize| c.saturating_sub(side / 2)..(c + side - side / 2).min(limit);
    let plane = shape.height * shape.width;
    for channel in image.chunks_mut(plane) {
        for y in span(centre.0, shape.height) {
            for x in span(centre.1, shape.width) {
                channel[y * shape.width + x] = 0.0;
            }
        }
    }
}

/// Crop offset relative to the unpadded image, and whether to mirror.
fn draw_augmentation(
    augmentation: &Augmentation,
    rng: &mut dyn rand::RngCore,
) -> (isize, isize, bool) {
    // isize is not portable across platforms for sampling; draw in i64.
    let pad = augmentation.pad_crop as i64;
    let (dy, dx) = if pad > 0 {
        (
            rng.random_range(-pad..=pad) as isize,
            rng.random_range(-pad..=pad) as isize,
        )
    } else {
        (0, 0)
    };
    let flip = augmentation.horizontal_flip && rng.random_bool(0.5);
    (dy, dx, flip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageShape;
    use rand::SeedableRng;

    fn ramp() -> Dataset {
        Dataset {
            name: "ramp".into(),
            shape: ImageShape {
                channels: 1,
                height: 2,
                width: 3,
            },
            classes: 2,
            pixels: vec![0, 51, 102, 153, 204, 255, 255, 255, 255, 0, 0, 0],
            labels: vec![0, 1],
        }
    }

    fn unit() -> Normalization {
        Normalization {
            mean: vec![0.0],
            std: vec![1.0],
        }
    }

    #[test]
    fn sequential_batches_normalise_and_keep_order() {
        let data = ramp();
        let norm = Normalization {
            mean: vec![0.5],
            std: vec![0.5],
        };
        let batcher = Batcher::sequential(&data, &norm, 1);
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
        let batch = batcher.batch(0, &Augmentation::default(), &mut rng);
        assert_eq!(batch.labels, vec![0]);
        let expected = [-1.0, -0.6, -0.2, 0.2, 0.6, 1.0];
        for (got, want) in batch.images.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{:?}", batch.images);
        }
        assert_eq!(batcher.len(), 2);
    }

    /// `got` equals the raw `pixels` divided by 255, to float rounding.
    fn assert_close(got: &[f32], pixels: &[f32]) {
        assert_eq!(got.len(), pixels.len());
        for (g, p) in got.iter().zip(pixels) {
            assert!((g - p / 255.0).abs() < 1e-6, "{got:?} vs {pixels:?}/255");
        }
    }

    #[test]
    fn flip_mirrors_rows_and_pad_crop_shifts_with_zero_fill() {
        let data = ramp();
        let norm = unit();
        let batcher = Batcher::sequential(&data, &norm, 2);
        let mut out = Vec::new();
        batcher.push_image(data.image(0), 0, 0, true, &mut out);
        assert_close(&out, &[102.0, 51.0, 0.0, 255.0, 204.0, 153.0]);
        out.clear();
        batcher.push_image(data.image(0), 1, -1, false, &mut out);
        assert_close(&out, &[0.0, 153.0, 204.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn cutout_zeroes_a_clipped_square_in_every_channel() {
        let shape = ImageShape {
            channels: 2,
            height: 4,
            width: 4,
        };
        let mut image = vec![1.0f32; 32];
        cut_out(&mut image, shape, (0, 3), 2);
        let zeros: Vec<usize> = (0..32).filter(|&i| image[i] == 0.0).collect();
        // Rows 0..1, columns 2..4 of each 4x4 plane: the square is clipped at the top edge.
        assert_eq!(zeros, vec![2, 3, 18, 19]);
    }

    #[test]
    fn shuffled_order_is_a_permutation_fixed_by_the_seed() {
        let data = ramp().select(&[0, 1, 0, 1, 0], "five");
        let norm = unit();
        let order = |seed| {
            let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
            Batcher::shuffled(&data, &norm, 2, &mut rng).order
        };
        let mut sorted = order(1);
        assert_eq!(order(1), sorted);
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
    }
}
