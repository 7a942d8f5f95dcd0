//! Using a trained AutoRec: rating predictions at the (item, user) pairs asked for, its RMSE next to
//! the global-mean and item-mean baselines, and top-N recommendations. (Training: `fit` with
//! `ItemRatingsDataset` splits.)

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Device;
use serde::Serialize;

use ae_data::ratings::{self, ItemRatingsDataset, Rating, RatingsBatcher, global_mean, item_means};
use ae_models::AutoRec;

use crate::error::{Result, TrainError};
use crate::eval::values;

/// Predicted ratings at `queries` (`(item, user)` pairs), from the items' `known` ratings,
/// clamped to the rating scale, in the order of `queries`. Items are predicted `batch_size` at a
/// time and only the queried values kept, so memory stays at a batch of item vectors
/// (`batch_size * users` values), never the whole `items * users` matrix (14 GB for 60,000
/// users and items).
///
/// # Errors
/// When a query names an item or user past `items` or `users`, or tensors cannot be read back.
pub fn predict_at(
    model: &AutoRec,
    (users, items): (usize, usize),
    known: &[Rating],
    queries: &[(usize, usize)],
    batch_size: usize,
    device: &Device,
) -> Result<Vec<f32>> {
    if let Some(&(item, user)) = queries.iter().find(|&&(i, u)| i >= items || u >= users) {
        return Err(TrainError::InvalidArgument {
            what: "rating query",
            message: format!("item {item}, user {user} of {items} items and {users} users"),
        });
    }
    // The queried items, each once, in order; then which queries each answers.
    let mut wanted: Vec<usize> = queries.iter().map(|&(item, _)| item).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let rows: Vec<Rating> = wanted
        .iter()
        .map(|&item| Rating {
            user: 0,
            item,
            value: 0.0,
        })
        .collect();
    let data = ItemRatingsDataset::new(users, items, known, &rows);
    let batcher = RatingsBatcher { users };
    let mut by_item: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    for (q, &(item, _)) in queries.iter().enumerate() {
        by_item.entry(item).or_default().push(q);
    }
    let mut answers = vec![0f32; queries.len()];
    for chunk in data.items().chunks(batch_size.max(1)) {
        let batch = batcher.batch(chunk.to_vec(), device);
        let predicted = values(model.predict(batch.input))?;
        for (row, item) in chunk.iter().enumerate() {
            for &q in by_item.get(&item.item).into_iter().flatten() {
                answers[q] = predicted[row * users + queries[q].1];
            }
        }
    }
    Ok(answers)
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

/// Scores `predictions` (from [`predict_at`], one per rating of `test`, in its order) on
/// `test`, next to the global-mean and item-mean baselines fitted on `train`.
pub fn ratings_report(
    predictions: &[f32],
    items: usize,
    train: &[Rating],
    test: &[Rating],
) -> RatingsReport {
    let mean = global_mean(train);
    let means = item_means(train, items, mean);
    let mut next = predictions.iter();
    RatingsReport {
        test_ratings: test.len(),
        autorec_rmse: ratings::rmse(test, |_| next.next().copied().map_or(f64::NAN, f64::from)),
        global_mean_rmse: ratings::rmse(test, |_| mean),
        item_mean_rmse: ratings::rmse(test, |r| means[r.item]),
    }
}

/// The `n` items with the highest predicted rating for `user` among those the user has not
/// rated in `known`, best first, with the predicted rating; `predictions` holds the user's
/// predicted rating of every item (from [`predict_at`]), item after item.
pub fn top_n(predictions: &[f32], user: usize, known: &[Rating], n: usize) -> Vec<(usize, f32)> {
    let seen: std::collections::HashSet<usize> = known
        .iter()
        .filter(|r| r.user == user)
        .map(|r| r.item)
        .collect();
    let mut candidates: Vec<(usize, f32)> = predictions
        .iter()
        .copied()
        .enumerate()
        .filter(|(item, _)| !seen.contains(item))
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
        // User 0's predictions of 3 items; item 1 is rated already.
        let predictions = [4.0, 5.0, 3.0];
        let known = [Rating {
            user: 0,
            item: 1,
            value: 4.0,
        }];
        assert_eq!(top_n(&predictions, 0, &known, 2), [(0, 4.0), (2, 3.0)]);
        // User 1 rated nothing: every item is a candidate.
        assert_eq!(top_n(&predictions, 1, &known, 1), [(1, 5.0)]);
    }
}
