//! AutoRec as a burn-train model: its step output and metrics (loss, its terms, RMSE over the
//! observed ratings).

use burn::tensor::Tensor;
use burn::train::metric::Adaptor;
use burn::train::{ItemLazy, SupervisedTraining};

use ae_data::ratings::RatingsBatch;
use ae_models::AutoRec;

use super::learner::{ModelSteps, Trainable, model_identity};
use super::metrics::{DeviceMeanMetric, MetricsContext, Reduction};
use super::step_sums::StepSums;

/// What a training or validation step of AutoRec hands to the metrics: the loss it
/// back-propagates, and the sums of the loss, its terms and the squared errors of the observed
/// ratings (predictions clamped to the rating scale), on the device.
pub struct RatingsOutput {
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// The metrics' sums: `"loss"`, `"reconstruction"`, `"weight_decay"`, `"rmse"`.
    pub sums: StepSums,
}

impl Trainable for AutoRec {
    type Batch = RatingsBatch;
    type Output = RatingsOutput;

    fn forward_step(&self, batch: RatingsBatch) -> RatingsOutput {
        let config = self.config();
        let (min, max) = (config.min_rating, config.max_rating);
        let output = self.forward(batch.input, batch.target.clone(), batch.mask.clone());
        let [items, _] = batch.target.dims();
        let rows = Tensor::full([1], items as f32, &batch.target.device());
        let mut sums = StepSums::default();
        sums.add_mean("loss", output.loss.clone().detach(), rows.clone());
        for term in output.terms {
            sums.add_mean(term.name, term.value.detach(), rows.clone());
        }
        // Squared errors of the observed ratings, computed by the metric off the training thread.
        let predictions = output.predictions.detach().without_autodiff();
        let (target, mask) = (
            batch.target.without_autodiff(),
            batch.mask.without_autodiff(),
        );
        sums.add_deferred("rmse", move || {
            let errors = (predictions.clone().clamp(min, max) - target.clone()) * mask.clone();
            (
                errors.square().sum().reshape([1]),
                mask.clone().sum().reshape([1]),
            )
        });
        RatingsOutput {
            loss: output.loss,
            sums,
        }
    }

    fn loss(output: &RatingsOutput) -> Tensor<1> {
        output.loss.clone()
    }

    fn identity(&self) -> serde_json::Value {
        model_identity(self)
    }

    fn register_metrics(
        &self,
        training: SupervisedTraining<ModelSteps<Self>>,
        context: &MetricsContext,
    ) -> SupervisedTraining<ModelSteps<Self>> {
        let mut training = training.metrics((
            DeviceMeanMetric::loss(context),
            DeviceMeanMetric::new("rmse", "RMSE", context).with_reduction(Reduction::RootMean),
        ));
        for term in ["reconstruction", "weight_decay"] {
            training = training
                .metric_train_numeric(DeviceMeanMetric::new(term, term, context))
                .metric_valid_numeric(DeviceMeanMetric::new(term, term, context));
        }
        training
    }
}

impl ItemLazy for RatingsOutput {
    fn sync(self) -> std::result::Result<Self, burn::tensor::ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            sums: self.sums.without_autodiff(),
        })
    }
}

impl Adaptor<StepSums> for RatingsOutput {
    fn adapt(&self) -> StepSums {
        self.sums.clone()
    }
}
