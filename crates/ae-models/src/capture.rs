//! A model's reconstruction of a fixed batch shape, captured once and replayed for every batch
//! (`burn::tensor::capture`): on CUDA one hardware graph per batch; on wgpu a software graph in
//! which every dispatch's pipeline, bindings and uniforms were resolved while recording, so a
//! replay skips Burn's per-operation host work; on the CPU backends the forward pass run again.
//!
//! A replay reads the buffers the capture read and writes the ones it wrote. So each batch is
//! first written into the captured input buffer ([`ops::write_into`]), and the result is
//! copied out of the captured output buffer before the next replay overwrites it.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::{DType, Tensor};
use burn::tensor::{Graph, capture};

use crate::autoencoder::Autoencoder;
use crate::error::{ModelError, Result};
use crate::ops;

/// The closure a reconstruction is captured from.
type Forward = Box<dyn FnMut() -> Tensor<4>>;

/// [`Autoencoder::reconstruct`] of batches of one shape, captured once and replayed.
///
/// It stays on the thread that captured it (it is not `Send`): a replay must run on the stream
/// the capture recorded, and CubeCL may give each thread its own. With one stream per device
/// (`ae_train::Streams`, the default) every thread shares it, so no other thread may use the
/// device while the capture records or a replay runs.
///
/// ```no_run
/// # use ae_models::{VanillaAutoencoderConfig, capture::CapturedReconstruction};
/// # use burn::tensor::{Device, Distribution, Tensor};
/// let device = Device::flex();
/// let model = VanillaAutoencoderConfig::new().init(&device);
/// let batch = || Tensor::<4>::random([256, 1, 28, 28], Distribution::Default, &device);
/// let mut captured = CapturedReconstruction::new(model, batch())?;
/// let reconstruction = captured.reconstruct(batch())?;
/// # Ok::<(), ae_models::ModelError>(())
/// ```
pub struct CapturedReconstruction {
    graph: Graph<Tensor<4>, Forward>,
    input: Rc<RefCell<Tensor<4>>>,
    shape: [usize; 4],
}

impl CapturedReconstruction {
    /// Captures `model`'s reconstruction of batches shaped like `example` (which the capture
    /// runs on: its warm-up runs the forward pass three times, then once more while recording).
    ///
    /// # Errors
    /// [`ModelError::Capture`] when `example` is empty, not of the model's item shape, not `f32`
    /// or on an autodiff device, or when the device records a graph but this workspace's GPU
    /// kernels are off.
    pub fn new<M: Autoencoder + 'static>(model: M, example: Tensor<4>) -> Result<Self> {
        if example.dtype() != DType::F32 || example.device().is_autodiff() {
            return Err(ModelError::Capture(format!(
                "it takes f32 batches on a plain (not autodiff) device, not {:?}{}",
                example.dtype(),
                if example.device().is_autodiff() {
                    " with autodiff"
                } else {
                    ""
                }
            )));
        }
        let shape = example.dims();
        if shape[0] == 0 || shape[1..] != model.input_shape() {
            return Err(ModelError::Capture(format!(
                "the example batch is {shape:?}; the model takes [N >= 1, {:?}]",
                model.input_shape()
            )));
        }
        let device = example.device();
        // A buffer of the batch's own size that only the capture reads (a write into it between
        // replays must not change any other tensor).
        let input = Rc::new(RefCell::new(ops::fresh_copy(example)));
        let slot = input.clone();
        let forward: Forward = Box::new(move || model.reconstruct(slot.borrow().clone()));
        let graph = capture(&device, forward);
        // A recorded graph reads the captured input buffer, which only this workspace's GPU
        // kernels can rewrite (not with `AE_GPU_KERNELS=off`, nor in a `fusion` build).
        if graph.is_hardware() {
            let probe = input.borrow().clone();
            if ops::write_into(&input.borrow(), probe).is_err() {
                return Err(ModelError::Capture(
                    "replaying a graph needs this workspace's GPU kernels to write each batch \
                     into the captured input: unset AE_GPU_KERNELS=off, or build without \
                     `fusion`; or reconstruct without capturing"
                        .into(),
                ));
            }
        }
        Ok(Self {
            graph,
            input,
            shape,
        })
    }

    /// Whether replays run a recorded graph (CUDA's, or wgpu's software graph) rather than the
    /// forward pass again (the CPU backends).
    pub fn is_graph(&self) -> bool {
        self.graph.is_hardware()
    }

    /// The batch shape this reconstruction was captured for.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The reconstruction of `batch` (of the captured shape), by a replay.
    ///
    /// # Errors
    /// [`ModelError::Capture`] for a batch of another shape, type or device.
    ///
    /// # Shapes
    /// - batch, output: the captured `[N, C, H, W]`
    pub fn reconstruct(&mut self, batch: Tensor<4>) -> Result<Tensor<4>> {
        let mismatch = |what: String| {
            Err(ModelError::Capture(format!(
                "it was captured for f32 batches of {:?} on {:?}; {what}",
                self.shape,
                self.input.borrow().device()
            )))
        };
        if batch.dims() != self.shape {
            return mismatch(format!("this batch is {:?}", batch.dims()));
        }
        if batch.dtype() != DType::F32 || batch.device() != self.input.borrow().device() {
            return mismatch(format!(
                "this batch is {:?} on {:?}",
                batch.dtype(),
                batch.device()
            ));
        }
        if self.graph.is_hardware() {
            if let Err(batch) = ops::write_into(&self.input.borrow(), batch) {
                return mismatch(format!(
                    "its values could not be written into the captured input ({:?} on {:?})",
                    batch.dtype(),
                    batch.device()
                ));
            }
        } else {
            *self.input.borrow_mut() = batch;
        }
        // SAFETY (`Graph::replay`'s contract): every tensor the closure read or wrote is alive —
        // the model and the input buffer are owned by the closure and `self.input`, the output
        // by the graph; nothing else uses them concurrently (`&mut self`, and neither the model
        // nor the input buffer is reachable from outside); the input was written just above and
        // the output is copied just below on this thread, the one that captured (this type is
        // not `Send`), so on the capture's stream.
        let output = unsafe { self.graph.replay() }.clone();
        Ok(if self.graph.is_hardware() {
            // The next replay overwrites the captured output buffer.
            ops::fresh_copy(output)
        } else {
            output
        })
    }
}
