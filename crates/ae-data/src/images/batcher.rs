//! Turning dataset items into tensors: one host buffer, one host-to-device copy per batch.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::item::{ImageItem, intensity};

/// A batch of images on a device.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// Pixels scaled to `[0, 1]`.
    ///
    /// # Shapes
    /// `[N, C, H, W]`
    pub images: Tensor<4>,
    /// The class of each image, when every image of the batch has one.
    ///
    /// # Shapes
    /// `[N]`
    pub labels: Option<Tensor<1, Int>>,
    /// How many rows are real images: `N`, except in a batch padded to a loader's fixed size,
    /// whose first `rows` rows are real and the rest zero images.
    pub rows: usize,
    /// `1` for each real row and `0` for each padding row, on batches of a padding loader
    /// (which attaches it to every batch, so that every batch runs the same kernels); losses
    /// and metrics count the rows it weights. `None`: every row counts.
    ///
    /// # Shapes
    /// `[N]`
    pub mask: Option<Tensor<1>>,
}

impl ImageBatch {
    /// A batch whose rows are all real images.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - labels: `[N]`
    pub fn new(images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Self {
        Self {
            rows: images.dims()[0],
            images,
            labels,
            mask: None,
        }
    }
}

/// Batches [`ImageItem`]s into an [`ImageBatch`].
///
/// The pixels of the whole batch are converted to `f32` in one host buffer and sent to the
/// device with a single copy (one `Tensor::from_data`), which matters on GPUs where each
/// transfer has a fixed cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageBatcher;

impl ImageBatcher {
    /// A batcher.
    pub fn new() -> Self {
        Self
    }
}

/// Converts a batch of items to `[0, 1]` floats and labels on the host.
///
/// # Panics
/// When the items do not all have the shape of the first one. Datasets of this crate hold
/// images of one shape, so this only fires on a programming error.
fn items_to_host(items: &[ImageItem]) -> (Vec<f32>, [usize; 4], Option<Vec<i64>>) {
    let Some(first) = items.first() else {
        return (Vec::new(), [0, 0, 0, 0], None);
    };
    let shape = first.shape;
    let mut pixels = Vec::with_capacity(items.len() * shape.numel());
    for item in items {
        assert_eq!(
            item.shape, shape,
            "a batch mixes image shapes {} and {}",
            shape, item.shape
        );
        pixels.extend(item.pixels.iter().map(|&p| intensity(p)));
    }
    let labels: Option<Vec<i64>> = items.iter().map(|i| i.label.map(i64::from)).collect();
    let [c, h, w] = shape.dims();
    (pixels, [items.len(), c, h, w], labels)
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let (pixels, dims, labels) = items_to_host(&items);
        let images = Tensor::from_data(TensorData::new(pixels, dims), device);
        let labels = labels.map(|labels| {
            let n = labels.len();
            Tensor::from_data(TensorData::new(labels, [n]), device)
        });
        ImageBatch::new(images, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::{ImageDataset, ImageShape};

    #[test]
    fn batches_to_nchw_in_unit_range_with_labels() {
        let device = Device::flex();
        let shape = ImageShape::new(3, 1, 2);
        let pixels: Vec<u8> = vec![0, 255, 51, 102, 153, 204, 255, 0, 0, 0, 0, 0];
        let ds = ImageDataset::new("rgb", shape, pixels, Some(vec![4, 7]), vec![]).unwrap();
        let batch = ds.batch(0..10, &device);
        assert_eq!(batch.images.dims(), [2, 3, 1, 2]);
        let values = batch.images.into_data().try_to_vec_as::<f32>().unwrap();
        let expected = [0.0, 1.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        for (v, e) in values.iter().zip(expected) {
            assert!((v - e).abs() < 1e-6, "{values:?}");
        }
        let labels = batch
            .labels
            .unwrap()
            .into_data()
            .try_to_vec_as::<i64>()
            .unwrap();
        assert_eq!(labels, vec![4, 7]);
    }

    #[test]
    fn unlabelled_items_give_no_label_tensor() {
        let device = Device::flex();
        let item = ImageItem {
            shape: ImageShape::new(1, 1, 1),
            pixels: vec![128],
            label: None,
        };
        let batch = ImageBatcher::new().batch(vec![item.clone(), item], &device);
        assert!(batch.labels.is_none());
        assert_eq!(batch.images.dims(), [2, 1, 1, 1]);
    }
}
