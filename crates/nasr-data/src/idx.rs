//! IDX files (the MNIST format): a big-endian header, then `u8` data. Raw or gzip-compressed.

use std::io::Read;
use std::path::Path;

use crate::{DataError, Dataset, ImageShape};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads a whole file, decompressing it when it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Header of an IDX file: the magic number, then one u32 per dimension.
fn read_header(
    path: &Path,
    bytes: &[u8],
    expected_magic: u32,
    what: &'static str,
) -> Result<Vec<usize>, DataError> {
    let short = || DataError::WrongLength {
        path: path.to_path_buf(),
        expected: 4,
        found: bytes.len(),
    };
    let word = |at: usize| -> Option<u32> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let magic = word(0).ok_or_else(short)?;
    if magic != expected_magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: expected_magic,
            what,
        });
    }
    let rank = (expected_magic & 0xff) as usize;
    (0..rank)
        .map(|d| {
            word(4 + 4 * d)
                .map(|v| v as usize)
                .ok_or(DataError::WrongLength {
                    path: path.to_path_buf(),
                    expected: 4 + 4 * rank,
                    found: bytes.len(),
                })
        })
        .collect()
}

/// Checks that the payload after a header of `rank` dims holds exactly `expected` bytes.
fn payload<'a>(
    path: &Path,
    bytes: &'a [u8],
    rank: usize,
    expected: usize,
) -> Result<&'a [u8], DataError> {
    let data = &bytes[4 + 4 * rank..];
    if data.len() != expected {
        return Err(DataError::WrongLength {
            path: path.to_path_buf(),
            expected,
            found: data.len(),
        });
    }
    Ok(data)
}

/// Reads an IDX image file (magic 0x00000803: count x rows x cols, `u8`).
pub fn read_idx_images(path: &Path) -> Result<(ImageShape, Vec<u8>), DataError> {
    let bytes = read_maybe_gzip(path)?;
    let dims = read_header(path, &bytes, IMAGES_MAGIC, "IDX images, 3 dimensions of u8")?;
    let (count, height, width) = (dims[0], dims[1], dims[2]);
    if height == 0 || width == 0 {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            problem: format!("images of {height}x{width} pixels"),
        });
    }
    let data = payload(path, &bytes, 3, count * height * width)?;
    let shape = ImageShape {
        channels: 1,
        height,
        width,
    };
    Ok((shape, data.to_vec()))
}

/// Reads an IDX label file (magic 0x00000801: count, `u8`).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u16>, DataError> {
    let bytes = read_maybe_gzip(path)?;
    let dims = read_header(path, &bytes, LABELS_MAGIC, "IDX labels, 1 dimension of u8")?;
    let data = payload(path, &bytes, 1, dims[0])?;
    Ok(data.iter().map(|&l| u16::from(l)).collect())
}

/// Reads an image file and its label file into a dataset of `classes` classes, checking that
/// they agree on the count and that every label is in range.
pub fn read_idx_pair(
    images: &Path,
    labels: &Path,
    classes: usize,
    name: &str,
) -> Result<Dataset, DataError> {
    let (shape, pixels) = read_idx_images(images)?;
    let label_values = read_idx_labels(labels)?;
    let image_count = pixels.len() / shape.len();
    if image_count != label_values.len() {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            image_count,
            labels: labels.to_path_buf(),
            label_count: label_values.len(),
        });
    }
    let dataset = Dataset {
        name: name.to_string(),
        shape,
        classes,
        pixels,
        labels: label_values,
    };
    dataset.check_labels(labels)?;
    Ok(dataset)
}
