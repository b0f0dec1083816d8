//! Images to classify (`nasr predict`), from the files nasr reads: an IDX image file (gzipped
//! or not), a CIFAR-10 binary batch (its labels come along), PNG files, or a folder of PNGs.
//! Nothing is resized: an image of another size than the model's is an error naming the file.

use std::path::{Path, PathBuf};

use crate::{DataError, Dataset, ImageShape};

/// Images in CHW `u8` order, one name each (the file, with the index inside it where a file
/// holds many), with labels where the file carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// Shape of every image.
    pub shape: ImageShape,
    /// All pixels, image after image.
    pub pixels: Vec<u8>,
    /// One name per image.
    pub names: Vec<String>,
    /// One label per image, where the file has them (CIFAR batches).
    pub labels: Option<Vec<u16>>,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The first `count` images (all where there are fewer).
    pub fn first(mut self, count: usize) -> Self {
        let count = count.min(self.len());
        self.pixels.truncate(count * self.shape.len());
        self.names.truncate(count);
        if let Some(labels) = &mut self.labels {
            labels.truncate(count);
        }
        self
    }

    /// The images as a dataset of `classes` classes (label 0 where there are none).
    pub fn to_dataset(&self, classes: usize) -> Dataset {
        Dataset {
            name: "images".into(),
            shape: self.shape,
            classes,
            pixels: self.pixels.clone(),
            labels: self.labels.clone().unwrap_or_else(|| vec![0; self.len()]),
        }
    }
}

/// The images of `paths` (each an IDX image file, a CIFAR-10 `.bin` batch, a `.png` file or a
/// folder of `.png` files), checked against `shape`: the model's input. PNGs are read as
/// grey for one channel and RGB for three.
pub fn read_images(paths: &[PathBuf], shape: ImageShape) -> Result<Images, DataError> {
    let mut all = Images {
        shape,
        pixels: Vec::new(),
        names: Vec::new(),
        labels: Some(Vec::new()),
    };
    for path in paths {
        let part = read_one(path, shape)?;
        all.pixels.extend(part.pixels);
        all.names.extend(part.names);
        all.labels = match (all.labels, part.labels) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
    }
    if all.is_empty() {
        return Err(DataError::BadRequest(format!(
            "no images in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(all)
}

fn read_one(path: &Path, shape: ImageShape) -> Result<Images, DataError> {
    if path.is_dir() {
        return read_png_folder(path, shape);
    }
    match extension(path).as_str() {
        "png" => read_png(path, shape),
        "bin" => {
            let dataset = crate::read_cifar10_batches(&[path.to_path_buf()], "images")?;
            checked(path, dataset.shape, shape)?;
            Ok(Images {
                names: numbered(path, dataset.len()),
                shape,
                pixels: dataset.pixels,
                labels: Some(dataset.labels),
            })
        }
        _ => {
            let (found, pixels) = crate::read_idx_images(path)?;
            checked(path, found, shape)?;
            Ok(Images {
                names: numbered(path, pixels.len() / shape.len()),
                shape,
                pixels,
                labels: None,
            })
        }
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The file's name without its folder, as an image is named in predictions.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// `file#index` per image of a file holding many.
fn numbered(path: &Path, count: usize) -> Vec<String> {
    let name = file_name(path);
    (0..count).map(|i| format!("{name}#{i}")).collect()
}

fn checked(path: &Path, found: ImageShape, expected: ImageShape) -> Result<(), DataError> {
    if found == expected {
        return Ok(());
    }
    Err(DataError::BadDimensions {
        path: path.to_path_buf(),
        problem: format!(
            "images of {}x{}x{} (channels x height x width); the model takes {}x{}x{}",
            found.channels,
            found.height,
            found.width,
            expected.channels,
            expected.height,
            expected.width
        ),
    })
}

fn read_png_folder(folder: &Path, shape: ImageShape) -> Result<Images, DataError> {
    let entries = std::fs::read_dir(folder).map_err(|e| DataError::io(folder, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(folder, e))?.path();
        if extension(&path) == "png" {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::BadRequest(format!(
            "{}: the folder holds no .png files",
            folder.display()
        )));
    }
    read_images(&files, shape)
}

fn read_png(path: &Path, shape: ImageShape) -> Result<Images, DataError> {
    let bad = |problem: String| DataError::BadDimensions {
        path: path.to_path_buf(),
        problem,
    };
    let image = image::open(path).map_err(|e| match e {
        image::ImageError::IoError(source) => DataError::io(path, source),
        other => bad(format!("not a readable PNG ({other})")),
    })?;
    let found = |channels| ImageShape {
        channels,
        height: image.height() as usize,
        width: image.width() as usize,
    };
    let pixels = match shape.channels {
        1 => image.to_luma8().into_raw(),
        3 => planar(&image.to_rgb8().into_raw(), 3),
        channels => return Err(bad(format!("a model of {channels} channels takes no PNGs"))),
    };
    checked(path, found(shape.channels), shape)?;
    Ok(Images {
        shape,
        pixels,
        names: vec![file_name(path)],
        labels: None,
    })
}

/// Interleaved pixels (HWC) in planar order (CHW).
fn planar(interleaved: &[u8], channels: usize) -> Vec<u8> {
    let pixels = interleaved.len() / channels;
    (0..channels)
        .flat_map(|c| (0..pixels).map(move |p| interleaved[p * channels + c]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_rgb_becomes_planar() {
        assert_eq!(planar(&[1, 2, 3, 4, 5, 6], 3), vec![1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn a_png_of_another_size_is_refused_naming_the_file_and_both_shapes() {
        let dir = std::env::temp_dir().join(format!("nasr-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wide.png");
        image::GrayImage::new(30, 28).save(&path).unwrap();
        let shape = ImageShape {
            channels: 1,
            height: 28,
            width: 28,
        };
        let err = read_images(std::slice::from_ref(&path), shape)
            .unwrap_err()
            .to_string();
        assert!(err.contains("wide.png"), "{err}");
        assert!(err.contains("1x28x30") && err.contains("1x28x28"), "{err}");
        let square = dir.join("square.png");
        let mut image = image::GrayImage::new(28, 28);
        image.put_pixel(3, 2, image::Luma([200]));
        image.save(&square).unwrap();
        let read = read_images(&[square], shape).unwrap();
        assert_eq!(read.pixels.len(), 784);
        assert_eq!(read.pixels[2 * 28 + 3], 200);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
