//! Every malformed input gets a typed error naming the file and the problem. Each case starts
//! from a real file of the shared data folder and corrupts it.

mod common;

use common::{data_dir, gunzip, scratch};
use nasr_data::{DataError, read_cifar10_batches, read_digits_csv, read_idx_images, read_idx_pair};

fn mnist(file: &str) -> std::path::PathBuf {
    data_dir().join("mnist").join(file)
}

#[test]
fn real_mnist_reads_with_the_published_counts() {
    let data = nasr_data::load("mnist".parse().unwrap(), &data_dir()).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!(&data.train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let stats = data.train.channel_stats();
    assert!((stats.mean[0] - 0.1307).abs() < 1e-4 && (stats.std[0] - 0.3081).abs() < 1e-4);
}

#[test]
fn truncated_gzip_is_reported() {
    let dir = scratch("truncated-gzip");
    let bytes = std::fs::read(mnist("t10k-labels-idx1-ubyte.gz")).unwrap();
    let path = dir.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = nasr_data::read_idx_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert!(
        err.to_string().contains("t10k-labels-idx1-ubyte.gz")
            && err.to_string().contains("truncated")
    );
}

#[test]
fn wrong_magic_number_is_reported() {
    let dir = scratch("magic");
    // A label file handed to the image reader.
    let path = dir.join("labels-as-images");
    std::fs::write(&path, gunzip(&mnist("t10k-labels-idx1-ubyte.gz"))).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("labels-as-images") && err.to_string().contains("magic"));
}

#[test]
fn image_and_label_count_mismatch_is_reported() {
    let dir = scratch("count");
    let images = dir.join("images");
    let labels = dir.join("labels");
    std::fs::write(&images, gunzip(&mnist("t10k-images-idx3-ubyte.gz"))).unwrap();
    // Keep the header consistent but drop the last label, as a mismatched pair would.
    let mut label_bytes = gunzip(&mnist("t10k-labels-idx1-ubyte.gz"));
    label_bytes.pop();
    label_bytes[4..8].copy_from_slice(&9_999u32.to_be_bytes());
    std::fs::write(&labels, label_bytes).unwrap();
    let err = read_idx_pair(&images, &labels, 10, "test").unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                image_count: 10_000,
                label_count: 9_999,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn label_out_of_range_is_reported() {
    let dir = scratch("label-range");
    let images = dir.join("images");
    let labels = dir.join("labels");
    std::fs::write(&images, gunzip(&mnist("t10k-images-idx3-ubyte.gz"))).unwrap();
    let mut label_bytes = gunzip(&mnist("t10k-labels-idx1-ubyte.gz"));
    label_bytes[8 + 17] = 12;
    std::fs::write(&labels, label_bytes).unwrap();
    let err = read_idx_pair(&images, &labels, 10, "test").unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 17,
                label: 12,
                classes: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("labels"));
}

#[test]
fn wrong_dimensions_are_reported() {
    let dir = scratch("dims");
    let path = dir.join("images");
    let mut bytes = gunzip(&mnist("t10k-images-idx3-ubyte.gz"));
    // Claim 29 rows: the header no longer matches the payload.
    bytes[8..12].copy_from_slice(&29u32.to_be_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::WrongLength { .. }), "{err:?}");
    bytes[8..12].copy_from_slice(&0u32.to_be_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::BadDimensions { .. }), "{err:?}");
    assert!(err.to_string().contains("wrong dimensions"));
}

#[test]
fn cifar_batch_with_a_partial_record_is_reported() {
    let dir = scratch("cifar");
    // Real pixels from MNIST test images, laid out as three CIFAR records, then cut short.
    let pixels = gunzip(&mnist("t10k-images-idx3-ubyte.gz"));
    let mut bytes = Vec::new();
    for record in 0..3 {
        bytes.push(record as u8);
        bytes.extend_from_slice(&pixels[16 + record * 3072..16 + (record + 1) * 3072]);
    }
    let good = dir.join("data_batch_1.bin");
    std::fs::write(&good, &bytes).unwrap();
    let data = read_cifar10_batches(std::slice::from_ref(&good), "c").unwrap();
    assert_eq!((data.len(), data.labels.clone()), (3, vec![0, 1, 2]));
    let cut = dir.join("data_batch_2.bin");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let err = read_cifar10_batches(&[cut], "c").unwrap_err();
    assert!(matches!(err, DataError::WrongLength { .. }), "{err:?}");
    bytes[3073] = 10;
    std::fs::write(&good, &bytes).unwrap();
    let err = read_cifar10_batches(&[good], "c").unwrap_err();
    assert!(
        matches!(err, DataError::LabelOutOfRange { label: 10, .. }),
        "{err:?}"
    );
}

#[test]
fn digits_csv_reads_and_bad_rows_are_named_by_line() {
    let real = data_dir().join("sklearn-digits/digits.csv.gz");
    let data = read_digits_csv(&real, "digits").unwrap();
    assert_eq!((data.len(), data.classes), (1797, 10));
    let dir = scratch("digits");
    let text = String::from_utf8(gunzip(&real)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[4] = lines[4].rsplit_once(',').unwrap().0.to_string();
    let path = dir.join("digits.csv");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let err = read_digits_csv(&path, "digits").unwrap_err();
    assert!(matches!(err, DataError::Csv { line: 5, .. }), "{err:?}");
    assert!(err.to_string().contains("expected 65 fields"));
}

#[test]
fn missing_dataset_says_how_to_fetch_it() {
    let dir = scratch("missing");
    let err = nasr_data::load("fashion-mnist".parse().unwrap(), &dir).unwrap_err();
    assert!(
        err.to_string().contains("nasr data fetch fashion-mnist"),
        "{err}"
    );
    let err = "imagenet".parse::<nasr_data::DatasetName>().unwrap_err();
    assert!(err.to_string().contains("known: mnist"), "{err}");
}
