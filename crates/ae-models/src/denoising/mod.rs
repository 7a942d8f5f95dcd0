//! The denoising autoencoder: a dense or convolutional autoencoder trained to reconstruct clean
//! images from corrupted ones.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::autoencoder::{Autoencoder, AutoencoderOutput};
use crate::conv::{ConvAutoencoder, ConvAutoencoderConfig};
use crate::corruption::Corruption;
use crate::error::Result;
use crate::persist::SavedModel;
use crate::vanilla::{VanillaAutoencoder, VanillaAutoencoderConfig};

/// The architecture under the corruption.
#[derive(Config, Debug)]
pub enum DenoisingBaseConfig {
    /// A dense autoencoder.
    Mlp(VanillaAutoencoderConfig),
    /// A convolutional autoencoder.
    Conv(ConvAutoencoderConfig),
}

/// Configuration of a [`DenoisingAutoencoder`].
#[derive(Config, Debug)]
pub struct DenoisingAutoencoderConfig {
    /// The architecture.
    #[config(default = "DenoisingBaseConfig::Mlp(VanillaAutoencoderConfig::new())")]
    pub base: DenoisingBaseConfig,
    /// The corruption of the inputs (the targets stay clean).
    #[config(default = "Corruption::Gaussian { std: 0.5, clip: true }")]
    pub corruption: Corruption,
}

impl DenoisingAutoencoderConfig {
    /// Checks that the configuration describes a model that can be built.
    pub fn validate(&self) -> Result<()> {
        self.corruption.validate()?;
        match &self.base {
            DenoisingBaseConfig::Mlp(c) => c.validate(),
            DenoisingBaseConfig::Conv(c) => c.validate(),
        }
    }

    /// Builds the model on `device`, after [`validate`](Self::validate).
    pub fn try_init(&self, device: &Device) -> Result<DenoisingAutoencoder> {
        self.validate()?;
        let base = match &self.base {
            DenoisingBaseConfig::Mlp(c) => DenoisingBase::Mlp(c.try_init(device)?),
            DenoisingBaseConfig::Conv(c) => DenoisingBase::Conv(c.try_init(device)?),
        };
        Ok(DenoisingAutoencoder {
            base,
            config: self.clone(),
        })
    }

    /// Builds the model on `device`.
    ///
    /// # Panics
    /// When the configuration is invalid; use [`try_init`](Self::try_init) for configurations
    /// that come from users or files.
    pub fn init(&self, device: &Device) -> DenoisingAutoencoder {
        match self.try_init(device) {
            Ok(model) => model,
            Err(err) => panic!("{err}"),
        }
    }
}

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
    config: DenoisingAutoencoderConfig,
}

impl DenoisingAutoencoder {
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
    fn forward_with_target(&self, input: Tensor<4>, target: Tensor<4>) -> AutoencoderOutput {
        self.inner()
            .forward_with_target(self.corrupt(input), target)
    }
}

impl SavedModel for DenoisingAutoencoder {
    const KIND: &'static str = "denoising";
    type Config = DenoisingAutoencoderConfig;

    fn config(&self) -> &DenoisingAutoencoderConfig {
        &self.config
    }

    fn from_config(config: &DenoisingAutoencoderConfig, device: &Device) -> Result<Self> {
        config.try_init(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn forward_scores_a_noisy_input_against_the_clean_target() {
        let device = Device::flex();
        let model = DenoisingAutoencoderConfig::new().init(&device);
        let x = Tensor::random([4, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let out = model.forward(x.clone());
        // The loss is the MSE to the clean images, of the reconstruction of a noisy copy.
        let by_hand = (out.reconstruction.clone() - x.clone()).square().mean();
        assert!((out.loss.into_scalar::<f32>() - by_hand.into_scalar::<f32>()).abs() < 1e-6);
        // Reconstructing the clean input differs from reconstructing a corrupted one.
        let clean = model.reconstruct(x).into_data();
        assert_ne!(clean, out.reconstruction.into_data());
    }

    #[test]
    fn conv_base_round_trips() {
        let device = Device::flex();
        let config = DenoisingAutoencoderConfig::new()
            .with_base(DenoisingBaseConfig::Conv(ConvAutoencoderConfig::new()))
            .with_corruption(Corruption::Masking { fraction: 0.5 });
        let model = config.init(&device);
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let loaded = DenoisingAutoencoder::load(dir.path(), &device).unwrap();
        let x = Tensor::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        model
            .reconstruct(x.clone())
            .into_data()
            .assert_eq(&loaded.reconstruct(x).into_data(), true);
    }
}
