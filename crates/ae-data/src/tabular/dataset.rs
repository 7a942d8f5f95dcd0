use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::ImageBatch;
use crate::error::{DataError, Result};
/// Feature vectors with optional labels, as a Burn dataset.
#[derive(Debug, Clone)]
pub struct VectorDataset {
    dim: usize,
    values: Arc<Vec<f32>>,
    labels: Option<Arc<Vec<u32>>>,
}

/// One row of a [`VectorDataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct VectorItem {
    /// The features.
    pub values: Vec<f32>,
    /// The label, when there is one.
    pub label: Option<u32>,
}

impl VectorDataset {
    /// Rows of `dim` values (and labels).
    pub fn new(dim: usize, values: Vec<f32>, labels: Option<Vec<u32>>) -> Result<Self> {
        let count = values.len().checked_div(dim).unwrap_or(0);
        if dim == 0
            || count * dim != values.len()
            || labels.as_ref().is_some_and(|l| l.len() != count)
        {
            return Err(DataError::InvalidArgument {
                what: "vector dataset",
                message: format!(
                    "{} values, width {dim}, {:?} labels",
                    values.len(),
                    labels.map(|l| l.len())
                ),
            });
        }
        Ok(Self {
            dim,
            values: Arc::new(values),
            labels: labels.map(Arc::new),
        })
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// All values, row after row.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The labels, when present.
    pub fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref().map(Vec::as_slice)
    }

    /// Rows `range` as one batch on `device`.
    pub fn batch(&self, range: std::ops::Range<usize>, device: &Device) -> ImageBatch {
        let end = range.end.min(self.len());
        let items = (range.start.min(end)..end)
            .filter_map(|i| self.get(i).ok())
            .collect();
        VectorBatcher.batch(items, device)
    }
}

impl Dataset<VectorItem> for VectorDataset {
    fn get(&self, index: usize) -> std::result::Result<VectorItem, DatasetError> {
        let values = self
            .values
            .get(index * self.dim..(index + 1) * self.dim)
            .ok_or_else(|| DataError::past_the_end("row index", index, self.len(), "rows"))?
            .to_vec();
        Ok(VectorItem {
            values,
            label: self.labels().map(|l| l[index]),
        })
    }

    fn len(&self) -> usize {
        self.values.len() / self.dim
    }
}

/// Batches rows as `[N, 1, 1, F]` "images", the shape the dense autoencoders flatten.
#[derive(Debug, Clone, Copy, Default)]
pub struct VectorBatcher;

impl Batcher<VectorItem, ImageBatch> for VectorBatcher {
    fn batch(&self, items: Vec<VectorItem>, device: &Device) -> ImageBatch {
        let n = items.len();
        let dim = items.first().map_or(0, |i| i.values.len());
        let values: Vec<f32> = items
            .iter()
            .flat_map(|i| i.values.iter().copied())
            .collect();
        let labels: Option<Vec<i64>> = items.iter().map(|i| i.label.map(i64::from)).collect();
        ImageBatch::new(
            Tensor::from_data(TensorData::new(values, [n, 1, 1, dim]), device),
            labels.map(|l| Tensor::<1, Int>::from_data(TensorData::new(l, [n]), device)),
        )
    }
}
