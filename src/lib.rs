//! Autoencoders on Burn: one import for the model zoo, the datasets and the training tools.
//!
//! ```no_run
//! use autoencoders::models::{Autoencoder, VanillaAutoencoderConfig};
//! use autoencoders::train::DeviceSpec;
//!
//! let device = "flex".parse::<DeviceSpec>()?.device()?;
//! let model = VanillaAutoencoderConfig::new().with_latent_dim(16).try_init(&device)?;
//! let data = autoencoders::data::mnist_sample()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`models`] (`ae-models`): the autoencoders and their shared interface.
//! - [`data`] (`ae-data`): IDX/MNIST, Fashion-MNIST, the embedded MNIST sample, image folders.
//! - [`train`] (`ae-train`): training with burn-train, evaluation, artifacts, devices.
//! - [`cli`]: the command-line arguments shared by the example trainers.

pub use ae_data as data;
pub use ae_models as models;
pub use ae_train as train;

pub mod cli;
