//! The GPU kernels as a Burn backend extension of the CubeCL backend: the [`GpuKernels`] trait,
//! its implementation on `CubeBackend`, and on autodiff over it with each kernel's own backward
//! pass (the forward output or inputs kept, one launch backward).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, backend_extension};
use burn_cubecl::CubeBackend;
use burn_cubecl::tensor::CubeTensor;

use super::kernels;

/// This workspace's GPU element-wise kernels, for the CubeCL backend and autodiff over it (the
/// public functions of [`crate::ops`] call them only for `f32` tensors there).
#[backend_extension(Cube, Autodiff)]
pub trait GpuKernels: Backend {
    /// `max(x, 0)`.
    fn ae_gpu_relu(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `1 / (1 + e^-x)`.
    fn ae_gpu_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `(a - b)^2`, element-wise, `a` and `b` of one shape.
    fn ae_gpu_squared_difference(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `max(x, 0) - x t + ln(1 + e^-|x|)`, `x` and `t` of one shape.
    fn ae_gpu_bce_with_logits(x: FloatTensor<Self>, t: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `mean^2 + e^logvar - logvar - 1`, `mean` and `logvar` of one shape.
    fn ae_gpu_kl_terms(mean: FloatTensor<Self>, logvar: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl GpuKernels for CubeBackend {
    fn ae_gpu_relu(x: CubeTensor) -> CubeTensor {
        kernels::relu(x)
    }

    fn ae_gpu_sigmoid(x: CubeTensor) -> CubeTensor {
        kernels::sigmoid(x)
    }

    fn ae_gpu_squared_difference(a: CubeTensor, b: CubeTensor) -> CubeTensor {
        kernels::squared_difference(a, b)
    }

    fn ae_gpu_bce_with_logits(x: CubeTensor, t: CubeTensor) -> CubeTensor {
        kernels::bce_with_logits(x, t)
    }

    fn ae_gpu_kl_terms(mean: CubeTensor, logvar: CubeTensor) -> CubeTensor {
        kernels::kl_terms(mean, logvar)
    }
}

/// A unary operation whose gradient is `backward(output, grad)`: the output is kept.
#[derive(Debug)]
struct FromOutput {
    backward: fn(CubeTensor, CubeTensor) -> CubeTensor,
}

impl Backward<CubeBackend, 1> for FromOutput {
    type State = CubeTensor;

    fn backward(self, ops: Ops<CubeTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        unary::<CubeBackend, _>(ops.parents, ops.node, grads, |grad| {
            (self.backward)(output, grad)
        });
    }
}

/// Records `forward` of `x` on the autodiff graph with the gradient [`FromOutput`].
fn tracked_unary<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<CubeBackend, C>>,
    forward: fn(CubeTensor) -> CubeTensor,
    backward: fn(CubeTensor, CubeTensor) -> CubeTensor,
) -> FloatTensor<Autodiff<CubeBackend, C>> {
    let node = x.node();
    let output = forward(x.into_primitive());
    match (FromOutput { backward })
        .prepare::<C>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// The gradients of a binary kernel from its two inputs, each one launch and only for an input
/// that asks for it.
#[derive(Debug)]
struct FromInputs {
    first: fn(CubeTensor, CubeTensor, CubeTensor) -> CubeTensor,
    second: fn(CubeTensor, CubeTensor, CubeTensor) -> CubeTensor,
}

impl Backward<CubeBackend, 2> for FromInputs {
    type State = (CubeTensor, CubeTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (a, b) = ops.state;
        let (a2, b2) = (a.clone(), b.clone());
        binary::<CubeBackend, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| (self.first)(a, b, grad),
            |grad| (self.second)(a2, b2, grad),
        );
    }
}

/// Records `forward` of `a` and `b` on the autodiff graph with the gradients [`FromInputs`].
fn tracked_binary<C: CheckpointStrategy>(
    a: FloatTensor<Autodiff<CubeBackend, C>>,
    b: FloatTensor<Autodiff<CubeBackend, C>>,
    forward: fn(CubeTensor, CubeTensor) -> CubeTensor,
    gradients: FromInputs,
) -> FloatTensor<Autodiff<CubeBackend, C>> {
    let nodes = [a.node(), b.node()];
    let (a, b) = (a.into_primitive(), b.into_primitive());
    let output = forward(a.clone(), b.clone());
    match gradients.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((a, b), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

impl<C: CheckpointStrategy> GpuKernels for Autodiff<CubeBackend, C> {
    fn ae_gpu_relu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_unary::<C>(x, kernels::relu, kernels::relu_backward)
    }

    fn ae_gpu_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_unary::<C>(x, kernels::sigmoid, kernels::sigmoid_backward)
    }

    /// The gradient in `a` is `2 grad (a - b)`, in `b` `2 grad (b - a)`; a reconstruction's
    /// target asks for none.
    fn ae_gpu_squared_difference(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        let gradients = FromInputs {
            first: kernels::squared_difference_backward,
            second: |a, b, grad| kernels::squared_difference_backward(b, a, grad),
        };
        tracked_binary::<C>(a, b, kernels::squared_difference, gradients)
    }

    fn ae_gpu_bce_with_logits(x: FloatTensor<Self>, t: FloatTensor<Self>) -> FloatTensor<Self> {
        let gradients = FromInputs {
            first: kernels::bce_with_logits_backward,
            second: |x, _, grad| kernels::bce_with_logits_target_backward(x, grad),
        };
        tracked_binary::<C>(x, t, kernels::bce_with_logits, gradients)
    }

    fn ae_gpu_kl_terms(mean: FloatTensor<Self>, logvar: FloatTensor<Self>) -> FloatTensor<Self> {
        let gradients = FromInputs {
            first: |mean, _, grad| kernels::kl_terms_mean_backward(mean, grad),
            second: |_, logvar, grad| kernels::kl_terms_logvar_backward(logvar, grad),
        };
        tracked_binary::<C>(mean, logvar, kernels::kl_terms, gradients)
    }
}
