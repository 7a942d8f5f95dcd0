use burn::config::Config;
use burn::nn::activation::ActivationConfig;

use crate::dense::WeightInit;
use crate::error::{ModelError, Result};
use crate::limits::{
    check_input_shape, check_parameters, check_width, check_widths, dense_parameters,
};
use crate::loss::{OutputActivation, ReconstructionLoss};

/// Configuration of a [`VanillaAutoencoder`](crate::VanillaAutoencoder), a dense (MLP) autoencoder.
///
/// The defaults are the deep autoencoder of the Keras tutorial ("Building Autoencoders in
/// Keras"): 784-128-64-32-64-128-784, ReLU after every hidden layer and on the code, a sigmoid
/// output, trained with MSE.
#[derive(Config, Debug)]
pub struct VanillaAutoencoderConfig {
    /// Shape of one input image, `[channels, height, width]`.
    #[config(default = "[1, 28, 28]")]
    pub input_shape: [usize; 3],
    /// Widths of the encoder's hidden layers, input side first; the decoder mirrors them.
    #[config(default = "vec![128, 64]")]
    pub hidden: Vec<usize>,
    /// Size of the code.
    #[config(default = 32)]
    pub latent_dim: usize,
    /// Activation after each hidden layer.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Activation applied to the code (Keras' tutorial uses ReLU; `Identity` gives a linear
    /// bottleneck, closer to PCA).
    #[config(default = "ActivationConfig::Relu")]
    pub latent_activation: ActivationConfig,
    /// What follows the decoder's last layer.
    #[config(default = "OutputActivation::Sigmoid")]
    pub output_activation: OutputActivation,
    /// The reconstruction loss (averaged over every pixel of the batch).
    #[config(default = "ReconstructionLoss::Mse")]
    pub loss: ReconstructionLoss,
    /// Weight initialisation of every layer (Keras' Glorot-uniform with zero biases, as in the
    /// tutorial, or PyTorch's).
    #[config(default = "WeightInit::Keras")]
    pub init: WeightInit,
}

impl VanillaAutoencoderConfig {
    /// Values per input image.
    pub fn input_numel(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Checks that the configuration describes a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, message: &str| {
            Err(ModelError::InvalidConfig {
                field,
                message: message.to_string(),
            })
        };
        check_input_shape("input_shape", self.input_shape)?;
        check_width("latent_dim", self.latent_dim)?;
        if self.hidden.contains(&0) {
            return invalid("hidden", "has a layer of width 0");
        }
        check_widths("hidden", &self.hidden)?;
        check_parameters(self.parameter_count())?;
        self.loss.check_output(self.output_activation)
    }

    /// The widths of the encoder's layers, input first and code last.
    pub fn encoder_widths(&self) -> Vec<usize> {
        let mut widths = vec![self.input_numel()];
        widths.extend(&self.hidden);
        widths.push(self.latent_dim);
        widths
    }

    /// Weights and biases of the model (encoder and mirrored decoder).
    pub fn parameter_count(&self) -> u128 {
        let widths = self.encoder_widths();
        let mut mirrored = widths.clone();
        mirrored.reverse();
        dense_parameters(&widths) + dense_parameters(&mirrored)
    }
}
