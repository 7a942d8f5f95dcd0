//! Using a trained AutoRec: rating predictions for every (item, user) pair, its RMSE next to
//! the global-mean and item-mean baselines, and top-N recommendations. (Training: `fit` with
//! `ItemRatingsDataset` splits.)

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Device;
use serde::Serialize;

use ae_data::ratings::{self, ItemRatingsDataset, Rating, RatingsBatcher, global_mean, item_means};
use ae_models::AutoRec;

use crate::error::Result;
use crate::eval::values;

/// Every item's predicted ratings by every user, from the items' `known` ratings:
/// `items * users` values, item after item, clamped to the rating scale.
///
/// # Errors
/// When tensors cannot be read back from the device.
pub fn predict_all(
    model: &AutoRec,
    (users, items): (usize, usize),
    known: &[Rating],
    batch_size: usize,
    device: &Device,
) -> Result<Vec<f32>> {
    // Every item, rated or not, so that row `i` is item `i`.
    let everything: Vec<Rating> = (0..items)
        .map(|item| Rating {
            user: 0,
            item,
            value: 0.0,
        })
        .collect();
    let data = ItemRatingsDataset::new(users, items, known, &everything);
    let batcher = RatingsBatcher { users };
    let mut predictions = Vec::with_capacity(items * users);
    for chunk in data.items().chunks(batch_size.max(1)) {
        let batch = batcher.batch(chunk.to_vec(), device);
        predictions.extend(values(model.predict(batch.input))?);
    }
    Ok(predictions)
}

/// Test RMSE of AutoRec next to the two baselines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatingsReport {
    /// Held-out ratings scored.
    pub test_ratings: usize,
    /// RMSE of AutoRec's predictions.
    pub autorec_rmse: f64,
    /// RMSE of predicting the training mean everywhere.
    pub global_mean_rmse: f64,
    /// RMSE of predicting each item's training mean (the global mean for unseen items).
    pub item_mean_rmse: f64,
}

/// Scores `predictions` (from [`predict_all`]) on `test`, next to the global-mean and
/// item-mean baselines fitted on `train`.
pub fn ratings_report(
    predictions: &[f32],
    (users, items): (usize, usize),
    train: &[Rating],
    test: &[Rating],
) -> RatingsReport {
    let mean = global_mean(train);
    let means = item_means(train, items, mean);
    RatingsReport {
        test_ratings: test.len(),
        autorec_rmse: ratings::rmse(test, |r| predictions[r.item * users + r.user] as f64),
        global_mean_rmse: ratings::rmse(test, |_| mean),
        item_mean_rmse: ratings::rmse(test, |r| means[r.item]),
    }
}

/// The `n` items with the highest predicted rating for `user` among those the user has not
/// rated in `known`, best first, with the predicted rating.
pub fn top_n(
    predictions: &[f32],
    users: usize,
    user: usize,
    known: &[Rating],
    n: usize,
) -> Vec<(usize, f32)> {
    let seen: std::collections::HashSet<usize> = known
        .iter()
        .filter(|r| r.user == user)
        .map(|r| r.item)
        .collect();
    let mut candidates: Vec<(usize, f32)> = predictions
        .chunks(users)
        .enumerate()
        .filter(|(item, _)| !seen.contains(item))
        .map(|(item, row)| (item, row[user]))
        .collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    candidates.truncate(n);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_skips_rated_items() {
        // 3 items x 2 users.
        let predictions = [4.0, 1.0, 5.0, 2.0, 3.0, 3.0];
        let known = [Rating {
            user: 0,
            item: 1,
            value: 4.0,
        }];
        assert_eq!(top_n(&predictions, 2, 0, &known, 2), [(0, 4.0), (2, 3.0)]);
        assert_eq!(top_n(&predictions, 2, 1, &known, 1), [(2, 3.0)]);
    }
}
