//! The validation pass of a captured run, captured too: the model's scored forward pass on a
//! padded batch of one shape (the images and the mask of real rows written in place), recorded
//! over the captured training step's own weights — which the training replays update in place —
//! so each epoch's validation sees the weights as trained, with nothing copied.

use std::rc::Rc;

use burn::module::Module;
use burn::tensor::{Device, Graph, Tensor, capture};

use ae_models::{Autoencoder, LossTerm, ops};

use crate::error::{Result, TrainError};

/// What the captured pass leaves in its own buffers: the scored output.
struct PassTensors {
    loss: Tensor<1>,
    terms: Vec<Tensor<1>>,
    reconstruction: Tensor<4>,
}

type Pass = Box<dyn FnMut() -> PassTensors>;

/// A scored forward pass of padded batches of one shape, captured and replayed.
///
/// Not `Send`: replays stay on the capture's thread, as the training step's.
pub(crate) struct CapturedValidation {
    graph: Graph<PassTensors, Pass>,
    input: Tensor<4>,
    mask: Tensor<1>,
    term_names: Vec<&'static str>,
}

impl CapturedValidation {
    /// Captures `model`'s scored forward pass in inference mode (`model` holds the training
    /// step's weights: the pass reads them where the step writes them) for batches of `dims` on
    /// `device`.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming `capture` where the device records no graph.
    pub(crate) fn new<M>(model: Rc<M>, dims: [usize; 4], device: &Device) -> Result<Self>
    where
        M: Autoencoder + Module + 'static,
    {
        let device = device.clone().inner();
        let input = ops::fresh_copy(Tensor::<4>::zeros(dims, &device));
        let mask = ops::fresh_copy(Tensor::<1>::ones([dims[0]], &device));
        let term_names = model.loss_term_names();
        let pass: Pass = {
            let (input, mask) = (input.clone(), mask.clone());
            Box::new(move || {
                // The inference view shares the weights' buffers (no copy).
                let output =
                    model
                        .valid()
                        .forward_masked(input.clone(), input.clone(), Some(mask.clone()));
                PassTensors {
                    loss: output.loss,
                    terms: output.terms.into_iter().map(|t| t.value).collect(),
                    reconstruction: output.reconstruction,
                }
            })
        };
        let graph = capture(&device, pass);
        if !graph.is_hardware() {
            return Err(refused("this device recorded no graph"));
        }
        Ok(Self {
            graph,
            input,
            mask,
            term_names,
        })
    }

    /// The scored pass on `images` whose real rows `mask` marks: the loss, its terms and the
    /// reconstruction (copies), or `None` for a batch of another shape.
    ///
    /// # Shapes
    /// - images: the captured `[N, C, H, W]`
    /// - mask: `[N]`
    pub(crate) fn step_parts(
        &mut self,
        images: &Tensor<4>,
        mask: &Tensor<1>,
    ) -> Option<(Tensor<1>, Vec<LossTerm>, Tensor<4>)> {
        if images.dims() != self.input.dims() || mask.dims() != self.mask.dims() {
            return None;
        }
        ops::write_into(&self.input, images.clone()).ok()?;
        ops::write_into(&self.mask, mask.clone()).ok()?;
        // SAFETY (`Graph::replay`'s contract): the closure's tensors — the input, the mask and
        // the model — are held by the closure (and the training step, which writes the weights
        // only in its own replays, on this thread); the outputs are copied below before any
        // other replay.
        let tensors = unsafe { self.graph.replay() };
        let loss = ops::fresh_copy(tensors.loss.clone());
        let terms = match self.term_names.as_slice() {
            // The loss is the sum of its terms.
            [name] => vec![LossTerm {
                name,
                value: loss.clone(),
            }],
            names => names
                .iter()
                .zip(&tensors.terms)
                .map(|(name, value)| LossTerm {
                    name,
                    value: ops::fresh_copy(value.clone()),
                })
                .collect(),
        };
        let reconstruction = ops::fresh_copy(tensors.reconstruction.clone());
        Some((loss, terms, reconstruction))
    }
}

fn refused(message: &str) -> TrainError {
    TrainError::InvalidArgument {
        what: "capture",
        message: format!("the validation pass could not be captured: {message}"),
    }
}
