//! Rank correlation between two scorings of the same architectures: how well a cheap estimate
//! (a supernet, a predictor, a short training run) orders architectures like the expensive truth.

/// Kendall's tau-b: concordant minus discordant pairs, normalised with the tie correction
/// `sqrt((n0 - n1) (n0 - n2))`. In [-1, 1]; `NaN` when either side is constant or `n < 2`.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "kendall_tau needs paired scores");
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (da, db) = (a[i] - a[j], b[i] - b[j]);
            match (da == 0.0, db == 0.0) {
                (true, true) => {}
                (true, false) => ties_a += 1,
                (false, true) => ties_b += 1,
                (false, false) if (da > 0.0) == (db > 0.0) => concordant += 1,
                (false, false) => discordant += 1,
            }
        }
    }
    let untied_a = (concordant + discordant + ties_b) as f64;
    let untied_b = (concordant + discordant + ties_a) as f64;
    let denominator = (untied_a * untied_b).sqrt();
    if denominator == 0.0 {
        f64::NAN
    } else {
        (concordant - discordant) as f64 / denominator
    }
}

/// Spearman's rho: Pearson correlation of the ranks (ties share their average rank).
pub fn spearman_rho(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "spearman_rho needs paired scores");
    pearson(&ranks(a), &ranks(b))
}

/// 1-based ranks, ties averaged.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            ranks[index] = average;
        }
        start = end + 1;
    }
    ranks
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let covariance: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - mean_a) * (y - mean_b))
        .sum();
    let spread_a: f64 = a.iter().map(|x| (x - mean_a).powi(2)).sum::<f64>().sqrt();
    let spread_b: f64 = b.iter().map(|y| (y - mean_b).powi(2)).sum::<f64>().sqrt();
    if spread_a == 0.0 || spread_b == 0.0 {
        f64::NAN
    } else {
        covariance / (spread_a * spread_b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_reversed_and_hand_computed_cases() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(kendall_tau(&a, &[10.0, 20.0, 30.0, 40.0, 50.0]), 1.0);
        assert_eq!(kendall_tau(&a, &[5.0, 4.0, 3.0, 2.0, 1.0]), -1.0);
        assert!((spearman_rho(&a, &[2.0, 4.0, 8.0, 16.0, 32.0]) - 1.0).abs() < 1e-12);
        // One swapped pair of 10: tau = (9 - 1) / 10; rho = 1 - 6 * 2 / (5 * 24).
        let swapped = [1.0, 2.0, 3.0, 5.0, 4.0];
        assert!((kendall_tau(&a, &swapped) - 0.8).abs() < 1e-12);
        assert!((spearman_rho(&a, &swapped) - 0.9).abs() < 1e-12);
        // scipy.stats.kendalltau([1,2,2,3], [1,3,2,4]) = 0.912870929175277 (tau-b with a tie).
        assert!(
            (kendall_tau(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]) - 0.912_870_929_175_277)
                .abs()
                < 1e-12
        );
        assert!(kendall_tau(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }
}
