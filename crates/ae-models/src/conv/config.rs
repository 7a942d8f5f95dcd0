use burn::config::Config;
use burn::nn::activation::ActivationConfig;

use crate::conv_stack::ConvStackConfig;
use crate::error::Result;
use crate::limits::{check_parameters, check_width};
use crate::loss::{OutputActivation, ReconstructionLoss};

/// Configuration of a [`ConvAutoencoder`](crate::ConvAutoencoder).
///
/// The defaults make the plain MNIST-size convolutional autoencoder of the PyTorch tutorials:
/// `Conv(1→32, 3x3, stride 2) → ReLU → Conv(32→64, 3x3, stride 2) → ReLU → Linear(3136→32)` and
/// the mirror image with transposed convolutions, a sigmoid output, MSE.
#[derive(Config, Debug)]
pub struct ConvAutoencoderConfig {
    /// Shape of one input image, `[channels, height, width]`; height and width must be divisible
    /// by `2^channels.len()`.
    #[config(default = "[1, 28, 28]")]
    pub input_shape: [usize; 3],
    /// Channels after each stride-2 convolution of the encoder (the decoder mirrors them).
    #[config(default = "vec![32, 64]")]
    pub channels: Vec<usize>,
    /// Odd kernel size of every convolution.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Size of the code (a dense layer after the convolutions; no activation on it).
    #[config(default = 32)]
    pub latent_dim: usize,
    /// Batch normalisation after each hidden convolution.
    #[config(default = false)]
    pub batch_norm: bool,
    /// Activation after each hidden layer.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// What follows the decoder's last layer.
    #[config(default = "OutputActivation::Sigmoid")]
    pub output_activation: OutputActivation,
    /// The reconstruction loss (averaged over every pixel of the batch).
    #[config(default = "ReconstructionLoss::Mse")]
    pub loss: ReconstructionLoss,
}

impl ConvAutoencoderConfig {
    /// The encoder/decoder shape settings.
    pub fn stack(&self) -> ConvStackConfig {
        ConvStackConfig::new(self.input_shape, self.channels.clone())
            .with_kernel_size(self.kernel_size)
            .with_batch_norm(self.batch_norm)
            .with_activation(self.activation.clone())
    }

    /// Checks that the configuration describes a model that can be built.
    pub fn validate(&self) -> Result<()> {
        self.stack().validate()?;
        check_width("latent_dim", self.latent_dim)?;
        check_parameters(self.parameter_count())?;
        self.loss.check_output(self.output_activation)
    }

    /// Weights and biases of the model: the convolution stacks and the dense layers to and from
    /// the code.
    pub fn parameter_count(&self) -> u128 {
        let stack = self.stack();
        let features = stack.feature_numel() as u128;
        let latent = self.latent_dim as u128;
        stack.parameter_count() + 2 * features * latent + features + latent
    }
}
