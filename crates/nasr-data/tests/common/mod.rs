//! Helpers shared by the data tests: the shared data folder and scratch folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The data folder (`NASR_DATA`, e.g. `../shared/data`).
pub fn data_dir() -> PathBuf {
    nasr_data::test_data_dir(&["mnist", "sklearn-digits"])
}

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-data-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The decompressed bytes of a gzip file.
pub fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}
