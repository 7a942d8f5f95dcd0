//! The backward passes of the CPU kernels: [`CpuKernels`] for autodiff over a [`KernelHost`]
//! (`flex`, or a remote server of `flex` devices), each kernel recorded on Burn's autodiff graph
//! with the state its gradient needs.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};

use super::extension::CpuKernels;
use super::gradients::{self, FromOutput, Layer};

/// A backend whose tensors this workspace's CPU kernels compute, forward ([`CpuKernels`]) and
/// backward (here): `flex` itself, and the remote backend where its server has the kernels
/// (`ops::remote`).
pub(crate) trait KernelHost: CpuKernels {
    /// [`gradients::from_output`].
    fn from_output_gradient(
        function: FromOutput,
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// [`gradients::bce_logits`].
    fn bce_logits_gradient(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// [`gradients::bce_target`].
    fn bce_target_gradient(logits: FloatTensor<Self>, grad: FloatTensor<Self>)
    -> FloatTensor<Self>;
    /// [`gradients::squared_difference`].
    fn squared_difference_gradient(
        from: FloatTensor<Self>,
        to: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// [`gradients::layer`]: `(dx, dweight, dbias)`.
    #[allow(clippy::type_complexity)]
    fn layer_gradients(
        layer: Layer,
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        input_gradient: bool,
    ) -> (
        Option<FloatTensor<Self>>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

impl KernelHost for Flex {
    fn from_output_gradient(
        function: FromOutput,
        output: FlexTensor,
        grad: FlexTensor,
    ) -> FlexTensor {
        gradients::from_output(function, output, grad)
    }

    fn bce_logits_gradient(logits: FlexTensor, target: FlexTensor, grad: FlexTensor) -> FlexTensor {
        gradients::bce_logits(logits, target, grad)
    }

    fn bce_target_gradient(logits: FlexTensor, grad: FlexTensor) -> FlexTensor {
        gradients::bce_target(logits, grad)
    }

    fn squared_difference_gradient(
        from: FlexTensor,
        to: FlexTensor,
        grad: FlexTensor,
    ) -> FlexTensor {
        gradients::squared_difference(&from, &to, grad)
    }

    fn layer_gradients(
        layer: Layer,
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        input_gradient: bool,
    ) -> (Option<FlexTensor>, FlexTensor, FlexTensor) {
        gradients::layer(layer, &x, &weight, &grad, input_gradient)
    }
}

/// The gradients of a layer in its input, weight and bias, from the kept input and weight.
#[derive(Debug)]
struct LayerBackward {
    layer: Layer,
}

impl<B: KernelHost> Backward<B, 3> for LayerBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, weight) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let [x_node, weight_node, bias_node] = ops.parents.map(|node| node.map(|node| node.id));
        // A first layer's images ask for no gradient.
        let (dx, dweight, dbias) =
            B::layer_gradients(self.layer, x, weight, grad, x_node.is_some());
        if let (Some(node), Some(dx)) = (x_node, dx) {
            grads.register::<B>(node, dx);
        }
        if let Some(node) = weight_node {
            grads.register::<B>(node, dweight);
        }
        if let Some(node) = bias_node {
            grads.register::<B>(node, dbias);
        }
    }
}

/// Records `layer` of `x`, `weight` and `bias` on the autodiff graph, keeping the input and the
/// weight for the backward pass.
fn tracked_layer<B: KernelHost, C: CheckpointStrategy>(
    [x, weight, bias]: [FloatTensor<Autodiff<B, C>>; 3],
    layer: Layer,
    forward: impl FnOnce(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>> {
    let nodes = [x.node(), weight.node(), bias.node()];
    let (x, weight) = (x.into_primitive(), weight.into_primitive());
    let output = forward(x.clone(), weight.clone(), bias.into_primitive());
    match (LayerBackward { layer })
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((x, weight), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// A unary operation whose gradient comes from its output: the forward output is kept for the
/// backward pass (no recomputation, unlike Burn's own sigmoid).
#[derive(Debug)]
struct FromOutputBackward {
    function: FromOutput,
}

impl<B: KernelHost> Backward<B, 1> for FromOutputBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<FloatTensor<B>, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::from_output_gradient(self.function, output, grad)
        });
    }
}

/// Records `forward` of `x` on the autodiff graph with the gradient of `function`.
fn tracked_unary<B: KernelHost, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    forward: fn(FloatTensor<B>) -> FloatTensor<B>,
    function: FromOutput,
) -> FloatTensor<Autodiff<B, C>> {
    let node = x.node();
    let output = forward(x.into_primitive());
    match (FromOutputBackward { function })
        .prepare::<C>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// Records `forward` of `a` and `b` on the autodiff graph with the gradient `step`, which keeps
/// both inputs.
fn tracked_binary<B, C, S>(
    a: FloatTensor<Autodiff<B, C>>,
    b: FloatTensor<Autodiff<B, C>>,
    step: S,
    forward: fn(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>>
where
    B: KernelHost,
    C: CheckpointStrategy,
    S: Backward<B, 2, State = (FloatTensor<B>, FloatTensor<B>)>,
{
    let nodes = [a.node(), b.node()];
    let (a, b) = (a.into_primitive(), b.into_primitive());
    let output = forward(a.clone(), b.clone());
    match step.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((a, b), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// The gradient of binary cross-entropy with logits: `grad (σ(x) - t)` for the logits and
/// `-grad x` for the target.
#[derive(Debug)]
struct BceWithLogits;

impl<B: KernelHost> Backward<B, 2> for BceWithLogits {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (logits, target) = ops.state;
        let logits_for_target = logits.clone();
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| B::bce_logits_gradient(logits, target, grad),
            |grad| B::bce_target_gradient(logits_for_target, grad),
        );
    }
}

/// The gradient of `(a - b)^2`: `2 grad (a - b)` for `a`, `2 grad (b - a)` for `b`.
#[derive(Debug)]
struct SquaredDifference;

impl<B: KernelHost> Backward<B, 2> for SquaredDifference {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (a, b) = ops.state;
        let (a_for_b, b_for_b) = (a.clone(), b.clone());
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| B::squared_difference_gradient(a, b, grad),
            |grad| B::squared_difference_gradient(b_for_b, a_for_b, grad),
        );
    }
}

impl<B: KernelHost, C: CheckpointStrategy> CpuKernels for Autodiff<B, C> {
    fn ae_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_unary::<B, C>(x, B::ae_sigmoid, FromOutput::Sigmoid)
    }

    fn ae_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_unary::<B, C>(x, B::ae_tanh, FromOutput::Tanh)
    }

    fn ae_exp(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_unary::<B, C>(x, B::ae_exp, FromOutput::Exp)
    }

    fn ae_bce_with_logits(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        tracked_binary::<B, C, _>(logits, target, BceWithLogits, B::ae_bce_with_logits)
    }

    fn ae_squared_difference(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_binary::<B, C, _>(a, b, SquaredDifference, B::ae_squared_difference)
    }

    fn ae_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let layer = Layer::Conv2d { stride, padding };
        tracked_layer::<B, C>([x, weight, bias], layer, |x, w, b| {
            B::ae_conv2d(x, w, b, stride, padding)
        })
    }

    fn ae_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        padding_out: usize,
    ) -> FloatTensor<Self> {
        let layer = Layer::ConvTranspose2d {
            stride,
            padding,
            padding_out,
        };
        tracked_layer::<B, C>([x, weight, bias], layer, |x, w, b| {
            B::ae_conv_transpose2d(x, w, b, stride, padding, padding_out)
        })
    }

    fn ae_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        tracked_layer::<B, C>([x, weight, bias], Layer::Dense, B::ae_linear)
    }

    fn ae_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }
}
