//! An in-memory dataset of small images, the common currency of every loader in this crate.

use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::Device;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use burn::tensor::{Tensor, TensorData};

use super::batcher::ImageBatch;
use super::item::{ImageItem, ImageShape, intensity};
use crate::error::{DataError, Result};

/// Images of one shape held in memory as bytes, with optional class labels.
///
/// Cloning is cheap (the pixels are shared). Subsets and splits copy the selected images.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    name: String,
    shape: ImageShape,
    pixels: Arc<Vec<u8>>,
    labels: Option<Arc<Vec<u32>>>,
    class_names: Arc<Vec<String>>,
}

/// `0..count` in a seeded random order: the same seed always gives the same order.
fn seeded_order(count: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    order
}

/// The rows of a split of `count` items: (held out, kept), `fraction` of them held out after a
/// seeded shuffle (rounded, at least one of each); `None` for fewer than two items. The one
/// rule of [`ImageDataset::split`] and of image folders read in part.
pub(crate) fn split_rows(
    count: usize,
    fraction: f64,
    seed: u64,
) -> Option<(Vec<usize>, Vec<usize>)> {
    if count < 2 {
        return None;
    }
    let held_out = ((count as f64 * fraction).round() as usize).clamp(1, count - 1);
    let mut order = seeded_order(count, seed);
    let kept = order.split_off(held_out);
    Some((order, kept))
}

impl ImageDataset {
    /// Makes a dataset from `N * shape.numel()` bytes and, optionally, `N` labels.
    ///
    /// # Errors
    /// When the byte count is not a multiple of the image size, or labels and images disagree in
    /// number, or a label has no class name (when class names are given).
    pub fn new(
        name: impl Into<String>,
        shape: ImageShape,
        pixels: Vec<u8>,
        labels: Option<Vec<u32>>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let name = name.into();
        if shape.numel() == 0 {
            return Err(DataError::InvalidArgument {
                what: "image shape",
                message: format!("{shape} has no pixels"),
            });
        }
        if !pixels.len().is_multiple_of(shape.numel()) {
            return Err(DataError::InvalidArgument {
                what: "image data",
                message: format!(
                    "{name}: {} bytes are not a whole number of {shape} images",
                    pixels.len()
                ),
            });
        }
        let count = pixels.len() / shape.numel();
        if let Some(labels) = &labels {
            if labels.len() != count {
                return Err(DataError::InvalidArgument {
                    what: "labels",
                    message: format!("{name}: {count} images but {} labels", labels.len()),
                });
            }
            if !class_names.is_empty()
                && let Some(bad) = labels.iter().find(|&&l| l as usize >= class_names.len())
            {
                return Err(DataError::InvalidArgument {
                    what: "labels",
                    message: format!(
                        "{name}: label {bad} but only {} class names",
                        class_names.len()
                    ),
                });
            }
        }
        Ok(Self {
            name,
            shape,
            pixels: Arc::new(pixels),
            labels: labels.map(Arc::new),
            class_names: Arc::new(class_names),
        })
    }

    /// A short name for tables and logs, e.g. `"fashion-mnist/train"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same images under another name (the images are shared, not copied).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The shape every image has.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.pixels.len() / self.shape.numel()
    }

    /// The bytes of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let n = self.shape.numel();
        self.pixels.get(index * n..(index + 1) * n)
    }

    /// All pixels, image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The labels, when the dataset has them.
    pub fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref().map(Vec::as_slice)
    }

    /// The class names (empty when unknown).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of classes: the class names if known, else one more than the largest label.
    pub fn num_classes(&self) -> usize {
        if !self.class_names.is_empty() {
            return self.class_names.len();
        }
        self.labels()
            .and_then(|l| l.iter().max())
            .map_or(0, |&m| m as usize + 1)
    }

    /// How many images each class has (empty when unlabelled).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &label in self.labels().unwrap_or_default() {
            counts[label as usize] += 1;
        }
        counts
    }

    /// A new dataset of the images at `indices`, in that order.
    ///
    /// # Errors
    /// When an index is out of range.
    pub fn subset(&self, name: impl Into<String>, indices: &[usize]) -> Result<Self> {
        let n = self.shape.numel();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            let image = self.image(i).ok_or_else(|| DataError::InvalidArgument {
                what: "subset index",
                message: format!(
                    "{i} is past the end of {} ({} images)",
                    self.name,
                    self.count()
                ),
            })?;
            pixels.extend_from_slice(image);
        }
        let labels = self
            .labels()
            .map(|labels| indices.iter().map(|&i| labels[i]).collect());
        Self::new(name, self.shape, pixels, labels, self.class_names.to_vec())
    }

    /// The first `n` images (all of them when `n` is larger), e.g. for a quick run.
    pub fn take(&self, n: usize) -> Self {
        if n >= self.count() {
            return self.clone();
        }
        let indices: Vec<usize> = (0..n).collect();
        // Indices are in range by construction.
        self.subset(self.name.clone(), &indices)
            .unwrap_or_else(|_| self.clone())
    }

    /// Images `range` as one batch of tensors on `device` (the range is clamped to the dataset).
    pub fn batch(&self, range: std::ops::Range<usize>, device: &Device) -> ImageBatch {
        let end = range.end.min(self.count());
        let rows: Vec<usize> = (range.start.min(end)..end).collect();
        self.batch_of(&rows, device)
    }

    /// The images at `rows` (in that order; indices past the end are skipped) as one batch of
    /// tensors on `device`, e.g. a shuffled mini-batch.
    pub fn batch_of(&self, rows: &[usize], device: &Device) -> ImageBatch {
        let rows: Vec<usize> = rows.iter().copied().filter(|&i| i < self.count()).collect();
        self.batch_of_padded(&rows, rows.len(), device)
    }

    /// The images at `rows` (in that order; indices past the end are skipped) followed by zero
    /// images up to `size` rows, as one batch on `device` whose [`ImageBatch::rows`] says how
    /// many are real. The pixels are converted in one host buffer and copied to the device once.
    pub fn batch_of_padded(&self, rows: &[usize], size: usize, device: &Device) -> ImageBatch {
        let n = self.shape.numel();
        let rows: Vec<usize> = rows.iter().copied().filter(|&i| i < self.count()).collect();
        let size = size.max(rows.len());
        let mut pixels = vec![0f32; size * n];
        for (out, &row) in pixels.chunks_exact_mut(n).zip(&rows) {
            for (o, &p) in out.iter_mut().zip(&self.pixels[row * n..(row + 1) * n]) {
                *o = intensity(p);
            }
        }
        let [c, h, w] = self.shape.dims();
        let images = Tensor::from_data(TensorData::new(pixels, [size, c, h, w]), device);
        let labels = self.labels().map(|labels| {
            let mut values: Vec<i64> = rows.iter().map(|&i| i64::from(labels[i])).collect();
            values.resize(size, 0);
            Tensor::from_data(TensorData::new(values, [size]), device)
        });
        ImageBatch {
            images,
            labels,
            rows: rows.len(),
            mask: None,
        }
    }

    /// A seeded random permutation of `0..count`: the same seed always gives the same order.
    pub fn permutation(&self, seed: u64) -> Vec<usize> {
        seeded_order(self.count(), seed)
    }

    /// Splits into (train, validation) after a seeded shuffle; `valid_fraction` of the images go
    /// to validation (rounded, at least one of each when there are two or more images).
    ///
    /// # Errors
    /// When `valid_fraction` is not strictly between 0 and 1, or the dataset has fewer than two
    /// images.
    pub fn split(&self, valid_fraction: f64, seed: u64) -> Result<(Self, Self)> {
        if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
            return Err(DataError::InvalidArgument {
                what: "validation fraction",
                message: format!("{valid_fraction} is not strictly between 0 and 1"),
            });
        }
        let count = self.count();
        if count < 2 {
            return Err(DataError::InvalidArgument {
                what: "validation split",
                message: format!(
                    "{} has {count} images; a training and a validation split need two: give \
                     more images (or a larger --limit)",
                    self.name
                ),
            });
        }
        let (valid, train) = split_rows(count, valid_fraction, seed).unwrap_or_default();
        Ok((
            self.subset(format!("{}/train-split", self.name), &train)?,
            self.subset(format!("{}/valid-split", self.name), &valid)?,
        ))
    }

    /// The images of one class only (for one-class training).
    pub fn filter_class(&self, class: u32) -> Result<Self> {
        let labels = self.labels().ok_or_else(|| DataError::InvalidArgument {
            what: "class filter",
            message: format!("{} has no labels", self.name),
        })?;
        let indices: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        self.subset(format!("{}/class-{class}", self.name), &indices)
    }

    /// The mean image in `[0, 1]`, one value per pixel: the best constant prediction under MSE,
    /// the baseline every autoencoder must beat.
    pub fn mean_image(&self) -> Vec<f32> {
        let n = self.shape.numel();
        let mut sums = vec![0u64; n];
        for image in self.pixels.chunks_exact(n) {
            for (s, &p) in sums.iter_mut().zip(image) {
                *s += u64::from(p);
            }
        }
        let denom = (self.count().max(1) as f64) * 255.0;
        sums.iter().map(|&s| (s as f64 / denom) as f32).collect()
    }

    /// The mean squared error (pixels in `[0, 1]`) of predicting `prediction` for every image.
    pub fn mse_of_constant(&self, prediction: &[f32]) -> f64 {
        let n = self.shape.numel();
        let mut total = 0.0f64;
        for image in self.pixels.chunks_exact(n) {
            for (&p, &q) in image.iter().zip(prediction) {
                let d = f64::from(p) / 255.0 - f64::from(q);
                total += d * d;
            }
        }
        total / (self.pixels.len().max(1) as f64)
    }
}

impl Dataset<ImageItem> for ImageDataset {
    fn get(&self, index: usize) -> std::result::Result<ImageItem, DatasetError> {
        let pixels = self
            .image(index)
            .ok_or_else(|| {
                DatasetError::new(DataError::InvalidArgument {
                    what: "dataset index",
                    message: format!(
                        "{index} is past the end of {} ({} images)",
                        self.name,
                        self.count()
                    ),
                })
            })?
            .to_vec();
        Ok(ImageItem {
            shape: self.shape,
            pixels,
            label: self.labels().map(|l| l[index]),
        })
    }

    fn len(&self) -> usize {
        self.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(count: usize) -> ImageDataset {
        let shape = ImageShape::new(1, 2, 2);
        let pixels: Vec<u8> = (0..count * 4).map(|i| (i % 256) as u8).collect();
        let labels = (0..count as u32).map(|i| i % 3).collect();
        ImageDataset::new("tiny", shape, pixels, Some(labels), vec![]).unwrap()
    }

    #[test]
    fn validates_sizes() {
        let shape = ImageShape::new(1, 2, 2);
        assert!(ImageDataset::new("x", shape, vec![0; 7], None, vec![]).is_err());
        assert!(ImageDataset::new("x", shape, vec![0; 8], Some(vec![1]), vec![]).is_err());
        assert!(
            ImageDataset::new(
                "x",
                shape,
                vec![0; 8],
                Some(vec![0, 2]),
                vec!["a".into(), "b".into()]
            )
            .is_err()
        );
    }

    #[test]
    fn items_carry_pixels_and_labels() {
        let ds = tiny(5);
        let item = ds.get(2).unwrap();
        assert_eq!(item.pixels, vec![8, 9, 10, 11]);
        assert_eq!(item.label, Some(2));
        assert!(ds.get(5).is_err());
        assert_eq!(ds.class_counts(), vec![2, 2, 1]);
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let ds = tiny(10);
        let (train, valid) = ds.split(0.3, 7).unwrap();
        assert_eq!((train.count(), valid.count()), (7, 3));
        let (train2, valid2) = ds.split(0.3, 7).unwrap();
        assert_eq!(train.pixels(), train2.pixels());
        assert_eq!(valid.pixels(), valid2.pixels());
        let (other, _) = ds.split(0.3, 8).unwrap();
        assert_ne!(
            train.pixels(),
            other.pixels(),
            "another seed, another split"
        );
        // Every image lands in exactly one side.
        let mut firsts: Vec<u8> = train
            .pixels()
            .chunks(4)
            .chain(valid.pixels().chunks(4))
            .map(|c| c[0])
            .collect();
        firsts.sort_unstable();
        assert_eq!(firsts, (0..10).map(|i| (i * 4) as u8).collect::<Vec<_>>());
        assert!(ds.split(0.0, 1).is_err());
        assert!(ds.split(1.0, 1).is_err());
    }

    #[test]
    fn mean_image_and_its_mse_by_hand() {
        let shape = ImageShape::new(1, 1, 2);
        let ds = ImageDataset::new("m", shape, vec![0, 255, 255, 255], None, vec![]).unwrap();
        let mean = ds.mean_image();
        assert!((mean[0] - 0.5).abs() < 1e-6 && (mean[1] - 1.0).abs() < 1e-6);
        // Errors: (0-0.5)^2, 0, (1-0.5)^2, 0 -> 0.5 / 4.
        assert!((ds.mse_of_constant(&mean) - 0.125).abs() < 1e-9);
    }

    #[test]
    fn filter_class_keeps_one_class() {
        let ds = tiny(9);
        let ones = ds.filter_class(1).unwrap();
        assert_eq!(ones.count(), 3);
        assert!(ones.labels().unwrap().iter().all(|&l| l == 1));
    }
}
