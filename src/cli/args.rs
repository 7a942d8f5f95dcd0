//! The flag groups the examples flatten, so that a flag means the same everywhere and is declared
//! once: training, image data, output, and a trained model to load (the device's flags are in
//! `device_args`).

use std::path::{Path, PathBuf};

use burn::optim::AdamConfig;
use clap::Args;

use ae_data::image_folder::ColorMode;
use ae_data::{DatasetSource, ImageDataset, Residency};
use ae_models::WeightsPrecision;
use ae_train::{AppFolder, FitOptions, Precision, TrainError, TrainingConfig};

use super::device_args::{DeviceArgs, Devices};

use super::ranges::{self, MAX_EPOCHS, MAX_WIDTH};

/// An example's defaults for the flags whose default differs between examples.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// `--epochs`.
    pub epochs: usize,
    /// `--batch-size`.
    pub batch_size: usize,
    /// `--lr`.
    pub learning_rate: f64,
    /// `--latent-dim`.
    pub latent_dim: usize,
}

impl Defaults {
    /// Adam at 1e-3, the learning rate of every image example.
    pub const fn new(epochs: usize, batch_size: usize, latent_dim: usize) -> Self {
        Self {
            epochs,
            batch_size,
            learning_rate: 1e-3,
            latent_dim,
        }
    }

    /// The same defaults with another learning rate.
    pub const fn with_learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = learning_rate;
        self
    }
}

/// How to train: `--epochs`, `--batch-size`, `--lr`, `--adam-epsilon`, `--seed`,
/// `--num-workers`, `--residency`, `--precision`, `--capture`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Passes over the training data (default: the example's own).
    #[arg(long, value_parser = ranges::count::<1, MAX_EPOCHS>)]
    pub epochs: Option<usize>,
    /// Items per optimisation step (default: the example's own).
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>)]
    pub batch_size: Option<usize>,
    /// Adam's learning rate (default: the example's own, 1e-3 for images).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::positive)]
    pub lr: Option<f64>,
    /// Adam's epsilon (PyTorch's default 1e-8; Keras uses 1e-7). A loss summed over a batch of B
    /// instead of averaged corresponds to epsilon / B.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::positive_f32, default_value_t = 1e-8)]
    pub adam_epsilon: f32,
    /// Seed of initialisation, shuffling and splits.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Data-loading threads of burn's loader for text, ratings and tables (0: on the training
    /// thread; image splits need none).
    #[arg(long, value_parser = ranges::count::<0, 256>, default_value_t = 0)]
    pub num_workers: usize,
    /// Where image splits live while training: auto (on the device while a split's f32 copy
    /// fits 2 GiB), device (uploaded once, batches gathered there) or host (each batch copied).
    #[arg(long, value_enum, default_value_t = DataResidency::Auto)]
    pub residency: DataResidency,
    /// What the layers compute in: f32; tf32 (CUDA tensor cores); bf16 or f16, mixed precision
    /// (dense layers and convolutions in 16 bits; weights, optimizer, losses and metrics in f32;
    /// f16 with loss scaling). A device without it is refused.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
    /// Record one training step (forward, backward, Adam) as a GPU graph and replay it for every
    /// batch: fewer launches and no per-step host work. GPU backends, one device, f32/tf32, models
    /// without random draws or batch norm; elsewhere training runs uncaptured and says why.
    #[arg(long)]
    pub capture: bool,
}

/// `--precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// Everything in f32.
    F32,
    /// f32 with TF32 matrix products (CUDA, Ampere or later).
    Tf32,
    /// Mixed precision in bfloat16.
    Bf16,
    /// Mixed precision in IEEE half, with loss scaling.
    F16,
}

impl From<PrecisionArg> for Precision {
    fn from(value: PrecisionArg) -> Self {
        match value {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Tf32 => Precision::Tf32,
            PrecisionArg::Bf16 => Precision::Bf16,
            PrecisionArg::F16 => Precision::F16,
        }
    }
}

/// `--residency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DataResidency {
    /// On the device while it fits.
    Auto,
    /// On the device.
    Device,
    /// In host memory.
    Host,
}

impl From<DataResidency> for Residency {
    fn from(value: DataResidency) -> Self {
        match value {
            DataResidency::Auto => Residency::Auto,
            DataResidency::Device => Residency::Device,
            DataResidency::Host => Residency::Host,
        }
    }
}

impl TrainArgs {
    /// The training configuration, with the example's defaults for flags not given.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming a setting out of range.
    pub fn config(&self, defaults: &Defaults) -> Result<TrainingConfig, TrainError> {
        let config = TrainingConfig::new()
            .with_epochs(self.epochs.unwrap_or(defaults.epochs))
            .with_batch_size(self.batch_size.unwrap_or(defaults.batch_size))
            .with_learning_rate(self.lr.unwrap_or(defaults.learning_rate))
            .with_optimizer(AdamConfig::new().with_epsilon(self.adam_epsilon))
            .with_seed(self.seed)
            .with_num_workers(self.num_workers)
            .with_precision(self.precision.into());
        config.validate()?;
        Ok(config)
    }
}

/// Limits on the files read: `--max-input-size`.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// The largest data file read (bytes, or K/M/G/T: 512M, 8G); a larger file is refused with
    /// its size rather than read into memory.
    #[arg(long, value_parser = ranges::byte_size, default_value = "8G")]
    pub max_input_size: u64,
}

impl InputArgs {
    /// Sets the limit for the whole process (`ae_io::set_max_data_bytes`).
    pub fn apply(&self) {
        ae_io::set_max_data_bytes(self.max_input_size);
    }
}

/// Which images: `--dataset`, `--data-dir`, `--limit`, `--valid-fraction`,
/// `--max-input-size`.
#[derive(Args, Debug, Clone)]
pub struct ImageDataArgs {
    /// Dataset: mnist-sample (embedded, the default), fashion-mnist (Debian's
    /// dataset-fashion-mnist or --data-dir), mnist (needs --data-dir), image-folder (needs
    /// --data-dir).
    #[arg(long, default_value = "mnist-sample")]
    pub dataset: String,
    /// Folder of the dataset's files (MNIST-format IDX files, or an image folder).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Use only the first N training and test images (for a quick try).
    #[arg(long, value_parser = ranges::count::<1, { usize::MAX }>)]
    pub limit: Option<usize>,
    /// Fraction of the training images held out for validation (0: validate on the test split,
    /// for monitoring only).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::fraction_below_one, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Image size, H or HxW (e.g. 64 or 64x96): images are resized to it (bilinear). Default:
    /// the dataset's own (28x28 for the MNIST-format datasets and for image folders).
    #[arg(long, value_parser = ranges::image_size, value_name = "H[xW]")]
    pub image_size: Option<(usize, usize)>,
    /// Colour: gray or rgb. Default: the dataset's own (gray for the MNIST-format datasets; for
    /// an image folder, rgb if any of up to 64 of its images is in colour).
    #[arg(long, value_enum)]
    pub color: Option<Color>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,
}

/// `--color`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// One channel.
    Gray,
    /// Three channels.
    Rgb,
}

impl From<Color> for ColorMode {
    fn from(color: Color) -> Self {
        match color {
            Color::Gray => ColorMode::Grayscale,
            Color::Rgb => ColorMode::Rgb,
        }
    }
}

impl ImageDataArgs {
    /// `images` at `--image-size` and in `--color` where they are given (each absent one the
    /// images' own).
    ///
    /// # Errors
    /// When the size is refused ([`ImageDataset::resized`]).
    pub fn reshape(&self, images: ImageDataset) -> Result<ImageDataset, TrainError> {
        let shape = images.shape();
        let (height, width) = self.image_size.unwrap_or((shape.height, shape.width));
        let color = match (self.color, shape.channels) {
            (Some(color), _) => color.into(),
            (None, 1) => ColorMode::Grayscale,
            (None, _) => ColorMode::Rgb,
        };
        Ok(images.resized(height, width, color)?)
    }

    /// The dataset the flags name.
    ///
    /// # Errors
    /// When the name is unknown or needs a folder that is not given.
    pub fn source(&self) -> Result<DatasetSource, TrainError> {
        self.input.apply();
        let mut source = DatasetSource::from_name(&self.dataset, self.data_dir.as_deref())?;
        // An image folder is read at the size and in the colour asked for (its own colour by
        // default), so that no image is decoded twice.
        if let DatasetSource::ImageFolder { dir, options, .. } = &mut source {
            if let Some((height, width)) = self.image_size {
                (options.height, options.width) = (height as u32, width as u32);
            }
            options.color = match self.color {
                Some(color) => color.into(),
                None => ae_data::image_folder::detect_color(dir)?,
            };
        }
        if let (DatasetSource::MnistSample, Some(dir)) = (&source, &self.data_dir) {
            return Err(TrainError::InvalidArgument {
                what: "--data-dir",
                message: format!(
                    "{} would be ignored: the mnist-sample dataset is embedded; pass --dataset \
                     mnist, fashion-mnist or image-folder to read a folder",
                    dir.display()
                ),
            });
        }
        Ok(source)
    }
}

/// Where results go: `--out`, `--resume`.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output folder (default: runs/EXAMPLE-DATASET, or runs/EXAMPLE).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted training run from the newest checkpoint in the output folder (it
    /// must be the same run: same model, data and settings but --epochs).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start over in an output folder that holds an earlier run: its checkpoints and logs are
    /// deleted (without it, such a folder is refused).
    #[arg(long)]
    pub overwrite: bool,
    /// Precision the trained weights are stored at: f16 halves the file; the test figures are
    /// then those of the f16 weights, with the f32 weights' test MSE beside them.
    #[arg(long, value_enum, default_value_t = WeightsArg::F32)]
    pub weights: WeightsArg,
}

/// `--weights`: the stored precision of a model's weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightsArg {
    /// 4 bytes a weight, as trained.
    F32,
    /// 2 bytes a weight.
    F16,
}

impl From<WeightsArg> for WeightsPrecision {
    fn from(precision: WeightsArg) -> Self {
        match precision {
            WeightsArg::F32 => Self::F32,
            WeightsArg::F16 => Self::F16,
        }
    }
}

impl OutputArgs {
    /// `--out`, or `runs/<name>`.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(name))
    }

    /// The application folder `out` as `fit` keeps it around its model folders: `--overwrite`
    /// removes the earlier run's results there once the new run is accepted.
    pub fn app_folder(&self, out: &Path) -> AppFolder {
        AppFolder {
            dir: out.to_path_buf(),
            start_over: self.overwrite && !self.resume,
        }
    }

    /// How `fit` trains the model folder `model_dir` of the application folder `out`: on
    /// `devices`, with `--resume`, `--overwrite` and `capture`.
    pub fn app_fit_options(
        &self,
        devices: &Devices,
        out: &Path,
        model_dir: &Path,
        capture: bool,
    ) -> FitOptions {
        devices
            .fit_options(model_dir)
            .with_capture(capture)
            .with_resume(self.resume)
            .with_overwrite(self.overwrite)
            .with_app_folder(self.app_folder(out))
    }

    /// Before an application scores a model given with `--model` (it trains none): the results
    /// of an earlier run in `out` go with `--overwrite`, as when it trains.
    ///
    /// # Errors
    /// The operating system's error, naming the file.
    pub fn begin_app_folder(&self, out: &Path) -> Result<(), TrainError> {
        let app = self.app_folder(out);
        ae_train::begin_app_folder(&app.dir, app.start_over)
    }

    /// Refuses an output folder `out` inside the input folder `input` (given as `flag`): the
    /// run's files would be read as data the next time.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming both folders.
    pub fn check_outside(out: &Path, input: &Path, flag: &'static str) -> Result<(), TrainError> {
        let (resolved_out, resolved_input) = (resolved(out), resolved(input));
        if input.is_dir() && resolved_out.starts_with(&resolved_input) {
            return Err(TrainError::InvalidArgument {
                what: "--out",
                message: format!(
                    "{} is inside {flag} {}: the run's files would be read as data the next \
                     time; write the run elsewhere",
                    out.display(),
                    input.display()
                ),
            });
        }
        Ok(())
    }
}

/// `path` made absolute with its links resolved, as far as it exists (an output folder may not
/// exist yet).
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
    let mut resolved = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    resolved.extend(rest.iter().rev());
    resolved
}

/// A trained model to use instead of training one: `--model`.
#[derive(Args, Debug, Clone)]
pub struct ModelDirArgs {
    /// A trained model folder (any trainer's output folder, or one written by `save`) to use
    /// instead of training a new model.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// The size of a model's code: `--latent-dim`.
#[derive(Args, Debug, Clone)]
pub struct LatentArgs {
    /// Size of the latent code (default: the example's own).
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>)]
    pub latent_dim: Option<usize>,
}

impl LatentArgs {
    /// `--latent-dim`, or the example's default.
    pub fn latent_dim(&self, defaults: &Defaults) -> usize {
        self.latent_dim.unwrap_or(defaults.latent_dim)
    }
}

/// Everything an image trainer takes: device, data, training, output, and the code size.
#[derive(Args, Debug, Clone)]
pub struct TrainerArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub device: DeviceArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: ImageDataArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub train: TrainArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub latent: LatentArgs,
}

impl TrainerArgs {
    /// `--latent-dim`, or the example's default.
    pub fn latent_dim(&self, defaults: &Defaults) -> usize {
        self.latent.latent_dim(defaults)
    }

    /// The output folder: `--out`, or `runs/<name>-<dataset>`.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        self.output.dir(&format!("{name}-{}", self.data.dataset))
    }
}
