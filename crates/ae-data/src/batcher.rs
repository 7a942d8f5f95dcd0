//! Turning dataset items into tensors: one host buffer, one host-to-device copy per batch.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::dataset::ImageItem;

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
pub fn items_to_host(items: &[ImageItem]) -> (Vec<f32>, [usize; 4], Option<Vec<i64>>) {
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
        pixels.extend(item.pixels.iter().map(|&p| f32::from(p) / 255.0));
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
        ImageBatch { images, labels }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{ImageDataset, ImageShape};

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
