//! The zoo's entry point for people who import the crate: any model from a JSON configuration, a
//! named preset, or a saved folder, behind one type.
//!
//! A [`ModelConfig`] is serde-tagged by `"kind"`, which is exactly the format of the
//! `config.json` in every saved model folder:
//!
//! ```json
//! { "kind": "vae", "input_shape": [1, 28, 28], "latent_dim": 20, ... }
//! ```

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::autoencoder::{Autoencoder, AutoencoderOutput};
use crate::conv::{ConvAutoencoder, ConvAutoencoderConfig};
use crate::corruption::Corruption;
use crate::denoising::{DenoisingAutoencoder, DenoisingAutoencoderConfig, DenoisingBaseConfig};
use crate::error::{ModelError, Result};
use crate::persist::{CONFIG_FILE, SavedModel, WEIGHTS_FILE, WeightsPrecision, WeightsSource};
use crate::sparse::{SparseAutoencoder, SparseAutoencoderConfig, SparsityPenalty};
use crate::vae::{VaeArchitecture, VaeConfig, VariationalAutoencoder};
use crate::vanilla::{VanillaAutoencoder, VanillaAutoencoderConfig};

/// The configuration of any model of the zoo.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    /// A dense autoencoder.
    Vanilla(VanillaAutoencoderConfig),
    /// A convolutional autoencoder.
    Conv(ConvAutoencoderConfig),
    /// A sparse autoencoder.
    Sparse(SparseAutoencoderConfig),
    /// A denoising autoencoder.
    Denoising(DenoisingAutoencoderConfig),
    /// A variational autoencoder.
    Vae(VaeConfig),
}

/// The presets, with a line each.
pub const PRESETS: [(&str, &str); 13] = [
    (
        "keras-mlp",
        "dense 784-128-64-32-64-128-784, ReLU, sigmoid, MSE (the Keras tutorial)",
    ),
    (
        "conv-mnist",
        "Conv 32-64 stride 2 → 32, mirrored with transposed convolutions, MSE",
    ),
    (
        "sparse-kl",
        "dense 784-128-64-[64 sigmoid], KL sparsity to ρ = 0.05, weight 1e-3",
    ),
    (
        "sparse-l1",
        "dense 784-128-64-[64 ReLU], L1 sparsity, weight 1e-3",
    ),
    (
        "denoising-mlp",
        "keras-mlp trained on Gaussian noise σ = 0.5, clipped to [0, 1]",
    ),
    (
        "denoising-conv",
        "conv-mnist trained on Gaussian noise σ = 0.5, clipped to [0, 1]",
    ),
    (
        "denoising-masking",
        "keras-mlp trained with 30% of the pixels masked to 0",
    ),
    (
        "vae-mlp",
        "VAE 784-400-20, Bernoulli likelihood (the PyTorch example)",
    ),
    (
        "vae-conv",
        "VAE with Conv 32-64 stride 2 encoder and transposed-conv decoder, latent 20",
    ),
    (
        "conv-64-rgb",
        "64x64 colour: Conv 32-64-128-256 stride 2 (to 4x4) → 128, mirrored, MSE",
    ),
    (
        "conv-128-rgb",
        "128x128 colour: Conv 32-64-128-256-256 stride 2 (to 4x4) → 256, mirrored, MSE",
    ),
    (
        "vae-conv-64-rgb",
        "64x64 colour VAE: Conv 32-64-128-256 stride 2 encoder, latent 64, Bernoulli",
    ),
    (
        "vae-conv-128-rgb",
        "128x128 colour VAE: Conv 32-64-128-256-256 stride 2 encoder, latent 128, Bernoulli",
    ),
];

/// The kinds of [`ModelConfig`]: the image autoencoders.
const IMAGE_KINDS: [&str; 5] = [
    VanillaAutoencoder::KIND,
    ConvAutoencoder::KIND,
    SparseAutoencoder::KIND,
    DenoisingAutoencoder::KIND,
    VariationalAutoencoder::KIND,
];

impl ModelConfig {
    /// A named preset (see [`PRESETS`]): for 28x28 grayscale images, or for 64x64 and 128x128
    /// colour ones (`*-64-rgb`, `*-128-rgb`); [`Self::with_input_shape`] adapts it to other
    /// images.
    ///
    /// ```
    /// use ae_models::{Autoencoder, ModelConfig};
    /// use burn::tensor::{Device, Tensor};
    ///
    /// let device = Device::flex();
    /// let model = ModelConfig::preset("conv-mnist")?.init(&device)?;
    /// let images = Tensor::<4>::zeros([2, 1, 28, 28], &device);
    /// assert_eq!(model.encode(images.clone()).dims(), [2, 32]); // the code of each image
    /// assert_eq!(model.reconstruct(images).dims(), [2, 1, 28, 28]);
    /// assert!(ModelConfig::preset("no-such-model").is_err());
    /// # Ok::<(), ae_models::ModelError>(())
    /// ```
    ///
    /// # Errors
    /// When the name is not a preset; the message lists them.
    pub fn preset(name: &str) -> Result<Self> {
        let gaussian = Corruption::Gaussian {
            std: 0.5,
            clip: true,
        };
        Ok(match name {
            "keras-mlp" => Self::Vanilla(VanillaAutoencoderConfig::new()),
            "conv-mnist" => Self::Conv(ConvAutoencoderConfig::new()),
            "sparse-kl" => Self::Sparse(SparseAutoencoderConfig::new()),
            "sparse-l1" => Self::Sparse(
                SparseAutoencoderConfig::new().with_penalty(SparsityPenalty::L1 { weight: 1e-3 }),
            ),
            "denoising-mlp" => Self::Denoising(DenoisingAutoencoderConfig::new()),
            "denoising-conv" => Self::Denoising(
                DenoisingAutoencoderConfig::new()
                    .with_base(DenoisingBaseConfig::Conv(ConvAutoencoderConfig::new()))
                    .with_corruption(gaussian),
            ),
            "denoising-masking" => Self::Denoising(
                DenoisingAutoencoderConfig::new()
                    .with_corruption(Corruption::Masking { fraction: 0.3 }),
            ),
            "vae-mlp" => Self::Vae(VaeConfig::new()),
            "vae-conv" => Self::Vae(VaeConfig::new().with_architecture(VaeArchitecture::Conv {
                channels: vec![32, 64],
                kernel_size: 3,
            })),
            "conv-64-rgb" => Self::Conv(
                ConvAutoencoderConfig::new()
                    .with_input_shape([3, 64, 64])
                    .with_channels(vec![32, 64, 128, 256])
                    .with_latent_dim(128),
            ),
            "conv-128-rgb" => Self::Conv(
                ConvAutoencoderConfig::new()
                    .with_input_shape([3, 128, 128])
                    .with_channels(vec![32, 64, 128, 256, 256])
                    .with_latent_dim(256),
            ),
            "vae-conv-64-rgb" => Self::Vae(
                VaeConfig::new()
                    .with_input_shape([3, 64, 64])
                    .with_architecture(VaeArchitecture::Conv {
                        channels: vec![32, 64, 128, 256],
                        kernel_size: 3,
                    })
                    .with_latent_dim(64),
            ),
            "vae-conv-128-rgb" => Self::Vae(
                VaeConfig::new()
                    .with_input_shape([3, 128, 128])
                    .with_architecture(VaeArchitecture::Conv {
                        channels: vec![32, 64, 128, 256, 256],
                        kernel_size: 3,
                    })
                    .with_latent_dim(128),
            ),
            other => {
                return Err(ModelError::InvalidConfig {
                    field: "preset",
                    message: format!(
                        "`{other}` is not a preset; choose one of {}",
                        PRESETS.map(|(n, _)| n).join(", ")
                    ),
                });
            }
        })
    }

    /// The same model for images of another `[C, H, W]` shape.
    pub fn with_input_shape(self, shape: [usize; 3]) -> Self {
        match self {
            Self::Vanilla(c) => Self::Vanilla(c.with_input_shape(shape)),
            Self::Conv(c) => Self::Conv(c.with_input_shape(shape)),
            Self::Sparse(c) => {
                let base = c.base.clone().with_input_shape(shape);
                Self::Sparse(c.with_base(base))
            }
            Self::Denoising(c) => {
                let base = match &c.base {
                    DenoisingBaseConfig::Mlp(b) => {
                        DenoisingBaseConfig::Mlp(b.clone().with_input_shape(shape))
                    }
                    DenoisingBaseConfig::Conv(b) => {
                        DenoisingBaseConfig::Conv(b.clone().with_input_shape(shape))
                    }
                };
                Self::Denoising(c.with_base(base))
            }
            Self::Vae(c) => Self::Vae(c.with_input_shape(shape)),
        }
    }

    /// The model kind, as written in `config.json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Vanilla(_) => VanillaAutoencoder::KIND,
            Self::Conv(_) => ConvAutoencoder::KIND,
            Self::Sparse(_) => SparseAutoencoder::KIND,
            Self::Denoising(_) => DenoisingAutoencoder::KIND,
            Self::Vae(_) => VariationalAutoencoder::KIND,
        }
    }

    /// Parses a configuration from JSON; `source` names it in errors (with line and column).
    pub fn from_json(text: &str, source: &Path) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| {
            // A sentence or recommender model's folder, given where an image model goes: say
            // which kind it holds (serde said "unknown variant `text`, expected one of ...").
            let kind = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| {
                    v.get(crate::persist::KIND_FIELD)?
                        .as_str()
                        .map(str::to_string)
                });
            match kind {
                Some(found) if !IMAGE_KINDS.contains(&found.as_str()) => ModelError::WrongKind {
                    path: source.to_path_buf(),
                    expected: "vanilla, conv, sparse, denoising or vae".into(),
                    found,
                },
                _ => ModelError::ConfigJson {
                    path: source.to_path_buf(),
                    source: e,
                },
            }
        })
    }

    /// Reads a configuration file (such as a model folder's `config.json`).
    pub fn load(path: &Path) -> Result<Self> {
        let text = ae_io::read_to_string(path, ae_io::Limit::JSON)?;
        Self::from_json(&text, path)
    }

    /// Builds a freshly initialised model.
    pub fn init(&self, device: &Device) -> Result<AnyAutoencoder> {
        Ok(match self {
            Self::Vanilla(c) => AnyAutoencoder::Vanilla(c.try_init(device)?),
            Self::Conv(c) => AnyAutoencoder::Conv(c.try_init(device)?),
            Self::Sparse(c) => AnyAutoencoder::Sparse(c.try_init(device)?),
            Self::Denoising(c) => AnyAutoencoder::Denoising(c.try_init(device)?),
            Self::Vae(c) => AnyAutoencoder::Vae(c.try_init(device)?),
        })
    }
}

/// Any model of the zoo.
// A model is built once and moved rarely; boxing the variants would not fit Burn's `Module`
// derive, which needs the modules themselves as fields.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AnyAutoencoder {
    /// A dense autoencoder.
    Vanilla(VanillaAutoencoder),
    /// A convolutional autoencoder.
    Conv(ConvAutoencoder),
    /// A sparse autoencoder.
    Sparse(SparseAutoencoder),
    /// A denoising autoencoder.
    Denoising(DenoisingAutoencoder),
    /// A variational autoencoder.
    Vae(VariationalAutoencoder),
}

impl AnyAutoencoder {
    /// The model as the common interface.
    pub fn as_autoencoder(&self) -> &dyn Autoencoder {
        match self {
            Self::Vanilla(m) => m,
            Self::Conv(m) => m,
            Self::Sparse(m) => m,
            Self::Denoising(m) => m,
            Self::Vae(m) => m,
        }
    }

    /// The model's configuration.
    pub fn config(&self) -> ModelConfig {
        match self {
            Self::Vanilla(m) => ModelConfig::Vanilla(m.config().clone()),
            Self::Conv(m) => ModelConfig::Conv(m.config().clone()),
            Self::Sparse(m) => ModelConfig::Sparse(m.config().clone()),
            Self::Denoising(m) => ModelConfig::Denoising(m.config().clone()),
            Self::Vae(m) => ModelConfig::Vae(m.config().clone()),
        }
    }

    /// Saves the model folder (`config.json` tagged with its kind, and `model.bpk`).
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.save_as(dir, WeightsPrecision::F32)
    }

    /// Saves the model folder with the weights stored at `precision`.
    pub fn save_as(&self, dir: &Path, precision: WeightsPrecision) -> Result<()> {
        match self {
            Self::Vanilla(m) => m.save_as(dir, precision),
            Self::Conv(m) => m.save_as(dir, precision),
            Self::Sparse(m) => m.save_as(dir, precision),
            Self::Denoising(m) => m.save_as(dir, precision),
            Self::Vae(m) => m.save_as(dir, precision),
        }
    }
}

impl crate::persist::SaveFolder for AnyAutoencoder {
    fn save_folder_as(&self, dir: &Path, precision: WeightsPrecision) -> Result<()> {
        self.save_as(dir, precision)
    }
}

macro_rules! into_any {
    ($($variant:ident($model:ty)),*) => {
        $(impl From<$model> for AnyAutoencoder {
            fn from(model: $model) -> Self {
                Self::$variant(model)
            }
        })*
    };
}

into_any!(
    Vanilla(VanillaAutoencoder),
    Conv(ConvAutoencoder),
    Sparse(SparseAutoencoder),
    Denoising(DenoisingAutoencoder),
    Vae(VariationalAutoencoder)
);

/// Loads any saved model folder (a trainer's artifact folder, or one written by `save`) in one
/// call: reads `config.json`, builds the model it names, loads `model.bpk`.
pub fn load_model(dir: &Path, device: &Device) -> Result<AnyAutoencoder> {
    crate::persist::check_model_folder(dir)?;
    let config_path = dir.join(CONFIG_FILE);
    let config = ModelConfig::load(&config_path)?;
    let weights = dir.join(WEIGHTS_FILE);
    let model = load_any_from(config, &WeightsSource::File(&weights), device)
        .map_err(|e| e.in_config_file(&config_path))?;
    crate::persist::check_finite_weights(&model, &weights)?;
    Ok(model)
}

/// Builds the model `config` names and loads its weights from `weights`.
pub(crate) fn load_any_from(
    config: ModelConfig,
    weights: &WeightsSource<'_>,
    device: &Device,
) -> Result<AnyAutoencoder> {
    // Weights are saved from the concrete model (parameter paths without the enum variant), so
    // they are loaded into it before wrapping.
    Ok(match config {
        ModelConfig::Vanilla(c) => AnyAutoencoder::Vanilla(weights.load(c.try_init(device)?)?),
        ModelConfig::Conv(c) => AnyAutoencoder::Conv(weights.load(c.try_init(device)?)?),
        ModelConfig::Sparse(c) => AnyAutoencoder::Sparse(weights.load(c.try_init(device)?)?),
        ModelConfig::Denoising(c) => AnyAutoencoder::Denoising(weights.load(c.try_init(device)?)?),
        ModelConfig::Vae(c) => AnyAutoencoder::Vae(weights.load(c.try_init(device)?)?),
    })
}

impl Autoencoder for AnyAutoencoder {
    fn input_shape(&self) -> [usize; 3] {
        self.as_autoencoder().input_shape()
    }

    fn latent_dim(&self) -> usize {
        self.as_autoencoder().latent_dim()
    }

    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.as_autoencoder().encode(images)
    }

    fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        self.as_autoencoder().decode(codes)
    }

    fn forward_masked(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        mask: Option<Tensor<1>>,
    ) -> AutoencoderOutput {
        self.as_autoencoder().forward_masked(input, target, mask)
    }

    fn loss_term_names(&self) -> Vec<&'static str> {
        self.as_autoencoder().loss_term_names()
    }

    fn replay_hazard(&self) -> Option<&'static str> {
        self.as_autoencoder().replay_hazard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn every_preset_builds_runs_saves_and_loads_back() {
        let device = Device::flex();
        for (name, _) in PRESETS {
            let config = ModelConfig::preset(name).unwrap();
            let model = config.init(&device).unwrap();
            let [c, h, w] = model.input_shape();
            let expected = match name {
                n if n.ends_with("-64-rgb") => [3, 64, 64],
                n if n.ends_with("-128-rgb") => [3, 128, 128],
                _ => [1, 28, 28],
            };
            assert_eq!([c, h, w], expected, "{name}");
            let x = Tensor::random([2, c, h, w], Distribution::Uniform(0.0, 1.0), &device);
            let out = model.forward(x.clone());
            assert_eq!(out.reconstruction.dims(), [2, c, h, w], "{name}");
            assert!(out.loss.into_scalar::<f32>().is_finite(), "{name}");
            let dir = tempfile::tempdir().unwrap();
            model.save(dir.path()).unwrap();
            let loaded = load_model(dir.path(), &device).unwrap();
            assert_eq!(loaded.config().kind(), config.kind(), "{name}");
            model
                .reconstruct(x.clone())
                .into_data()
                .assert_eq(&loaded.reconstruct(x.clone()).into_data(), true);
        }
        assert!(ModelConfig::preset("resnet").is_err());
    }

    #[test]
    fn builds_from_tagged_json() {
        let json = serde_json::to_string(&ModelConfig::preset("vae-mlp").unwrap()).unwrap();
        assert!(json.contains("\"kind\":\"vae\""), "{json}");
        let config = ModelConfig::from_json(&json, Path::new("inline")).unwrap();
        let model = config.init(&Device::flex()).unwrap();
        assert_eq!(model.latent_dim(), 20);
        let err = ModelConfig::from_json("{\"kind\": \"gan\"}", Path::new("x.json")).unwrap_err();
        assert!(err.to_string().contains("x.json"), "{err}");
    }

    #[test]
    fn presets_adapt_to_rgb_images() {
        let device = Device::flex();
        let x = Tensor::random([2, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &device);
        for (name, _) in PRESETS {
            let model = ModelConfig::preset(name)
                .unwrap()
                .with_input_shape([3, 32, 32])
                .init(&device)
                .unwrap();
            assert_eq!(
                model.forward(x.clone()).reconstruction.dims(),
                [2, 3, 32, 32],
                "{name}"
            );
        }
    }

    /// A batch padded to a fixed size with a mask gives the losses of its real rows alone: the
    /// padding neither adds to a mean nor moves a batch statistic (the sparse KL's mean unit
    /// activity). Random draws (corruption, VAE sampling) differ between the two shapes, so the
    /// stochastic terms are compared where they are deterministic (the VAE's KL).
    #[test]
    fn masked_padding_leaves_the_losses_of_the_real_rows() {
        let device = Device::flex();
        let real = Tensor::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let junk = Tensor::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let padded = Tensor::cat(vec![real.clone(), junk], 0);
        let mask = Tensor::<1>::from_floats([1.0, 1.0, 1.0, 0.0, 0.0], &device);
        for name in [
            "keras-mlp",
            "conv-mnist",
            "sparse-kl",
            "sparse-l1",
            "vae-mlp",
        ] {
            let model = ModelConfig::preset(name).unwrap().init(&device).unwrap();
            let alone = model.forward(real.clone());
            let masked = model.forward_masked(padded.clone(), padded.clone(), Some(mask.clone()));
            for (a, m) in alone.terms.iter().zip(&masked.terms) {
                if name == "vae-mlp" && a.name == "reconstruction" {
                    continue;
                }
                let (a, m) = (
                    a.value.clone().into_scalar::<f32>(),
                    m.value.clone().into_scalar::<f32>(),
                );
                assert!(
                    (a - m).abs() <= 1e-5 * a.abs().max(1.0),
                    "{name}: {a} vs {m}"
                );
            }
        }
    }
}
