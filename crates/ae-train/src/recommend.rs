//! Training and using AutoRec: burn-train's learner with a masked RMSE metric, rating
//! predictions for held-out pairs, baselines, and top-N recommendations.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorReadError};
use burn::train::metric::{
    Adaptor, LossInput, LossMetric, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};
use burn::train::{InferenceStep, ItemLazy, TrainOutput, TrainStep};
use serde::Serialize;

use ae_data::ratings::{
    self, ItemRatingsDataset, Rating, RatingsBatch, RatingsBatcher, global_mean, item_means,
};
use ae_models::AutoRec;

use crate::error::Result;
use crate::evaluate::values;
use crate::metrics::{LossTermMetric, LossTermsInput};
use crate::train::{Fitted, TrainingConfig, check_splits, fit_learner, loaders};

/// Wraps an [`AutoRec`] model for burn-train.
#[derive(Module, Debug)]
pub struct AutoRecLearner {
    /// The model being trained.
    pub model: AutoRec,
}

/// What a training or validation step of AutoRec hands to the metrics.
pub struct RatingsOutput {
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// Named loss terms.
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// Predicted ratings, clamped to the rating scale.
    ///
    /// # Shapes
    /// `[N, users]`
    pub predictions: Tensor<2>,
    /// # Shapes
    /// `[N, users]`
    pub target: Tensor<2>,
    /// # Shapes
    /// `[N, users]`
    pub mask: Tensor<2>,
}

impl AutoRecLearner {
    fn output(&self, batch: RatingsBatch) -> RatingsOutput {
        let config = self.model.config();
        let (min, max) = (config.min_rating, config.max_rating);
        let output = self
            .model
            .forward(batch.input, batch.target.clone(), batch.mask.clone());
        RatingsOutput {
            loss: output.loss,
            terms: output
                .terms
                .into_iter()
                .map(|t| (t.name, t.value))
                .collect(),
            predictions: output.predictions.clamp(min, max),
            target: batch.target,
            mask: batch.mask,
        }
    }
}

impl TrainStep for AutoRecLearner {
    type Input = RatingsBatch;
    type Output = RatingsOutput;

    fn step(&self, batch: RatingsBatch) -> TrainOutput<RatingsOutput> {
        let output = self.output(batch);
        let grads = output.loss.backward();
        TrainOutput::new(self, grads, output)
    }
}

impl InferenceStep for AutoRecLearner {
    type Input = RatingsBatch;
    type Output = RatingsOutput;

    fn step(&self, batch: RatingsBatch) -> RatingsOutput {
        self.output(batch)
    }
}

impl ItemLazy for RatingsOutput {
    fn sync(self) -> std::result::Result<Self, burn::tensor::ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            terms: self
                .terms
                .into_iter()
                .map(|(n, t)| (n, t.without_autodiff()))
                .collect(),
            predictions: self.predictions.without_autodiff(),
            target: self.target.without_autodiff(),
            mask: self.mask.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for RatingsOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<LossTermsInput> for RatingsOutput {
    fn adapt(&self) -> LossTermsInput {
        LossTermsInput {
            terms: self.terms.clone(),
            batch_size: self.target.dims()[0],
        }
    }
}

/// Predictions, targets and the mask of observed targets, for [`RmseMetric`].
pub struct MaskedInput {
    /// # Shapes
    /// `[N, M]`
    pub predictions: Tensor<2>,
    /// # Shapes
    /// `[N, M]`
    pub target: Tensor<2>,
    /// # Shapes
    /// `[N, M]`
    pub mask: Tensor<2>,
}

impl Adaptor<MaskedInput> for RatingsOutput {
    fn adapt(&self) -> MaskedInput {
        MaskedInput {
            predictions: self.predictions.clone(),
            target: self.target.clone(),
            mask: self.mask.clone(),
        }
    }
}

/// Root mean squared error over the observed entries of an epoch (every rating weighs the same,
/// whatever batch it falls in).
#[derive(Clone)]
pub struct RmseMetric {
    name: MetricName,
    squared: f64,
    count: usize,
    batch: (f64, usize),
}

impl Default for RmseMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl RmseMetric {
    /// A metric named "RMSE".
    pub fn new() -> Self {
        Self {
            name: Arc::new("RMSE".to_string()),
            squared: 0.0,
            count: 0,
            batch: (f64::NAN, 0),
        }
    }

    fn epoch_value(&self) -> f64 {
        (self.squared / self.count.max(1) as f64).sqrt()
    }

    fn entry(&self, final_entry: bool) -> SerializedEntry {
        let epoch = self.epoch_value();
        let formatted = format!("epoch {epoch:.4} - batch {:.4}", self.batch.0);
        let serialized = if final_entry {
            NumericEntry::Final(epoch).serialize()
        } else {
            NumericEntry::Aggregated {
                aggregated_value: self.batch.0,
                count: self.batch.1,
            }
            .serialize()
        };
        SerializedEntry::new(formatted, serialized)
    }
}

impl Metric for RmseMetric {
    type Input = MaskedInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        input: &MaskedInput,
        _metadata: &MetricMetadata,
    ) -> std::result::Result<SerializedEntry, TensorReadError> {
        let diff = (input.predictions.clone() - input.target.clone()) * input.mask.clone();
        let squared = diff.square().sum().try_into_scalar::<f64>()?;
        let count = input.mask.clone().sum().try_into_scalar::<f64>()?.round() as usize;
        self.squared += squared;
        self.count += count;
        self.batch = ((squared / count.max(1) as f64).sqrt(), count);
        Ok(self.entry(false))
    }

    fn compute(&mut self) -> std::result::Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(true))
    }

    fn clear(&mut self) {
        *self = Self::new();
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }
}

impl Numeric for RmseMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.batch.0,
            count: self.batch.1,
        })
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.epoch_value(),
            count: self.count,
        })
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.epoch_value())
    }
}

/// Trains item-based AutoRec on `train` ratings, validating on `test` ratings (each item's
/// training ratings as input, its held-out ratings as targets), with burn-train: loss, its terms
/// and RMSE, plus the checkpoints, resume and logs of [`fit`](crate::fit).
///
/// # Errors
/// On invalid settings, no ratings, a missing checkpoint on resume, or a failed run.
#[allow(clippy::too_many_arguments)]
pub fn fit_autorec(
    model: AutoRec,
    (users, items): (usize, usize),
    train: &[Rating],
    test: &[Rating],
    config: &TrainingConfig,
    run_dir: &Path,
    device: &Device,
    resume: bool,
) -> Result<Fitted<AutoRec>> {
    let train_items = ItemRatingsDataset::new(users, items, train, train);
    let test_items = ItemRatingsDataset::new(users, items, train, test);
    let train_count = burn::data::dataset::Dataset::len(&train_items);
    check_splits(train_count, burn::data::dataset::Dataset::len(&test_items))?;
    let fitted = fit_learner(
        AutoRecLearner { model },
        loaders(
            RatingsBatcher { users },
            train_items,
            test_items,
            config,
            device,
        ),
        train_count,
        config,
        run_dir,
        device,
        resume,
        |training| {
            let mut training = training.metrics((LossMetric::new(), RmseMetric::new()));
            for term in ["reconstruction", "weight_decay"] {
                training = training
                    .metric_train_numeric(LossTermMetric::new(term))
                    .metric_valid_numeric(LossTermMetric::new(term));
            }
            training
        },
    )?;
    Ok(fitted.map_model(|learner| learner.model))
}

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
    fn rmse_metric_weighs_every_rating_equally() {
        let device = Device::flex();
        let m = |v: [f32; 4]| Tensor::<1>::from_floats(v, &device).reshape([2, 2]);
        let mut metric = RmseMetric::new();
        // Batch 1: one observed error of 2. Batch 2: three observed errors of 0.
        let first = MaskedInput {
            predictions: m([3.0, 9.0, 0.0, 0.0]),
            target: m([1.0, 0.0, 0.0, 0.0]),
            mask: m([1.0, 0.0, 0.0, 0.0]),
        };
        let second = MaskedInput {
            predictions: m([2.0, 2.0, 2.0, 5.0]),
            target: m([2.0, 2.0, 2.0, 0.0]),
            mask: m([1.0, 1.0, 1.0, 0.0]),
        };
        let meta = MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(0),
            lr: None,
        };
        metric.update(&first, &meta).unwrap();
        metric.update(&second, &meta).unwrap();
        // sqrt(4 / 4) = 1 (a mean of batch RMSEs would give 1.0 too, but not of 2 and 0 with
        // weights 1 and 3: that is 0.5).
        assert!((metric.final_value().current() - 1.0).abs() < 1e-12);
    }

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
