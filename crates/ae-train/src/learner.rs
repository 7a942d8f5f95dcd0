//! The bridge between the model zoo and burn-train's learner.

use burn::module::{Module, ModuleDisplay};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use ae_data::ImageBatch;
use ae_models::Autoencoder;

use crate::metrics::ReconstructionOutput;

/// Wraps any [`Autoencoder`] so that burn-train can train it: a training step runs the forward
/// pass on the batch and back-propagates the model's total loss; a validation step runs the
/// forward pass only. (The wrapper exists because `TrainStep` and the models live in other
/// crates.)
#[derive(Module, Debug)]
pub struct AutoencoderLearner<M> {
    /// The model being trained.
    pub model: M,
}

impl<M> AutoencoderLearner<M> {
    /// Wraps a model.
    pub fn new(model: M) -> Self {
        Self { model }
    }
}

impl<M> TrainStep for AutoencoderLearner<M>
where
    M: Autoencoder + Module + ModuleDisplay + 'static,
{
    type Input = ImageBatch;
    type Output = ReconstructionOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<ReconstructionOutput> {
        let output = self.model.forward(batch.images.clone());
        let grads = output.loss.backward();
        TrainOutput::new(self, grads, ReconstructionOutput::new(output, batch.images))
    }
}

impl<M> InferenceStep for AutoencoderLearner<M>
where
    M: Autoencoder + Module + ModuleDisplay + 'static,
{
    type Input = ImageBatch;
    type Output = ReconstructionOutput;

    fn step(&self, batch: ImageBatch) -> ReconstructionOutput {
        let output = self.model.forward(batch.images.clone());
        ReconstructionOutput::new(output, batch.images)
    }
}
