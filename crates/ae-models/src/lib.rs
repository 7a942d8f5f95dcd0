//! A zoo of autoencoders on Burn, written once for every backend.
//!
//! Every image model implements [`Autoencoder`] (`encode`, `decode`, `forward_masked` with its
//! loss terms over the real rows of a batch, `reconstruct`) and every model [`SavedModel`] (a
//! folder with `config.json` and `model.bpk`, loaded back in one call, refused when its weights
//! are not finite). Models are built from `#[derive(Config)]` configurations with
//! `init(&device)`, as Burn's own layers are, after a `validate()` that bounds every size
//! ([`limits`]); the [`Device`](burn::tensor::Device) picks the backend at run time. A model
//! folder holds `mod.rs`, `config.rs`, `model.rs` and `tests.rs`, and one `zoo_model!` line
//! writes its `try_init`/`init`/`SavedModel`.
//!
//! - [`vanilla`]: the dense (MLP) autoencoder.
//! - [`conv`]: the convolutional autoencoder.
//! - [`denoising`]: the denoising autoencoder (Gaussian, masking or salt-and-pepper corruption).
//! - [`sparse`]: the sparse autoencoder (L1 or KL penalty on the code).
//! - [`zoo`]: any model from a tagged JSON configuration, a preset, or a saved folder.
//! - [`pretrained`](mod@pretrained): trained weights shipped with the crate, each with its model card
//!   (`pretrained("vae-mlp", "fashion-mnist", &device)`).
//! - [`vae`]: the variational autoencoder (dense or convolutional; sampling, interpolation,
//!   importance-weighted log-likelihood).
//! - [`text`]: the sequence (LSTM) autoencoder for sentences.
//! - [`autorec`]: AutoRec, the collaborative-filtering autoencoder of item rating vectors.
//! - [`ops`]: the hot operations the models use (sigmoid, tanh, exp, BCE with logits, the fused
//!   Adam update, convolutions, dense layers, matrix products), with this crate's own kernels on
//!   the CPU (`flex`) and Burn's operations on every other backend; and `on_kernel_threads`, to
//!   run a loop over them on one of rayon's threads.

#![warn(missing_docs)]

pub mod autoencoder;
pub mod autorec;
pub mod capture;
pub mod conv;
pub mod conv_stack;
pub mod corruption;
pub mod denoising;
pub mod dense;
pub mod error;
pub mod limits;
pub mod loss;
pub mod ops;
pub mod persist;
pub mod pretrained;
pub mod sparse;
pub mod text;
pub mod vae;
pub mod vanilla;
pub mod zoo;

pub use autoencoder::{Autoencoder, AutoencoderOutput, LossTerm};
pub use autorec::{AutoRec, AutoRecConfig};
pub use conv::{ConvAutoencoder, ConvAutoencoderConfig};
pub use corruption::Corruption;
pub use denoising::{DenoisingAutoencoder, DenoisingAutoencoderConfig, DenoisingBaseConfig};
pub use dense::WeightInit;
pub use error::{ModelError, Result};
pub use loss::{
    OutputActivation, ReconstructionLoss, masked_mean, per_image_mse, per_image_psnr, psnr_of_mse,
};
pub use persist::{SaveFolder, SavedModel, WeightsPrecision};
pub use pretrained::{ModelCard, pretrained, pretrained_card, pretrained_models};
pub use sparse::{SparseAutoencoder, SparseAutoencoderConfig, SparsityPenalty};
pub use text::{TextAutoencoder, TextAutoencoderConfig};
pub use vae::{VaeArchitecture, VaeConfig, VariationalAutoencoder};
pub use vanilla::{VanillaAutoencoder, VanillaAutoencoderConfig};
pub use zoo::{AnyAutoencoder, ModelConfig, PRESETS, load_model};
