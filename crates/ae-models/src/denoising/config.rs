use burn::config::Config;

use crate::conv::ConvAutoencoderConfig;
use crate::corruption::Corruption;
use crate::error::Result;
use crate::vanilla::VanillaAutoencoderConfig;

/// The architecture under the corruption.
#[derive(Config, Debug)]
pub enum DenoisingBaseConfig {
    /// A dense autoencoder.
    Mlp(VanillaAutoencoderConfig),
    /// A convolutional autoencoder.
    Conv(ConvAutoencoderConfig),
}

/// Configuration of a [`DenoisingAutoencoder`](crate::DenoisingAutoencoder).
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
}
