//! Training any autoencoder of the zoo with burn-train's supervised learner.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use burn::config::Config;
use burn::data::dataloader::DataLoader;
use burn::data::dataloader::DataLoaderBuilder;
use burn::module::{Module, ModuleDisplay};
use burn::optim::AdamConfig;
use burn::tensor::Device;
use burn::train::logger::FileMetricLogger;
use burn::train::metric::LossMetric;
use burn::train::{
    ExecutionStrategy, InferenceStep, Learner, LearnerModel, MultiDeviceOptim, SupervisedTraining,
    TrainStep,
};
use std::sync::Arc;

use ae_data::{ImageBatch, ImageBatcher, ImageDataset};
use ae_models::Autoencoder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;

use crate::checkpoint::{AtomicFileCheckpointer, latest_complete_checkpoint};
use crate::epoch_log::{EpochLog, EpochMetrics};
use crate::error::{Result, TrainError};
use crate::learner::AutoencoderLearner;
use crate::metrics::{LossTermMetric, MseMetric, PsnrMetric};
use crate::renderer::PlainRenderer;

/// Environment variable: `plain` forces line-by-line progress even on a terminal.
pub const PROGRESS_ENV: &str = "AE_PROGRESS";

/// How to train: epochs, batch size, optimiser, seed.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// Passes over the training images.
    #[config(default = 10)]
    pub epochs: usize,
    /// Images per optimisation step.
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
    /// Devices to train on data-parallel (`["cuda:0", "cuda:1"]`), with burn-train's
    /// multi-device strategy: each step's batch is split between them and the gradients are
    /// summed on the first, which also validates. Empty or one device: the model's own device.
    #[config(default = "Vec::new()")]
    pub devices: Vec<String>,
}

impl TrainingConfig {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<()> {
        let invalid = |what, message: String| Err(TrainError::InvalidArgument { what, message });
        if self.epochs == 0 {
            return invalid("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return invalid("batch size", "must be at least 1".into());
        }
        for device in &self.devices {
            device.parse::<crate::DeviceSpec>()?;
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid(
                "learning rate",
                format!("{} is not a positive number", self.learning_rate),
            );
        }
        Ok(())
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
    /// Training items processed by this run (epochs run times items per epoch).
    pub train_images: usize,
}

impl<L> Fitted<L> {
    /// The same result around the model `f` takes out of the learner (`learner.model`).
    pub fn map_model<M>(self, f: impl FnOnce(L) -> M) -> Fitted<M> {
        Fitted {
            model: f(self.model),
            epochs: self.epochs,
            resumed_from: self.resumed_from,
            seconds: self.seconds,
            train_images: self.train_images,
        }
    }
}

/// The training loader (shuffled with the config's seed) and the validation loader of
/// `batcher` over `train` and `valid`, delivering batches on `device`.
pub fn loaders<I, O, D, B>(
    batcher: B,
    train: D,
    valid: D,
    config: &TrainingConfig,
    device: &Device,
) -> (Arc<dyn DataLoader<O>>, Arc<dyn DataLoader<O>>)
where
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    O: Send + Clone + std::fmt::Debug + 'static,
    D: Dataset<I> + 'static,
    B: Batcher<I, O> + Clone + 'static,
{
    let builder = || {
        DataLoaderBuilder::new(batcher.clone())
            .batch_size(config.batch_size)
            .num_workers(config.num_workers)
            .set_device(device.clone())
    };
    (
        builder().shuffle(config.seed).build(train),
        builder().build(valid),
    )
}

/// Trains `model` on `train`, validating on `valid` after each epoch, with burn-train's learner:
/// loss, MSE and PSNR metrics; checkpoints of the model, optimiser and scheduler after every epoch
/// (written atomically under `run_dir/checkpoint`); one line per epoch in
/// `run_dir/metrics.jsonl`; burn-train's TUI on a terminal and plain lines otherwise.
///
/// With `resume`, training restarts after the newest complete checkpoint in `run_dir`.
///
/// # Errors
/// On invalid settings, when `resume` finds no checkpoint, or when training fails.
pub fn fit<M>(
    model: M,
    train: ImageDataset,
    valid: ImageDataset,
    config: &TrainingConfig,
    run_dir: &Path,
    device: &Device,
    resume: bool,
) -> Result<Fitted<M>>
where
    M: Autoencoder + Module + ModuleDisplay + 'static,
{
    fit_with(
        model,
        train,
        valid,
        ImageBatcher::new(),
        config,
        run_dir,
        device,
        resume,
    )
}

/// [`fit`] for any Burn dataset whose items `batcher` turns into an [`ImageBatch`] (for example
/// `ae_data::tabular::VectorDataset` with its `VectorBatcher`, whose rows become `[N, 1, 1, F]`).
#[allow(clippy::too_many_arguments)]
pub fn fit_with<M, I, D, B>(
    model: M,
    train: D,
    valid: D,
    batcher: B,
    config: &TrainingConfig,
    run_dir: &Path,
    device: &Device,
    resume: bool,
) -> Result<Fitted<M>>
where
    M: Autoencoder + Module + ModuleDisplay + 'static,
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    D: Dataset<I> + 'static,
    B: Batcher<I, ImageBatch> + Clone + 'static,
{
    let train_count = train.len();
    check_splits(train_count, valid.len())?;
    let term_names = model.loss_term_names();
    let fitted = fit_learner(
        AutoencoderLearner::new(model),
        loaders(batcher, train, valid, config, device),
        train_count,
        config,
        run_dir,
        device,
        resume,
        |mut training| {
            training = training.metrics((LossMetric::new(), MseMetric::new(), PsnrMetric::new()));
            if term_names.len() > 1 {
                for term in term_names {
                    training = training
                        .metric_train_numeric(LossTermMetric::new(term))
                        .metric_valid_numeric(LossTermMetric::new(term));
                }
            }
            training
        },
    )?;
    Ok(fitted.map_model(|learner| learner.model))
}

/// Fails unless both splits hold items.
pub(crate) fn check_splits(train: usize, valid: usize) -> Result<()> {
    if train == 0 || valid == 0 {
        return Err(TrainError::InvalidArgument {
            what: "dataset",
            message: format!(
                "training needs items in both splits (train: {train}, valid: {valid})"
            ),
        });
    }
    Ok(())
}

/// The training and validation loaders of a learner.
pub type Loaders<L> = (
    Arc<dyn DataLoader<<L as TrainStep>::Input>>,
    Arc<dyn DataLoader<<L as InferenceStep>::Input>>,
);

/// The loop under [`fit`] and the other trainers (text, ratings), for any burn-train learner
/// model `learner` (built on a plain device; it is switched to training mode here): checkpoints
/// of the model, optimiser and scheduler after every epoch (written atomically under
/// `run_dir/checkpoint`), one line per epoch in `run_dir/metrics.jsonl`, the TUI on a terminal and
/// plain lines otherwise, and resumption after the newest complete checkpoint. `metrics`
/// registers the learner's metrics.
///
/// # Errors
/// On invalid settings, when `resume` finds no checkpoint, or when training fails.
#[allow(clippy::too_many_arguments)]
pub fn fit_learner<L: LearnerModel>(
    learner: L,
    (train_loader, valid_loader): Loaders<L>,
    train_count: usize,
    config: &TrainingConfig,
    run_dir: &Path,
    device: &Device,
    resume: bool,
    metrics: impl FnOnce(SupervisedTraining<L>) -> SupervisedTraining<L>,
) -> Result<Fitted<L>> {
    config.validate()?;
    std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    let checkpoint_dir = run_dir.join("checkpoint");
    let resumed_from = if resume {
        Some(latest_complete_checkpoint(&checkpoint_dir).ok_or_else(|| {
            TrainError::NoCheckpoint {
                dir: checkpoint_dir.clone(),
            }
        })?)
    } else {
        None
    };
    let batches_per_epoch = train_count.div_ceil(config.batch_size);

    let metrics_path = run_dir.join("metrics.jsonl");
    let epoch_log =
        EpochLog::open(&metrics_path, resume).map_err(|e| TrainError::io(&metrics_path, e))?;
    let records = epoch_log.records();
    let previous = if resume && metrics_path.is_file() {
        // Keep the epochs the interrupted run finished (up to the checkpoint resumed from).
        let upto = resumed_from.unwrap_or(0);
        crate::epoch_log::read_epoch_log(&metrics_path)?
            .into_iter()
            .filter(|r| r.epoch <= upto)
            .collect()
    } else {
        Vec::new()
    };

    let training = SupervisedTraining::new(run_dir, train_loader, valid_loader)
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
    let mut training = metrics(training);
    let terminal = std::io::stdout().is_terminal()
        && std::env::var(PROGRESS_ENV).map_or(true, |v| v != "plain");
    if !terminal {
        training = training.renderer(Box::new(PlainRenderer::new()));
    }
    if let Some(epoch) = resumed_from {
        training = training.checkpoint(epoch);
    }
    if config.devices.len() > 1 {
        let devices = config
            .devices
            .iter()
            .map(|d| d.parse::<crate::DeviceSpec>()?.device())
            .collect::<Result<Vec<_>>>()?;
        log::info!("training data-parallel on {:?}", config.devices);
        training = training.with_training_strategy(
            ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice).into(),
        );
    }

    device.seed(config.seed);
    // A model built on a plain device has untracked parameters: `train()` turns autodiff on.
    let learner = Learner::new(
        learner.train(),
        config.optimizer.init(),
        config.learning_rate,
    );
    let start = Instant::now();
    let result = training.launch(learner);
    let seconds = start.elapsed().as_secs_f64();
    if let Some(error) = result.error {
        return Err(TrainError::Training(error.to_string()));
    }
    let epochs_run = config.epochs - resumed_from.unwrap_or(0);
    let mut epochs: Vec<EpochMetrics> = previous;
    epochs.extend(records.lock().map(|r| r.clone()).unwrap_or_default());
    log::info!("{batches_per_epoch} batches per epoch, {epochs_run} epochs in {seconds:.1} s");
    Ok(Fitted {
        model: result.model,
        epochs,
        resumed_from,
        seconds,
        train_images: epochs_run * train_count,
    })
}
