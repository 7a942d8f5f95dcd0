//! A training step — forward, backward and Adam — of one batch shape, captured once as a graph
//! (`burn::tensor::capture`) and replayed for every batch: on wgpu a software graph whose
//! dispatches were resolved while recording, on CUDA a hardware graph. Burn's autodiff, its
//! per-operation host work and the optimizer's bookkeeping then run once, at the capture.
//!
//! A replay reads and writes the buffers the capture did, so everything that changes between
//! steps lives in a buffer of its own, written in place: the batch (copied into the captured
//! input), Adam's coefficients for step t (bias corrections included), the parameters and the
//! moments (updated in place by one kernel per parameter, `ops::adam_update_in_place`).
//!
//! Replays repeat what the capture recorded, random draws included: a model that draws noise in
//! its forward pass (the VAE's sampling, the denoising corruption) would replay the same noise,
//! and batch normalisation's running statistics would not be updated. So only models whose
//! [`Autoencoder::replay_hazard`] is `None` are captured (the dense and sparse autoencoders, the
//! convolutional one without batch norm).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Graph, Tensor, TensorData, capture};

use ae_models::{Autoencoder, AutoencoderOutput, LossTerm, ops};

use crate::error::{Result, TrainError};

/// The closure a step is captured from.
type Step = Box<dyn FnMut() -> StepTensors>;

/// What a captured step leaves in its own buffers (rewritten by every replay): the forward
/// pass's output, off autodiff.
struct StepTensors {
    loss: Tensor<1>,
    terms: Vec<Tensor<1>>,
    reconstruction: Tensor<4>,
    latent: Tensor<2>,
}

/// Adam's moments of every parameter (flattened), by parameter.
pub(crate) type AdamMoments = HashMap<ParamId, (Tensor<1>, Tensor<1>)>;

/// Adam's settings of a captured step (Burn's `Adam` without weight decay or AMSGrad, as
/// [`FusedAdam`](super::FusedAdam)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapturedAdam {
    /// The learning rate.
    pub learning_rate: f32,
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// Added to the root of the second moment.
    pub epsilon: f32,
}

impl CapturedAdam {
    /// `[learning rate, moment_1_scale, epsilon]` of step `t` (from 1), computed as
    /// [`FusedAdam`](super::FusedAdam) computes them, so the two agree to the last bit.
    fn coefficients(&self, t: usize) -> [f32; 3] {
        let t = i32::try_from(t).unwrap_or(i32::MAX);
        let correction_2 = (1.0 - self.beta_2.powi(t)).sqrt();
        [
            self.learning_rate,
            correction_2 / (1.0 - self.beta_1.powi(t)),
            self.epsilon * correction_2,
        ]
    }
}

/// A training step of `M` for batches of one shape, captured and replayed.
///
/// Not `Send`: a replay must run on the thread that captured it. With one CubeCL stream per
/// device (`ae_train::Streams`, the default) every thread shares that stream, so no other
/// thread may use the device while a capture records (its work would be refused on wgpu, or
/// recorded on CUDA). During replays other threads may use the device on tensors of their own
/// (the outputs handed out are copies), never on the step's weights, moments or buffers.
pub struct CapturedTrainingStep<M> {
    graph: Graph<StepTensors, Step>,
    model: Rc<M>,
    moments: Rc<AdamMoments>,
    term_names: Vec<&'static str>,
    input: Tensor<4>,
    coefficients: Tensor<1>,
    failure: Rc<RefCell<Option<String>>>,
    adam: CapturedAdam,
    steps: usize,
}

impl<M> CapturedTrainingStep<M>
where
    M: Autoencoder + Module + 'static,
{
    /// Captures the training step of `model` (on a plain GPU device; its weights are copied,
    /// so `model` itself is left as it is) for batches shaped like `example`. The capture runs
    /// the step four times (warm-up and recording) with a learning rate of 0, then clears the
    /// moments: the first replay is step 1.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming `capture` where the device has no graph capture
    /// or no in-place Adam (the CPU backends, a build with `fusion`), or the model's step is not
    /// replayable ([`Autoencoder::replay_hazard`]), with what to do instead.
    pub fn new(model: M, example: Tensor<4>, adam: CapturedAdam) -> Result<Self> {
        let device = example.device().inner();
        check_in_place(&device)?;
        check_batch_shape(&model, &example)?;
        if let Some(hazard) = model.replay_hazard() {
            return Err(refused_model(hazard));
        }
        let term_names = model.loss_term_names();
        let example = example.without_autodiff();
        // Buffers of their own that only this step touches, written in place from now on.
        let model = model.map(&mut FreshCopies).train();
        let mut moments = Moments::default();
        model.visit(&mut moments);
        let moments = Rc::new(moments.0);
        let input = ops::fresh_copy(example);
        // While capturing, a step that changes no weight: a learning rate of 0, and an epsilon
        // of 1 so that a zero second moment gives 0 / 1, not 0 / 0 (NaN times 0 is NaN).
        let coefficients = ops::fresh_copy(Tensor::<1>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 1.0], [3]),
            &device,
        ));
        let failure = Rc::new(RefCell::new(None));
        let model = Rc::new(model);
        let step: Step = {
            let (model, input, coefficients) = (model.clone(), input.clone(), coefficients.clone());
            let (moments, failure) = (moments.clone(), failure.clone());
            let betas = [adam.beta_1, adam.beta_2];
            Box::new(move || {
                let output = model.forward(input.clone().autodiff());
                let grads = GradientsParams::from_grads(output.loss.backward(), &*model);
                model.visit(&mut AdamInPlace {
                    grads,
                    moments: &moments,
                    coefficients: &coefficients,
                    betas,
                    failure: &failure,
                });
                StepTensors {
                    loss: output.loss.without_autodiff(),
                    terms: output
                        .terms
                        .into_iter()
                        .map(|term| term.value.without_autodiff())
                        .collect(),
                    reconstruction: output.reconstruction.without_autodiff(),
                    latent: output.latent.without_autodiff(),
                }
            })
        };
        let graph = capture(&device, step);
        if let Some(message) = failure.borrow_mut().take() {
            return Err(refused(message));
        }
        if !graph.is_hardware() {
            return Err(refused("this device recorded no graph".into()));
        }
        // The warm-up steps moved the moments (with a learning rate of 0, not the weights).
        for (first, second) in moments.values() {
            for moment in [first, second] {
                ops::write_into(moment, moment.zeros_like())
                    .map_err(|_| refused("the moments could not be reset".into()))?;
            }
        }
        Ok(Self {
            graph,
            model,
            moments,
            term_names,
            input,
            coefficients,
            failure,
            adam,
            steps: 0,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets the learning rate of the next steps (a scheduler's value for each step).
    pub fn set_learning_rate(&mut self, learning_rate: f32) {
        self.adam.learning_rate = learning_rate;
    }

    /// One training step on `batch` (of the captured shape, on its device): the loss before the
    /// update.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] for a batch of another shape, type or device.
    ///
    /// # Shapes
    /// - batch: the captured `[N, C, H, W]`
    /// - output: `[1]`
    pub fn step(&mut self, batch: Tensor<4>) -> Result<Tensor<1>> {
        let loss = self.replay(batch)?.loss.clone();
        Ok(ops::fresh_copy(loss))
    }

    /// One training step on `batch`, as [`step`](Self::step), returning the whole forward pass
    /// before the update (the loss, its terms, the reconstruction and the codes), copied out of
    /// the step's buffers (one launch per tensor).
    ///
    /// # Errors
    /// As [`step`](Self::step).
    pub fn step_output(&mut self, batch: Tensor<4>) -> Result<AutoencoderOutput> {
        let names = self.term_names.clone();
        let tensors = self.replay(batch)?;
        Ok(AutoencoderOutput {
            reconstruction: ops::fresh_copy(tensors.reconstruction.clone()),
            latent: ops::fresh_copy(tensors.latent.clone()),
            loss: ops::fresh_copy(tensors.loss.clone()),
            terms: names
                .into_iter()
                .zip(&tensors.terms)
                .map(|(name, value)| LossTerm {
                    name,
                    value: ops::fresh_copy(value.clone()),
                })
                .collect(),
        })
    }

    /// One training step on `batch`, as [`step`](Self::step), returning what the metrics read:
    /// the loss, its terms and the reconstruction (copies; a single term is the loss itself, so
    /// it shares the loss's copy).
    ///
    /// # Errors
    /// As [`step`](Self::step).
    pub(crate) fn step_parts(
        &mut self,
        batch: Tensor<4>,
    ) -> Result<(Tensor<1>, Vec<LossTerm>, Tensor<4>)> {
        let names = self.term_names.clone();
        let tensors = self.replay(batch)?;
        let loss = ops::fresh_copy(tensors.loss.clone());
        let terms = match names.as_slice() {
            // The loss is the sum of its terms (`AutoencoderOutput::loss`).
            [name] => vec![LossTerm {
                name,
                value: loss.clone(),
            }],
            _ => names
                .into_iter()
                .zip(&tensors.terms)
                .map(|(name, value)| LossTerm {
                    name,
                    value: ops::fresh_copy(value.clone()),
                })
                .collect(),
        };
        let reconstruction = ops::fresh_copy(tensors.reconstruction.clone());
        Ok((loss, terms, reconstruction))
    }

    /// Writes `batch` and step t's coefficients into the captured buffers and replays.
    fn replay(&mut self, batch: Tensor<4>) -> Result<&StepTensors> {
        if batch.dims() != self.input.dims() || batch.dtype() != self.input.dtype() {
            return Err(TrainError::InvalidArgument {
                what: "captured step",
                message: format!(
                    "it was captured for {:?} batches of {:?}; this one is {:?} of {:?}",
                    self.input.dtype(),
                    self.input.dims(),
                    batch.dtype(),
                    batch.dims()
                ),
            });
        }
        let coefficients = TensorData::new(self.adam.coefficients(self.steps + 1).to_vec(), [3]);
        let device = self.input.device();
        let coefficients = Tensor::<1>::from_data(coefficients, &device);
        if ops::write_into(&self.coefficients, coefficients).is_err()
            || ops::write_into(&self.input, batch.without_autodiff()).is_err()
        {
            return Err(refused(format!(
                "the batch could not be written into the captured input (a batch on {} is \
                 needed)",
                super::device::device_name(&device)
            )));
        }
        // SAFETY (`Graph::replay`'s contract): every tensor the closure touched is alive — the
        // model, the moments, the input and the coefficients are held by the closure and by
        // `self`, the outputs by the graph; nothing else reaches them concurrently (`&mut self`;
        // the weights and moments leave only as copies, `model` and `adam_moments`); the writes
        // above and the copies the callers make are on this thread, the capture's (this type is
        // not `Send`), so on its stream.
        let tensors = unsafe { self.graph.replay() };
        self.steps += 1;
        if let Some(message) = self.failure.borrow_mut().take() {
            return Err(refused(message));
        }
        Ok(tensors)
    }

    /// The validation pass of this step's model captured over its live weights, for padded
    /// batches of `dims` (see [`CapturedValidation`](super::captured_validation::CapturedValidation)).
    ///
    /// # Errors
    /// Where the device records no graph.
    pub(crate) fn capture_validation(
        &self,
        dims: [usize; 4],
    ) -> Result<super::captured_validation::CapturedValidation> {
        super::captured_validation::CapturedValidation::new(
            self.model.clone(),
            dims,
            &self.input.device(),
        )
    }

    /// A copy of the model as trained so far (training mode, buffers of its own).
    pub fn model(&self) -> M {
        (*self.model).clone().map(&mut FreshCopies)
    }

    /// Copies of Adam's moments of every parameter (flattened).
    pub(crate) fn adam_moments(&self) -> AdamMoments {
        self.moments
            .iter()
            .map(|(id, (first, second))| {
                (
                    *id,
                    (
                        ops::fresh_copy(first.clone()),
                        ops::fresh_copy(second.clone()),
                    ),
                )
            })
            .collect()
    }

    /// Continues from Adam's state after `steps` steps: `moments` (flattened, by parameter; a
    /// parameter without moments starts from zero ones) are written into the step's own.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming `capture` for moments of another size or device.
    pub(crate) fn load_adam_state(&mut self, moments: &AdamMoments, steps: usize) -> Result<()> {
        for (id, (first, second)) in self.moments.iter() {
            if let Some((saved_first, saved_second)) = moments.get(id) {
                for (into, from) in [(first, saved_first), (second, saved_second)] {
                    if from.dims() != into.dims() {
                        return Err(refused_state(format!(
                            "a moment of {:?} values where the parameter has {:?}",
                            from.dims(),
                            into.dims()
                        )));
                    }
                    ops::write_into(into, from.clone())
                        .map_err(|_| refused_state("a moment is on another device".into()))?;
                }
            }
        }
        self.steps = steps;
        Ok(())
    }

    /// The trained model, in inference mode.
    pub fn into_model(self) -> M {
        let Self { graph, model, .. } = self;
        // The graph holds the closure, and with it the other handle on the model.
        drop(graph);
        match Rc::try_unwrap(model) {
            Ok(model) => model.valid(),
            Err(shared) => (*shared).clone().valid(),
        }
    }
}

/// Refuses an example batch that is empty or not of the model's item shape (the forward pass
/// would panic inside the capture).
fn check_batch_shape<M: Autoencoder>(model: &M, example: &Tensor<4>) -> Result<()> {
    let [n, c, h, w] = example.dims();
    if n == 0 || [c, h, w] != model.input_shape() {
        return Err(TrainError::InvalidArgument {
            what: "capture",
            message: format!(
                "the example batch is {:?}; the model takes [N >= 1, {:?}]",
                example.dims(),
                model.input_shape()
            ),
        });
    }
    Ok(())
}

/// Whether `device` can update a parameter in place (a GPU backend built without fusion).
pub(crate) fn check_in_place(device: &Device) -> Result<()> {
    let probe = || ops::fresh_copy(Tensor::<1>::zeros([3], device));
    let (param, moment_1, moment_2, coefficients) = (probe(), probe(), probe(), probe());
    ops::adam_update_in_place(
        &param,
        probe(),
        &moment_1,
        &moment_2,
        &coefficients,
        [0.9, 0.999],
    )
    .map_err(|_| refused(format!("{} is not one", super::device::device_name(device))))
}

fn refused_model(hazard: &str) -> TrainError {
    TrainError::InvalidArgument {
        what: "capture",
        message: format!(
            "this model's training step cannot be replayed: {hazard}; train without capturing"
        ),
    }
}

fn refused_state(message: String) -> TrainError {
    TrainError::InvalidArgument {
        what: "capture",
        message: format!("Adam's saved state does not fit the captured step: {message}"),
    }
}

fn refused(message: String) -> TrainError {
    TrainError::InvalidArgument {
        what: "capture",
        message: format!(
            "a captured training step needs a GPU backend (wgpu, vulkan, metal, cuda) built \
             without `fusion`: {message}; train without capturing"
        ),
    }
}

/// Replaces every parameter with a copy in a buffer of its own.
struct FreshCopies;

impl ModuleMapper for FreshCopies {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // Off autodiff first: `fresh_copy` copies plain GPU tensors only, and a model handed in
        // on an autodiff device must not be trained in place either.
        param.map(|t| ops::fresh_copy(t.without_autodiff()))
    }
}

/// Adam's zero moments of every parameter, flattened, in buffers of their own.
#[derive(Default)]
struct Moments(HashMap<ParamId, (Tensor<1>, Tensor<1>)>);

impl ModuleVisitor for Moments {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().without_autodiff();
        let zeros = || {
            ops::fresh_copy(Tensor::<1>::zeros(
                [value.shape().num_elements()],
                &value.device(),
            ))
        };
        self.0.insert(param.id, (zeros(), zeros()));
    }
}

/// The in-place Adam step of every parameter, inside the captured closure.
struct AdamInPlace<'a> {
    grads: GradientsParams,
    moments: &'a HashMap<ParamId, (Tensor<1>, Tensor<1>)>,
    coefficients: &'a Tensor<1>,
    betas: [f32; 2],
    failure: &'a RefCell<Option<String>>,
}

impl ModuleVisitor for AdamInPlace<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (Some(grad), Some((moment_1, moment_2))) = (
            self.grads.remove::<D>(param.id),
            self.moments.get(&param.id),
        ) else {
            return;
        };
        let value = param.val().without_autodiff();
        let n = value.shape().num_elements();
        // A flat view of the parameter's own buffer: the kernel writes into it.
        let flat: Tensor<1> = value.reshape([n]);
        let updated = ops::adam_update_in_place(
            &flat,
            grad.reshape([n]),
            moment_1,
            moment_2,
            self.coefficients,
            self.betas,
        );
        if let Err(message) = updated {
            self.failure.borrow_mut().get_or_insert(message);
        }
    }
}
