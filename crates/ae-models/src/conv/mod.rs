//! The convolutional autoencoder.

mod config;
mod model;

pub use config::ConvAutoencoderConfig;
pub use model::ConvAutoencoder;

crate::persist::zoo_model!(ConvAutoencoder, ConvAutoencoderConfig, "conv");

#[cfg(test)]
mod tests;
