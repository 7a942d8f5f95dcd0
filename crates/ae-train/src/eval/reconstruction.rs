//! Scoring a trained autoencoder on a dataset: reconstruction MSE and PSNR, per image and overall.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use ae_data::{ImageBatch, ImageBatches, ImageDataset};
use ae_models::{Autoencoder, per_image_mse};

use super::readback::values;
use crate::error::{Result, TrainError};

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
            // A NaN error stays NaN (`max` alone would turn it into the 100 dB floor).
            .map(|&e| match f64::from(e) {
                e if e.is_nan() => f64::NAN,
                e => -10.0 * e.max(1e-10).log10(),
            })
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

/// A dataset's images in dataset order, in batches of exactly `batch_size` rows on `device`: the
/// last is padded with zero images (its [`ImageBatch::rows`] says how many are real), so that a
/// GPU compiles one set of kernels. Per-image results of a batch are its first `rows` values.
pub fn image_batches(data: &ImageDataset, batch_size: usize, device: &Device) -> ImageBatches {
    ImageBatches::in_order(data, batch_size, device)
}

/// The first `rows` per-row values of a batch's `[N]` result, read back.
///
/// # Errors
/// When the values cannot be read back from the device.
pub fn real_rows(per_row: Tensor<1>, rows: usize) -> Result<Vec<f32>> {
    let mut values = values(per_row)?;
    values.truncate(rows);
    Ok(values)
}

/// The per-item MSE of the deterministic reconstruction (`decode(encode(x))`) of every batch's
/// real rows; one read-back per batch. Works for any batches, images or table rows
/// (`[N, 1, 1, F]`).
pub fn errors_of<M: Autoencoder + ?Sized>(
    model: &M,
    batches: impl Iterator<Item = ImageBatch>,
) -> Result<ReconstructionErrors> {
    let mut mse = Vec::new();
    for batch in batches {
        let images = batch.images;
        let errors = per_image_mse(model.reconstruct(images.clone()), images);
        mse.extend(real_rows(errors, batch.rows)?);
    }
    Ok(ReconstructionErrors { mse })
}

/// Reconstructs every image of `data` and returns the per-image MSE.
pub fn reconstruction_errors<M: Autoencoder>(
    model: &M,
    data: &ImageDataset,
    batch_size: usize,
    device: &Device,
) -> Result<ReconstructionErrors> {
    errors_of(model, image_batches(data, batch_size, device))
}

/// Fails unless `model` takes `data`'s images.
///
/// # Errors
/// [`TrainError::ShapeMismatch`] naming both shapes.
pub fn check_input_shape<M: Autoencoder + ?Sized>(model: &M, data: &ImageDataset) -> Result<()> {
    if model.input_shape() == data.shape().dims() {
        return Ok(());
    }
    Err(TrainError::ShapeMismatch {
        model_name: "the model".into(),
        model: model.input_shape().to_vec(),
        data_name: data.name().to_string(),
        data: data.shape().dims().to_vec(),
    })
}

/// Fails when `value` is not finite: a model whose outputs are NaN or infinite diverged.
///
/// # Errors
/// [`TrainError::NotFinite`] naming `what`.
pub fn check_finite(what: impl Into<String>, value: f64) -> Result<f64> {
    if value.is_finite() {
        return Ok(value);
    }
    Err(TrainError::NotFinite {
        what: what.into(),
        value,
        hint: "the model's outputs are not finite: it diverged in training; retrain it with a \
               lower learning rate",
    })
}

/// Scores `model` on `data`.
///
/// # Errors
/// When the model does not take `data`'s images, or its reconstructions are not finite.
pub fn evaluate<M: Autoencoder>(
    model: &M,
    data: &ImageDataset,
    batch_size: usize,
    device: &Device,
) -> Result<ReconstructionReport> {
    check_input_shape(model, data)?;
    let report = reconstruction_errors(model, data, batch_size, device)?.report(data.name());
    check_finite(
        format!("the reconstruction MSE on {}", data.name()),
        report.mse,
    )?;
    Ok(report)
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
