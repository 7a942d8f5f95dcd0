//! `--capture` through [`fit`](super::fit): burn-train's learner with a training strategy of our
//! own ([`CapturedFit`], a `TrainingStrategy::Custom`) whose training split replays one
//! [`CapturedTrainingStep`] per batch. Everything else is burn-train's as in an ordinary run:
//! the metrics and their event processor, validation, the checkpoints, early stopping, the
//! result. After each training split the weights and Adam's moments are copied back into the
//! learner, so validation, checkpoints and a resumed run (captured or not) see them: Adam's
//! state travels as Burn's own optimizer record (`AdamState` in a burnpack file), read back from
//! the checkpoint when a captured run resumes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{
    AdamState, AdaptiveMomentumState, OptimizerRecord, RecordState, StateSink, StateSource,
};
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainingComponents,
    TrainingItem, ValidLoader,
};

use ae_data::ImageBatch;
use ae_models::Autoencoder;

use super::captured_step::{AdamMoments, CapturedAdam, CapturedTrainingStep};
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
        }
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

    /// Captures the learner's model's step and, when resuming, loads Adam's saved state.
    fn capture<M>(&self, learner: &Learner<ModelSteps<M>>) -> Result<CapturedTrainingStep<M>>
    where
        M: Trainable + Autoencoder,
    {
        let model = learner.model().model;
        let [c, h, w] = model.input_shape();
        let example = Tensor::<4>::zeros([self.batch_size, c, h, w], &self.device);
        let mut step = CapturedTrainingStep::new(model, example, self.adam)?;
        if let Some((path, _)) = &self.resume {
            let (moments, steps) = read_adam_state(path, &step.model(), &self.device)?;
            step.load_adam_state(&moments, steps)?;
        }
        Ok(step)
    }

    /// One training split: a replay per batch, each step's output handed to the metrics.
    fn train_split<M>(
        &self,
        step: &mut CapturedTrainingStep<M>,
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
            learner.lr_step();
            let learning_rate = learner.lr_current();
            step.set_learning_rate(learning_rate.base() as f32);
            let output = match batch.mask {
                // Training loaders drop the last partial batch: every batch is whole.
                Some(_) => Err(TrainError::InvalidArgument {
                    what: "capture",
                    message: "a captured step trains on whole batches, not padded ones".into(),
                }),
                None => step.step_output(batch.images.clone()),
            };
            let output = match output {
                Ok(output) => ReconstructionOutput::new(output, batch.images, None),
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

    /// The weights and Adam's moments, copied into the learner.
    fn write_back<M>(
        &self,
        step: &CapturedTrainingStep<M>,
        learner: &mut Learner<ModelSteps<M>>,
    ) -> Result<()>
    where
        M: Trainable + Autoencoder,
    {
        let model = step.model();
        let record = adam_record(&model, &step.adam_moments(), step.steps())?;
        learner.load_model(ModelSteps::new(model, self.precision).into_record());
        learner.load_optim(record);
        Ok(())
    }
}

/// A validation split, as burn-train's single-device strategy runs it.
fn valid_split<M: Trainable>(
    learner: &Learner<ModelSteps<M>>,
    loader: &ValidLoader<ModelSteps<M>>,
    processor: &mut SupervisedTrainingEventProcessor<ModelSteps<M>>,
    interrupter: &Interrupter,
) {
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
        let item = TrainingItem::new(
            InferenceStep::step(&model, batch),
            progress,
            Some(iteration),
            None,
        );
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
            ..
        } = components;
        let train = train.to_device(&self.device);
        let valid = valid.to_device(&self.device);
        // The capture runs before any batch is drawn or any metric computed: while it records,
        // no other thread may use the device.
        let mut step = match self.capture(&learner) {
            Ok(step) => step,
            Err(error) => {
                self.fail(error, &interrupter);
                return (learner.model(), event_processor);
            }
        };
        for epoch in starting_epoch..=num_epochs {
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: train.num_items(),
            }));
            self.train_split(
                &mut step,
                &mut learner,
                &train,
                &mut event_processor,
                &interrupter,
            );
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::EndSplit(epoch)));
            if let Err(error) = self.write_back(&step, &mut learner) {
                self.fail(error, &interrupter);
            }
            if interrupter.should_stop() {
                break;
            }
            interrupter.fail_on_error(event_processor.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: valid.num_items(),
            }));
            valid_split(&learner, &valid, &mut event_processor, &interrupter);
            interrupter.fail_on_error(event_processor.process_valid(LearnerEvent::EndSplit(epoch)));
            interrupter.fail_on_error(event_processor.process_train(LearnerEvent::EndEpoch(epoch)));
            if checkpointer.is_some() || early_stopping.is_some() {
                interrupter.fail_on_error(event_processor.flush());
            }
            if interrupter.should_stop() {
                break;
            }
            if let Some(checkpointer) = &mut checkpointer {
                checkpointer.checkpoint(&learner, epoch, &event_store);
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

/// Adam's state after `steps` steps with these `moments`, as Burn's optimizer record: what
/// `ModuleOptimizer::to_record` writes for a [`FusedAdam`](super::FusedAdam) or Burn's `Adam`
/// (one `AdamState` per parameter, named by the parameter's id), so checkpoints of captured and
/// ordinary runs are interchangeable.
fn adam_record<M: Module>(
    model: &M,
    moments: &AdamMoments,
    steps: usize,
) -> Result<OptimizerRecord> {
    struct Flatten<'a> {
        moments: &'a AdamMoments,
        steps: usize,
        tensors: Vec<burn_pack::Tensor>,
        scalars: BTreeMap<String, burn_pack::Scalar>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some((first, second)) = self.moments.get(&param.id) else {
                return;
            };
            let shape = param.val().shape();
            let state = AdamState::<D>::new(AdaptiveMomentumState::new(
                self.steps,
                first.clone().reshape(shape.clone()),
                second.clone().reshape(shape),
            ));
            let id = param.id.val();
            let prefix = id.to_string();
            let mut sink = StateSink::default();
            state.state_flatten(&prefix, &mut sink);
            // The rank under burn-optim's `__rank` key, as `ModuleOptimizer::to_record` does.
            self.scalars
                .insert(format!("{prefix}.__rank"), burn_pack::Scalar::from(D));
            self.scalars.extend(sink.scalars);
            for (name, data) in sink.tensors {
                let (bytes, shape, dtype) = data.into_parts();
                self.tensors
                    .push(burn_pack::Tensor::new(name, dtype, shape, Some(id), bytes));
            }
        }
    }
    let mut flatten = Flatten {
        moments,
        steps,
        tensors: Vec::new(),
        scalars: BTreeMap::new(),
    };
    model.visit(&mut flatten);
    let mut writer = burn_pack::Writer::new(flatten.tensors);
    for (key, value) in &flatten.scalars {
        writer = writer.with_scalar(key, *value);
    }
    let bad = |message: String| TrainError::InvalidArgument {
        what: "capture",
        message: format!("Adam's state could not be written as an optimizer record: {message}"),
    };
    let bytes = writer.into_bytes().map_err(|e| bad(e.to_string()))?;
    OptimizerRecord::from_bytes(bytes).map_err(|e| bad(e.to_string()))
}

/// Adam's moments (flattened, on `device`) and step count from an optimizer checkpoint of
/// `model`'s run.
fn read_adam_state<M: Module>(
    path: &std::path::Path,
    model: &M,
    device: &Device,
) -> Result<(AdamMoments, usize)> {
    let bad = |message: String| TrainError::BadCheckpoint {
        path: path.to_path_buf(),
        message,
    };
    let reader = burn_pack::Reader::from_file(path).map_err(|e| bad(e.to_string()))?;
    let mut source = StateSource::new(reader.scalars().clone());
    for tensor in reader.into_tensors().map_err(|e| bad(e.to_string()))? {
        let (name, dtype, shape, _, bytes) = tensor.into_parts().map_err(|e| bad(e.to_string()))?;
        source.insert_tensor(name, TensorData::from_bytes(bytes, shape, dtype));
    }
    struct Unflatten<'a> {
        source: StateSource,
        device: &'a Device,
        moments: AdamMoments,
        steps: Vec<usize>,
        misfits: Vec<String>,
    }
    impl ModuleVisitor for Unflatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let prefix = param.id.val().to_string();
            let Some(state) =
                AdamState::<D>::state_unflatten(&prefix, &mut self.source, self.device)
            else {
                return;
            };
            let momentum = state.momentum;
            let n = param.val().shape().num_elements();
            for moment in [&momentum.moment_1, &momentum.moment_2] {
                if moment.shape().num_elements() != n {
                    self.misfits.push(format!(
                        "parameter {prefix} has {n} values, its moment {:?}",
                        moment.dims()
                    ));
                    return;
                }
            }
            let flat = |t: Tensor<D>| t.reshape([n]);
            self.steps.push(momentum.time);
            self.moments
                .insert(param.id, (flat(momentum.moment_1), flat(momentum.moment_2)));
        }
    }
    let mut unflatten = Unflatten {
        source,
        device,
        moments: AdamMoments::new(),
        steps: Vec::new(),
        misfits: Vec::new(),
    };
    model.visit(&mut unflatten);
    if let Some(misfit) = unflatten.misfits.first() {
        return Err(bad(format!("it does not fit this model: {misfit}")));
    }
    let steps = unflatten.steps.iter().copied().max().unwrap_or(0);
    if unflatten.steps.iter().any(|&s| s != steps) {
        return Err(bad(format!(
            "its parameters were stepped {:?} times; a captured run steps them all together",
            unflatten.steps
        )));
    }
    Ok((unflatten.moments, steps))
}
