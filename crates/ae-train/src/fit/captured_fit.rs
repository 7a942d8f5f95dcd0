//! `--capture` through [`fit`](super::fit): burn-train's learner with a training strategy of our
//! own ([`CapturedFit`], a `TrainingStrategy::Custom`) whose training split replays one
//! [`CapturedTrainingStep`] per batch. Everything else is burn-train's as in an ordinary run:
//! the metrics and their event processor, validation, the checkpoints, early stopping, the
//! result. After each training split the weights and Adam's moments are copied back into the
//! learner, so validation, checkpoints and a resumed run (captured or not) see them: Adam's
//! state travels as Burn's own optimizer record (`AdamState` in a burnpack file), read back from
//! the checkpoint when a captured run resumes.
//!
//! Where the step cannot be captured after all (the device records no graph, the recording
//! fails), the strategy says why on stderr and trains with burn-train's own step and optimizer
//! instead, as the single-device strategy does.
//!
//! Threads: the capture runs before the first batch, when burn-train's metric thread has had
//! only the start event (no device work) — while a capture records, no other thread may use the
//! device. Replays run while the metric thread works on the device: it works on copies of each
//! step's outputs, never on the graph's own buffers, which is what `Graph::replay` asks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::optim::OptimizerRecord;
use burn::tensor::{Device, Tensor};
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainingComponents,
    TrainingItem, ValidLoader,
};

use ae_data::ImageBatch;
use ae_models::Autoencoder;

use super::adam_record::{adam_record, read_adam_state};
use super::captured_step::{CapturedAdam, CapturedTrainingStep};
use super::captured_validation::CapturedValidation;
use super::image::ReconstructionOutput;
use super::learner::{ModelSteps, Trainable};
use super::precision::Precision;
use crate::error::{Result, TrainError};

/// A captured run's strategy as [`Trainable::captured_fit`] hands it to [`fit`](super::fit).
pub type CapturedStrategy<M> = Arc<dyn SupervisedLearningStrategy<ModelSteps<M>> + Send + Sync>;

/// The training strategy of a captured run: see the module's documentation. Made by
/// [`fit`](super::fit) for [`FitOptions::capture`](super::FitOptions::capture) and handed to
/// [`Trainable::captured_fit`], which accepts it for models it can replay.
pub struct CapturedFit {
    device: Device,
    adam: CapturedAdam,
    batch_size: usize,
    precision: Precision,
    /// The optimizer checkpoint a resumed run continues from, and its epoch.
    resume: Option<(PathBuf, usize)>,
    /// The first error of a captured step, which stopped training (burn-train's interrupter
    /// carries burn-train's errors only).
    failure: Arc<Mutex<Option<TrainError>>>,
    /// Whether the step was captured (false once it fell back to ordinary steps).
    captured: Arc<AtomicBool>,
    /// Whether the note on a left-out partial batch was printed (once a run).
    partial_batch_noted: AtomicBool,
}

/// How a training split steps.
enum Steps<M> {
    /// Replays of the captured step.
    Captured(Box<CapturedTrainingStep<M>>),
    /// burn-train's step and optimizer (the capture failed).
    Ordinary,
}

impl CapturedFit {
    pub(crate) fn new(
        device: Device,
        adam: CapturedAdam,
        batch_size: usize,
        precision: Precision,
        resume: Option<(PathBuf, usize)>,
    ) -> Self {
        Self {
            device,
            adam,
            batch_size,
            precision,
            resume,
            failure: Arc::default(),
            captured: Arc::default(),
            partial_batch_noted: AtomicBool::new(false),
        }
    }

    /// Whether the run's steps were captured (read after training).
    pub(crate) fn captured(&self) -> Arc<AtomicBool> {
        self.captured.clone()
    }

    /// Where the strategy leaves the error that stopped a captured run.
    pub(crate) fn failure(&self) -> Arc<Mutex<Option<TrainError>>> {
        self.failure.clone()
    }

    /// The strategy for an image autoencoder, or why its step cannot be replayed.
    ///
    /// # Errors
    /// The model's [`Autoencoder::replay_hazard`].
    pub fn for_image_model<M>(self, model: &M) -> std::result::Result<Self, String>
    where
        M: Autoencoder,
    {
        match model.replay_hazard() {
            Some(hazard) => Err(hazard.to_string()),
            None => Ok(self),
        }
    }

    fn fail(&self, error: TrainError, interrupter: &Interrupter) {
        let reason = error.to_string();
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(error);
        }
        interrupter.stop(Some(&reason));
    }

    /// Captures the learner's model's step and, when resuming, loads Adam's saved state; falls
    /// back to ordinary steps (saying why) where the step cannot be captured.
    ///
    /// # Errors
    /// When the checkpoint resumed from holds no usable Adam state.
    fn capture<M>(
        &self,
        learner: &Learner<ModelSteps<M>>,
    ) -> Result<(Steps<M>, Option<CapturedValidation>)>
    where
        M: Trainable + Autoencoder,
    {
        let model = learner.model().model;
        let [c, h, w] = model.input_shape();
        let example = Tensor::<4>::zeros([self.batch_size, c, h, w], &self.device);
        let mut step = match CapturedTrainingStep::new(model, example, self.adam) {
            Ok(step) => step,
            Err(refusal) => {
                log::warn!("--capture: {refusal}; training without capture");
                eprintln!("--capture: {refusal}; training without capture");
                return Ok((Steps::Ordinary, None));
            }
        };
        if let Some((path, _)) = &self.resume {
            let (moments, steps) = read_adam_state(path, &step.model(), &self.device)?;
            step.load_adam_state(&moments, steps)?;
        }
        self.captured.store(true, Ordering::Relaxed);
        // Validation batches are padded to the training batch's shape.
        let validation = match step.capture_validation([self.batch_size, c, h, w]) {
            Ok(validation) => Some(validation),
            Err(refusal) => {
                log::warn!("{refusal}; validating the ordinary way");
                None
            }
        };
        Ok((Steps::Captured(Box::new(step)), validation))
    }

    /// One training split: a replay per batch, each step's output handed to the metrics.
    fn train_split<M>(
        &self,
        steps: &mut Steps<M>,
        learner: &mut Learner<ModelSteps<M>>,
        loader: &TrainLoader<ModelSteps<M>>,
        processor: &mut SupervisedTrainingEventProcessor<ModelSteps<M>>,
        interrupter: &Interrupter,
    ) where
        M: Trainable<Batch = ImageBatch, Output = ReconstructionOutput> + Autoencoder,
    {
        let mut batches = loader.iter();
        let mut iteration = 0;
        while let Some(batch) = batches.next() {
            let batch = match batch {
                Ok(batch) => batch,
                Err(error) => {
                    interrupter.fail(error);
                    break;
                }
            };
            iteration += 1;
            let progress = batches.progress();
            // The tables' loader (Burn's) keeps an epoch's partial batch (last, or anywhere with
            // several loader threads), which a step captured for whole batches cannot take: it
            // is left out, as the image loaders leave it out. (`fit` refuses a split smaller
            // than one batch.)
            if matches!(steps, Steps::Captured(_))
                && batch.mask.is_none()
                && batch.images.dims()[0] < self.batch_size
            {
                if !self.partial_batch_noted.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "--capture: each epoch's partial batch ({} items) is left out: \
                         a captured step trains whole batches of {}",
                        batch.images.dims()[0],
                        self.batch_size
                    );
                }
                continue;
            }
            let output = match steps {
                Steps::Captured(step) => {
                    learner.lr_step();
                    step.set_learning_rate(learner.lr_current().base() as f32);
                    match batch.mask {
                        // Training loaders drop the last partial batch: every batch is whole.
                        Some(_) => Err(TrainError::InvalidArgument {
                            what: "capture",
                            message: "a captured step trains on whole batches, not padded ones"
                                .into(),
                        }),
                        None => step.step_parts(batch.images.clone()).map(
                            |(loss, terms, reconstruction)| {
                                ReconstructionOutput::from_parts(
                                    loss,
                                    terms,
                                    reconstruction,
                                    batch.images,
                                    None,
                                )
                            },
                        ),
                    }
                }
                // As burn-train's single-device epoch does it.
                Steps::Ordinary => {
                    let output = learner.train_step(batch);
                    learner.lr_step();
                    learner.optimizer_step(output.grads);
                    Ok(output.item)
                }
            };
            let learning_rate = learner.lr_current();
            let output = match output {
                Ok(output) => output,
                Err(error) => {
                    self.fail(error, interrupter);
                    break;
                }
            };
            let item = TrainingItem::new(output, progress, Some(iteration), Some(learning_rate));
            interrupter.fail_on_error(processor.process_train(LearnerEvent::ProcessedItem(item)));
            if interrupter.should_stop() {
                break;
            }
        }
    }

    /// The weights, copied into the learner (for validation, checkpoints and the result).
    fn write_back_model<M>(
        &self,
        step: &CapturedTrainingStep<M>,
        learner: &mut Learner<ModelSteps<M>>,
    ) where
        M: Trainable + Autoencoder,
    {
        learner.load_model(ModelSteps::new(step.model(), self.precision).into_record());
    }
}

/// A validation split, as burn-train's single-device strategy runs it, each padded batch a
/// replay of the captured validation pass where there is one.
fn valid_split<M>(
    learner: &Learner<ModelSteps<M>>,
    mut validation: Option<&mut CapturedValidation>,
    loader: &ValidLoader<ModelSteps<M>>,
    processor: &mut SupervisedTrainingEventProcessor<ModelSteps<M>>,
    interrupter: &Interrupter,
) where
    M: Trainable<Batch = ImageBatch, Output = ReconstructionOutput>,
{
    let model = learner.model().valid();
    let mut batches = loader.iter();
    let mut iteration = 0;
    while let Some(batch) = batches.next() {
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                interrupter.fail(error);
                break;
            }
        };
        iteration += 1;
        let progress = batches.progress();
        let replayed =
            match (validation.as_deref_mut(), batch.mask.as_ref()) {
                (Some(validation), Some(mask)) => validation.step_parts(&batch.images, mask).map(
                    |(loss, terms, reconstruction)| {
                        ReconstructionOutput::from_parts(
                            loss,
                            terms,
                            reconstruction,
                            batch.images.clone(),
                            Some(mask),
                        )
                    },
                ),
                _ => None,
            };
        let output = replayed.unwrap_or_else(|| InferenceStep::step(&model, batch));
        let item = TrainingItem::new(output, progress, Some(iteration), None);
        interrupter.fail_on_error(processor.process_valid(LearnerEvent::ProcessedItem(item)));
        if interrupter.should_stop() {
            break;
        }
    }
}

impl<M> SupervisedLearningStrategy<ModelSteps<M>> for CapturedFit
where
    M: Trainable<Batch = ImageBatch, Output = ReconstructionOutput> + Autoencoder,
{
    fn fit(
        &self,
        components: TrainingComponents<ModelSteps<M>>,
        mut learner: Learner<ModelSteps<M>>,
        train: TrainLoader<ModelSteps<M>>,
        valid: ValidLoader<ModelSteps<M>>,
        starting_epoch: usize,
    ) -> (
        ModelSteps<M>,
        SupervisedTrainingEventProcessor<ModelSteps<M>>,
    ) {
        let TrainingComponents {
            num_epochs,
            mut checkpointer,
            interrupter,
            mut early_stopping,
            mut event_processor,
            event_store,
            grad_accumulation,
            ..
        } = components;
        if grad_accumulation.is_some() {
            self.fail(
                TrainError::InvalidArgument {
                    what: "capture",
                    message: "gradient accumulation is not captured".into(),
                },
                &interrupter,
            );
            return (learner.model(), event_processor);
        }
        // The capture runs before any batch is drawn or any metric computed: while it records,
        // no other thread may use the device.
        let (mut steps, mut validation) = match self.capture(&learner) {
            Ok(captured) => captured,
            Err(error) => {
                self.fail(error, &interrupter);
                return (learner.model(), event_processor);
            }
        };
        // A captured step reads plain tensors; burn-train's step, tracked ones.
        let train = match steps {
            Steps::Captured(_) => train.to_device(&self.device),
            Steps::Ordinary => train.to_device(&self.device.clone().autodiff()),
        };
        let valid = valid.to_device(&self.device);
        for epoch in starting_epoch..=num_epochs {
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: train.num_items(),
            }));
            self.train_split(
                &mut steps,
                &mut learner,
                &train,
                &mut event_processor,
                &interrupter,
            );
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::EndSplit(epoch)));
            if let Steps::Captured(step) = &steps {
                self.write_back_model(step, &mut learner);
            }
            if interrupter.should_stop() {
                if let Some(interruption) = interrupter.interruption() {
                    let reason = interruption.reason.as_deref().unwrap_or("reason unknown");
                    log::info!("Training interrupted: {reason}");
                }
                break;
            }
            interrupter.fail_on_error(event_processor.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: valid.num_items(),
            }));
            valid_split(
                &learner,
                validation.as_mut(),
                &valid,
                &mut event_processor,
                &interrupter,
            );
            interrupter.fail_on_error(event_processor.process_valid(LearnerEvent::EndSplit(epoch)));
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::EndEpoch(epoch)));
            if checkpointer.is_some() || early_stopping.is_some() {
                interrupter.fail_on_error(event_processor.flush());
            }
            if interrupter.should_stop() {
                break;
            }
            if let Some(checkpointer) = &mut checkpointer {
                // Adam's state goes into the learner for the checkpoint only: Burn materialises
                // a loaded optimizer record on the default device, and a captured run's learner
                // never steps it to the training device.
                let adam = match &steps {
                    Steps::Captured(step) => {
                        adam_record(&step.model(), &step.adam_moments(), step.steps()).map(Some)
                    }
                    Steps::Ordinary => Ok(None),
                };
                match adam {
                    Ok(Some(record)) => {
                        learner.load_optim(record);
                        checkpointer.checkpoint(&learner, epoch, &event_store);
                        learner.load_optim(OptimizerRecord::default());
                    }
                    Ok(None) => checkpointer.checkpoint(&learner, epoch, &event_store),
                    Err(error) => {
                        self.fail(error, &interrupter);
                        break;
                    }
                }
            }
            if let Some(early_stopping) = &mut early_stopping
                && early_stopping.should_stop(epoch, &event_store)
            {
                break;
            }
        }
        (learner.model(), event_processor)
    }
}
