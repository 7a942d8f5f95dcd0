//! The bridge between the models and burn-train's learner: one trait that says what burn-train
//! needs of a model, and one wrapper that turns any such model into burn-train's
//! `TrainStep`/`InferenceStep` pair.

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Tensor;

use super::captured_fit::{CapturedFit, CapturedStrategy};
use super::metrics::MetricsContext;
use super::precision::{Precision, StepPrecision};
use super::step_gate::StepGate;
use burn::train::{InferenceStep, ItemLazy, SupervisedTraining, TrainOutput, TrainStep};

/// What burn-train needs of a model to train it: the batch it takes, what one step hands to the
/// metrics, the loss to minimise, and which metrics to show.
///
/// Every model of the zoo implements it (the image autoencoders take an
/// [`ImageBatch`](ae_data::ImageBatch), the text autoencoder a `TextBatch`, AutoRec a
/// `RatingsBatch`). A new model implements it to be trained by [`fit`](crate::fit).
pub trait Trainable: Module + ModuleDisplay + 'static {
    /// A batch of training data, on the device.
    type Batch: Send + Sync + Clone + std::fmt::Debug + 'static;
    /// What a step hands to the metrics: the loss and whatever the metrics read.
    type Output: ItemLazy + Send + 'static;

    /// The forward pass of one step, in training mode on an autodiff device or in validation.
    fn forward_step(&self, batch: Self::Batch) -> Self::Output;

    /// What defines this model for a resumed run (its kind and configuration, as JSON): a
    /// resume into a folder whose model differs is refused, naming the field. `Null` (the
    /// default) checks nothing.
    fn identity(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// The shape of one item the model takes (`[C, H, W]` for an image model), checked against
    /// the data before training; `None` (the default) checks nothing.
    fn item_shape(&self) -> Option<Vec<usize>> {
        None
    }

    /// Whether the model's layers compute in half precision under `--precision bf16|f16` (its
    /// dense layers and convolutions go through [`ae_models::ops`]); a model that answers
    /// `false` (the default is `true`) is refused those precisions rather than silently trained
    /// in `f32`.
    fn supports_mixed_precision(&self) -> bool {
        true
    }

    /// `--capture` ([`FitOptions::capture`](crate::FitOptions::capture)): the strategy that
    /// trains this model by replaying one captured step, or why its step cannot be replayed
    /// (then [`fit`](crate::fit) trains it the ordinary way and says so). The image
    /// autoencoders accept it where [`ae_models::Autoencoder::replay_hazard`] allows; the
    /// default refuses.
    ///
    /// # Errors
    /// Why the model's training step cannot be captured.
    fn captured_fit(&self, strategy: CapturedFit) -> Result<CapturedStrategy<Self>, String>
    where
        Self: Sized,
    {
        let _ = strategy;
        Err("only the image autoencoders' training steps are captured".into())
    }

    /// The loss of a step's output, which training back-propagates.
    ///
    /// # Shapes
    /// `[1]`
    fn loss(output: &Self::Output) -> Tensor<1>;

    /// Registers the model's metrics (shown while training, logged to `metrics.jsonl`); those
    /// that accumulate on the device read their value back as `context` says, and the loss
    /// ([`DeviceMeanMetric::loss`](crate::DeviceMeanMetric::loss)) stops training when it stops
    /// being finite.
    fn register_metrics(
        &self,
        training: SupervisedTraining<ModelSteps<Self>>,
        context: &MetricsContext,
    ) -> SupervisedTraining<ModelSteps<Self>>
    where
        Self: Sized;
}

/// A zoo model's kind and configuration (`{"kind": .., "config": ..}`), the identity of
/// [`Trainable::identity`].
pub(crate) fn model_identity<M: ae_models::SavedModel>(model: &M) -> serde_json::Value {
    serde_json::json!({ "kind": M::KIND, "config": model.config() })
}

/// Any [`Trainable`] model as burn-train's learner model: a training step runs
/// [`Trainable::forward_step`] and back-propagates [`Trainable::loss`]; a validation step runs
/// the forward pass only. (The wrapper exists because `TrainStep` and the models live in other
/// crates.)
#[derive(Module, Debug)]
pub struct ModelSteps<M> {
    /// The model being trained.
    pub model: M,
    /// What the layers compute in (training and validation steps alike).
    #[module(skip)]
    pub precision: StepPrecision,
    /// Where the workers of a data-parallel run on remote devices wait for each other before
    /// each training step.
    #[module(skip)]
    pub gate: Option<StepGate>,
}

impl<M> ModelSteps<M> {
    /// Steps of `model` with its layers computing in `precision`.
    pub fn new(model: M, precision: Precision) -> Self {
        Self {
            model,
            precision: StepPrecision::new(precision),
            gate: None,
        }
    }

    /// These steps with their training steps starting at `gate`.
    pub fn with_gate(mut self, gate: Option<StepGate>) -> Self {
        self.gate = gate;
        self
    }
}

impl<M: Trainable> TrainStep for ModelSteps<M> {
    type Input = M::Batch;
    type Output = M::Output;

    fn step(&self, batch: M::Batch) -> TrainOutput<M::Output> {
        if let Some(gate) = &self.gate {
            let device = self.model.devices().into_iter().next();
            gate.pass(&format!("{device:?}"));
        }
        let output = self.precision.forward(|| self.model.forward_step(batch));
        let loss = M::loss(&output);
        self.precision.backward(self, loss, output)
    }
}

impl<M: Trainable> InferenceStep for ModelSteps<M> {
    type Input = M::Batch;
    type Output = M::Output;

    fn step(&self, batch: M::Batch) -> M::Output {
        self.precision.forward(|| self.model.forward_step(batch))
    }
}
