use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, Lstm, LstmConfig, LstmState};
use burn::tensor::{Device, Distribution, Int, Tensor};

use crate::error::{ModelError, Result};
use crate::ops::tanh;
use crate::text::TextAutoencoderConfig;
use crate::text::config::{BOS, EOS, PAD, UNK};

/// A sentence autoencoder (Dai & Le 2015; Bowman et al. 2016): the tokens are embedded and read
/// by an LSTM; its state after the last token, through a linear layer, is the sentence code. A
/// second LSTM, started from the code and fed the code again at every step next to the previous
/// token, predicts the sentence token by token (teacher forcing while training, greedy decoding
/// in [`reconstruct`](Self::reconstruct)).
///
/// Build it with [`TextAutoencoderConfig::init`].
#[derive(Module, Debug)]
pub struct TextAutoencoder {
    /// Token embeddings, shared by encoder and decoder.
    pub embedding: Embedding,
    /// Reads the sentence.
    pub encoder: Lstm,
    /// Encoder's final hidden state to code.
    pub to_code: Linear,
    /// Code to the decoder's initial hidden state.
    pub from_code: Linear,
    /// Writes the sentence.
    pub decoder: Lstm,
    /// Decoder state to token logits.
    pub output: Linear,
    #[module(skip)]
    pub(super) config: TextAutoencoderConfig,
}

/// What [`TextAutoencoder::forward`] returns.
#[derive(Debug, Clone)]
pub struct TextOutput {
    /// Mean cross-entropy per (non-padding) target token.
    ///
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// Token logits.
    ///
    /// # Shapes
    /// `[N, T, vocab_size]`
    pub logits: Tensor<3>,
    /// The sentence codes.
    ///
    /// # Shapes
    /// `[N, latent_dim]`
    pub codes: Tensor<2>,
}

impl TextAutoencoder {
    pub(crate) fn new(config: &TextAutoencoderConfig, device: &Device) -> Self {
        let lstm = |input: usize| LstmConfig::new(input, config.hidden_dim, true).init(device);
        Self {
            embedding: EmbeddingConfig::new(config.vocab_size, config.embed_dim).init(device),
            encoder: lstm(config.embed_dim),
            to_code: LinearConfig::new(config.hidden_dim, config.latent_dim).init(device),
            from_code: LinearConfig::new(config.latent_dim, config.hidden_dim).init(device),
            decoder: lstm(config.embed_dim + config.latent_dim),
            output: LinearConfig::new(config.hidden_dim, config.vocab_size).init(device),
            config: config.clone(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TextAutoencoderConfig {
        &self.config
    }

    /// Sentence codes.
    ///
    /// # Shapes
    /// - tokens: `[N, L]` (padded after each sentence)
    /// - last: `[N, L]`, one at each sentence's last token, zero elsewhere
    /// - output: `[N, latent_dim]`
    pub fn encode(&self, tokens: Tensor<2, Int>, last: Tensor<2>) -> Tensor<2> {
        let (states, _) = self.encoder.forward(self.embedding.forward(tokens), None);
        // The state after each sentence's own last token, not after the padding.
        let final_state = (states * last.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim(1);
        self.to_code.forward(final_state)
    }

    fn initial_state(&self, codes: Tensor<2>) -> LstmState<2> {
        let hidden = tanh(self.from_code.forward(codes));
        LstmState::new(hidden.zeros_like(), hidden)
    }

    fn decoder_step_inputs(&self, tokens: Tensor<2, Int>, codes: &Tensor<2>) -> Tensor<3> {
        let embedded = self.embedding.forward(tokens);
        let [n, t, _] = embedded.dims();
        let repeated = codes
            .clone()
            .unsqueeze_dim::<3>(1)
            .expand([n, t, self.config.latent_dim]);
        Tensor::cat(vec![embedded, repeated], 2)
    }

    /// Token logits for the decoder inputs (teacher forcing).
    ///
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - decoder_inputs: `[N, T]`, beginning with the beginning-of-sentence token
    /// - output: `[N, T, vocab_size]`
    pub fn decode_logits(&self, codes: Tensor<2>, decoder_inputs: Tensor<2, Int>) -> Tensor<3> {
        let inputs = self.decoder_step_inputs(decoder_inputs, &codes);
        let (states, _) = self
            .decoder
            .forward(inputs, Some(self.initial_state(codes)));
        self.output.forward(states)
    }

    /// Replaces decoder inputs after the first by the unknown token with probability
    /// `word_dropout` — only while training (parameters on an autodiff device).
    pub(crate) fn drop_words(&self, decoder_inputs: Tensor<2, Int>) -> Tensor<2, Int> {
        let p = self.config.word_dropout;
        if p == 0.0 || !self.embedding.weight.val().is_autodiff() {
            return decoder_inputs;
        }
        let [n, t] = decoder_inputs.dims();
        let device = decoder_inputs.device();
        let random = Tensor::<2>::random([n, t], Distribution::Bernoulli(p), &device);
        let keep_first = Tensor::<2>::zeros([n, 1], &device);
        let drop = Tensor::cat(vec![keep_first, random.slice([0..n, 1..t])], 1).equal_elem(1.0);
        let not_pad = decoder_inputs.clone().not_equal_elem(PAD as i64);
        decoder_inputs.mask_fill(drop.bool_and(not_pad), UNK as i64)
    }

    /// The training forward pass: encode, decode with teacher forcing, and the mean
    /// cross-entropy over the target tokens that are not padding.
    ///
    /// # Shapes
    /// - tokens, last: `[N, L]`
    /// - decoder_inputs, targets: `[N, L + 1]`
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        last: Tensor<2>,
        decoder_inputs: Tensor<2, Int>,
        targets: Tensor<2, Int>,
    ) -> TextOutput {
        let codes = self.encode(tokens, last);
        let logits = self.decode_logits(codes.clone(), self.drop_words(decoder_inputs));
        let [n, t, v] = logits.dims();
        let loss = CrossEntropyLossConfig::new()
            .with_pad_tokens(Some(vec![PAD]))
            .init(&logits.device())
            .forward(logits.clone().reshape([n * t, v]), targets.reshape([n * t]));
        TextOutput {
            loss,
            logits,
            codes,
        }
    }

    /// Decodes codes greedily (the most likely token at each step, fed back as the next input)
    /// for at most `max_tokens` tokens; each sentence stops at its end-of-sentence token, which
    /// is not included.
    ///
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    ///
    /// # Errors
    /// When the decoded tokens cannot be read back from the device.
    pub fn greedy_decode(&self, codes: Tensor<2>, max_tokens: usize) -> Result<Vec<Vec<usize>>> {
        let [n, _] = codes.dims();
        let device = codes.device();
        let mut state = self.initial_state(codes.clone());
        let mut token = Tensor::<2, Int>::full([n, 1], BOS as i64, &device);
        let mut steps = Vec::with_capacity(max_tokens + 1);
        for _ in 0..=max_tokens {
            let inputs = self.decoder_step_inputs(token, &codes);
            let (output, next) = self.decoder.forward(inputs, Some(state));
            state = next;
            token = self.output.forward(output).argmax(2).reshape([n, 1]);
            steps.push(token.clone());
        }
        let ids = Tensor::cat(steps, 1)
            .into_data()
            .try_to_vec_as::<i64>()
            .map_err(|e| ModelError::ReadBack {
                what: "decoded tokens",
                message: format!("{e:?}"),
            })?;
        Ok(ids
            .chunks(max_tokens + 1)
            .map(|row| {
                row.iter()
                    .take_while(|&&id| id != EOS as i64)
                    .map(|&id| id as usize)
                    .collect()
            })
            .collect())
    }

    /// Encodes then greedily decodes: the model's reconstruction of each sentence.
    ///
    /// # Shapes
    /// - tokens, last: `[N, L]`
    ///
    /// # Errors
    /// When the decoded tokens cannot be read back from the device.
    pub fn reconstruct(
        &self,
        tokens: Tensor<2, Int>,
        last: Tensor<2>,
        max_tokens: usize,
    ) -> Result<Vec<Vec<usize>>> {
        self.greedy_decode(self.encode(tokens, last), max_tokens)
    }
}
