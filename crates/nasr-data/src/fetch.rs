//! Checksum-verified download of the public datasets.
//!
//! Every file is fetched into memory and checked against its published sha256 before anything
//! is written under the target folder; files are then written under a temporary name and
//! renamed, so an interrupted or tampered download never leaves a file that looks complete.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{DataError, DatasetName};

/// What a published checksum covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// sha256 of the bytes as downloaded.
    Raw(&'static str),
    /// sha256 of the gzip file's decompressed content. Used for MNIST, whose mirrors differ in
    /// gzip wrapping but not in content.
    Gunzipped(&'static str),
}

/// One file of a dataset as published.
#[derive(Debug, Clone, Copy)]
pub struct RemoteFile {
    /// File name, appended to the mirror URL.
    pub name: &'static str,
    /// Its published checksum.
    pub checksum: Checksum,
    /// For a tar.gz archive: the member names to extract (by their last path component).
    pub extract: &'static [&'static str],
}

/// Where a dataset is published and what it consists of.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// The dataset.
    pub dataset: DatasetName,
    /// The default mirror (a URL prefix).
    pub mirror: &'static str,
    /// Its files.
    pub files: &'static [RemoteFile],
}

const fn gunzipped(name: &'static str, sha256: &'static str) -> RemoteFile {
    RemoteFile {
        name,
        checksum: Checksum::Gunzipped(sha256),
        extract: &[],
    }
}

const fn raw(name: &'static str, sha256: &'static str) -> RemoteFile {
    RemoteFile {
        name,
        checksum: Checksum::Raw(sha256),
        extract: &[],
    }
}

const MNIST: Source = Source {
    dataset: DatasetName::Mnist,
    mirror: "https://ossci-datasets.s3.amazonaws.com/mnist",
    files: &[
        gunzipped(
            "train-images-idx3-ubyte.gz",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        gunzipped(
            "train-labels-idx1-ubyte.gz",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        gunzipped(
            "t10k-images-idx3-ubyte.gz",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        gunzipped(
            "t10k-labels-idx1-ubyte.gz",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ],
};

const FASHION_MNIST: Source = Source {
    dataset: DatasetName::FashionMnist,
    mirror: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
    files: &[
        raw(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        raw(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        raw(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        raw(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
    ],
};

const CIFAR10: Source = Source {
    dataset: DatasetName::Cifar10,
    mirror: "https://www.cs.toronto.edu/~kriz",
    files: &[RemoteFile {
        name: "cifar-10-binary.tar.gz",
        checksum: Checksum::Raw("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
        extract: &[
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin",
            "test_batch.bin",
        ],
    }],
};

const CIFAR100: Source = Source {
    dataset: DatasetName::Cifar100,
    mirror: "https://www.cs.toronto.edu/~kriz",
    files: &[RemoteFile {
        name: "cifar-100-binary.tar.gz",
        checksum: Checksum::Raw("58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"),
        extract: &["train.bin", "test.bin"],
    }],
};

/// Where `dataset` is published, or an error for datasets nasr cannot download.
pub fn source(dataset: DatasetName) -> Result<Source, DataError> {
    match dataset {
        DatasetName::Mnist => Ok(MNIST),
        DatasetName::FashionMnist => Ok(FASHION_MNIST),
        DatasetName::Cifar10 => Ok(CIFAR10),
        DatasetName::Cifar100 => Ok(CIFAR100),
        DatasetName::Digits => Err(DataError::BadRequest(
            "sklearn-digits has no download: it ships inside scikit-learn (sklearn/datasets/data/digits.csv.gz)"
                .into(),
        )),
    }
}

/// Progress of a download: file name, bytes so far, total bytes when the server said.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, Option<u64>);

/// Downloads `dataset` into `data_dir/<name>/` from `mirror` (the default when `None`), verifies
/// every file, then writes them. Files already present with the right checksum are kept.
/// Returns the paths written or kept.
pub fn fetch(
    dataset: DatasetName,
    data_dir: &Path,
    mirror: Option<&str>,
    progress: Progress<'_>,
) -> Result<Vec<PathBuf>, DataError> {
    let source = source(dataset)?;
    let mirror = mirror.unwrap_or(source.mirror).trim_end_matches('/');
    let folder = dataset.folder(data_dir);
    let mut verified = Vec::new();
    for file in source.files {
        let local = folder.join(file.name);
        if file.extract.is_empty() && local.is_file() {
            let bytes = std::fs::read(&local).map_err(|e| DataError::io(&local, e))?;
            if verify(file, &local.display().to_string(), &bytes).is_ok() {
                verified.push((file, None));
                continue;
            }
        }
        let url = format!("{mirror}/{}", file.name);
        let bytes = download(&url, file.name, progress)?;
        verify(file, &url, &bytes)?;
        verified.push((file, Some(bytes)));
    }
    // Everything has arrived and matches its checksum: only now touch the target folder.
    std::fs::create_dir_all(&folder).map_err(|e| DataError::io(&folder, e))?;
    let mut written = Vec::new();
    for (file, bytes) in verified {
        match bytes {
            None => written.push(folder.join(file.name)),
            Some(bytes) if file.extract.is_empty() => {
                written.push(write_atomically(&folder.join(file.name), &bytes)?)
            }
            Some(bytes) => written.extend(extract(file, &bytes, &folder)?),
        }
    }
    Ok(written)
}

/// Checks `bytes` against the file's published checksum; `label` names it in the error.
pub fn verify(file: &RemoteFile, label: &str, bytes: &[u8]) -> Result<(), DataError> {
    let (expected, found) = match file.checksum {
        Checksum::Raw(expected) => (expected, sha256_hex(bytes)),
        Checksum::Gunzipped(expected) => {
            let mut content = Vec::new();
            let found = match flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut content) {
                Ok(_) => sha256_hex(&content),
                Err(e) => format!("(not valid gzip: {e})"),
            };
            (expected, found)
        }
    };
    if found == expected {
        Ok(())
    } else {
        Err(DataError::Checksum {
            file: label.to_string(),
            expected: expected.to_string(),
            found,
        })
    }
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of a digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn download(url: &str, name: &str, progress: Progress<'_>) -> Result<Vec<u8>, DataError> {
    let failed = |problem: String| DataError::Download {
        url: url.to_string(),
        problem,
    };
    let mut response = ureq::get(url).call().map_err(|e| failed(e.to_string()))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| failed(e.to_string()))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        progress(name, bytes.len() as u64, total);
    }
    if let Some(total) = total
        && bytes.len() as u64 != total
    {
        return Err(failed(format!(
            "connection closed after {} of {total} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Writes under a temporary name, syncs, then renames: readers never see a partial file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<PathBuf, DataError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("download");
    let partial = path.with_file_name(format!(".{name}.partial"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&partial)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    };
    write().map_err(|e| DataError::io(path, e))?;
    Ok(path.to_path_buf())
}

/// Extracts the wanted members of a verified tar.gz archive into `folder`.
fn extract(file: &RemoteFile, archive: &[u8], folder: &Path) -> Result<Vec<PathBuf>, DataError> {
    let bad = |e: std::io::Error| DataError::Gzip {
        path: PathBuf::from(file.name),
        source: e,
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut written = Vec::new();
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let Some(member) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if file.extract.contains(&member) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(bad)?;
            written.push(write_atomically(&folder.join(member), &bytes)?);
        }
    }
    if written.len() != file.extract.len() {
        return Err(DataError::BadRequest(format!(
            "{}: expected members {:?}, found only {} of them",
            file.name,
            file.extract,
            written.len()
        )));
    }
    Ok(written)
}
