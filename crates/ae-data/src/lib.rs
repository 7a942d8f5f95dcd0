//! Datasets for autoencoders on Burn.
//!
//! - [`idx`]: the IDX (MNIST-format) file format, raw or gzip, read and written with typed errors.
//! - [`mod@mnist`]: MNIST-format folders, Fashion-MNIST where Debian installs it, and an embedded
//!   sample of 10,000 real MNIST digits that needs no network.
//! - [`image_folder`]: PNG/JPEG/BMP folders, resized, grayscale or RGB, optional class folders.
//! - [`ImageDataset`]: the in-memory dataset all of them produce (a Burn [`Dataset`]), with
//!   seeded splits; [`ImageLoader`] serves it in batches of one fixed size (shuffled per epoch,
//!   the last batch dropped or padded and masked, from the device or from host memory) as
//!   `[N, C, H, W]` tensors in `[0, 1]`; [`ImageBatcher`] is the same conversion as Burn's
//!   `Batcher`.
//! - [`DatasetSource`]: one value naming any of the above, for command lines.
//! - [`patches`]: a colour anomaly-detection workload cut from real photographs, with defects
//!   drawn in.
//! - [`tabular`]: CSV tables (numeric and categorical columns), the KDD Cup 1999 format.
//! - [`text`]: corpora, character/word tokenizers and padded token batches.
//! - [`ratings`]: MovieLens rating files and item vectors for collaborative filtering.
//!
//! [`Dataset`]: burn::data::dataset::Dataset

#![warn(missing_docs)]

pub mod error;
pub mod idx;
pub mod image_folder;
mod images;
pub mod mnist;
pub mod patches;
pub mod ratings;
mod source;
pub mod tabular;
pub mod text;

pub use error::{DataError, Result};
pub use images::{
    BatchPlan, DEVICE_RESIDENT_BYTES, ImageBatch, ImageBatcher, ImageBatches, ImageDataset,
    ImageItem, ImageLoader, ImageShape, PartialBatch, Residency,
};
pub use mnist::{TrainTest, fashion_mnist, mnist, mnist_sample};
pub use source::DatasetSource;
