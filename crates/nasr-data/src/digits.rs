//! scikit-learn's 8x8 digits: CSV (optionally gzipped), 64 pixel counts in 0..=16, then the label.

use std::path::Path;

use crate::idx::read_maybe_gzip;
use crate::{DataError, Dataset, ImageShape};

/// Reads the digits CSV. Pixel counts 0..=16 are scaled to 0..=255 so that every dataset
/// shares one pixel scale.
pub fn read_digits_csv(path: &Path, name: &str) -> Result<Dataset, DataError> {
    let bytes = read_maybe_gzip(path)?;
    let text = String::from_utf8(bytes).map_err(|_| DataError::Csv {
        path: path.to_path_buf(),
        line: 0,
        problem: "not UTF-8 text".into(),
    })?;
    let mut dataset = Dataset {
        name: name.to_string(),
        shape: ImageShape {
            channels: 1,
            height: 8,
            width: 8,
        },
        classes: 10,
        pixels: Vec::new(),
        labels: Vec::new(),
    };
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |problem: String| DataError::Csv {
            path: path.to_path_buf(),
            line: number + 1,
            problem,
        };
        let values: Vec<u32> = line
            .split(',')
            .map(|field| {
                let field = field.trim();
                field
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.fract() == 0.0 && *v >= 0.0)
                    .map(|v| v as u32)
                    .ok_or_else(|| bad(format!("{field:?} is not a non-negative integer")))
            })
            .collect::<Result<_, _>>()?;
        if values.len() != 65 {
            return Err(bad(format!(
                "expected 65 fields (64 pixels + label), found {}",
                values.len()
            )));
        }
        if let Some(v) = values[..64].iter().find(|&&v| v > 16) {
            return Err(bad(format!("pixel count {v} is above 16")));
        }
        dataset
            .pixels
            .extend(values[..64].iter().map(|&v| ((v * 255 + 8) / 16) as u8));
        dataset
            .labels
            .push(values[64].min(u32::from(u16::MAX)) as u16);
    }
    dataset.check_labels(path)?;
    Ok(dataset)
}
