use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::DataError;

/// Channels, height and width of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Colour channels (1 for MNIST, 3 for CIFAR).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// Pixels per image, all channels.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the shape holds no pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A labelled image dataset held in memory: `u8` pixels in CHW order, one label per image.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Name, for logs and records (`mnist/train`).
    pub name: String,
    /// Shape of every image.
    pub shape: ImageShape,
    /// Number of classes; every label is below it.
    pub classes: usize,
    /// All pixels, image after image, each image channel-major (CHW).
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u16>,
}

/// Per-channel mean and standard deviation, in the [0, 1] pixel scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel.
    pub std: Vec<f32>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.shape.len();
        &self.pixels[index * size..(index + 1) * size]
    }

    /// A new dataset made of the given examples, in the given order.
    pub fn select(&self, indices: &[usize], name: &str) -> Dataset {
        let mut pixels = Vec::with_capacity(indices.len() * self.shape.len());
        for &index in indices {
            pixels.extend_from_slice(self.image(index));
        }
        Dataset {
            name: name.to_string(),
            shape: self.shape,
            classes: self.classes,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// The first `count` examples (all of them when `count` is larger).
    pub fn take(&self, count: usize) -> Dataset {
        let indices: Vec<usize> = (0..count.min(self.len())).collect();
        self.select(&indices, &self.name)
    }

    /// Splits off a validation set of `validation` examples drawn at random; the rest is for
    /// training. This is the NAS protocol: search on train, select on validation, report on test.
    pub fn split(
        &self,
        validation: usize,
        rng: &mut dyn rand::RngCore,
    ) -> Result<(Dataset, Dataset), DataError> {
        if validation >= self.len() {
            return Err(DataError::BadRequest(format!(
                "{}: cannot hold out {validation} validation examples from {}",
                self.name,
                self.len()
            )));
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        let (valid, train) = order.split_at(validation);
        // Keep each part in file order: the split decides membership, the data loader decides order.
        let (mut train, mut valid) = (train.to_vec(), valid.to_vec());
        train.sort_unstable();
        valid.sort_unstable();
        Ok((
            self.select(&train, &format!("{}/train", self.name)),
            self.select(&valid, &format!("{}/valid", self.name)),
        ))
    }

    /// Mean and standard deviation of each channel over the whole dataset, in [0, 1] scale.
    pub fn channel_stats(&self) -> Normalization {
        let channels = self.shape.channels;
        let plane = self.shape.height * self.shape.width;
        let mut sum = vec![0f64; channels];
        let mut sum_sq = vec![0f64; channels];
        for image in self.pixels.chunks_exact(self.shape.len()) {
            for (c, values) in image.chunks_exact(plane).enumerate() {
                for &v in values {
                    let v = f64::from(v) / 255.0;
                    sum[c] += v;
                    sum_sq[c] += v * v;
                }
            }
        }
        let count = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(sq, m)| ((sq / count - m * m).max(0.0).sqrt()).max(1e-6) as f32)
            .collect();
        Normalization {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    /// sha256 of the content (shape, pixels, labels): identifies the data a run used,
    /// whatever file format or compression it came from.
    pub fn content_sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for dim in [
            self.shape.channels,
            self.shape.height,
            self.shape.width,
            self.classes,
        ] {
            hasher.update((dim as u64).to_le_bytes());
        }
        hasher.update(&self.pixels);
        for label in &self.labels {
            hasher.update(label.to_le_bytes());
        }
        crate::fetch::hex(&hasher.finalize())
    }

    /// Checks that every label is a valid class index; `path` names the source in the error.
    pub(crate) fn check_labels(&self, path: &std::path::Path) -> Result<(), DataError> {
        match self
            .labels
            .iter()
            .position(|&label| usize::from(label) >= self.classes)
        {
            Some(index) => Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                label: self.labels[index],
                classes: self.classes,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn toy() -> Dataset {
        Dataset {
            name: "toy".into(),
            shape: ImageShape {
                channels: 1,
                height: 1,
                width: 2,
            },
            classes: 10,
            pixels: (0..20).collect(),
            labels: (0..10).collect(),
        }
    }

    #[test]
    fn split_partitions_the_examples_and_depends_only_on_the_seed() {
        let data = toy();
        let mut a = rand_chacha::ChaCha12Rng::seed_from_u64(3);
        let mut b = rand_chacha::ChaCha12Rng::seed_from_u64(3);
        let (train, valid) = data.split(3, &mut a).unwrap();
        assert_eq!((train.len(), valid.len()), (7, 3));
        let mut all: Vec<u16> = train.labels.iter().chain(&valid.labels).copied().collect();
        all.sort();
        assert_eq!(all, data.labels);
        assert_eq!(data.split(3, &mut b).unwrap(), (train, valid));
        assert!(data.split(10, &mut a).is_err());
    }

    #[test]
    fn channel_stats_match_hand_computation() {
        let data = Dataset {
            pixels: vec![0, 255, 255, 255],
            labels: vec![0, 1],
            ..toy()
        };
        let stats = data.channel_stats();
        assert!((stats.mean[0] - 0.75).abs() < 1e-6);
        assert!((stats.std[0] - 0.75f32.sqrt() * 0.5).abs() < 1e-6);
    }
}
