//! Training, evaluating and using autoencoders with burn-train.
//!
//! - Training: any [`Trainable`] model (every model of `ae-models` is one) trains with [`fit`] on
//!   burn-train's learner — metrics, atomic checkpoints, resume, one JSON line of metrics per
//!   epoch, progress display — on a device chosen with [`DeviceSpec`] (`"flex"`, `"wgpu"`,
//!   `"cuda:1"`, ...), optimised by [`adam_optimizer`] (Burn's Adam, its update fused into one
//!   CPU kernel per parameter on flex: [`FusedAdam`]).
//! - Evaluation: [`evaluate`] and the model-specific reports, read-backs ([`values`]) and
//!   pictures ([`save_image_grid`], ...).
//! - Applications: [`anomaly`], [`classify`], [`codes`], [`impute`], [`pca`], [`recommend`],
//!   [`text`].
//!
//! Inside, imports run one way: the applications use evaluation, which uses training.

#![warn(missing_docs)]

mod error;
mod eval;
mod fit;
mod quiet;
mod tasks;

pub use error::{Result, TrainError};
pub use eval::*;
pub use fit::*;
pub use tasks::{anomaly, classify, codes, impute, pca, recommend, text};
