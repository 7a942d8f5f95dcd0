//! Scoring a trained autoencoder on a dataset: reconstruction MSE and PSNR, per image and overall.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use ae_data::ImageDataset;
use ae_models::{Autoencoder, DenoisingAutoencoder, SparseAutoencoder, VariationalAutoencoder};
use burn::tensor::Tensor;

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

/// A dataset's images in batches of `batch_size` on `device` (the last may be smaller).
pub fn image_batches<'a>(
    data: &'a ImageDataset,
    batch_size: usize,
    device: &'a Device,
) -> impl Iterator<Item = Tensor<4>> + 'a {
    let size = batch_size.max(1);
    (0..data.count())
        .step_by(size)
        .map(move |start| data.batch(start..start + size, device).images)
}

/// The per-item MSE of the deterministic reconstruction (`decode(encode(x))`) of every batch;
/// one read-back per batch. Works for any batches, images or table rows (`[N, 1, 1, F]`).
pub fn errors_of<M: Autoencoder + ?Sized>(
    model: &M,
    batches: impl Iterator<Item = Tensor<4>>,
) -> Result<ReconstructionErrors> {
    let mut mse = Vec::new();
    for images in batches {
        mse.extend(values(per_image_mse(
            model.reconstruct(images.clone()),
            images,
        ))?);
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

/// Scores `model` on `data`.
pub fn evaluate<M: Autoencoder>(
    model: &M,
    data: &ImageDataset,
    batch_size: usize,
    device: &Device,
) -> Result<ReconstructionReport> {
    Ok(reconstruction_errors(model, data, batch_size, device)?.report(data.name()))
}

fn read_f64(tensor: burn::tensor::Tensor<1>) -> Result<f64> {
    tensor
        .try_into_scalar::<f64>()
        .map_err(|e| TrainError::Training(format!("reading a value back: {e:?}")))
}

/// Reads a tensor's values back to the host as `f32`, whatever the backend's element type.
pub fn values<const D: usize>(tensor: burn::tensor::Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .try_to_vec_as::<f32>()
        .map_err(|e| TrainError::Training(format!("reading values back: {e:?}")))
}

/// Reads an integer tensor's values back to the host as `i64`.
pub fn int_values<const D: usize>(
    tensor: burn::tensor::Tensor<D, burn::tensor::Int>,
) -> Result<Vec<i64>> {
    tensor
        .into_data()
        .try_to_vec_as::<i64>()
        .map_err(|e| TrainError::Training(format!("reading values back: {e:?}")))
}

/// How well a denoising model removes its corruption on a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenoisingReport {
    /// Images scored.
    pub images: usize,
    /// Mean PSNR of the corrupted images against the clean ones, in dB.
    pub psnr_noisy_db: f64,
    /// Mean PSNR of the denoised images against the clean ones, in dB.
    pub psnr_denoised_db: f64,
    /// Mean MSE of the corrupted images.
    pub mse_noisy: f64,
    /// Mean MSE of the denoised images.
    pub mse_denoised: f64,
}

/// Corrupts every image of `data` (seeded on the host: the same noise every time and on every
/// backend), denoises it, and
/// compares both with the clean image.
pub fn evaluate_denoising(
    model: &DenoisingAutoencoder,
    data: &ImageDataset,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> Result<DenoisingReport> {
    let (mut noisy_mse, mut denoised_mse) = (Vec::new(), Vec::new());
    for (i, clean) in image_batches(data, batch_size, device).enumerate() {
        let noisy = model.corrupt_seeded(clean.clone(), seed.wrapping_add(i as u64));
        let denoised = model.reconstruct(noisy.clone());
        noisy_mse.extend(values(per_image_mse(noisy, clean.clone()))?);
        denoised_mse.extend(values(per_image_mse(denoised, clean))?);
    }
    let noisy = ReconstructionErrors { mse: noisy_mse }.report(data.name());
    let denoised = ReconstructionErrors { mse: denoised_mse }.report(data.name());
    Ok(DenoisingReport {
        images: noisy.images,
        psnr_noisy_db: noisy.psnr_db,
        psnr_denoised_db: denoised.psnr_db,
        mse_noisy: noisy.mse,
        mse_denoised: denoised.mse,
    })
}

/// A VAE's test figures per image, in nats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeReport {
    /// Images scored.
    pub images: usize,
    /// `E_q[-log p(x|z)]`, one posterior sample per image.
    pub reconstruction_nll: f64,
    /// `KL(q(z|x) ‖ p(z))` (not weighted by β).
    pub kl: f64,
    /// The negative ELBO: `reconstruction_nll + kl`.
    pub negative_elbo: f64,
    /// `-log p(x)` estimated with `iw_samples` importance samples (Burda et al., 2016).
    pub iw_nll: f64,
    /// Importance samples per image.
    pub iw_samples: usize,
}

/// Scores a VAE on `data` with seeded sampling: the negative ELBO split into reconstruction and
/// KL, and the `k`-sample importance-weighted negative log-likelihood.
pub fn evaluate_vae(
    model: &VariationalAutoencoder,
    data: &ImageDataset,
    batch_size: usize,
    k: usize,
    seed: u64,
    device: &Device,
) -> Result<VaeReport> {
    device.seed(seed);
    let (mut recon, mut kl, mut iw, mut n) = (0.0, 0.0, 0.0, 0usize);
    for images in image_batches(data, batch_size, device) {
        let count = images.dims()[0];
        // One encoder pass: one posterior sample for the ELBO, the same posterior for the KL.
        let posterior = model.posterior(images.clone());
        let logits = model.decode_logits(model.sample_codes(&posterior));
        let nll = model.negative_log_likelihood(logits, images.clone().flatten(1, 3));
        recon += read_f64(nll.sum())?;
        kl += read_f64(VariationalAutoencoder::kl_divergence(&posterior).sum())?;
        iw -= read_f64(model.importance_weighted_log_likelihood(images, k).sum())?;
        n += count;
    }
    let n_f = n.max(1) as f64;
    Ok(VaeReport {
        images: n,
        reconstruction_nll: recon / n_f,
        kl: kl / n_f,
        negative_elbo: (recon + kl) / n_f,
        iw_nll: iw / n_f,
        iw_samples: k,
    })
}

/// The mean activation and inactive fraction of a sparse model's codes over a dataset.
pub fn evaluate_sparsity(
    model: &SparseAutoencoder,
    data: &ImageDataset,
    batch_size: usize,
    device: &Device,
) -> Result<ae_models::sparse::SparsityStats> {
    let (mut mean, mut inactive, mut n) = (0.0, 0.0, 0usize);
    for images in image_batches(data, batch_size, device) {
        let count = images.dims()[0];
        let stats = model.stats(model.encode(images));
        mean += stats.mean_activation * count as f64;
        inactive += stats.inactive_fraction * count as f64;
        n += count;
    }
    let n = n.max(1) as f64;
    Ok(ae_models::sparse::SparsityStats {
        mean_activation: mean / n,
        inactive_fraction: inactive / n,
    })
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
