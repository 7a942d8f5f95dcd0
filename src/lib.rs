//! Autoencoders on Burn: one import for the model zoo, the datasets and the training tools.
//!
//! ```no_run
//! use autoencoders::models::{Autoencoder, SavedModel, VanillaAutoencoder, VanillaAutoencoderConfig};
//! use autoencoders::train::{DeviceSpec, TrainingConfig, evaluate, fit};
//!
//! let device = "flex".parse::<DeviceSpec>()?.device()?;
//! let data = autoencoders::data::mnist_sample()?;
//! let (train, valid) = data.train.split(0.1, 42)?;
//! let model = VanillaAutoencoderConfig::new().with_latent_dim(16).try_init(&device)?;
//! let config = TrainingConfig::new().with_epochs(10);
//! let fitted = fit(model, train, valid, &config, "runs/mine".as_ref(), &device, false)?;
//! println!("{:?}", evaluate(&fitted.model, &data.test, 500, &device)?);
//! fitted.model.save("runs/mine/model".as_ref())?;
//!
//! let model = VanillaAutoencoder::load("runs/mine/model".as_ref(), &device)?;
//! let batch = data.test.batch(0..16, &device); // [16, 1, 28, 28] in [0, 1], and labels
//! let codes = model.encode(batch.images); // [16, 16]
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
