use super::file::Rating;

/// Mean of the ratings' values.
pub fn global_mean(ratings: &[Rating]) -> f64 {
    ratings.iter().map(|r| r.value as f64).sum::<f64>() / ratings.len().max(1) as f64
}

/// Each item's mean rating in `ratings`, or `fallback` for an item without ratings.
pub fn item_means(ratings: &[Rating], items: usize, fallback: f64) -> Vec<f64> {
    let mut sum = vec![0.0; items];
    let mut count = vec![0usize; items];
    for r in ratings {
        sum[r.item] += r.value as f64;
        count[r.item] += 1;
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &c)| if c == 0 { fallback } else { s / c as f64 })
        .collect()
}

/// Root mean squared error of `predict(rating)` over `ratings`.
pub fn rmse(ratings: &[Rating], mut predict: impl FnMut(&Rating) -> f64) -> f64 {
    let sum: f64 = ratings
        .iter()
        .map(|r| (predict(r) - r.value as f64).powi(2))
        .sum();
    (sum / ratings.len().max(1) as f64).sqrt()
}
