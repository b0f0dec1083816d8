//! The datasets nasr knows by name, and where it finds their files under a data folder.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{
    DataError, Dataset, read_cifar10_batches, read_cifar100, read_digits_csv, read_idx_pair,
};

/// A dataset nasr can read (and, except digits, download).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// MNIST handwritten digits, 28x28x1, 60k train + 10k test.
    Mnist,
    /// Fashion-MNIST, 28x28x1, 60k train + 10k test.
    FashionMnist,
    /// CIFAR-10, 32x32x3, 50k train + 10k test.
    Cifar10,
    /// CIFAR-100 (fine labels), 32x32x3, 50k train + 10k test.
    Cifar100,
    /// scikit-learn's 8x8 digits, 1,797 images: the first 1,437 are train, the last 360 test.
    Digits,
}

/// The two official parts of a dataset. Validation is split off `train` by the caller.
#[derive(Debug, Clone)]
pub struct TrainTest {
    /// The training set.
    pub train: Dataset,
    /// The test set, used only for the final report.
    pub test: Dataset,
}

const ALL: [DatasetName; 5] = [
    DatasetName::Mnist,
    DatasetName::FashionMnist,
    DatasetName::Cifar10,
    DatasetName::Cifar100,
    DatasetName::Digits,
];

impl DatasetName {
    /// The name used on the command line and as the folder name under the data folder.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar10",
            Self::Cifar100 => "cifar100",
            Self::Digits => "sklearn-digits",
        }
    }

    /// The folder holding this dataset's files under `data_dir`.
    pub fn folder(self, data_dir: &Path) -> PathBuf {
        data_dir.join(self.as_str())
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    fn from_str(name: &str) -> Result<Self, DataError> {
        let wanted = if name == "digits" {
            "sklearn-digits"
        } else {
            name
        };
        ALL.into_iter()
            .find(|d| d.as_str() == wanted)
            .ok_or_else(|| DataError::UnknownDataset {
                name: name.to_string(),
                known: ALL.map(|d| d.as_str()).join(", "),
            })
    }
}

/// Loads the train and test parts of `name` from its folder under `data_dir`.
pub fn load(name: DatasetName, data_dir: &Path) -> Result<TrainTest, DataError> {
    let folder = name.folder(data_dir);
    let file = |file_name: &str| existing(name, data_dir, folder.join(file_name));
    match name {
        DatasetName::Mnist | DatasetName::FashionMnist => {
            let part = |images: &str, labels: &str, split: &str| -> Result<Dataset, DataError> {
                read_idx_pair(
                    &file(images)?,
                    &file(labels)?,
                    10,
                    &format!("{name}/{split}"),
                )
            };
            Ok(TrainTest {
                train: part(
                    "train-images-idx3-ubyte.gz",
                    "train-labels-idx1-ubyte.gz",
                    "train",
                )?,
                test: part(
                    "t10k-images-idx3-ubyte.gz",
                    "t10k-labels-idx1-ubyte.gz",
                    "test",
                )?,
            })
        }
        DatasetName::Cifar10 => {
            let train: Vec<PathBuf> = (1..=5)
                .map(|i| file(&format!("data_batch_{i}.bin")))
                .collect::<Result<_, _>>()?;
            Ok(TrainTest {
                train: read_cifar10_batches(&train, "cifar10/train")?,
                test: read_cifar10_batches(&[file("test_batch.bin")?], "cifar10/test")?,
            })
        }
        DatasetName::Cifar100 => Ok(TrainTest {
            train: read_cifar100(&file("train.bin")?, "cifar100/train")?,
            test: read_cifar100(&file("test.bin")?, "cifar100/test")?,
        }),
        DatasetName::Digits => {
            let all = read_digits_csv(&file("digits.csv.gz")?, "sklearn-digits")?;
            let train: Vec<usize> = (0..1437.min(all.len())).collect();
            let test: Vec<usize> = (train.len()..all.len()).collect();
            Ok(TrainTest {
                train: all.select(&train, "sklearn-digits/train"),
                test: all.select(&test, "sklearn-digits/test"),
            })
        }
    }
}

/// `path`, or the same name without `.gz` when only the uncompressed file is there.
fn existing(name: DatasetName, data_dir: &Path, path: PathBuf) -> Result<PathBuf, DataError> {
    if path.is_file() {
        return Ok(path);
    }
    if let Some(raw) = path
        .to_str()
        .and_then(|p| p.strip_suffix(".gz"))
        .map(PathBuf::from)
        && raw.is_file()
    {
        return Ok(raw);
    }
    let hint = if name == DatasetName::Digits {
        "copy scikit-learn's sklearn/datasets/data/digits.csv.gz there".to_string()
    } else {
        format!(
            "run `nasr data fetch {name} --dir {}` to download it",
            data_dir.display()
        )
    };
    Err(DataError::Missing { path, hint })
}
