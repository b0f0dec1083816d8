//! CIFAR binary batches: each record is its label byte(s) then 3x32x32 `u8` pixels, planar RGB.

use std::path::{Path, PathBuf};

use crate::{DataError, Dataset, ImageShape};

const SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// Reads records of `label_bytes` label bytes (the last of which is the class) + 3072 pixels.
fn read_records(
    path: &Path,
    label_bytes: usize,
    classes: usize,
    into: &mut Dataset,
) -> Result<(), DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let record = label_bytes + SHAPE.len();
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(DataError::WrongLength {
            path: path.to_path_buf(),
            expected: bytes.len().div_ceil(record).max(1) * record,
            found: bytes.len(),
        });
    }
    let first = into.len();
    for chunk in bytes.chunks_exact(record) {
        into.labels.push(u16::from(chunk[label_bytes - 1]));
        into.pixels.extend_from_slice(&chunk[label_bytes..]);
    }
    if let Some(offset) = into.labels[first..]
        .iter()
        .position(|&l| usize::from(l) >= classes)
    {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index: offset,
            label: into.labels[first + offset],
            classes,
        });
    }
    Ok(())
}

fn empty(name: &str, classes: usize) -> Dataset {
    Dataset {
        name: name.to_string(),
        shape: SHAPE,
        classes,
        pixels: Vec::new(),
        labels: Vec::new(),
    }
}

/// Reads CIFAR-10 binary batch files (`data_batch_1.bin` ...) into one dataset.
pub fn read_cifar10_batches(paths: &[PathBuf], name: &str) -> Result<Dataset, DataError> {
    let mut dataset = empty(name, 10);
    for path in paths {
        read_records(path, 1, 10, &mut dataset)?;
    }
    Ok(dataset)
}

/// Reads a CIFAR-100 binary file (`train.bin` or `test.bin`) with its 100 fine labels.
pub fn read_cifar100(path: &Path, name: &str) -> Result<Dataset, DataError> {
    let mut dataset = empty(name, 100);
    // Each record carries the coarse label, then the fine label.
    read_records(path, 2, 100, &mut dataset)?;
    Ok(dataset)
}
