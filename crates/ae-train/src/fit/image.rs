//! The image autoencoders as burn-train models: a step's output (loss, its terms, the
//! reconstruction and its target) and their metrics (loss, MSE, PSNR, and each loss term when
//! there are several).

use burn::tensor::Tensor;
use burn::train::metric::{Adaptor, LossInput, LossMetric};
use burn::train::{ItemLazy, SupervisedTraining};

use ae_data::ImageBatch;
use ae_models::{
    AnyAutoencoder, Autoencoder, AutoencoderOutput, ConvAutoencoder, DenoisingAutoencoder,
    SparseAutoencoder, VanillaAutoencoder, VariationalAutoencoder,
};

use super::learner::{ModelSteps, Trainable};
use super::metrics::{LossTermMetric, LossTermsInput, MseMetric, PsnrMetric, ReconstructionInput};

/// The output of one step: the loss and its parts, the reconstruction and its target.
pub struct ReconstructionOutput {
    /// The total loss.
    ///
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// Named loss terms (the first is the reconstruction term).
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// The reconstruction.
    ///
    /// # Shapes
    /// `[N, C, H, W]`
    pub reconstruction: Tensor<4>,
    /// What the reconstruction is scored against.
    ///
    /// # Shapes
    /// `[N, C, H, W]`
    pub target: Tensor<4>,
}

impl ReconstructionOutput {
    /// Gathers a model's output and the target it was scored against.
    pub fn new(output: AutoencoderOutput, target: Tensor<4>) -> Self {
        Self {
            loss: output.loss,
            terms: output
                .terms
                .into_iter()
                .map(|t| (t.name, t.value))
                .collect(),
            reconstruction: output.reconstruction,
            target,
        }
    }
}

impl ItemLazy for ReconstructionOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        // Dispatch the queued work now so the metric thread does not wait on an idle queue, and
        // drop the autodiff graph: metrics need values only.
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            terms: self
                .terms
                .into_iter()
                .map(|(n, t)| (n, t.without_autodiff()))
                .collect(),
            reconstruction: self.reconstruction.without_autodiff(),
            target: self.target.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for ReconstructionOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<ReconstructionInput> for ReconstructionOutput {
    fn adapt(&self) -> ReconstructionInput {
        ReconstructionInput {
            reconstruction: self.reconstruction.clone(),
            target: self.target.clone(),
        }
    }
}

impl Adaptor<LossTermsInput> for ReconstructionOutput {
    fn adapt(&self) -> LossTermsInput {
        LossTermsInput {
            terms: self.terms.clone(),
            batch_size: self.target.dims()[0],
        }
    }
}

/// Loss, MSE and PSNR, and every loss term when a model has more than one.
fn register_image_metrics<M: Trainable<Output = ReconstructionOutput>>(
    term_names: Vec<&'static str>,
    training: SupervisedTraining<ModelSteps<M>>,
) -> SupervisedTraining<ModelSteps<M>> {
    let mut training = training.metrics((LossMetric::new(), MseMetric::new(), PsnrMetric::new()));
    if term_names.len() > 1 {
        for term in term_names {
            training = training
                .metric_train_numeric(LossTermMetric::new(term))
                .metric_valid_numeric(LossTermMetric::new(term));
        }
    }
    training
}

/// Implements [`Trainable`] for image autoencoders: a step is the model's forward pass on the
/// batch's images, scored against those images.
macro_rules! trainable_image_models {
    ($($model:ty),*) => {$(
        impl Trainable for $model {
            type Batch = ImageBatch;
            type Output = ReconstructionOutput;

            fn forward_step(&self, batch: ImageBatch) -> ReconstructionOutput {
                let images = batch.images;
                let output = self.forward_masked(images.clone(), images.clone(), batch.mask);
                ReconstructionOutput::new(output, images)
            }

            fn loss(output: &ReconstructionOutput) -> Tensor<1> {
                output.loss.clone()
            }

            fn register_metrics(
                &self,
                training: SupervisedTraining<ModelSteps<Self>>,
            ) -> SupervisedTraining<ModelSteps<Self>> {
                register_image_metrics(self.loss_term_names(), training)
            }
        }
    )*};
}

trainable_image_models!(
    VanillaAutoencoder,
    ConvAutoencoder,
    SparseAutoencoder,
    DenoisingAutoencoder,
    VariationalAutoencoder,
    AnyAutoencoder
);
