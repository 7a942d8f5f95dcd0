//! The denoising autoencoder: a dense or convolutional autoencoder trained to reconstruct clean
//! images from corrupted ones.

mod config;
mod model;

pub use config::{DenoisingAutoencoderConfig, DenoisingBaseConfig};
pub use model::{DenoisingAutoencoder, DenoisingBase};

crate::persist::zoo_model!(
    DenoisingAutoencoder,
    DenoisingAutoencoderConfig,
    "denoising"
);

#[cfg(test)]
mod tests;
