use burn::module::Module;
use burn::nn::activation::Activation;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::autoencoder::LossTerm;
use crate::autorec::AutoRecConfig;

/// AutoRec: `h(r) = f(V g(W r + mu) + b)` with `g` the hidden activation and `f` the identity.
/// Unobserved ratings enter as zeros and the loss counts observed ratings only, so the model
/// learns to fill in the ratings a user has not given.
///
/// Build it with [`AutoRecConfig::init`].
#[derive(Module, Debug)]
pub struct AutoRec {
    /// Ratings to hidden units.
    pub encoder: Linear,
    /// The hidden activation.
    pub activation: Activation,
    /// Hidden units to predicted ratings.
    pub decoder: Linear,
    #[module(skip)]
    pub(super) config: AutoRecConfig,
}

/// What [`AutoRec::forward`] returns.
#[derive(Debug, Clone)]
pub struct AutoRecOutput {
    /// Masked mean squared error plus the weight penalty.
    ///
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// `"reconstruction"` (masked MSE) and `"weight_decay"`.
    pub terms: Vec<LossTerm>,
    /// Predicted ratings (not clamped: the loss sees the raw output).
    ///
    /// # Shapes
    /// `[N, num_inputs]`
    pub predictions: Tensor<2>,
}

impl AutoRec {
    pub(crate) fn new(config: &AutoRecConfig, device: &Device) -> Self {
        Self {
            encoder: LinearConfig::new(config.num_inputs, config.hidden).init(device),
            activation: config.hidden_activation.init(device),
            decoder: LinearConfig::new(config.hidden, config.num_inputs).init(device),
            config: config.clone(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AutoRecConfig {
        &self.config
    }

    /// The hidden code of rating vectors.
    ///
    /// # Shapes
    /// - ratings: `[N, num_inputs]`, zero where unobserved
    /// - output: `[N, hidden]`
    pub fn encode(&self, ratings: Tensor<2>) -> Tensor<2> {
        self.activation
            .forward(crate::ops::linear(&self.encoder, ratings))
    }

    /// Raw predicted ratings.
    ///
    /// # Shapes
    /// - ratings: `[N, num_inputs]`
    /// - output: `[N, num_inputs]`
    pub fn reconstruct(&self, ratings: Tensor<2>) -> Tensor<2> {
        crate::ops::linear(&self.decoder, self.encode(ratings))
    }

    /// Predicted ratings, clamped to the rating scale.
    ///
    /// # Shapes
    /// - ratings: `[N, num_inputs]`
    /// - output: `[N, num_inputs]`
    pub fn predict(&self, ratings: Tensor<2>) -> Tensor<2> {
        self.reconstruct(ratings)
            .clamp(self.config.min_rating, self.config.max_rating)
    }

    /// `weight_decay / 2 * (|W|^2 + |V|^2)` over the two weight matrices (not the biases).
    pub fn weight_penalty(&self) -> Tensor<1> {
        let squares =
            self.encoder.weight.val().square().sum() + self.decoder.weight.val().square().sum();
        squares * (self.config.weight_decay / 2.0)
    }

    /// The training forward pass: predictions for `input`, scored where `mask` is one.
    ///
    /// # Shapes
    /// - input, target, mask: `[N, num_inputs]`
    pub fn forward(&self, input: Tensor<2>, target: Tensor<2>, mask: Tensor<2>) -> AutoRecOutput {
        let predictions = self.reconstruct(input);
        let observed = mask.clone().sum().clamp_min(1.0);
        let squared = ((predictions.clone() - target) * mask).square().sum();
        let reconstruction = squared / observed;
        let penalty = self.weight_penalty();
        AutoRecOutput {
            loss: reconstruction.clone() + penalty.clone(),
            terms: vec![
                LossTerm {
                    name: "reconstruction",
                    value: reconstruction,
                },
                LossTerm {
                    name: "weight_decay",
                    value: penalty,
                },
            ],
            predictions,
        }
    }
}
