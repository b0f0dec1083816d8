//! Where nasr looks for its data folder: the folder given, else `$NASR_DATA`, else the user's
//! cache folder (where `nasr data fetch` and the demo put what they download).

use std::path::{Path, PathBuf};

/// The environment variable naming the data folder.
pub const DATA_VARIABLE: &str = "NASR_DATA";

/// `$XDG_CACHE_HOME/nasr/data`, else `~/.cache/nasr/data`, else `./nasr-data`.
pub fn cache_data_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    match cache {
        Some(cache) => cache.join("nasr").join("data"),
        None => PathBuf::from("nasr-data"),
    }
}

/// How to get each sub-folder a test may need, for the message when it is missing.
fn how_to_get(dataset: &str, cache: &Path) -> String {
    match dataset {
        "mnist" | "fashion-mnist" | "cifar10" | "cifar100" => format!(
            "download it with `nasr data fetch {dataset} --dir {}` (checksums verified)",
            cache.display()
        ),
        "nas-bench-201" => "it holds the NAS-Bench-201 accuracy table and HELP's latency table as \
             CSV, which this repository's shared data folder ships (../shared/data, see its \
             PROVENANCE.md); nasr cannot download them"
            .to_string(),
        "sklearn-digits" => "it holds scikit-learn's 8x8 digits as digits.csv.gz (64 pixel \
             counts and a label per row), which this repository's shared data folder ships \
             (../shared/data); scikit-learn's load_digits() has the same data"
            .to_string(),
        _ => "see the README's section on getting data".to_string(),
    }
}

/// The data folder for tests: `$NASR_DATA` if set, else the cache folder; it must hold every
/// sub-folder of `datasets` (`"mnist"`, `"nas-bench-201"`, ...).
///
/// # Panics
/// If a sub-folder is missing, with one message that says where it looked and how to get each
/// missing one: a test without its data fails at once and says why.
pub fn test_data_dir(datasets: &[&str]) -> PathBuf {
    let cache = cache_data_dir();
    let dir = std::env::var_os(DATA_VARIABLE)
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.clone());
    let missing: Vec<String> = datasets
        .iter()
        .filter(|dataset| !dir.join(dataset).is_dir())
        .map(|dataset| format!("- {dataset}/: {}", how_to_get(dataset, &dir)))
        .collect();
    if !missing.is_empty() {
        let looked = match std::env::var_os(DATA_VARIABLE) {
            Some(_) => format!("{DATA_VARIABLE}={}", dir.display()),
            None => format!("{} ({DATA_VARIABLE} is not set)", dir.display()),
        };
        panic!(
            "this test needs data that is not in {looked}:\n{}\nIn this repository's checkout, \
             NASR_DATA=$PWD/../shared/data holds all of it.",
            missing.join("\n")
        );
    }
    dir
}
