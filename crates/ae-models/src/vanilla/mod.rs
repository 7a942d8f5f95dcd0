//! The vanilla (dense, MLP) autoencoder.

mod config;
mod model;

pub use config::VanillaAutoencoderConfig;
pub use model::VanillaAutoencoder;

crate::persist::zoo_model!(VanillaAutoencoder, VanillaAutoencoderConfig, "vanilla");

#[cfg(test)]
mod tests;
