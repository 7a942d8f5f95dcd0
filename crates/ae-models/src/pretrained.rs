//! Trained weights shipped with the crate: the zoo's dense, convolutional and variational
//! models trained on the embedded MNIST sample and on Fashion-MNIST, each with its model card.
//!
//! They are made by `cargo xtask zoo --ship` (fixed seeds, the README's commands) and stored at
//! f16 when that keeps the test MSE within 1% of the f32 weights' (the card says which). Each
//! model's weights are checked against the checksum of its card when it loads.
//!
//! ```
//! use ae_models::{Autoencoder, pretrained, pretrained_card};
//! use burn::tensor::{Device, Tensor};
//!
//! let device = Device::flex();
//! let model = pretrained("vae-mlp", "mnist-sample", &device)?;
//! assert_eq!(model.latent_dim(), 20);
//! let card = pretrained_card("vae-mlp", "mnist-sample")?;
//! assert!(card.test_mse < card.mean_image_mse); // better than the mean image
//! assert!(pretrained("vae-mlp", "cifar-10", &device).is_err());
//! # Ok::<(), ae_models::ModelError>(())
//! ```

use std::path::PathBuf;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};
use crate::persist::{WEIGHTS_FILE, WeightsPrecision, WeightsSource, check_finite_weights};
use crate::zoo::{AnyAutoencoder, ModelConfig, load_any_from};

/// What a pretrained model is and how good it is: `card.json` beside its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The preset (`vae-mlp`, ...; see [`crate::PRESETS`]).
    pub model: String,
    /// The dataset it was trained on (`mnist-sample`, `fashion-mnist`).
    pub dataset: String,
    /// The trainer example that trained it.
    pub trainer: String,
    /// The command that trained it.
    pub command: String,
    /// The commit it was trained at.
    pub commit: String,
    /// The seed of the run.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// Training, validation and test images.
    pub images: [usize; 3],
    /// The device it was trained on.
    pub device: String,
    /// The CPU of the machine it was trained on.
    pub machine: String,
    /// Training wall time, seconds.
    pub train_seconds: f64,
    /// Its parameters.
    pub parameters: usize,
    /// The precision its weights are stored at.
    pub weights_dtype: WeightsPrecision,
    /// The size of its weights file.
    pub weights_bytes: usize,
    /// The SHA-256 of its weights file, hex.
    pub weights_sha256: String,
    /// Test MSE per pixel of the stored weights (images in `[0, 1]`).
    pub test_mse: f64,
    /// Test PSNR, dB.
    pub test_psnr_db: f64,
    /// Test MSE of predicting the training set's mean image: the number to beat.
    pub mean_image_mse: f64,
    /// The trainer's other figures (for a VAE: the ELBO terms and the importance-weighted NLL).
    pub metrics: Vec<(String, f64)>,
}

/// A model embedded in the crate.
struct Shipped {
    model: &'static str,
    dataset: &'static str,
    config: &'static str,
    weights: &'static [u8],
    card: &'static str,
}

macro_rules! shipped {
    ($model:literal, $dataset:literal) => {
        Shipped {
            model: $model,
            dataset: $dataset,
            config: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/pretrained/",
                $model,
                "-",
                $dataset,
                "/config.json"
            )),
            weights: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/pretrained/",
                $model,
                "-",
                $dataset,
                "/model.bpk"
            )),
            card: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/pretrained/",
                $model,
                "-",
                $dataset,
                "/card.json"
            )),
        }
    };
}

/// Every shipped model (the folders of `crates/ae-models/pretrained`).
const SHIPPED: [Shipped; 6] = [
    shipped!("keras-mlp", "mnist-sample"),
    shipped!("keras-mlp", "fashion-mnist"),
    shipped!("conv-mnist", "mnist-sample"),
    shipped!("conv-mnist", "fashion-mnist"),
    shipped!("vae-mlp", "mnist-sample"),
    shipped!("vae-mlp", "fashion-mnist"),
];

/// The pretrained models: `(model, dataset)` pairs for [`pretrained`].
pub fn pretrained_models() -> Vec<(&'static str, &'static str)> {
    SHIPPED.iter().map(|s| (s.model, s.dataset)).collect()
}

fn find(model: &str, dataset: &str) -> Result<&'static Shipped> {
    SHIPPED
        .iter()
        .find(|s| s.model == model && s.dataset == dataset)
        .ok_or_else(|| ModelError::UnknownPretrained {
            model: model.to_string(),
            dataset: dataset.to_string(),
            available: pretrained_models()
                .iter()
                .map(|(m, d)| format!("{m}/{d}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Where a shipped model's file is, for messages.
fn source(shipped: &Shipped, file: &str) -> PathBuf {
    PathBuf::from("ae-models/pretrained")
        .join(format!("{}-{}", shipped.model, shipped.dataset))
        .join(file)
}

/// The model card of a pretrained model.
///
/// # Errors
/// [`ModelError::UnknownPretrained`] listing the pairs there are.
pub fn pretrained_card(model: &str, dataset: &str) -> Result<ModelCard> {
    card_of(find(model, dataset)?)
}

fn card_of(shipped: &Shipped) -> Result<ModelCard> {
    serde_json::from_str(shipped.card).map_err(|source_error| ModelError::ConfigJson {
        path: source(shipped, "card.json"),
        source: source_error,
    })
}

/// A pretrained model of the zoo on `device`: `model` is a preset name, `dataset` the data it
/// was trained on; [`pretrained_models`] lists the pairs.
///
/// # Errors
/// [`ModelError::UnknownPretrained`] for a pair that is not shipped, [`ModelError::Checksum`]
/// when the weights are not those of the card.
pub fn pretrained(model: &str, dataset: &str, device: &Device) -> Result<AnyAutoencoder> {
    let shipped = find(model, dataset)?;
    let card = card_of(shipped)?;
    let weights_path = source(shipped, WEIGHTS_FILE);
    let found = format!("{:x}", Sha256::digest(shipped.weights));
    if found != card.weights_sha256 {
        return Err(ModelError::Checksum {
            path: weights_path,
            expected: card.weights_sha256,
            found,
        });
    }
    let config = ModelConfig::from_json(shipped.config, &source(shipped, "config.json"))?;
    let weights = WeightsSource::Bytes(shipped.weights, &weights_path);
    let model = load_any_from(config, &weights, device)?;
    check_finite_weights(&model, &weights_path)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_model_loads_and_its_card_matches_it() {
        let device = Device::flex();
        for (model, dataset) in pretrained_models() {
            let card = pretrained_card(model, dataset).unwrap();
            assert_eq!(
                (card.model.as_str(), card.dataset.as_str()),
                (model, dataset)
            );
            let shipped = find(model, dataset).unwrap();
            assert_eq!(card.weights_bytes, shipped.weights.len());
            let loaded = pretrained(model, dataset, &device).unwrap();
            assert_eq!(
                burn::module::Module::num_params(&loaded),
                card.parameters,
                "{model}/{dataset}"
            );
            assert!(card.test_mse < card.mean_image_mse, "{model}/{dataset}");
        }
    }

    #[test]
    fn an_unknown_pair_lists_the_models_there_are() {
        let err = pretrained("vae-mlp", "cifar-10", &Device::flex()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("vae-mlp/mnist-sample"), "{message}");
        assert!(message.contains("cifar-10"), "{message}");
    }

    #[test]
    fn the_shipped_folders_are_the_shipped_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pretrained");
        let mut folders: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".md"))
            .collect();
        folders.sort();
        let mut table: Vec<String> = pretrained_models()
            .iter()
            .map(|(m, d)| format!("{m}-{d}"))
            .collect();
        table.sort();
        assert_eq!(folders, table);
    }
}
