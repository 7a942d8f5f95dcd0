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
use rayon::prelude::*;

use super::batcher::ImageBatch;
use super::dataset::ImageDataset;
use super::item::intensity;
use super::plan::{BatchPlan, PartialBatch};

/// The largest split [`Residency::Auto`] uploads to the device: 2 GiB of `f32` pixels (about
/// 680,000 MNIST-sized images). Larger splits are batched from host memory.
pub const DEVICE_RESIDENT_BYTES: usize = 2 << 30;

/// Pixels per task when a split is converted to `f32` for the device (1 MiB of output).
const UPLOAD_CHUNK: usize = 1 << 18;

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

/// What every epoch of a loader shares (cheap to clone: the pixels and tensors are shared).
#[derive(Debug, Clone)]
struct Source {
    data: ImageDataset,
    plan: BatchPlan,
    device: Device,
    resident: Option<Resident>,
}

/// A burn [`DataLoader`] of an [`ImageDataset`] in batches of one fixed size (see the module
/// documentation). burn-train calls [`DataLoader::iter`] once per epoch; each call serves the
/// next epoch's permutation.
#[derive(Debug)]
pub struct ImageLoader {
    source: Source,
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
            source: Source {
                data,
                plan,
                device: device.clone(),
                resident,
            },
        }
    }

    /// Whether the images live on the device.
    pub fn is_device_resident(&self) -> bool {
        self.source.resident.is_some()
    }

    /// The batch plan.
    pub fn plan(&self) -> &BatchPlan {
        &self.source.plan
    }

    /// The batches of the next epoch.
    pub fn epoch(&self) -> ImageBatches {
        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed);
        self.source.clone().epoch(epoch)
    }

    fn residency(&self) -> Residency {
        if self.is_device_resident() {
            Residency::Device
        } else {
            Residency::Host
        }
    }
}

impl Source {
    fn epoch(self, epoch: usize) -> ImageBatches {
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
            source: self,
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
    // In parallel: most of the time is the first touch of the new memory (page faults), which
    // the kernel serves on every core at once.
    let bytes = data.pixels();
    let mut pixels = vec![0f32; bytes.len()];
    pixels
        .par_chunks_mut(UPLOAD_CHUNK)
        .zip(bytes.par_chunks(UPLOAD_CHUNK))
        .for_each(|(out, bytes)| {
            for (o, &p) in out.iter_mut().zip(bytes) {
                *o = intensity(p);
            }
        });
    let images = Tensor::from_data(TensorData::new(pixels, [n, data.shape().numel()]), device);
    let labels = data.labels().map(|labels| {
        let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        Tensor::from_data(TensorData::new(labels, [n]), device)
    });
    Resident { images, labels }
}

/// The batches of one epoch of an [`ImageLoader`], in order.
pub struct ImageBatches {
    source: Source,
    order: Vec<usize>,
    indices: Option<Tensor<1, Int>>,
    next: usize,
    batches: usize,
}

impl ImageBatches {
    /// The batches of `data` in dataset order, `batch_size` rows each, the last padded with zero
    /// images and masked, converted on the host: how evaluation reads a dataset.
    pub fn in_order(data: &ImageDataset, batch_size: usize, device: &Device) -> Self {
        let source = Source {
            data: data.clone(),
            plan: BatchPlan::in_order(batch_size),
            device: device.clone(),
            resident: None,
        };
        source.epoch(0)
    }
}

impl Iterator for ImageBatches {
    type Item = ImageBatch;

    fn next(&mut self) -> Option<ImageBatch> {
        if self.next >= self.batches {
            return None;
        }
        let batch = self
            .source
            .batch(&self.order, self.indices.as_ref(), self.next);
        self.next += 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches - self.next;
        (left, Some(left))
    }
}

impl DataLoaderIterator<ImageBatch> for BurnBatches {
    fn progress(&self) -> Progress {
        let plan = &self.0.source.plan;
        let total = plan.served(self.0.order.len());
        Progress::new(
            (self.0.next * plan.batch_size.max(1)).min(total),
            total,
            None,
        )
    }
}

/// [`ImageBatches`] as burn's loader iterator (whose items are `Result`s).
struct BurnBatches(ImageBatches);

impl Iterator for BurnBatches {
    type Item = Result<ImageBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(Ok)
    }
}

impl DataLoader<ImageBatch> for ImageLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch> + 'a> {
        Box::new(BurnBatches(self.epoch()))
    }

    fn num_items(&self) -> usize {
        self.source.plan.served(self.source.data.count())
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ImageBatch>> {
        // Resident images move device to device (burn-train asks for the autodiff version of
        // the training device, which shares the memory): no second upload from the host.
        let mut source = self.source.clone();
        source.plan = self.plan().starting_at(self.epoch.load(Ordering::Relaxed));
        source.resident = source.resident.map(|r| Resident {
            images: r.images.to_device(device),
            labels: r.labels.map(|l| l.to_device(device)),
        });
        source.device = device.clone();
        Arc::new(ImageLoader {
            epoch: AtomicUsize::new(source.plan.first_epoch),
            source,
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ImageBatch>> {
        let data = &self.source.data;
        let end = end.min(data.count());
        let rows: Vec<usize> = (start.min(end)..end).collect();
        // The rows are in range by construction, so the subset cannot fail.
        let data = data
            .subset(data.name().to_string(), &rows)
            .unwrap_or_else(|_| data.clone());
        let plan = self.plan().starting_at(self.epoch.load(Ordering::Relaxed));
        let device = self.source.device.clone();
        Arc::new(ImageLoader::new(data, plan, self.residency(), &device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageShape;

    /// `count` 1x1x2 images whose pixels are `2i` and `2i + 1`, labelled `i % 3`.
    fn numbered(count: usize) -> ImageDataset {
        let pixels: Vec<u8> = (0..count * 2).map(|i| i as u8).collect();
        let labels = (0..count as u32).map(|i| i % 3).collect();
        ImageDataset::new(
            "numbered",
            ImageShape::new(1, 1, 2),
            pixels,
            Some(labels),
            vec![],
        )
        .unwrap()
    }

    fn rows_of(batch: &ImageBatch) -> Vec<usize> {
        let values = batch
            .images
            .clone()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        values
            .chunks(2)
            .map(|px| (px[0] * 255.0 / 2.0).round() as usize)
            .collect()
    }

    #[test]
    fn training_drops_the_partial_batch_and_reshuffles_each_epoch() {
        let device = Device::flex();
        let loader = ImageLoader::new(
            numbered(10),
            BatchPlan::training(4, 7),
            Residency::Host,
            &device,
        );
        assert_eq!(loader.num_items(), 8);
        let first: Vec<Vec<usize>> = loader.epoch().map(|b| rows_of(&b)).collect();
        let second: Vec<Vec<usize>> = loader.epoch().map(|b| rows_of(&b)).collect();
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|b| b.len() == 4));
        assert_ne!(first, second, "a new permutation each epoch");
        let mut seen: Vec<usize> = first.concat();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 8, "no image twice in an epoch");
        // A loader resumed at epoch 1 serves the same order as the second epoch above.
        let resumed = ImageLoader::new(
            numbered(10),
            BatchPlan::training(4, 7).starting_at(1),
            Residency::Host,
            &device,
        );
        let again: Vec<Vec<usize>> = resumed.epoch().map(|b| rows_of(&b)).collect();
        assert_eq!(again, second);
    }

    #[test]
    fn evaluation_pads_the_last_batch_with_masked_zero_images() {
        let device = Device::flex();
        let batches: Vec<ImageBatch> = ImageBatches::in_order(&numbered(5), 2, &device).collect();
        assert_eq!(batches.len(), 3);
        assert!(batches.iter().all(|b| b.images.dims() == [2, 1, 1, 2]));
        assert_eq!(
            batches.iter().map(|b| b.rows).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let last = &batches[2];
        assert_eq!(rows_of(last), [4, 0]);
        let mask = last
            .mask
            .clone()
            .unwrap()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert_eq!(mask, [1.0, 0.0]);
        let padding = last
            .images
            .clone()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert_eq!(&padding[2..], [0.0, 0.0]);
        // Every batch of a padding loader carries a mask, full batches one of ones.
        let full = batches[0]
            .mask
            .clone()
            .unwrap()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert_eq!(full, [1.0, 1.0]);
    }

    /// The device-resident pipeline serves the same batches, order and values and labels, as the
    /// host one (the large split is converted for the device in several parallel chunks).
    #[test]
    fn device_and_host_residency_serve_the_same_batches() {
        let device = Device::flex();
        let large = 3 * UPLOAD_CHUNK / 2 + 7;
        let cases = [
            (10, BatchPlan::training(3, 11)),
            (10, BatchPlan::in_order(4)),
            (large, BatchPlan::training(1 << 16, 5)),
        ];
        for (count, plan) in cases {
            let host = ImageLoader::new(numbered(count), plan, Residency::Host, &device);
            let resident = ImageLoader::new(numbered(count), plan, Residency::Device, &device);
            assert!(resident.is_device_resident() && !host.is_device_resident());
            for _ in 0..2 {
                for (h, d) in host.epoch().zip(resident.epoch()) {
                    assert_eq!(h.rows, d.rows);
                    let labels = |b: &ImageBatch| {
                        let labels = b.labels.clone().unwrap().into_data();
                        labels.try_to_vec_as::<i64>().unwrap()[..b.rows].to_vec()
                    };
                    assert_eq!(labels(&h), labels(&d));
                    h.images.into_data().assert_eq(&d.images.into_data(), true);
                }
            }
        }
    }
}
