//! The sequence (text) autoencoder: an LSTM encoder whose final state becomes a fixed-size
//! sentence code, and an LSTM decoder that rebuilds the sentence from the code.

mod config;
mod model;

pub use config::{BOS, EOS, PAD, TextAutoencoderConfig, UNK};
pub use model::{TextAutoencoder, TextOutput};

crate::persist::zoo_model!(TextAutoencoder, TextAutoencoderConfig, "text");

#[cfg(test)]
mod tests;
