//! The image autoencoders as burn-train models: a step's output (loss, its terms, the
//! reconstruction and its target) and their metrics (loss, MSE, PSNR, and each loss term when
//! there are several).

use std::sync::{Arc, OnceLock};

use burn::tensor::Tensor;
use burn::train::metric::Adaptor;
use burn::train::{ItemLazy, SupervisedTraining};

use ae_data::ImageBatch;
use ae_models::{
    AnyAutoencoder, Autoencoder, AutoencoderOutput, ConvAutoencoder, DenoisingAutoencoder,
    LossTerm, SparseAutoencoder, VanillaAutoencoder, VariationalAutoencoder, per_image_mse,
    psnr_of_mse,
};

use super::captured_fit::{CapturedFit, CapturedStrategy};
use super::learner::{ModelSteps, Trainable, model_identity};
use super::metrics::{DeviceMeanMetric, MetricsContext};
use super::step_sums::{StepSums, masked_sum};

/// What one step hands to the metrics: the loss it back-propagates, and the sums of the loss, its
/// terms, the per-image MSE and PSNR over the batch's real rows, on the device.
pub struct ReconstructionOutput {
    /// The total loss (the mean over the batch's real rows).
    ///
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// The metrics' sums: `"loss"`, each loss term by name, `"mse"`, `"psnr"`.
    pub sums: StepSums,
}

impl ReconstructionOutput {
    /// Gathers a model's output on a batch whose real rows `mask` marks (`None`: every row), and
    /// the target it was scored against.
    ///
    /// # Shapes
    /// - target: `[N, C, H, W]`
    /// - mask: `[N]`
    pub fn new(output: AutoencoderOutput, target: Tensor<4>, mask: Option<&Tensor<1>>) -> Self {
        Self::from_parts(
            output.loss,
            output.terms,
            output.reconstruction,
            target,
            mask,
        )
    }

    /// As [`new`](Self::new), from the parts of a model's output the metrics read.
    ///
    /// # Shapes
    /// - loss: `[1]`
    /// - reconstruction, target: `[N, C, H, W]`
    /// - mask: `[N]`
    pub fn from_parts(
        loss: Tensor<1>,
        terms: Vec<LossTerm>,
        reconstruction: Tensor<4>,
        target: Tensor<4>,
        mask: Option<&Tensor<1>>,
    ) -> Self {
        let rows = match mask {
            Some(mask) => mask.clone().sum(),
            None => Tensor::full([1], target.dims()[0] as f32, &target.device()),
        };
        let mut sums = StepSums::default();
        sums.add_mean("loss", loss.clone().detach(), rows.clone());
        for term in terms {
            sums.add_mean(term.name, term.value.detach(), rows.clone());
        }
        // The per-image metrics are computed by the metrics, off the training thread, from one
        // per-image MSE that both share (each operation is a kernel launch on a GPU), weighted
        // by the rows counted above.
        let per_image = PerImageMse::new(
            reconstruction.detach().without_autodiff(),
            target.without_autodiff(),
        );
        let rows = rows.without_autodiff();
        let mask = mask.map(|m| m.clone().without_autodiff());
        let (mse, mse_mask, mse_rows) = (per_image.clone(), mask.clone(), rows.clone());
        sums.add_deferred("mse", move || {
            (masked_sum(mse.get(), mse_mask.as_ref()), mse_rows.clone())
        });
        sums.add_deferred("psnr", move || {
            (
                masked_sum(psnr_of_mse(per_image.get()), mask.as_ref()),
                rows.clone(),
            )
        });
        Self { loss, sums }
    }
}

/// A step's per-image MSE, computed once by whichever metric asks first.
#[derive(Clone)]
struct PerImageMse {
    inputs: Arc<(Tensor<4>, Tensor<4>)>,
    value: Arc<OnceLock<Tensor<1>>>,
}

impl PerImageMse {
    fn new(reconstruction: Tensor<4>, target: Tensor<4>) -> Self {
        Self {
            inputs: Arc::new((reconstruction, target)),
            value: Arc::new(OnceLock::new()),
        }
    }

    /// # Shapes
    /// `[N]`
    fn get(&self) -> Tensor<1> {
        self.value
            .get_or_init(|| per_image_mse(self.inputs.0.clone(), self.inputs.1.clone()))
            .clone()
    }
}

impl ItemLazy for ReconstructionOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        // Dispatch the queued work now so the metric thread does not wait on an idle queue, and
        // drop the autodiff graph: metrics need values only.
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            sums: self.sums.without_autodiff(),
        })
    }
}

impl Adaptor<StepSums> for ReconstructionOutput {
    fn adapt(&self) -> StepSums {
        self.sums.clone()
    }
}

/// Loss, MSE and PSNR, and every loss term when a model has more than one, each read back as
/// `context` says.
fn register_image_metrics<M: Trainable<Output = ReconstructionOutput>>(
    term_names: Vec<&'static str>,
    context: &MetricsContext,
    training: SupervisedTraining<ModelSteps<M>>,
) -> SupervisedTraining<ModelSteps<M>> {
    let mut training = training.metrics((
        DeviceMeanMetric::loss(context),
        DeviceMeanMetric::new("mse", "MSE", context),
        DeviceMeanMetric::new("psnr", "PSNR", context)
            .with_unit("dB")
            .higher_is_better(),
    ));
    if term_names.len() > 1 {
        for term in term_names {
            training = training
                .metric_train_numeric(DeviceMeanMetric::new(term, term, context))
                .metric_valid_numeric(DeviceMeanMetric::new(term, term, context));
        }
    }
    training
}

/// Implements [`Trainable`] for image autoencoders: a step is the model's forward pass on the
/// batch's images, scored against those images. Each model names the function giving its
/// run identity.
macro_rules! trainable_image_models {
    ($($model:ty => $identity:path),* $(,)?) => {$(
        impl Trainable for $model {
            type Batch = ImageBatch;
            type Output = ReconstructionOutput;

            fn forward_step(&self, batch: ImageBatch) -> ReconstructionOutput {
                let images = batch.images;
                let output = self.forward_masked(images.clone(), images.clone(), batch.mask.clone());
                ReconstructionOutput::new(output, images, batch.mask.as_ref())
            }

            fn loss(output: &ReconstructionOutput) -> Tensor<1> {
                output.loss.clone()
            }

            fn identity(&self) -> serde_json::Value {
                $identity(self)
            }

            fn item_shape(&self) -> Option<Vec<usize>> {
                Some(self.input_shape().to_vec())
            }

            fn register_metrics(
                &self,
                training: SupervisedTraining<ModelSteps<Self>>,
                context: &MetricsContext,
            ) -> SupervisedTraining<ModelSteps<Self>> {
                register_image_metrics(self.loss_term_names(), context, training)
            }

            fn captured_fit(
                &self,
                strategy: CapturedFit,
            ) -> Result<CapturedStrategy<Self>, String> {
                let strategy = strategy.for_image_model(self)?;
                Ok(Arc::new(strategy))
            }
        }
    )*};
}

trainable_image_models!(
    VanillaAutoencoder => model_identity,
    ConvAutoencoder => model_identity,
    SparseAutoencoder => model_identity,
    DenoisingAutoencoder => model_identity,
    VariationalAutoencoder => model_identity,
    AnyAutoencoder => any_model_identity,
);

/// The same identity as the concrete model's, so that a run started with either resumes with
/// the other.
fn any_model_identity(model: &AnyAutoencoder) -> serde_json::Value {
    let config = model.config();
    let kind = config.kind();
    let mut value = serde_json::to_value(&config).unwrap_or(serde_json::Value::Null);
    if let Some(fields) = value.as_object_mut() {
        fields.remove("kind");
    }
    serde_json::json!({ "kind": kind, "config": value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::StepSum;
    use ae_models::LossTerm;
    use burn::tensor::Device;

    fn values(sum: &StepSum) -> (f32, f32) {
        let (s, w) = match sum {
            StepSum::Ready(pair) => (pair.0.clone(), pair.1.clone()),
            StepSum::Deferred(compute) => compute(),
        };
        (s.into_scalar::<f32>(), w.into_scalar::<f32>())
    }

    /// The step's sums, by hand: two real images (errors 0.1 and 0.01 everywhere) and a padded
    /// one the mask leaves out; MSE and PSNR share one per-image MSE and the rows count.
    #[test]
    fn step_sums_count_the_real_rows_only() {
        let device = Device::flex();
        let target = Tensor::<4>::zeros([3, 1, 2, 2], &device);
        let reconstruction = Tensor::<1>::from_floats(
            [
                0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.9, 0.9, 0.9, 0.9,
            ],
            &device,
        )
        .reshape([3, 1, 2, 2]);
        let mask = Tensor::<1>::from_floats([1.0, 1.0, 0.0], &device);
        let loss = Tensor::<1>::from_floats([0.5], &device);
        let output = AutoencoderOutput {
            reconstruction,
            latent: Tensor::zeros([3, 2], &device),
            loss: loss.clone(),
            terms: vec![LossTerm {
                name: "reconstruction",
                value: loss,
            }],
        };
        let step = ReconstructionOutput::new(output, target, Some(&mask));
        let sum = |key: &str| {
            let (_, sum) = step.sums.entries.iter().find(|(k, _)| *k == key).unwrap();
            values(sum)
        };
        let close = |(s, w): (f32, f32), (es, ew): (f32, f32)| {
            assert!((s - es).abs() < 1e-4 * es.abs().max(1.0), "{s} vs {es}");
            assert_eq!(w, ew);
        };
        close(sum("loss"), (1.0, 2.0));
        close(sum("mse"), (0.01 + 0.0001, 2.0));
        // 10 log10(1 / 0.01) + 10 log10(1 / 0.0001) = 20 + 40 dB.
        close(sum("psnr"), (60.0, 2.0));
        // The MSE is floored at 1e-10: a perfect image scores 100 dB.
        let psnr = psnr_of_mse(Tensor::<1>::from_floats([0.01, 0.0], &device));
        let psnr = psnr.into_data().try_to_vec::<f32>().unwrap();
        assert!(
            (psnr[0] - 20.0).abs() < 1e-4 && (psnr[1] - 100.0).abs() < 1e-3,
            "{psnr:?}"
        );
    }
}
