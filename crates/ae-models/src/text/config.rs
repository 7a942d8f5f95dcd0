use burn::config::Config;

use crate::error::{ModelError, Result};
use crate::limits::{check_parameters, check_width};

/// Configuration of a [`TextAutoencoder`](crate::TextAutoencoder).
///
/// Token indices follow `ae_data::text`: 0 padding, 1 beginning of sentence, 2 end of sentence,
/// 3 unknown.
#[derive(Config, Debug)]
pub struct TextAutoencoderConfig {
    /// Tokens in the vocabulary, the four special ones included.
    pub vocab_size: usize,
    /// Size of the token embeddings (shared by encoder and decoder).
    #[config(default = 128)]
    pub embed_dim: usize,
    /// Size of the LSTM states.
    #[config(default = 256)]
    pub hidden_dim: usize,
    /// Size of the sentence code.
    #[config(default = 64)]
    pub latent_dim: usize,
    /// Probability of replacing each decoder input token by the unknown token while training
    /// (Bowman et al. 2016), so that the decoder must take the content from the code rather than
    /// from the previous word.
    #[config(default = 0.0)]
    pub word_dropout: f64,
    /// The checksum of the vocabulary the model was trained with (`ae_data`'s
    /// `Vocabulary::checksum`): a `vocab.json` of another run with as many tokens is refused
    /// where the model is loaded with one. `None` in folders written before it was recorded.
    pub vocab_checksum: Option<String>,
}

/// Padding token index.
pub const PAD: usize = 0;
/// Beginning-of-sentence token index.
pub const BOS: usize = 1;
/// End-of-sentence token index.
pub const EOS: usize = 2;
/// Unknown token index.
pub const UNK: usize = 3;

impl TextAutoencoderConfig {
    /// Weights and biases of the model: the embedding, two LSTMs, the code layers and the output
    /// layer over the vocabulary.
    pub fn parameter_count(&self) -> u128 {
        let (v, e, h, l) = (
            self.vocab_size as u128,
            self.embed_dim as u128,
            self.hidden_dim as u128,
            self.latent_dim as u128,
        );
        let lstm = 4 * (e * h + h * h + 2 * h);
        v * e + 2 * lstm + (h * l + l) + 2 * (l * h + h) + (h * v + v)
    }

    /// Checks that the configuration describes a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, message: String| Err(ModelError::InvalidConfig { field, message });
        if self.vocab_size <= UNK + 1 {
            return invalid(
                "vocab_size",
                format!(
                    "{} leaves no token beyond the 4 special ones",
                    self.vocab_size
                ),
            );
        }
        check_width("vocab_size", self.vocab_size)?;
        for (field, value) in [
            ("embed_dim", self.embed_dim),
            ("hidden_dim", self.hidden_dim),
            ("latent_dim", self.latent_dim),
        ] {
            check_width(field, value)?;
        }
        check_parameters(self.parameter_count())?;
        if !(0.0..1.0).contains(&self.word_dropout) {
            return invalid(
                "word_dropout",
                format!("{} is not in [0, 1)", self.word_dropout),
            );
        }
        Ok(())
    }
}
