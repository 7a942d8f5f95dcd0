//! The sentence autoencoder as a burn-train model: teacher-forced cross-entropy, with token
//! accuracy and perplexity (padding excluded) as metrics.

use burn::tensor::Tensor;
use burn::train::metric::{AccuracyMetric, Adaptor, PerplexityMetric};
use burn::train::{SequenceOutput, SupervisedTraining};

use ae_data::text::{PAD, TextBatch};
use ae_models::TextAutoencoder;

use super::learner::{ModelSteps, Trainable, model_identity};
use super::metrics::{DeviceMeanMetric, MetricsContext};
use super::step_sums::StepSums;

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

    /// The loss as every model's (which stops training when it diverges), and burn's own token
    /// accuracy and perplexity, read back every step (sentences are short work on any device).
    fn register_metrics(
        &self,
        training: SupervisedTraining<ModelSteps<Self>>,
        context: &MetricsContext,
    ) -> SupervisedTraining<ModelSteps<Self>> {
        training.metrics((
            DeviceMeanMetric::loss(context),
            AccuracyMetric::new().with_pad_token(PAD),
            PerplexityMetric::new().with_pad_token(PAD),
        ))
    }
}

/// The loss's sum: each step's mean cross-entropy per token, weighted by one step (as burn's
/// `LossMetric` weighs it, so the epoch's loss is the mean of the steps' losses).
impl Adaptor<StepSums> for SequenceOutput {
    fn adapt(&self) -> StepSums {
        let mut sums = StepSums::default();
        let one = Tensor::ones([1], &self.loss.device());
        sums.add_mean("loss", self.loss.clone(), one);
        sums
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
