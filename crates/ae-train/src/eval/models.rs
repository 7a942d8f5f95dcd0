//! Model-specific evaluation: how much a denoising model removes, a VAE's ELBO and
//! importance-weighted likelihood, how sparse a sparse model's codes are.

use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use ae_data::ImageDataset;
use ae_models::sparse::SparsityStats;
use ae_models::{
    Autoencoder, DenoisingAutoencoder, SavedModel, SparseAutoencoder, VariationalAutoencoder,
    per_image_mse,
};

use super::pictures::save_image_grid;
use super::readback::values;
use super::reconstruction::{
    ReconstructionErrors, check_finite, check_input_shape, image_batches, real_rows,
};
use crate::error::Result;

/// Draws the VAE's interpolations between consecutive images of `data` (0 → 1, 2 → 3, ...):
/// one labelled row of `steps` decoded images per pair, both ends included, at most `pairs`
/// rows, as a PNG at `path` (tiles scaled by `scale`). A dataset of fewer than two images has
/// no pair: nothing is written, and an earlier file at `path` is removed.
///
/// Returns the number of rows drawn.
///
/// # Errors
/// When the images cannot be read back from the device or the file cannot be written.
pub fn save_vae_interpolations(
    path: &Path,
    model: &VariationalAutoencoder,
    data: &ImageDataset,
    pairs: usize,
    steps: usize,
    scale: u32,
    device: &Device,
) -> Result<usize> {
    let pairs = pairs.min(data.count() / 2);
    if pairs == 0 {
        // An earlier run's picture would pass for this one's.
        let _ = std::fs::remove_file(path);
        return Ok(0);
    }
    let strips = (0..pairs)
        .map(|i| {
            let a = data.batch(2 * i..2 * i + 1, device).images;
            let b = data.batch(2 * i + 1..2 * i + 2, device).images;
            values(model.interpolate(a, b, steps))
        })
        .collect::<Result<Vec<_>>>()?;
    let rows: Vec<&[f32]> = strips.iter().map(Vec::as_slice).collect();
    let labels: Vec<String> = (0..pairs)
        .map(|i| format!("test {} → {}", 2 * i, 2 * i + 1))
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    save_image_grid(path, &rows, &labels, data.shape(), scale)?;
    Ok(pairs)
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
    check_input_shape(model, data)?;
    let (mut noisy_mse, mut denoised_mse) = (Vec::new(), Vec::new());
    for (i, batch) in image_batches(data, batch_size, device).enumerate() {
        let clean = batch.images;
        let noisy = model.corrupt_seeded(clean.clone(), seed.wrapping_add(i as u64));
        let denoised = model.reconstruct(noisy.clone());
        noisy_mse.extend(real_rows(per_image_mse(noisy, clean.clone()), batch.rows)?);
        denoised_mse.extend(real_rows(per_image_mse(denoised, clean), batch.rows)?);
    }
    let noisy = ReconstructionErrors { mse: noisy_mse }.report(data.name());
    let denoised = ReconstructionErrors { mse: denoised_mse }.report(data.name());
    check_finite(format!("the denoised MSE on {}", data.name()), denoised.mse)?;
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
    check_input_shape(model, data)?;
    device.seed(seed);
    let (mut recon, mut kl, mut iw, mut n) = (0.0, 0.0, 0.0, 0usize);
    let sum = |values: Vec<f32>| values.iter().map(|&v| f64::from(v)).sum::<f64>();
    for batch in image_batches(data, batch_size, device) {
        let (images, rows) = (batch.images, batch.rows);
        // One encoder pass: one posterior sample for the ELBO, the same posterior for the KL.
        let posterior = model.posterior(images.clone());
        let logits = model.decode_logits(model.sample_codes(&posterior));
        let nll = model.negative_log_likelihood(logits, images.clone().flatten(1, 3));
        recon += sum(real_rows(nll, rows)?);
        kl += sum(real_rows(
            VariationalAutoencoder::kl_divergence(&posterior),
            rows,
        )?);
        iw -= sum(real_rows(
            model.importance_weighted_log_likelihood(images, k),
            rows,
        )?);
        n += rows;
    }
    let n_f = n.max(1) as f64;
    check_finite(
        format!("the negative ELBO on {}", data.name()),
        (recon + kl) / n_f,
    )?;
    check_finite(
        format!("the importance-weighted NLL on {}", data.name()),
        iw / n_f,
    )?;
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
) -> Result<SparsityStats> {
    check_input_shape(model, data)?;
    let threshold = model.config().inactive_below;
    let (mut sum, mut inactive, mut n) = (0.0, 0usize, 0usize);
    for batch in image_batches(data, batch_size, device) {
        let mut codes = values(model.encode(batch.images))?;
        codes.truncate(batch.rows * model.latent_dim());
        sum += codes.iter().map(|&c| f64::from(c)).sum::<f64>();
        inactive += codes
            .iter()
            .filter(|&&c| f64::from(c.abs()) < threshold)
            .count();
        n += codes.len();
    }
    let n = n.max(1) as f64;
    Ok(SparsityStats {
        mean_activation: sum / n,
        inactive_fraction: inactive as f64 / n,
    })
}
