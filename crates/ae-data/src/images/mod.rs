//! Images in memory: their shape, the dataset every image loader of this crate produces, and the
//! batcher that turns them into tensors. Imports run `loader → plan, dataset → batcher → item`.

mod batcher;
mod dataset;
mod item;
mod loader;
mod plan;
mod resize;

pub use batcher::{ImageBatch, ImageBatcher};
pub use dataset::ImageDataset;
pub(crate) use dataset::split_rows;
pub use item::{ImageItem, ImageShape};
pub use loader::{DEVICE_RESIDENT_BYTES, ImageBatches, ImageLoader, Residency};
pub use plan::{BatchPlan, PartialBatch};
pub(crate) use resize::{MAX_PIXELS, dataset_bytes};
