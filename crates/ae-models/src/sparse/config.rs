use burn::config::Config;
use burn::nn::activation::ActivationConfig;

use crate::error::{ModelError, Result};
use crate::vanilla::VanillaAutoencoderConfig;

/// The sparsity penalty on the code.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum SparsityPenalty {
    /// `weight * mean(|h|)`: an L1 penalty on the code's activations (ReLU code).
    L1 {
        /// The penalty's weight in the loss.
        weight: f64,
    },
    /// `weight * Σ_j KL(ρ ‖ ρ̂_j)`: the KL divergence between a target activation rate `ρ` and
    /// each unit's mean activation `ρ̂_j` over the batch (sigmoid code), as in Ng's sparse
    /// autoencoder notes.
    Kl {
        /// The penalty's weight in the loss.
        weight: f64,
        /// The target mean activation `ρ` of each unit, in `(0, 1)`.
        target: f64,
    },
}

/// Configuration of a [`SparseAutoencoder`](crate::SparseAutoencoder): a dense autoencoder whose
/// code carries a sparsity penalty.
#[derive(Config, Debug)]
pub struct SparseAutoencoderConfig {
    /// The dense autoencoder. Its `latent_activation` is replaced to suit the penalty: ReLU for
    /// L1, sigmoid for KL (whose activation rates must lie in `(0, 1)`).
    #[config(default = "VanillaAutoencoderConfig::new().with_latent_dim(64)")]
    pub base: VanillaAutoencoderConfig,
    /// The penalty and its weight.
    #[config(default = "SparsityPenalty::Kl { weight: 0.001, target: 0.05 }")]
    pub penalty: SparsityPenalty,
    /// A code value below this counts as inactive in the reported statistics.
    #[config(default = 0.01)]
    pub inactive_below: f64,
}

impl SparseAutoencoderConfig {
    /// The base configuration with the code activation the penalty needs.
    pub fn effective_base(&self) -> VanillaAutoencoderConfig {
        let activation = match self.penalty {
            SparsityPenalty::L1 { .. } => ActivationConfig::Relu,
            SparsityPenalty::Kl { .. } => ActivationConfig::Sigmoid,
        };
        self.base.clone().with_latent_activation(activation)
    }

    /// Checks that the configuration describes a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let (weight, target) = match self.penalty {
            SparsityPenalty::L1 { weight } => (weight, None),
            SparsityPenalty::Kl { weight, target } => (weight, Some(target)),
        };
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(ModelError::InvalidConfig {
                field: "penalty.weight",
                message: format!("{weight} is not a non-negative number"),
            });
        }
        if let Some(rho) = target
            && !(rho > 0.0 && rho < 1.0)
        {
            return Err(ModelError::InvalidConfig {
                field: "penalty.target",
                message: format!("{rho} is not strictly between 0 and 1"),
            });
        }
        self.effective_base().validate()
    }
}
