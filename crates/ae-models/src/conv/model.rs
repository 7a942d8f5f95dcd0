use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::autoencoder::{Autoencoder, AutoencoderOutput, LossTerm};
use crate::conv::ConvAutoencoderConfig;
use crate::conv_stack::{ConvDecoder, ConvEncoder};

/// A convolutional autoencoder: stride-2 convolutions and a dense layer down to the code, a dense
/// layer and stride-2 transposed convolutions back up.
///
/// Build it with [`ConvAutoencoderConfig::init`].
#[derive(Module, Debug)]
pub struct ConvAutoencoder {
    /// Convolutions, flattened.
    pub encoder: ConvEncoder,
    /// Flattened features to the code.
    pub to_latent: Linear,
    /// Code to logits.
    pub decoder: ConvDecoder,
    #[module(skip)]
    pub(super) config: ConvAutoencoderConfig,
}

impl ConvAutoencoder {
    pub(crate) fn new(config: &ConvAutoencoderConfig, device: &Device) -> Self {
        let stack = config.stack();
        Self {
            encoder: stack.init_encoder(device),
            to_latent: LinearConfig::new(stack.feature_numel(), config.latent_dim).init(device),
            decoder: stack.init_decoder(config.latent_dim, device),
            config: config.clone(),
        }
    }
}

impl Autoencoder for ConvAutoencoder {
    fn input_shape(&self) -> [usize; 3] {
        self.config.input_shape
    }

    fn latent_dim(&self) -> usize {
        self.config.latent_dim
    }

    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, latent_dim]`
    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        crate::ops::linear(&self.to_latent, self.encoder.forward(images))
    }

    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[N, C, H, W]`
    fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        self.config
            .output_activation
            .apply(self.decoder.forward(codes))
    }

    /// # Shapes
    /// - input, target: `[N, C, H, W]`
    /// - mask: `[N]`
    fn forward_masked(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        mask: Option<Tensor<1>>,
    ) -> AutoencoderOutput {
        let latent = self.encode(input);
        let logits = self.decoder.forward(latent.clone());
        let reconstruction = self.config.output_activation.apply(logits.clone());
        let loss = self.config.loss.mean(
            logits.flatten(1, 3),
            reconstruction.clone().flatten(1, 3),
            target.flatten(1, 3),
            mask.as_ref(),
        );
        AutoencoderOutput {
            reconstruction,
            latent,
            loss: loss.clone(),
            terms: vec![LossTerm {
                name: "reconstruction",
                value: loss,
            }],
        }
    }

    fn replay_hazard(&self) -> Option<&'static str> {
        self.config
            .batch_norm
            .then_some("its batch normalisation updates running statistics in every step")
    }
}
