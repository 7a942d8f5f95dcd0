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
