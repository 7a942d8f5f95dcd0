use burn::config::Config;
use burn::nn::activation::ActivationConfig;

use crate::conv_stack::ConvStackConfig;
use crate::error::{ModelError, Result};
use crate::limits::{
    check_input_shape, check_parameters, check_width, check_widths, dense_parameters,
};
use crate::loss::ReconstructionLoss;

/// The encoder/decoder architecture of a VAE.
#[derive(Config, Debug)]
pub enum VaeArchitecture {
    /// Dense layers (the decoder mirrors them).
    Mlp {
        /// Hidden widths of the encoder, input side first.
        hidden: Vec<usize>,
    },
    /// Stride-2 convolutions (the decoder mirrors them with transposed convolutions).
    Conv {
        /// Channels after each convolution.
        channels: Vec<usize>,
        /// Odd kernel size.
        kernel_size: usize,
    },
}

/// Configuration of a [`VariationalAutoencoder`](crate::VariationalAutoencoder) (Kingma and
/// Welling, 2014).
///
/// The defaults are the VAE of PyTorch's example: 784-400-20, ReLU, Bernoulli likelihood
/// (binary cross-entropy summed over the pixels of each image), β = 1.
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// Shape of one input image, `[channels, height, width]`.
    #[config(default = "[1, 28, 28]")]
    pub input_shape: [usize; 3],
    /// Dense or convolutional.
    #[config(default = "VaeArchitecture::Mlp { hidden: vec![400] }")]
    pub architecture: VaeArchitecture,
    /// Size of the latent space.
    #[config(default = 20)]
    pub latent_dim: usize,
    /// Activation after each hidden layer.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// The likelihood: `Bce` is Bernoulli (pixels in `[0, 1]`, sigmoid output); `Mse` is a
    /// Gaussian of unit variance (squared error / 2 plus a constant, in nats).
    #[config(default = "ReconstructionLoss::Bce")]
    pub likelihood: ReconstructionLoss,
    /// Weight of the KL term (β-VAE; 1 is the ELBO).
    #[config(default = 1.0)]
    pub beta: f64,
    /// The encoder's log-variance is clamped to `[-logvar_limit, logvar_limit]` so that
    /// `exp(logvar)` can neither overflow nor vanish.
    #[config(default = 10.0)]
    pub logvar_limit: f64,
}

impl VaeConfig {
    /// The convolution settings, for the convolutional architecture.
    pub fn conv_stack(&self) -> Option<ConvStackConfig> {
        match &self.architecture {
            VaeArchitecture::Conv {
                channels,
                kernel_size,
            } => Some(
                ConvStackConfig::new(self.input_shape, channels.clone())
                    .with_kernel_size(*kernel_size)
                    .with_activation(self.activation.clone()),
            ),
            VaeArchitecture::Mlp { .. } => None,
        }
    }

    /// Checks that the configuration describes a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, message: String| Err(ModelError::InvalidConfig { field, message });
        check_input_shape("input_shape", self.input_shape)?;
        check_width("latent_dim", self.latent_dim)?;
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return invalid(
                "beta",
                format!("{} is not a non-negative number", self.beta),
            );
        }
        if !(self.logvar_limit.is_finite() && self.logvar_limit > 0.0) {
            return invalid(
                "logvar_limit",
                format!("{} is not positive", self.logvar_limit),
            );
        }
        match &self.architecture {
            VaeArchitecture::Mlp { hidden } if hidden.is_empty() || hidden.contains(&0) => {
                return invalid(
                    "architecture.hidden",
                    format!("{hidden:?} needs non-zero widths"),
                );
            }
            VaeArchitecture::Mlp { hidden } => check_widths("architecture.hidden", hidden)?,
            VaeArchitecture::Conv { .. } => {
                if let Some(stack) = self.conv_stack() {
                    stack.validate()?;
                }
            }
        }
        check_parameters(self.parameter_count())
    }

    /// Weights and biases of the model: the encoder, the mean and log-variance heads, the
    /// decoder.
    pub fn parameter_count(&self) -> u128 {
        let input = self
            .input_shape
            .iter()
            .map(|&d| d as u128)
            .product::<u128>();
        let latent = self.latent_dim as u128;
        match (&self.architecture, self.conv_stack()) {
            (VaeArchitecture::Mlp { hidden }, _) => {
                let mut widths = vec![input as usize];
                widths.extend(hidden);
                let last = *widths.last().unwrap_or(&1) as u128;
                let mut decoder = vec![self.latent_dim];
                decoder.extend(hidden.iter().rev());
                decoder.push(input as usize);
                dense_parameters(&widths)
                    + 2 * (last * latent + latent)
                    + dense_parameters(&decoder)
            }
            (_, Some(stack)) => {
                let features = stack.feature_numel() as u128;
                stack.parameter_count() + 3 * features * latent + 2 * latent + features
            }
            (_, None) => 0,
        }
    }
}
