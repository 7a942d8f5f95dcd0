//! The sparse autoencoder: a dense autoencoder with an L1 or KL sparsity penalty on its code.

mod config;
mod model;

pub use config::{SparseAutoencoderConfig, SparsityPenalty};
pub use model::{SparseAutoencoder, SparsityStats, sparsity_penalty};

crate::persist::zoo_model!(SparseAutoencoder, SparseAutoencoderConfig, "sparse");

#[cfg(test)]
mod tests;
