use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::autoencoder::{Autoencoder, AutoencoderOutput};
use crate::conv::ConvAutoencoder;
use crate::denoising::{DenoisingAutoencoderConfig, DenoisingBaseConfig};
use crate::vanilla::VanillaAutoencoder;

/// The architecture of a [`DenoisingAutoencoder`].
#[derive(Module, Debug)]
pub enum DenoisingBase {
    /// Dense.
    Mlp(VanillaAutoencoder),
    /// Convolutional.
    Conv(ConvAutoencoder),
}

/// An autoencoder whose training inputs are corrupted while its targets stay clean, so that it
/// learns to remove the corruption.
///
/// [`forward`](Autoencoder::forward) corrupts its input (in training and in evaluation) and
/// scores the reconstruction against the clean input; [`reconstruct`](Autoencoder::reconstruct)
/// denoises whatever it is given, without adding corruption. Use [`Self::corrupt`] to make noisy
/// inputs.
#[derive(Module, Debug)]
pub struct DenoisingAutoencoder {
    /// The architecture.
    pub base: DenoisingBase,
    #[module(skip)]
    pub(super) config: DenoisingAutoencoderConfig,
}

impl DenoisingAutoencoder {
    pub(crate) fn new(config: &DenoisingAutoencoderConfig, device: &Device) -> Self {
        let base = match &config.base {
            DenoisingBaseConfig::Mlp(c) => DenoisingBase::Mlp(VanillaAutoencoder::new(c, device)),
            DenoisingBaseConfig::Conv(c) => DenoisingBase::Conv(ConvAutoencoder::new(c, device)),
        };
        Self {
            base,
            config: config.clone(),
        }
    }

    /// A corrupted copy of `images`, drawn from the device's generator.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, C, H, W]`
    pub fn corrupt(&self, images: Tensor<4>) -> Tensor<4> {
        self.config.corruption.apply(images)
    }

    /// A corrupted copy of `images` drawn from `seed` alone (the same on every backend and run).
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, C, H, W]`
    pub fn corrupt_seeded(&self, images: Tensor<4>, seed: u64) -> Tensor<4> {
        self.config.corruption.apply_seeded(images, seed)
    }

    fn inner(&self) -> &dyn Autoencoder {
        match &self.base {
            DenoisingBase::Mlp(m) => m,
            DenoisingBase::Conv(m) => m,
        }
    }
}

impl Autoencoder for DenoisingAutoencoder {
    fn input_shape(&self) -> [usize; 3] {
        self.inner().input_shape()
    }

    fn latent_dim(&self) -> usize {
        self.inner().latent_dim()
    }

    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.inner().encode(images)
    }

    fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        self.inner().decode(codes)
    }

    /// Corrupts `input`, reconstructs it, and scores the result against `target`.
    ///
    /// # Shapes
    /// - input, target: `[N, C, H, W]`
    /// - mask: `[N]`
    fn forward_masked(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        mask: Option<Tensor<1>>,
    ) -> AutoencoderOutput {
        self.inner()
            .forward_masked(self.corrupt(input), target, mask)
    }

    fn replay_hazard(&self) -> Option<&'static str> {
        Some("it corrupts every batch with fresh random noise")
    }
}
