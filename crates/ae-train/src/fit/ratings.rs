//! AutoRec as a burn-train model: its step output and metrics (loss, its terms, RMSE over the
//! observed ratings).

use burn::tensor::Tensor;
use burn::train::metric::{Adaptor, LossInput, LossMetric};
use burn::train::{ItemLazy, SupervisedTraining};

use ae_data::ratings::RatingsBatch;
use ae_models::AutoRec;

use super::learner::{ModelSteps, Trainable};
use super::metrics::{LossTermMetric, LossTermsInput, MaskedInput, RmseMetric};

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

impl Trainable for AutoRec {
    type Batch = RatingsBatch;
    type Output = RatingsOutput;

    fn forward_step(&self, batch: RatingsBatch) -> RatingsOutput {
        let config = self.config();
        let (min, max) = (config.min_rating, config.max_rating);
        let output = self.forward(batch.input, batch.target.clone(), batch.mask.clone());
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

    fn loss(output: &RatingsOutput) -> Tensor<1> {
        output.loss.clone()
    }

    fn register_metrics(
        &self,
        training: SupervisedTraining<ModelSteps<Self>>,
    ) -> SupervisedTraining<ModelSteps<Self>> {
        let mut training = training.metrics((LossMetric::new(), RmseMetric::new()));
        for term in ["reconstruction", "weight_decay"] {
            training = training
                .metric_train_numeric(LossTermMetric::new(term))
                .metric_valid_numeric(LossTermMetric::new(term));
        }
        training
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

impl Adaptor<MaskedInput> for RatingsOutput {
    fn adapt(&self) -> MaskedInput {
        MaskedInput {
            predictions: self.predictions.clone(),
            target: self.target.clone(),
            mask: self.mask.clone(),
        }
    }
}
