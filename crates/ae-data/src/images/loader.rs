//! Batches of one fixed size for training, validation and evaluation, shuffled with a
//! permutation per epoch, served from the device or from host memory.
//!
//! Every batch has the same number of rows, because GPU backends compile kernels per tensor
//! shape: a last partial batch (and a validation or evaluation batch of another size) would
//! compile a second set of kernels. A split whose size is not a multiple of the batch size
//! therefore either
//! - drops its last partial batch ([`PartialBatch::Drop`], for training: every image still
//!   appears in other epochs, since each epoch draws a new permutation), or
//! - pads it with zero images and says how many rows are real ([`PartialBatch::Pad`], for
//!   validation and evaluation, where every image must count: losses are masked to the real
//!   rows with [`ImageBatch::mask`]).
//!
//! [`Residency::Device`] uploads the whole split once as `f32` in `[0, 1]`; each epoch's order is
//! one index tensor uploaded per epoch, and each batch a gather (`select`) on the device: no
//! per-item host work and no per-step host-to-device copy. [`Residency::Host`] keeps the bytes
//! in host memory and converts each batch there (one copy per batch). [`Residency::Auto`] picks
//! the device while the split's `f32` copy fits [`DEVICE_RESIDENT_BYTES`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::batcher::ImageBatch;
use super::dataset::ImageDataset;

/// The largest split [`Residency::Auto`] uploads to the device: 2 GiB of `f32` pixels (about
/// 680,000 MNIST-sized images). Larger splits are batched from host memory.
pub const DEVICE_RESIDENT_BYTES: usize = 2 << 30;

/// Where a loader keeps its images between batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residency {
    /// On the device, uploaded once; batches are gathered there.
    Device,
    /// In host memory as bytes; each batch is converted and copied to the device.
    Host,
    /// On the device when the split fits [`DEVICE_RESIDENT_BYTES`], else in host memory.
    Auto,
}

/// What happens to the rows left over after the last full batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialBatch {
    /// Left out of this epoch (training).
    Drop,
    /// Served in a batch padded with zero images to the full size (validation, evaluation).
    Pad,
}

/// How a loader orders and cuts a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Rows of every batch.
    pub batch_size: usize,
    /// `Some(seed)`: a new permutation each epoch, drawn from `seed` and the epoch number;
    /// `None`: dataset order.
    pub shuffle: Option<u64>,
    /// What happens to the last partial batch.
    pub partial: PartialBatch,
    /// The number of the first epoch served (0-based), so that a resumed run continues the
    /// sequence of permutations.
    pub first_epoch: usize,
}

impl BatchPlan {
    /// Shuffled every epoch from `seed`, the last partial batch dropped: training.
    pub fn training(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size,
            shuffle: Some(seed),
            partial: PartialBatch::Drop,
            first_epoch: 0,
        }
    }

    /// In dataset order, the last partial batch padded: validation and evaluation.
    pub fn in_order(batch_size: usize) -> Self {
        Self {
            batch_size,
            shuffle: None,
            partial: PartialBatch::Pad,
            first_epoch: 0,
        }
    }

    /// Starts at epoch `first_epoch` (0-based).
    pub fn starting_at(mut self, first_epoch: usize) -> Self {
        self.first_epoch = first_epoch;
        self
    }

    /// The order of the rows in epoch `epoch` (0-based).
    pub fn order(&self, rows: usize, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..rows).collect();
        if let Some(seed) = self.shuffle {
            // One generator per epoch: epoch k's order does not depend on how many epochs ran.
            let epoch_seed = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut StdRng::seed_from_u64(epoch_seed));
        }
        order
    }

    /// Batches per epoch over `rows` rows.
    pub fn batches(&self, rows: usize) -> usize {
        let size = self.batch_size.max(1);
        match self.partial {
            PartialBatch::Drop => rows / size,
            PartialBatch::Pad => rows.div_ceil(size),
        }
    }

    /// Rows served per epoch over `rows` rows (dropped rows excluded, padding excluded).
    pub fn served(&self, rows: usize) -> usize {
        match self.partial {
            PartialBatch::Drop => self.batches(rows) * self.batch_size.max(1),
            PartialBatch::Pad => rows,
        }
    }
}

/// The split's pixels (and labels) uploaded to one device.
#[derive(Debug, Clone)]
struct Resident {
    /// # Shapes
    /// `[N, C * H * W]`, values in `[0, 1]`
    images: Tensor<2>,
    /// # Shapes
    /// `[N]`
    labels: Option<Tensor<1, Int>>,
}

/// A burn [`DataLoader`] of an [`ImageDataset`] in batches of one fixed size (see the module
/// documentation). burn-train calls [`DataLoader::iter`] once per epoch; each call serves the
/// next epoch's permutation.
#[derive(Debug)]
pub struct ImageLoader {
    data: ImageDataset,
    plan: BatchPlan,
    device: Device,
    resident: Option<Resident>,
    epoch: AtomicUsize,
}

impl ImageLoader {
    /// A loader of `data` on `device`, batched as `plan` says, its images kept as `residency`
    /// says.
    pub fn new(data: ImageDataset, plan: BatchPlan, residency: Residency, device: &Device) -> Self {
        let on_device = match residency {
            Residency::Device => true,
            Residency::Host => false,
            Residency::Auto => data.pixels().len() * 4 <= DEVICE_RESIDENT_BYTES,
        };
        let resident = on_device.then(|| upload(&data, device));
        Self {
            epoch: AtomicUsize::new(plan.first_epoch),
            data,
            plan,
            device: device.clone(),
            resident,
        }
    }

    /// Whether the images live on the device.
    pub fn is_device_resident(&self) -> bool {
        self.resident.is_some()
    }

    /// The batch plan.
    pub fn plan(&self) -> &BatchPlan {
        &self.plan
    }

    /// The batches of the next epoch, as an iterator that does not need burn's traits.
    pub fn epoch(&self) -> ImageBatches<'_> {
        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed);
        let order = self.plan.order(self.data.count(), epoch);
        let batches = self.plan.batches(self.data.count());
        let indices = self.resident.as_ref().map(|_| {
            // Padded to whole batches with row 0 (zeroed by the mask), so that every batch is
            // the same slice of this one tensor.
            let n = batches * self.plan.batch_size.max(1);
            let mut padded: Vec<i64> = order.iter().map(|&i| i as i64).collect();
            padded.resize(n.max(padded.len()), 0);
            padded.truncate(n);
            Tensor::<1, Int>::from_data(TensorData::new(padded, [n]), &self.device)
        });
        ImageBatches {
            loader: self,
            order,
            indices,
            next: 0,
            batches,
        }
    }

    fn batch(&self, order: &[usize], indices: Option<&Tensor<1, Int>>, b: usize) -> ImageBatch {
        let size = self.plan.batch_size.max(1);
        let start = b * size;
        let end = (start + size).min(order.len());
        let rows = end - start;
        let mut batch = match (&self.resident, indices) {
            (Some(resident), Some(indices)) => {
                let [c, h, w] = self.data.shape().dims();
                let rows_index = indices.clone().slice(start..start + size);
                let images = resident
                    .images
                    .clone()
                    .select(0, rows_index.clone())
                    .reshape([size, c, h, w]);
                let labels = resident
                    .labels
                    .as_ref()
                    .map(|l| l.clone().select(0, rows_index));
                ImageBatch {
                    images,
                    labels,
                    rows: size,
                    mask: None,
                }
            }
            _ => self
                .data
                .batch_of_padded(&order[start..end], size, &self.device),
        };
        if self.plan.partial == PartialBatch::Pad {
            // Every batch of a padded loader carries a mask, so that all of them run the same
            // (masked) kernels; only the last has zeros in it.
            let mask = Tensor::<1, Int>::arange(0..size as i64, &self.device)
                .lower_elem(rows as i64)
                .float();
            if rows < size {
                let [_, c, h, w] = batch.images.dims();
                let keep = mask
                    .clone()
                    .reshape([size, 1, 1, 1])
                    .expand([size, c, h, w]);
                batch.images = batch.images * keep;
            }
            batch.mask = Some(mask);
        }
        batch.rows = rows;
        batch
    }
}

fn upload(data: &ImageDataset, device: &Device) -> Resident {
    let n = data.count();
    let pixels: Vec<f32> = data
        .pixels()
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let images = Tensor::from_data(TensorData::new(pixels, [n, data.shape().numel()]), device);
    let labels = data.labels().map(|labels| {
        let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        Tensor::from_data(TensorData::new(labels, [n]), device)
    });
    Resident { images, labels }
}

/// The batches of one epoch of an [`ImageLoader`].
pub struct ImageBatches<'a> {
    loader: &'a ImageLoader,
    order: Vec<usize>,
    indices: Option<Tensor<1, Int>>,
    next: usize,
    batches: usize,
}

impl Iterator for ImageBatches<'_> {
    type Item = ImageBatch;

    fn next(&mut self) -> Option<ImageBatch> {
        if self.next >= self.batches {
            return None;
        }
        let batch = self
            .loader
            .batch(&self.order, self.indices.as_ref(), self.next);
        self.next += 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches - self.next;
        (left, Some(left))
    }
}

impl DataLoaderIterator<ImageBatch> for ImageBatchesOk<'_> {
    fn progress(&self) -> Progress {
        let size = self.0.loader.plan.batch_size.max(1);
        let total = self.0.loader.plan.served(self.0.order.len());
        Progress::new((self.0.next * size).min(total), total, None)
    }
}

/// [`ImageBatches`] as burn's loader iterator (whose items are `Result`s).
pub struct ImageBatchesOk<'a>(ImageBatches<'a>);

impl Iterator for ImageBatchesOk<'_> {
    type Item = Result<ImageBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(Ok)
    }
}

impl DataLoader<ImageBatch> for ImageLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch> + 'a> {
        Box::new(ImageBatchesOk(self.epoch()))
    }

    fn num_items(&self) -> usize {
        self.plan.served(self.data.count())
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ImageBatch>> {
        let residency = if self.resident.is_some() {
            Residency::Device
        } else {
            Residency::Host
        };
        let plan = self.plan.starting_at(self.epoch.load(Ordering::Relaxed));
        Arc::new(ImageLoader::new(self.data.clone(), plan, residency, device))
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ImageBatch>> {
        let end = end.min(self.data.count());
        let rows: Vec<usize> = (start.min(end)..end).collect();
        let residency = if self.resident.is_some() {
            Residency::Device
        } else {
            Residency::Host
        };
        // Indices are in range by construction; an empty subset would be an empty loader.
        let data = self
            .data
            .subset(self.data.name().to_string(), &rows)
            .unwrap_or_else(|_| self.data.clone());
        let plan = self.plan.starting_at(self.epoch.load(Ordering::Relaxed));
        Arc::new(ImageLoader::new(data, plan, residency, &self.device))
    }
}
