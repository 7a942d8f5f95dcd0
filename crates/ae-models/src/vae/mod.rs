//! The variational autoencoder, dense or convolutional.

mod config;
mod model;

pub use config::{VaeArchitecture, VaeConfig};
pub use model::{Posterior, VaeDecoder, VaeEncoder, VariationalAutoencoder};

crate::persist::zoo_model!(VariationalAutoencoder, VaeConfig, "vae");

#[cfg(test)]
mod tests;
