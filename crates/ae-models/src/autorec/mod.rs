//! AutoRec (Sedhain et al., 2015): an autoencoder of rating vectors for collaborative filtering.

mod config;
mod model;

pub use config::AutoRecConfig;
pub use model::{AutoRec, AutoRecOutput};

crate::persist::zoo_model!(AutoRec, AutoRecConfig, "autorec");

#[cfg(test)]
mod tests;
