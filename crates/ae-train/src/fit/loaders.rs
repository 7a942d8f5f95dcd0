//! The datasets [`fit`](crate::fit) trains on, and how each is served in batches.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::Dataset;
use burn::tensor::Device;

use ae_data::ratings::{ItemRatingsDataset, RatingsBatch, RatingsBatcher};
use ae_data::tabular::{VectorBatcher, VectorDataset};
use ae_data::text::{TextBatch, TextBatcher, TextDataset};
use ae_data::{BatchPlan, ImageBatch, ImageDataset, ImageLoader, Residency};

use super::run_folder::checksum;

/// How [`fit`](crate::fit) wants its splits served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitLoading {
    /// Items per batch.
    pub batch_size: usize,
    /// The seed of the training split's shuffles.
    pub seed: u64,
    /// Data-loading threads of burn's loader (the image loader needs none).
    pub num_workers: usize,
    /// Where image splits are kept (see [`Residency`]).
    pub residency: Residency,
    /// The first training epoch (0-based; later than 0 on resumption), so that a resumed run
    /// continues the sequence of shuffles.
    pub first_epoch: usize,
}

/// A split of data that training iterates in batches of `B`: images, table rows, sentences or
/// item rating vectors.
pub trait TrainingSplit<B> {
    /// Items in the split.
    fn items(&self) -> usize;

    /// What identifies the split's data for a resumed run (its size and a checksum of its
    /// contents): a resume on other data is refused.
    fn identity(&self) -> serde_json::Value;

    /// The shape of one item (`[C, H, W]` for images), checked against the model's; `None`
    /// checks nothing.
    fn item_shape(&self) -> Option<Vec<usize>> {
        None
    }

    /// A loader over the split on `device`, batched as `loading` says: the training split
    /// (`training`) reshuffled every epoch, the validation split in order.
    fn loader(
        self,
        loading: &SplitLoading,
        training: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<B>>;
}

/// Burn's data loader of `batcher` over `dataset` (shuffled each epoch when `training`; the last
/// batch of an epoch may be smaller).
fn host_loader<I, B, D, T>(
    batcher: T,
    dataset: D,
    loading: &SplitLoading,
    training: bool,
    device: &Device,
) -> Arc<dyn DataLoader<B>>
where
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    B: Send + Clone + std::fmt::Debug + 'static,
    D: Dataset<I> + 'static,
    T: Batcher<I, B> + 'static,
{
    let builder = DataLoaderBuilder::new(batcher)
        .batch_size(loading.batch_size)
        .num_workers(loading.num_workers)
        .set_device(device.clone());
    let builder = if training {
        builder.shuffle(loading.seed)
    } else {
        builder
    };
    builder.build(dataset)
}

impl TrainingSplit<ImageBatch> for ImageDataset {
    fn items(&self) -> usize {
        self.count()
    }

    fn identity(&self) -> serde_json::Value {
        let labels = self.labels().unwrap_or_default();
        let bytes = self
            .pixels()
            .iter()
            .copied()
            .chain(labels.iter().flat_map(|l| l.to_le_bytes()));
        serde_json::json!({
            "items": self.count(),
            "shape": self.shape().dims(),
            "checksum": checksum(bytes),
        })
    }

    fn item_shape(&self) -> Option<Vec<usize>> {
        Some(self.shape().dims().to_vec())
    }

    /// Batches of one fixed size ([`ImageLoader`]): training drops each epoch's last partial
    /// batch, validation pads it and masks the padding.
    fn loader(
        self,
        loading: &SplitLoading,
        training: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<ImageBatch>> {
        let plan = if training {
            BatchPlan::training(loading.batch_size, loading.seed).starting_at(loading.first_epoch)
        } else {
            BatchPlan::in_order(loading.batch_size)
        };
        Arc::new(ImageLoader::new(self, plan, loading.residency, device))
    }
}

impl TrainingSplit<ImageBatch> for VectorDataset {
    fn items(&self) -> usize {
        Dataset::len(self)
    }

    fn identity(&self) -> serde_json::Value {
        let bytes = self.values().iter().flat_map(|v| v.to_le_bytes());
        serde_json::json!({ "items": self.items(), "dim": self.dim(), "checksum": checksum(bytes) })
    }

    fn item_shape(&self) -> Option<Vec<usize>> {
        Some(vec![1, 1, self.dim()])
    }

    fn loader(
        self,
        loading: &SplitLoading,
        training: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<ImageBatch>> {
        host_loader(VectorBatcher, self, loading, training, device)
    }
}

impl TrainingSplit<TextBatch> for TextDataset {
    fn items(&self) -> usize {
        Dataset::len(self)
    }

    fn identity(&self) -> serde_json::Value {
        let bytes = self
            .items()
            .iter()
            .flat_map(|item| item.ids.iter().chain([&usize::MAX]))
            .flat_map(|id| (*id as u64).to_le_bytes());
        serde_json::json!({ "items": Dataset::len(self), "checksum": checksum(bytes) })
    }

    fn loader(
        self,
        loading: &SplitLoading,
        training: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<TextBatch>> {
        host_loader(TextBatcher, self, loading, training, device)
    }
}

impl TrainingSplit<RatingsBatch> for ItemRatingsDataset {
    fn items(&self) -> usize {
        Dataset::len(self)
    }

    fn identity(&self) -> serde_json::Value {
        let pairs = |ratings: &[(usize, f32)]| {
            ratings
                .iter()
                .flat_map(|(user, value)| {
                    (*user as u64)
                        .to_le_bytes()
                        .into_iter()
                        .chain(value.to_le_bytes())
                })
                .collect::<Vec<u8>>()
        };
        let bytes = self.items().iter().flat_map(|item| {
            let mut bytes = (item.item as u64).to_le_bytes().to_vec();
            bytes.extend(pairs(&item.input));
            bytes.extend(pairs(&item.target));
            bytes
        });
        serde_json::json!({
            "items": Dataset::len(self),
            "users": self.users(),
            "checksum": checksum(bytes),
        })
    }

    fn loader(
        self,
        loading: &SplitLoading,
        training: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<RatingsBatch>> {
        let batcher = RatingsBatcher {
            users: self.users(),
        };
        host_loader(batcher, self, loading, training, device)
    }
}
