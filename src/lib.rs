//! Autoencoders on Burn: one import for the model zoo, the datasets and the training tools.
//!
//! ```no_run
//! use autoencoders::models::{Autoencoder, SavedModel, VanillaAutoencoder, VanillaAutoencoderConfig};
//! use autoencoders::train::{DeviceSpec, FitOptions, TrainingConfig, evaluate, fit};
//!
//! autoencoders::allocator::keep_freed_memory(); // glibc, CPU training: see docs/performance.md
//! let device = "flex".parse::<DeviceSpec>()?.device()?;
//! let data = autoencoders::data::mnist_sample()?;
//! let (train, valid) = data.train.split(0.1, 42)?;
//! let model = VanillaAutoencoderConfig::new().with_latent_dim(16).try_init(&device)?;
//! let config = TrainingConfig::new().with_epochs(10);
//! let fitted = fit(model, train, valid, &config, &FitOptions::new("runs/mine", &device))?;
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
//! - [`data`] (`ae-data`): IDX/MNIST, Fashion-MNIST, the embedded MNIST sample, image folders,
//!   tables, text, ratings.
//! - [`train`] (`ae-train`): training with burn-train, evaluation, the applications.
//!
//! With the default `cli` feature, what the examples share: [`cli`] (flag groups),
//! [`run`] (the run pipeline of the image examples and its report), [`table`] (printed tables),
//! [`mod@bench`] (speed measurements) and [`allocator`] (the C allocator setting for CPU training).

#![warn(missing_docs)]

pub use ae_data as data;
pub use ae_io as io;
pub use ae_models as models;
pub use ae_train as train;

#[cfg(feature = "cli")]
pub mod allocator;
#[cfg(feature = "cli")]
pub mod bench;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod run;
#[cfg(feature = "cli")]
pub mod table;
