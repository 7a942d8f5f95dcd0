//! The one training entry point: any [`Trainable`] model on burn-train's supervised learner.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use burn::module::Module;
use burn::train::{Interrupter, Learner, SupervisedTraining, TrainingStrategy};

use super::captured_plan::plan_capture;
use super::checkpoint::{AtomicFileCheckpointer, check_checkpoint, latest_complete_checkpoint};
use super::data_parallel::{
    DataParallel, check_shares, check_strategy, equal_shares, execution_strategy, training_devices,
};
use super::epoch_log::{
    EpochLog, EpochMetrics, RanOn, best_valid_epoch, read_epoch_log, warmup_and_steady,
};
use super::learner::{ModelSteps, Trainable};
use super::loaders::{SplitLoading, TrainingSplit};
use super::metrics::MetricsContext;
use super::options::{FitOptions, TrainingConfig};
use super::precision::Precision;
use super::renderer::PlainRenderer;
use super::run_folder::{
    RunLock, adopt_for_resume, begin_app_folder, check_identity, check_run_folder, clear_run,
    remove_leftovers, save_identity,
};
use super::step_gate::StepGate;
use super::step_logs::{LogFailure, StepLogs};
use crate::error::{Result, TrainError};

/// Environment variable: `plain` forces line-by-line progress even on a terminal.
pub const PROGRESS_ENV: &str = "AE_PROGRESS";

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
    /// The run folder's lock, held until this value (or what is left of it once the model is
    /// moved out) is dropped: what the caller writes into the run folder after training (the
    /// model, the report, pictures) is covered, and no second run starts in between.
    /// [`RunLock::check_in_place`] once those are written.
    pub lock: RunLock,
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

/// What a user can do after training stopped on an error, once `fixed` (as "once the cause is
/// fixed"): resume from the newest complete checkpoint, or start over when there is none.
fn what_next(checkpoint_dir: &Path, fixed: &str) -> String {
    match latest_complete_checkpoint(checkpoint_dir) {
        Some(epoch) => format!(
            "The epochs up to {epoch} are checkpointed in {}: once {fixed}, --resume continues \
             from there",
            checkpoint_dir.display()
        ),
        None => format!("No epoch had finished: once {fixed}, start over with --overwrite"),
    }
}

/// What `fit` returns when `--resume` finds a run that trained all its epochs: the model of its
/// last checkpoint and its epoch log, saying so.
fn finished_run<M>(run_dir: &Path, model: M, epochs: usize, lock: RunLock) -> Result<Fitted<M>> {
    let notice = format!(
        "--resume: {} trained all {epochs} epochs; its last checkpoint is the model (--epochs {} \
         or more trains on)",
        run_dir.display(),
        epochs + 1
    );
    log::warn!("{notice}");
    eprintln!("{notice}");
    let metrics_path = run_dir.join("metrics.jsonl");
    let log = if metrics_path.is_file() {
        read_epoch_log(&metrics_path)?
    } else {
        Vec::new()
    };
    let log: Vec<EpochMetrics> = log.into_iter().filter(|r| r.epoch <= epochs).collect();
    // Drawn again: the run may have stopped before it drew them (a full disk).
    if !log.is_empty() {
        crate::eval::save_loss_curves(&run_dir.join("loss.png"), &log)?;
    }
    Ok(Fitted {
        model,
        epochs: log,
        resumed_from: Some(epochs),
        seconds: 0.0,
        train_items: 0,
        warmup_seconds: None,
        steady_items_per_second: None,
        captured: false,
        lock,
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
        .try_for_each(|device| precision.check_on(device, options.devices.len() <= 1))
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
    // The first folder of `run_dir`'s path that does not exist yet: a run refused before it
    // writes anything leaves no folder behind (it would block the corrected run).
    let created = run_dir
        .ancestors()
        .take_while(|folder| !folder.as_os_str().is_empty() && !folder.exists())
        .last()
        .map(std::path::Path::to_path_buf);
    let abandon = |error: TrainError| {
        if let Some(folder) = &created {
            // Only what this run made, the lock file and the folders, if empty: another
            // process may have created the same folder meanwhile and written into it.
            let _ = std::fs::remove_file(run_dir.join(super::LOCK_FILE));
            for dir in run_dir.ancestors() {
                if std::fs::remove_dir(dir).is_err() || dir == folder {
                    break;
                }
            }
        }
        error
    };
    super::run_folder::check_not_above_working_dir(run_dir)?;
    // One process per run folder; what a killed write left behind goes.
    let lock = RunLock::acquire(run_dir)?;
    let checkpoint_dir = run_dir.join("checkpoint");
    remove_leftovers(run_dir);
    remove_leftovers(&checkpoint_dir);
    let identity = run_identity(&model, &train, &valid, config);
    // Everything this run may still refuse (the resume, the folder, the batch size) is checked
    // before anything is written or deleted: a refused `--overwrite` keeps the earlier run.
    let resumed_from = if options.resume {
        let epoch = latest_complete_checkpoint(&checkpoint_dir)
            .ok_or_else(|| TrainError::NoCheckpoint {
                dir: checkpoint_dir.clone(),
            })
            .map_err(abandon)?;
        check_identity(run_dir, &identity)?;
        if epoch > config.epochs {
            return Err(TrainError::NothingToResume {
                dir: run_dir.clone(),
                checkpoint: epoch,
                epochs: config.epochs,
            });
        }
        let checkpointed = check_checkpoint(&model, &checkpoint_dir, epoch)?;
        if epoch == config.epochs {
            // Training finished before the process stopped (in an application's later work, or
            // its second model): the last checkpoint is the trained model, and what follows
            // training goes on from it.
            return finished_run(run_dir, checkpointed, epoch, lock);
        }
        Some(epoch)
    } else {
        check_run_folder(run_dir, false, options.overwrite).map_err(abandon)?;
        None
    };
    let device = &options.device;
    let loading = SplitLoading {
        batch_size: config.batch_size,
        seed: config.seed,
        num_workers: config.num_workers,
        residency: options.residency,
        first_epoch: resumed_from.unwrap_or(0),
    };
    // The warm-up is timed from here: the uploads of the splits belong to it.
    let start = Instant::now();
    let train_loader = train.loader(&loading, true, device);
    let train_items = train_loader.num_items();
    if train_items == 0 {
        return Err(abandon(TrainError::InvalidArgument {
            what: "batch size",
            message: format!(
                "the training split has {train_count} items, fewer than one batch of {}: lower \
                 --batch-size",
                config.batch_size
            ),
        }));
    }
    // Planned before anything is written: a run that cannot be captured says so and trains the
    // ordinary way; one that can must have a whole batch to capture.
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
    if capture.is_some() && train_count < config.batch_size {
        // The tables' loader (Burn's) keeps a partial batch, which a captured step leaves out.
        return Err(abandon(TrainError::InvalidArgument {
            what: "--capture",
            message: format!(
                "the training split has {train_count} items, fewer than one batch of {}, and a \
                 captured step trains whole batches: lower --batch-size",
                config.batch_size
            ),
        }));
    }
    check_shares(options, train_items, config.batch_size).map_err(abandon)?;
    let (train_loader, train_items) = equal_shares(options, train_loader, config.batch_size);
    let valid_loader = valid.loader(&loading, false, device);

    // From here on the run writes.
    if let Some(app) = &options.app_folder {
        begin_app_folder(&app.dir, app.start_over && resumed_from.is_none())?;
    }
    if resumed_from.is_some() {
        adopt_for_resume(run_dir)?;
    } else {
        if options.overwrite {
            // The earlier run's model, report and identity go together, before anything of
            // this run is written: a killed run never leaves the old model beside a new identity.
            clear_run(run_dir)?;
        }
        ae_io::start_record(run_dir).map_err(|e| TrainError::write(run_dir, e))?;
        save_identity(run_dir, &identity)?;
    }
    let metrics_path = run_dir.join("metrics.jsonl");
    // Keep the epochs the interrupted run finished (up to the checkpoint resumed from).
    let previous = match resumed_from {
        Some(upto) if metrics_path.is_file() => read_epoch_log(&metrics_path)?
            .into_iter()
            .filter(|r| r.epoch <= upto)
            .collect(),
        _ => Vec::new(),
    };
    let ran_on = RanOn::of(options, config.precision.name());
    // Allowed on purpose (a run whose server died continues locally, one whose device lacks
    // bf16 continues in f32), and said: the report's figures then come from both.
    if let Some(notice) = previous.last().and_then(|e| ran_on.change_from(run_dir, e)) {
        log::warn!("{notice}");
        eprintln!("{notice}");
    }
    let epoch_log = EpochLog::open(&metrics_path, &previous, start)
        .map_err(|e| TrainError::write(&metrics_path, e))?
        .ran_on(&ran_on);
    let records = epoch_log.records();

    let context = MetricsContext {
        read_every: options.metrics_every.max(1),
        first_epoch: resumed_from.unwrap_or(0),
        loss_baseline: previous
            .iter()
            .find(|record| record.split == "train")
            .and_then(|record| record.metrics.get("Loss").copied()),
        ..MetricsContext::default()
    };
    device.seed(config.seed);
    let (strategy, capture) = capture.unzip();
    // On the CPU the loop runs on one of rayon's threads, which then does its share of every
    // kernel's work instead of waiting for it (see `on_kernel_threads`); burn-train's learner is
    // built there too, as it cannot move between threads.
    let interrupter = Interrupter::new();
    let log_failure = LogFailure::new(interrupter.clone());
    let launched = ae_models::ops::on_kernel_threads(device, || {
        let mut training = SupervisedTraining::new(run_dir, train_loader, valid_loader)
            .with_interrupter(interrupter.clone())
            // The per-step logs first: checkpoint selection reads metric history from them.
            .with_metric_logger(StepLogs::new(run_dir, log_failure.clone()))
            .with_metric_logger(epoch_log.stopping_on_failure(log_failure.clone()))
            .with_custom_checkpointers(
                AtomicFileCheckpointer::new(&checkpoint_dir, "model")
                    .unless_failed(log_failure.clone()),
                AtomicFileCheckpointer::new(&checkpoint_dir, "optim")
                    .unless_failed(log_failure.clone()),
                AtomicFileCheckpointer::new(&checkpoint_dir, "scheduler")
                    .unless_failed(log_failure.clone()),
            )
            // No `.summary()`: burn-train's closes a run with its model's `Debug` text (60 lines
            // of a dense AE, and the step's internals); the trainers print a table of their own.
            .num_epochs(config.epochs);
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
    // The deletions burn-train asked for while a newer checkpoint was still being written.
    super::checkpoint::remove_superseded(&checkpoint_dir);
    if let Some((path, source)) = log_failure.take() {
        let next = what_next(
            &checkpoint_dir,
            "the folder can be written again (free space)",
        );
        return Err(TrainError::WriteFailed { path, source, next });
    }
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
            grew: divergence.grew,
            dir: checkpoint_dir,
        });
    }
    let mut used = options.devices.clone();
    used.push(device.clone());
    let failure = |message: String| {
        match super::remote::training_failure(&used, message, &checkpoint_dir) {
            // What burn-train reported (a checkpoint it could not write, ...), and what now.
            TrainError::Training(message) => TrainError::Training(format!(
                "{message}. {}",
                what_next(&checkpoint_dir, "the cause is fixed")
            )),
            other => other,
        }
    };
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
    // Captured steps leave out a table's partial batch (the image loaders never make one).
    let train_items = if captured {
        train_items - train_items % config.batch_size
    } else {
        train_items
    };
    let (warmup_seconds, steady_items_per_second) = warmup_and_steady(&this_run, train_items);
    let mut epochs: Vec<EpochMetrics> = previous;
    epochs.extend(this_run);
    if resumed_from.is_some() {
        super::checkpoint::keep_as_a_fresh_run(&checkpoint_dir, best_valid_epoch(&epochs));
    }
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
        lock,
    })
}
