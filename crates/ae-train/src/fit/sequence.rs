//! The sentence autoencoder as a burn-train model: teacher-forced cross-entropy, with token
//! accuracy and perplexity (padding excluded) as metrics.

use burn::tensor::Tensor;
use burn::train::metric::{AccuracyMetric, LossMetric, PerplexityMetric};
use burn::train::{SequenceOutput, SupervisedTraining};

use ae_data::text::{PAD, TextBatch};
use ae_models::TextAutoencoder;

use super::learner::{ModelSteps, Trainable, model_identity};
use super::metrics::MetricsContext;

impl Trainable for TextAutoencoder {
    type Batch = TextBatch;
    type Output = SequenceOutput;

    fn forward_step(&self, batch: TextBatch) -> SequenceOutput {
        let output = self.forward(
            batch.tokens,
            batch.last,
            batch.decoder_inputs,
            batch.targets.clone(),
        );
        SequenceOutput::new(output.loss, output.logits, None, batch.targets)
    }

    fn loss(output: &SequenceOutput) -> Tensor<1> {
        output.loss.clone()
    }

    fn identity(&self) -> serde_json::Value {
        model_identity(self)
    }

    /// Its LSTMs are Burn's, whose states start in `f32`: no half-precision path.
    fn supports_mixed_precision(&self) -> bool {
        false
    }

    /// burn's own metrics, read back every step (sentences are short work on any device).
    fn register_metrics(
        &self,
        training: SupervisedTraining<ModelSteps<Self>>,
        _context: &MetricsContext,
    ) -> SupervisedTraining<ModelSteps<Self>> {
        training.metrics((
            LossMetric::new(),
            AccuracyMetric::new().with_pad_token(PAD),
            PerplexityMetric::new().with_pad_token(PAD),
        ))
    }
}
