use burn::module::Module;
use burn::nn::activation::Activation;
use burn::tensor::{Device, Tensor};

use crate::autoencoder::{Autoencoder, AutoencoderOutput, LossTerm};
use crate::dense::{DenseStack, DenseStackConfig};
use crate::vanilla::VanillaAutoencoderConfig;

/// A dense (MLP) autoencoder: the image is flattened, encoded by fully connected layers to a
/// code of `latent_dim` values, and decoded by the mirrored layers.
///
/// Build it with [`VanillaAutoencoderConfig::init`].
#[derive(Module, Debug)]
pub struct VanillaAutoencoder {
    /// Input to code (before the code activation).
    pub encoder: DenseStack,
    /// Applied to the encoder's output to give the code.
    pub latent_activation: Activation,
    /// Code to logits.
    pub decoder: DenseStack,
    #[module(skip)]
    pub(super) config: VanillaAutoencoderConfig,
}

impl VanillaAutoencoder {
    pub(crate) fn new(config: &VanillaAutoencoderConfig, device: &Device) -> Self {
        let mut widths = vec![config.input_numel()];
        widths.extend(&config.hidden);
        widths.push(config.latent_dim);
        let encoder = DenseStackConfig::new(widths.clone())
            .with_activation(config.activation.clone())
            .with_init(config.init)
            .init(device);
        widths.reverse();
        let decoder = DenseStackConfig::new(widths)
            .with_activation(config.activation.clone())
            .with_init(config.init)
            .init(device);
        Self {
            encoder,
            latent_activation: config.latent_activation.init(device),
            decoder,
            config: config.clone(),
        }
    }

    /// The decoder's pre-activation outputs.
    ///
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[N, C * H * W]`
    pub fn decode_logits(&self, codes: Tensor<2>) -> Tensor<2> {
        self.decoder.forward(codes)
    }

    fn activate_output(&self, logits: Tensor<2>) -> Tensor<2> {
        self.config.output_activation.apply(logits)
    }

    fn unflatten(&self, flat: Tensor<2>) -> Tensor<4> {
        let [n, _] = flat.dims();
        let [c, h, w] = self.config.input_shape;
        flat.reshape([n, c, h, w])
    }
}

impl Autoencoder for VanillaAutoencoder {
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
        let flat: Tensor<2> = images.flatten(1, 3);
        crate::ops::activation(&self.latent_activation, self.encoder.forward(flat))
    }

    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[N, C, H, W]`
    fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        let logits = self.decode_logits(codes);
        self.unflatten(self.activate_output(logits))
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
        let logits = self.decode_logits(latent.clone());
        let reconstruction = self.activate_output(logits.clone());
        let loss = self.config.loss.mean(
            logits,
            reconstruction.clone(),
            target.flatten(1, 3),
            mask.as_ref(),
        );
        AutoencoderOutput {
            reconstruction: self.unflatten(reconstruction),
            latent,
            loss: loss.clone(),
            terms: vec![LossTerm {
                name: "reconstruction",
                value: loss,
            }],
        }
    }

    fn replay_hazard(&self) -> Option<&'static str> {
        None
    }
}
