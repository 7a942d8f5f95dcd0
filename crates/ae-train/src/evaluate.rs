//! Scoring a trained autoencoder on a dataset: reconstruction MSE and PSNR, per image and overall.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use ae_data::{ImageBatcher, ImageDataset, ImageItem};
use ae_models::Autoencoder;

use crate::error::{Result, TrainError};
use crate::metrics::per_image_mse;

/// Reconstruction quality on one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconstructionReport {
    /// The dataset's name.
    pub dataset: String,
    /// Images scored.
    pub images: usize,
    /// Mean squared error per pixel (pixels in `[0, 1]`), averaged over images.
    pub mse: f64,
    /// Mean over images of the per-image PSNR in dB.
    pub psnr_db: f64,
}

/// Per-image reconstruction errors of a model on a dataset.
#[derive(Debug, Clone)]
pub struct ReconstructionErrors {
    /// MSE of each image, in dataset order.
    pub mse: Vec<f32>,
}

impl ReconstructionErrors {
    /// Summarises the per-image errors.
    pub fn report(&self, dataset: &str) -> ReconstructionReport {
        let n = self.mse.len().max(1) as f64;
        let mse = self.mse.iter().map(|&e| f64::from(e)).sum::<f64>() / n;
        let psnr_db = self
            .mse
            .iter()
            .map(|&e| -10.0 * f64::from(e).max(1e-10).log10())
            .sum::<f64>()
            / n;
        ReconstructionReport {
            dataset: dataset.to_string(),
            images: self.mse.len(),
            mse,
            psnr_db,
        }
    }
}

/// Iterates over a dataset in batches of items (the last one may be smaller).
pub fn batches(
    data: &ImageDataset,
    batch_size: usize,
) -> impl Iterator<Item = Vec<ImageItem>> + '_ {
    let size = batch_size.max(1);
    (0..data.count()).step_by(size).map(move |start| {
        (start..(start + size).min(data.count()))
            .filter_map(|i| data.get(i).ok())
            .collect()
    })
}

/// Reconstructs every image of `data` (deterministically: `decode(encode(x))`) and returns the
/// per-image MSE. One read-back per batch.
pub fn reconstruction_errors<M: Autoencoder>(
    model: &M,
    data: &ImageDataset,
    batch_size: usize,
    device: &Device,
) -> Result<ReconstructionErrors> {
    let batcher = ImageBatcher::new();
    let mut mse = Vec::with_capacity(data.count());
    for items in batches(data, batch_size) {
        let batch = batcher.batch(items, device);
        let recon = model.reconstruct(batch.images.clone());
        let errors = per_image_mse(recon, batch.images)
            .into_data()
            .try_to_vec_as::<f32>()
            .map_err(|e| TrainError::Training(format!("reading errors back: {e:?}")))?;
        mse.extend(errors);
    }
    Ok(ReconstructionErrors { mse })
}

/// Scores `model` on `data`.
pub fn evaluate<M: Autoencoder>(
    model: &M,
    data: &ImageDataset,
    batch_size: usize,
    device: &Device,
) -> Result<ReconstructionReport> {
    Ok(reconstruction_errors(model, data, batch_size, device)?.report(data.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_by_hand() {
        let errors = ReconstructionErrors {
            mse: vec![0.01, 0.001],
        };
        let r = errors.report("x");
        assert_eq!(r.images, 2);
        assert!((r.mse - 0.0055).abs() < 1e-9);
        assert!((r.psnr_db - 25.0).abs() < 1e-4, "{}", r.psnr_db);
    }
}
