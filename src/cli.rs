//! Command-line arguments shared by the example trainers, so that every trainer takes the same
//! `--dataset`, `--device`, `--epochs`, ... flags and reports errors the same way.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use std::path::Path;

use ae_data::{DatasetSource, ImageDataset, ImageShape};
use ae_models::{AnyAutoencoder, Autoencoder, SavedModel, load_model};
use ae_train::experiment::load_splits;
use ae_train::{DeviceSpec, RunSettings, TrainError, TrainingConfig, run_training};
use burn::module::ModuleDisplay;
use burn::tensor::Device;

/// The flags every trainer takes.
#[derive(Args, Debug, Clone)]
pub struct TrainerArgs {
    /// Dataset: mnist-sample (embedded, the default), fashion-mnist (Debian's
    /// dataset-fashion-mnist or --data-dir), mnist (needs --data-dir), image-folder (needs
    /// --data-dir).
    #[arg(long, default_value = "mnist-sample")]
    pub dataset: String,
    /// Folder of the dataset's files (MNIST-format IDX files, or an image folder).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Backend and device: flex, ndarray, wgpu, vulkan, metal, cuda, optionally `:INDEX`
    /// (each needs its cargo feature, e.g. `--features wgpu`).
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Train data-parallel on several devices, e.g. `cuda:0,cuda:1` (burn-train's multi-device
    /// strategy; the first device also validates and evaluates). Replaces --device.
    #[arg(long, value_delimiter = ',')]
    pub devices: Vec<String>,
    /// Passes over the training images (default: the trainer's own).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per optimisation step (default: the trainer's own).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Size of the latent code (default: the trainer's own).
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Adam's epsilon (PyTorch's default 1e-8; Keras uses 1e-7). A loss summed over a batch of B
    /// instead of averaged corresponds to epsilon / B.
    #[arg(long, default_value_t = 1e-8)]
    pub adam_epsilon: f32,
    /// Seed of initialisation, shuffling and splits.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fraction of the training images held out for validation (0: validate on the test split,
    /// for monitoring only).
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Use only the first N training and test images (for a quick try).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Data-loading threads.
    #[arg(long, default_value_t = 0)]
    pub num_workers: usize,
    /// Artifact folder (default: runs/<trainer>-<dataset>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run from the newest checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
}

/// A trainer's defaults for the flags it does not require.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// `--epochs`.
    pub epochs: usize,
    /// `--batch-size`.
    pub batch_size: usize,
    /// `--latent-dim`.
    pub latent_dim: usize,
}

impl TrainerArgs {
    /// The device models live on: the first of `--devices`, or `--device`.
    pub fn main_device(&self) -> &str {
        self.devices.first().unwrap_or(&self.device)
    }

    /// `--latent-dim`, or the trainer's default.
    pub fn latent_dim(&self, defaults: Defaults) -> usize {
        self.latent_dim.unwrap_or(defaults.latent_dim)
    }

    /// The run settings, with the trainer's defaults for flags not given.
    pub fn settings(&self, trainer: &str, defaults: Defaults) -> Result<RunSettings, TrainError> {
        let dataset = DatasetSource::from_name(&self.dataset, self.data_dir.as_deref())?;
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(TrainError::InvalidArgument {
                what: "--valid-fraction",
                message: format!("{} is not in [0, 1)", self.valid_fraction),
            });
        }
        let training = TrainingConfig::new()
            .with_epochs(self.epochs.unwrap_or(defaults.epochs))
            .with_batch_size(self.batch_size.unwrap_or(defaults.batch_size))
            .with_learning_rate(self.lr)
            .with_optimizer(burn::optim::AdamConfig::new().with_epsilon(self.adam_epsilon))
            .with_seed(self.seed)
            .with_num_workers(self.num_workers)
            .with_devices(self.devices.clone());
        training.validate()?;
        Ok(RunSettings {
            trainer: trainer.to_string(),
            dataset,
            device: self.main_device().to_string(),
            training,
            valid_fraction: self.valid_fraction,
            limit: self.limit,
        })
    }

    /// The artifact folder: `--out`, or `runs/<trainer>-<dataset>`.
    pub fn out_dir(&self, trainer: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(format!("{trainer}-{}", self.dataset)))
    }
}

/// A model for an application example: loaded from `--model DIR`, or trained now.
pub struct AppModel {
    /// The model.
    pub model: AnyAutoencoder,
    /// The training split of the dataset (what the model was, or would be, trained on).
    pub train: ImageDataset,
    /// The test split of the dataset.
    pub test: ImageDataset,
    /// The device.
    pub device: Device,
}

/// Loads the model folder `model_dir` when given (any trainer's artifact folder), else trains a
/// model with `build` and the trainer flags (writing its artifact folder into `out/model`).
pub fn load_or_train<M, F>(
    args: &TrainerArgs,
    model_dir: Option<&Path>,
    name: &str,
    defaults: Defaults,
    out: &Path,
    build: F,
) -> Result<AppModel, TrainError>
where
    M: Autoencoder + SavedModel + ModuleDisplay + Into<AnyAutoencoder> + 'static,
    F: FnOnce(ImageShape, &Device) -> Result<M, TrainError>,
{
    let settings = args.settings(name, defaults)?;
    match model_dir {
        Some(dir) => {
            let device = args.main_device().parse::<DeviceSpec>()?.device()?;
            let model = load_model(dir, &device)?;
            let (train, _, test) = load_splits(&settings)?;
            if model.input_shape() != test.shape().dims() {
                return Err(TrainError::InvalidArgument {
                    what: "--model",
                    message: format!(
                        "{} takes {:?} images but {} has {}",
                        dir.display(),
                        model.input_shape(),
                        settings.dataset.name(),
                        test.shape()
                    ),
                });
            }
            Ok(AppModel {
                model,
                train,
                test,
                device,
            })
        }
        None => {
            let run = run_training(&settings, &out.join("model"), args.resume, build)?;
            Ok(AppModel {
                model: run.model.into(),
                train: run.train,
                test: run.test,
                device: run.device,
            })
        }
    }
}

/// Runs `main` (after [`ae_train::allocator::keep_freed_memory`]), printing an error and its
/// causes and returning a failure exit code on error.
pub fn exit_on_error<E: std::error::Error>(main: impl FnOnce() -> Result<(), E>) -> ExitCode {
    // Every example trains or runs models: keep the per-step tensor memory in the process.
    ae_train::allocator::keep_freed_memory();
    match main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
