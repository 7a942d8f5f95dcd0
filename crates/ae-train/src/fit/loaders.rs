//! The datasets [`fit`](crate::fit) trains on, and how each is served in batches.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::Dataset;
use burn::tensor::Device;

use ae_data::ratings::{ItemRatingsDataset, RatingsBatch, RatingsBatcher};
use ae_data::tabular::{VectorBatcher, VectorDataset};
use ae_data::text::{TextBatch, TextBatcher, TextDataset};
use ae_data::{ImageBatch, ImageBatcher, ImageDataset};

use super::training::TrainingConfig;

/// A split of data that training iterates in batches of `B`: images, table rows, sentences or
/// item rating vectors.
pub trait TrainingSplit<B> {
    /// Items in the split.
    fn items(&self) -> usize;

    /// A loader over the split in batches of `config.batch_size` on `device`; `shuffle` (the
    /// training split) reshuffles every epoch from `config.seed`.
    fn loader(
        self,
        config: &TrainingConfig,
        shuffle: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<B>>;
}

/// Burn's data loader of `batcher` over `dataset`.
fn host_loader<I, B, D, T>(
    batcher: T,
    dataset: D,
    config: &TrainingConfig,
    shuffle: bool,
    device: &Device,
) -> Arc<dyn DataLoader<B>>
where
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    B: Send + Clone + std::fmt::Debug + 'static,
    D: Dataset<I> + 'static,
    T: Batcher<I, B> + 'static,
{
    let builder = DataLoaderBuilder::new(batcher)
        .batch_size(config.batch_size)
        .num_workers(config.num_workers)
        .set_device(device.clone());
    let builder = if shuffle {
        builder.shuffle(config.seed)
    } else {
        builder
    };
    builder.build(dataset)
}

impl TrainingSplit<ImageBatch> for ImageDataset {
    fn items(&self) -> usize {
        self.count()
    }

    fn loader(
        self,
        config: &TrainingConfig,
        shuffle: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<ImageBatch>> {
        host_loader(ImageBatcher::new(), self, config, shuffle, device)
    }
}

impl TrainingSplit<ImageBatch> for VectorDataset {
    fn items(&self) -> usize {
        Dataset::len(self)
    }

    fn loader(
        self,
        config: &TrainingConfig,
        shuffle: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<ImageBatch>> {
        host_loader(VectorBatcher, self, config, shuffle, device)
    }
}

impl TrainingSplit<TextBatch> for TextDataset {
    fn items(&self) -> usize {
        Dataset::len(self)
    }

    fn loader(
        self,
        config: &TrainingConfig,
        shuffle: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<TextBatch>> {
        host_loader(TextBatcher, self, config, shuffle, device)
    }
}

impl TrainingSplit<RatingsBatch> for ItemRatingsDataset {
    fn items(&self) -> usize {
        Dataset::len(self)
    }

    fn loader(
        self,
        config: &TrainingConfig,
        shuffle: bool,
        device: &Device,
    ) -> Arc<dyn DataLoader<RatingsBatch>> {
        let batcher = RatingsBatcher {
            users: self.users(),
        };
        host_loader(batcher, self, config, shuffle, device)
    }
}
