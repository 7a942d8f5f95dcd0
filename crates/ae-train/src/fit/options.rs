//! What [`fit`](super::fit) is told: how to train ([`TrainingConfig`], saved with the run) and
//! where ([`FitOptions`]: the run folder, the devices, resumption).

use std::path::PathBuf;

use ae_data::Residency;
use ae_models::limits::MAX_WIDTH;
use burn::config::Config;
use burn::optim::AdamConfig;
use burn::tensor::Device;

use super::data_parallel::DataParallel;
use super::precision::Precision;
use crate::error::{Result, TrainError};

/// Steps between two reads of the device-side metrics, by default.
pub const DEFAULT_METRICS_EVERY: usize = 50;

/// How to train: epochs, batch size, optimiser, seed. Saved in a run's `run.json`.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// Passes over the training items.
    #[config(default = 10)]
    pub epochs: usize,
    /// Items per optimisation step.
    #[config(default = 256)]
    pub batch_size: usize,
    /// Adam's learning rate (constant).
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Adam's settings. Epsilon is PyTorch's 1e-8 rather than Burn's default 1e-5, so that runs
    /// compare like with like.
    #[config(default = "AdamConfig::new().with_epsilon(1e-8)")]
    pub optimizer: AdamConfig,
    /// Seed of weight initialisation, shuffling and the validation split.
    #[config(default = 42)]
    pub seed: u64,
    /// Data-loading threads (0 batches on the training thread).
    #[config(default = 0)]
    pub num_workers: usize,
    /// What the layers compute in: `f32`, or mixed precision (the layers in `bf16`/`f16`, the
    /// weights, the optimizer, the losses and the metrics in `f32`); see [`Precision`].
    #[config(default = "Precision::F32")]
    pub precision: Precision,
}

impl TrainingConfig {
    /// Checks the values are usable.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        let invalid = |what, message: String| Err(TrainError::InvalidArgument { what, message });
        if self.epochs == 0 {
            return invalid("epochs", "must be at least 1".into());
        }
        if !(1..=MAX_WIDTH).contains(&self.batch_size) {
            return invalid(
                "batch size",
                format!("{} is not in 1..={MAX_WIDTH}", self.batch_size),
            );
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid(
                "learning rate",
                format!("{} is not a positive number", self.learning_rate),
            );
        }
        // The optimizer computes in f32: a smaller rate would be 0 there, and train nothing.
        if (self.learning_rate as f32) < f32::MIN_POSITIVE {
            return invalid(
                "learning rate",
                format!(
                    "{:e} is below f32's smallest normal number ({:e}), where the optimizer \
                     computes: use a larger one",
                    self.learning_rate,
                    f32::MIN_POSITIVE
                ),
            );
        }
        // AdamConfig keeps its fields private; its serialised form names them.
        let epsilon = serde_json::to_value(&self.optimizer)
            .ok()
            .and_then(|v| v.get("epsilon").and_then(serde_json::Value::as_f64))
            .unwrap_or(f64::NAN);
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return invalid(
                "Adam epsilon",
                format!("{epsilon} is not a positive number"),
            );
        }
        Ok(())
    }
}

/// Where and how [`fit`](super::fit) runs: the run folder, the device, data-parallel devices, resumption.
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// The run folder: checkpoints under `checkpoint/`, `metrics.jsonl`, burn-train's logs.
    pub run_dir: PathBuf,
    /// The device the model lives on (and validates on).
    pub device: Device,
    /// Devices to train on data-parallel, as [`FitOptions::data_parallel`] says. Empty or one
    /// device: the model's own device.
    pub devices: Vec<Device>,
    /// How several devices share a step: burn-train's multi-device strategy (the default; any
    /// devices, the gradients summed on the first) or DDP (CUDA devices, the gradients averaged
    /// with NCCL).
    pub data_parallel: DataParallel,
    /// Restart after the newest complete checkpoint in `run_dir`.
    pub resume: bool,
    /// Start over in a folder that holds an earlier run: its checkpoints and logs are deleted.
    /// Without it (and without `resume`) such a folder is refused.
    pub overwrite: bool,
    /// Where image splits are kept: on the device when they fit (the default), or in host memory.
    pub residency: Residency,
    /// Metrics accumulated on the device are read back every this many steps (and at the end of
    /// each epoch): each read makes the host wait for the device.
    pub metrics_every: usize,
    /// Train by replaying one captured step per batch ([`CapturedFit`](super::CapturedFit):
    /// forward, backward and Adam recorded once, the host out of the loop). Where the run cannot
    /// be captured (a CPU backend, several devices, bf16/f16, Adam with weight decay, a model
    /// that draws random numbers or has batch norm) training runs the ordinary way and says why;
    /// [`Fitted::captured`](super::Fitted::captured) tells which.
    pub capture: bool,
    /// How the training devices are named in `metrics.jsonl` and in the notice a resumed run
    /// prints when it continues on other devices (`flex`, `wgpu:0`, `ws://host:3000`). Empty:
    /// the backends' names (`flex`, `wgpu`, `remote`, ...).
    pub device_names: Vec<String>,
    /// The application folder around `run_dir` whose results (written after training) go with
    /// the run: see [`AppFolder`]. `None` for a trainer, whose run folder holds everything.
    pub app_folder: Option<AppFolder>,
}

/// An application's folder around its model folders, as [`begin_app_folder`] keeps it: when
/// `fit` starts writing, the folder's record is started, and with `start_over` (`--overwrite`)
/// the earlier run's results in it are removed, with the model's earlier run.
///
/// [`begin_app_folder`]: super::begin_app_folder
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFolder {
    /// The folder (`runs/compress`).
    pub dir: PathBuf,
    /// Whether the earlier run's results go (`--overwrite`, not `--resume`).
    pub start_over: bool,
}

impl FitOptions {
    /// Trains on `device`, writing into `run_dir`, from scratch.
    pub fn new(run_dir: impl Into<PathBuf>, device: &Device) -> Self {
        Self {
            run_dir: run_dir.into(),
            device: device.clone(),
            devices: Vec::new(),
            data_parallel: DataParallel::MultiDevice,
            resume: false,
            overwrite: false,
            residency: Residency::Auto,
            metrics_every: DEFAULT_METRICS_EVERY,
            capture: false,
            device_names: Vec::new(),
            app_folder: None,
        }
    }

    /// Trains a model folder of the application folder `app_folder` (see [`AppFolder`]).
    pub fn with_app_folder(mut self, app_folder: AppFolder) -> Self {
        self.app_folder = Some(app_folder);
        self
    }

    /// Names the training devices as the user did (see [`FitOptions::device_names`]).
    pub fn with_device_names(mut self, names: Vec<String>) -> Self {
        self.device_names = names;
        self
    }

    /// Trains by replaying a captured step when `capture` is true (see [`FitOptions::capture`]).
    pub fn with_capture(mut self, capture: bool) -> Self {
        self.capture = capture;
        self
    }

    /// Starts over in a folder holding an earlier run when `overwrite` is true.
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Keeps image splits where `residency` says.
    pub fn with_residency(mut self, residency: Residency) -> Self {
        self.residency = residency;
        self
    }

    /// Reads the device-side metrics back every `steps` steps.
    pub fn with_metrics_every(mut self, steps: usize) -> Self {
        self.metrics_every = steps.max(1);
        self
    }

    /// Trains data-parallel on `devices` (the first should be the model's device).
    pub fn with_devices(mut self, devices: Vec<Device>) -> Self {
        self.devices = devices;
        self
    }

    /// Shares each step between the devices as `data_parallel` says.
    pub fn with_data_parallel(mut self, data_parallel: DataParallel) -> Self {
        self.data_parallel = data_parallel;
        self
    }

    /// Resumes after the newest complete checkpoint when `resume` is true.
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }
}
