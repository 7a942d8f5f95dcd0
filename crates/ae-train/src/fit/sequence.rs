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
        let mut identity = model_identity(self);
        // The vocabulary is the training data's (its token ids are checksummed there); runs
        // begun before the model recorded it resume.
        if let Some(config) = identity["config"].as_object_mut() {
            config.remove("vocab_checksum");
        }
        identity
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A run begun before the model recorded its vocabulary's checksum resumes: the checksum is
    /// not part of the run's identity (the data's token ids are).
    #[test]
    fn the_vocabulary_checksum_is_not_part_of_the_identity() {
        let device = burn::tensor::Device::flex();
        let model = ae_models::TextAutoencoderConfig::new(8)
            .with_embed_dim(4)
            .with_hidden_dim(4)
            .with_latent_dim(2)
            .with_vocab_checksum(Some("0123456789abcdef".into()))
            .try_init(&device)
            .unwrap();
        let identity = model.identity();
        assert_eq!(identity["config"]["vocab_size"], 8);
        assert!(
            identity["config"].get("vocab_checksum").is_none(),
            "{identity}"
        );
    }
}
