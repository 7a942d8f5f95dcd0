//! The one training entry point: any [`Trainable`] model on burn-train's supervised learner.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ae_data::Residency;
use ae_models::limits::MAX_WIDTH;
use burn::config::Config;
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::Device;
use burn::train::logger::FileMetricLogger;
use burn::train::{Learner, SupervisedTraining, TrainingStrategy};

use super::captured_fit::plan_capture;
use super::checkpoint::{AtomicFileCheckpointer, check_checkpoint, latest_complete_checkpoint};
use super::data_parallel::{
    DataParallel, check_shares, check_strategy, equal_shares, execution_strategy, training_devices,
};
use super::epoch_log::{EpochLog, EpochMetrics, read_epoch_log};
use super::learner::{ModelSteps, Trainable};
use super::loaders::{SplitLoading, TrainingSplit};
use super::metrics::MetricsContext;
use super::precision::Precision;
use super::renderer::PlainRenderer;
use super::run_folder::{
    RunLock, adopt_for_resume, check_identity, check_run_folder, clear_run, remove_leftovers,
    save_identity,
};
use super::step_gate::StepGate;
use crate::error::{Result, TrainError};

/// Environment variable: `plain` forces line-by-line progress even on a terminal.
pub const PROGRESS_ENV: &str = "AE_PROGRESS";

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

/// Where and how [`fit`] runs: the run folder, the device, data-parallel devices, resumption.
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
    /// [`Fitted::captured`] tells which.
    pub capture: bool,
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
        }
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

/// What [`fit`] returns.
pub struct Fitted<M> {
    /// The trained model, in inference mode on the (non-autodiff) training device.
    pub model: M,
    /// Epoch means of every metric, train and valid, including epochs before a resume.
    pub epochs: Vec<EpochMetrics>,
    /// The epoch this run resumed after, if it resumed.
    pub resumed_from: Option<usize>,
    /// Wall time of the epochs this run executed, validation included.
    pub seconds: f64,
    /// Training items processed by this run (epochs run times items per epoch; a dropped last
    /// partial batch is not processed).
    pub train_items: usize,
    /// Seconds from the start of this run to the end of its first training epoch: kernel
    /// compilation, autotuning and uploads are paid there.
    pub warmup_seconds: Option<f64>,
    /// Training items per second over this run's later epochs (training splits only, validation
    /// excluded); `None` when the run trained one epoch.
    pub steady_items_per_second: Option<f64>,
    /// Whether this run's training steps were captured and replayed ([`FitOptions::capture`];
    /// the epochs before a resume may have been either).
    pub captured: bool,
}

/// The warm-up (to the end of the first training split) and the steady training rate (items per
/// second over the later training splits, each timed from the end of the validation split
/// before it) of a run's epoch records.
fn warmup_and_steady(records: &[EpochMetrics], items: usize) -> (Option<f64>, Option<f64>) {
    let end = |epoch: usize, split: &str| {
        records
            .iter()
            .find(|r| r.epoch == epoch && r.split == split)
            .and_then(|r| r.elapsed_seconds)
    };
    let Some(first) = records.iter().map(|r| r.epoch).min() else {
        return (None, None);
    };
    let warmup = end(first, "train");
    let last = records.iter().map(|r| r.epoch).max().unwrap_or(first);
    let mut seconds = 0.0;
    for epoch in first + 1..=last {
        match (end(epoch - 1, "valid"), end(epoch, "train")) {
            (Some(start), Some(stop)) => seconds += stop - start,
            _ => return (warmup, None),
        }
    }
    let epochs = last - first;
    let steady = (epochs > 0 && seconds > 0.0).then(|| (epochs * items) as f64 / seconds);
    (warmup, steady)
}

/// What defines a run: the model (its kind and configuration), the data of both splits, and the
/// training settings but the number of epochs (which a resumed run may raise), the loader
/// threads and the precision.
fn run_identity<M, S>(model: &M, train: &S, valid: &S, config: &TrainingConfig) -> serde_json::Value
where
    M: Trainable,
    S: TrainingSplit<M::Batch>,
{
    let mut training = serde_json::to_value(config).unwrap_or(serde_json::Value::Null);
    if let Some(fields) = training.as_object_mut() {
        fields.remove("epochs");
        fields.remove("num_workers");
        // How the steps compute, not what is trained: a run may resume in another precision
        // (on a device that lacks the first one's).
        fields.remove("precision");
    }
    serde_json::json!({
        "model": model.identity(),
        "train": train.identity(),
        "valid": valid.identity(),
        "training": training,
    })
}

/// Checks that the model and every training device compute in `precision`.
fn check_precision<M: Trainable>(
    model: &M,
    precision: Precision,
    options: &FitOptions,
) -> Result<()> {
    if precision.compute_dtype().is_some() && !model.supports_mixed_precision() {
        return Err(TrainError::InvalidArgument {
            what: "--precision",
            message: format!(
                "{}: this model's layers compute in f32 only (Burn's LSTM has no \
                 mixed-precision path here); use --precision f32",
                precision.name()
            ),
        });
    }
    if precision == Precision::F16
        && (options.devices.len() > 1 || options.data_parallel == DataParallel::Ddp)
    {
        // Each device would scale and skip on its own, and burn-train sums the gradients of
        // those that did not skip: a partial step.
        return Err(TrainError::InvalidArgument {
            what: "--precision",
            message: "f16's loss scaling works on one device, without a data-parallel \
                      strategy; with --devices or --strategy ddp use bf16 or f32"
                .into(),
        });
    }
    std::iter::once(&options.device)
        .chain(&options.devices)
        .try_for_each(|device| precision.check(device))
}

/// Trains `model` on `train`, validating on `valid` after each epoch, with burn-train's learner:
/// the model's metrics ([`Trainable::register_metrics`]); checkpoints of the model, optimiser
/// and scheduler after every epoch, written atomically under `run_dir/checkpoint`; one line of
/// epoch means per epoch and split in `run_dir/metrics.jsonl`; burn-train's TUI on a terminal
/// and plain lines otherwise ([`PROGRESS_ENV`]).
///
/// The run folder belongs to one process at a time (a lock file). With [`FitOptions::resume`],
/// training restarts after the newest complete checkpoint, if the folder's `fit.json` says it
/// holds this run (same model, data and settings but the number of epochs); without it, a folder
/// holding an earlier run is refused unless [`FitOptions::overwrite`]. A loss that stops being
/// finite stops training.
///
/// # Errors
/// On invalid settings, an empty split, a model and data of different shapes, a folder in use
/// or holding another run, a resume that finds no usable checkpoint, divergence
/// ([`TrainError::Diverged`]), or when training fails.
pub fn fit<M, S>(
    model: M,
    train: S,
    valid: S,
    config: &TrainingConfig,
    options: &FitOptions,
) -> Result<Fitted<M>>
where
    M: Trainable,
    S: TrainingSplit<M::Batch>,
{
    config.validate()?;
    check_precision(&model, config.precision, options)?;
    check_strategy(options)?;
    let (train_count, valid_count) = (train.items(), valid.items());
    if train_count == 0 || valid_count == 0 {
        return Err(TrainError::InvalidArgument {
            what: "dataset",
            message: format!(
                "training needs items in both splits (train: {train_count}, valid: {valid_count})"
            ),
        });
    }
    for (split, data) in [("training", &train), ("validation", &valid)] {
        if let (Some(model_shape), Some(data_shape)) = (model.item_shape(), data.item_shape())
            && model_shape != data_shape
        {
            return Err(TrainError::ShapeMismatch {
                model_name: "the model".into(),
                model: model_shape,
                data_name: format!("the {split} split"),
                data: data_shape,
            });
        }
    }
    let run_dir = &options.run_dir;
    // One process per run folder; what a killed write left behind goes.
    let _lock = RunLock::acquire(run_dir)?;
    let checkpoint_dir = run_dir.join("checkpoint");
    remove_leftovers(run_dir);
    remove_leftovers(&checkpoint_dir);
    let identity = run_identity(&model, &train, &valid, config);
    let resumed_from = if options.resume {
        let epoch = latest_complete_checkpoint(&checkpoint_dir).ok_or_else(|| {
            TrainError::NoCheckpoint {
                dir: checkpoint_dir.clone(),
            }
        })?;
        check_identity(run_dir, &identity)?;
        if epoch >= config.epochs {
            return Err(TrainError::NothingToResume {
                dir: run_dir.clone(),
                checkpoint: epoch,
                epochs: config.epochs,
            });
        }
        check_checkpoint(&model, &checkpoint_dir, epoch)?;
        adopt_for_resume(run_dir)?;
        Some(epoch)
    } else {
        check_run_folder(run_dir, false, options.overwrite)?;
        if options.overwrite {
            // The earlier run's model, report and identity go together, before anything of
            // this run is written: a killed run never leaves the old model beside a new identity.
            clear_run(run_dir)?;
        }
        ae_io::start_record(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
        save_identity(run_dir, &identity)?;
        None
    };

    let metrics_path = run_dir.join("metrics.jsonl");
    // Keep the epochs the interrupted run finished (up to the checkpoint resumed from).
    let previous = match resumed_from {
        Some(upto) if metrics_path.is_file() => read_epoch_log(&metrics_path)?
            .into_iter()
            .filter(|r| r.epoch <= upto)
            .collect(),
        _ => Vec::new(),
    };
    let start = Instant::now();
    let epoch_log = EpochLog::open(&metrics_path, options.resume, start)
        .map_err(|e| TrainError::io(&metrics_path, e))?;
    let records = epoch_log.records();

    let device = &options.device;
    let loading = SplitLoading {
        batch_size: config.batch_size,
        seed: config.seed,
        num_workers: config.num_workers,
        residency: options.residency,
        first_epoch: resumed_from.unwrap_or(0),
    };
    let train_loader = train.loader(&loading, true, device);
    let train_items = train_loader.num_items();
    if train_items == 0 {
        return Err(TrainError::InvalidArgument {
            what: "batch size",
            message: format!(
                "the training split has {train_count} items, fewer than one batch of {}: lower \
                 --batch-size",
                config.batch_size
            ),
        });
    }
    check_shares(options, train_items, config.batch_size)?;
    let (train_loader, train_items) = equal_shares(options, train_loader, config.batch_size);
    let valid_loader = valid.loader(&loading, false, device);
    let context = MetricsContext {
        read_every: options.metrics_every.max(1),
        first_epoch: resumed_from.unwrap_or(0),
        ..MetricsContext::default()
    };
    device.seed(config.seed);
    let capture = options
        .capture
        .then(|| {
            let resume = resumed_from.map(|epoch| {
                (
                    super::checkpoint_path(&checkpoint_dir, "optim", epoch),
                    epoch,
                )
            });
            plan_capture(&model, config, options, resume)
        })
        .flatten();
    let (strategy, capture) = capture.unzip();
    // On the CPU the loop runs on one of rayon's threads, which then does its share of every
    // kernel's work instead of waiting for it (see `on_kernel_threads`); burn-train's learner is
    // built there too, as it cannot move between threads.
    let launched = ae_models::ops::on_kernel_threads(device, || {
        let mut training = SupervisedTraining::new(run_dir, train_loader, valid_loader)
            // burn-train's file logger first: checkpoint selection reads metric history from it.
            .with_metric_logger(FileMetricLogger::new(run_dir))
            .with_metric_logger(epoch_log)
            .with_custom_checkpointers(
                AtomicFileCheckpointer::new(&checkpoint_dir, "model"),
                AtomicFileCheckpointer::new(&checkpoint_dir, "optim"),
                AtomicFileCheckpointer::new(&checkpoint_dir, "scheduler"),
            )
            .num_epochs(config.epochs)
            .summary();
        training = model.register_metrics(training, &context);
        let terminal = std::io::stdout().is_terminal()
            && std::env::var(PROGRESS_ENV).map_or(true, |v| v != "plain");
        if !terminal {
            training = training.renderer(Box::new(PlainRenderer::new()));
        }
        if let Some(epoch) = resumed_from {
            training = training.checkpoint(epoch);
        }
        if let Some(strategy) = strategy {
            training = training.with_training_strategy(TrainingStrategy::Custom(strategy));
        } else if let Some(strategy) = execution_strategy(options) {
            training = training.with_training_strategy(strategy.into());
        }
        // A model built on a plain device has untracked parameters: `train()` turns autodiff on.
        let learner = Learner::new(
            ModelSteps::new(model, config.precision)
                .with_gate(StepGate::for_devices(&training_devices(options)))
                .train(),
            super::adam_optimizer(&config.optimizer),
            config.learning_rate,
        );
        // burn-train reports most failures in `result.error`, but some (a checkpoint it cannot
        // read or write) by panicking: the user gets a typed error either way.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| training.launch(learner)))
    });
    let seconds = start.elapsed().as_secs_f64();
    if let Some(error) = capture
        .as_ref()
        .and_then(|outcome| outcome.failure.lock().ok()?.take())
    {
        return Err(error);
    }
    let captured = capture.is_some_and(|outcome| outcome.captured.load(Ordering::Relaxed));
    if let Some(divergence) = context.divergence() {
        return Err(TrainError::Diverged {
            split: divergence.split,
            epoch: divergence.epoch,
            step: divergence.step,
            dir: checkpoint_dir,
        });
    }
    let mut used = options.devices.clone();
    used.push(device.clone());
    let failure = |message| super::remote::training_failure(&used, message, &checkpoint_dir);
    let result = launched.map_err(|panic| {
        failure(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "burn-train stopped".into()),
        )
    })?;
    if let Some(error) = result.error {
        return Err(failure(error.to_string()));
    }
    let epochs_run = config.epochs - resumed_from.unwrap_or(0);
    let this_run = records.lock().map(|r| r.clone()).unwrap_or_default();
    let (warmup_seconds, steady_items_per_second) = warmup_and_steady(&this_run, train_items);
    let mut epochs: Vec<EpochMetrics> = previous;
    epochs.extend(this_run);
    log::info!("{epochs_run} epochs in {seconds:.1} s");
    crate::eval::save_loss_curves(&run_dir.join("loss.png"), &epochs)?;
    Ok(Fitted {
        model: result.model.model,
        epochs,
        resumed_from,
        seconds,
        train_items: epochs_run * train_items,
        warmup_seconds,
        steady_items_per_second,
        captured,
    })
}
