//! Datasets for nasr: readers for the standard formats, splits, batching, augmentation and
//! checksum-verified download.
//!
//! Images are kept as `u8` pixels in CHW order; they become normalised `f32` only when a batch
//! is built. Every reader checks what it reads and names the file and the problem when the
//! input is malformed. This crate does not depend on any tensor library.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod batch;
mod catalog;
mod cifar;
mod dataset;
mod digits;
mod error;
pub mod fetch;
mod folder;
mod idx;
mod images;

pub use batch::{Augmentation, Batch, Batcher};
pub use catalog::{DatasetName, TrainTest, load};
pub use cifar::{read_cifar10_batches, read_cifar100};
pub use dataset::{Dataset, ImageShape, Normalization};
pub use digits::read_digits_csv;
pub use error::DataError;
pub use folder::{DATA_VARIABLE, cache_data_dir, test_data_dir};
pub use idx::{read_idx_images, read_idx_labels, read_idx_pair};
pub use images::{Images, read_images};
