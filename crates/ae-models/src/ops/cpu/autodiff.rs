//! The backward passes of the CPU kernels: [`CpuKernels`] for `Autodiff<Flex>`, each kernel
//! recorded on Burn's autodiff graph with the state its gradient needs.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::TensorData;

use super::convolution::{self, Geometry};
use super::dense::{self, DenseShape};
use super::extension::{
    CpuKernels, binary_op, build, conv_transpose2d_geometry, conv2d_geometry, dense_shape, values,
};
use super::kernels;

/// The gradients of a convolution (`transposed` or not) in its input, weight and bias, from the
/// kept input and weight.
#[derive(Debug)]
struct ConvolutionBackward {
    geometry: Geometry,
    transposed: bool,
}

impl Backward<Flex, 3> for ConvolutionBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        layer_backward(ops, grads, |x, weight, dy, input_gradient| {
            if self.transposed {
                convolution::conv_transpose2d_backward(
                    x,
                    weight,
                    dy,
                    &self.geometry,
                    input_gradient,
                )
            } else {
                convolution::conv2d_backward(x, weight, dy, &self.geometry, input_gradient)
            }
        });
    }
}

/// The gradients of a dense layer in its input, weight and bias, from the kept input and weight.
#[derive(Debug)]
struct DenseBackward {
    shape: DenseShape,
}

impl Backward<Flex, 3> for DenseBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        layer_backward(ops, grads, |x, weight, dy, input_gradient| {
            dense::backward(x, weight, dy, self.shape, input_gradient)
        });
    }
}

/// The backward pass of a layer of three inputs (input, weight, bias) that kept its input and
/// weight: `gradients(x, weight, dy, input_gradient)` gives `(dx, dweight, dbias)` (`dx` only
/// when the input asks for one: a first layer's images do not), each registered with the node
/// that asked for it.
fn layer_backward(
    ops: Ops<(FlexTensor, FlexTensor), 3>,
    grads: &mut Gradients,
    gradients: impl FnOnce(&[f32], &[f32], &[f32], bool) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>),
) {
    let (x, weight) = ops.state;
    let grad = grads.consume::<Flex>(&ops.node);
    let (x_shape, weight_shape) = (x.layout().shape().clone(), weight.layout().shape().clone());
    let [x_node, weight_node, bias_node] = ops.parents.map(|node| node.map(|node| node.id));
    let (dx, dweight, dbias) = gradients(
        &values(&x),
        &values(&weight),
        &values(&grad),
        x_node.is_some(),
    );
    let bias_shape = burn::tensor::Shape::from([dbias.len()]);
    for (node, values, shape) in [
        (x_node, dx, x_shape),
        (weight_node, Some(dweight), weight_shape),
        (bias_node, Some(dbias), bias_shape),
    ] {
        if let (Some(node), Some(values)) = (node, values) {
            grads.register::<Flex>(node, FlexTensor::from_data(TensorData::new(values, shape)));
        }
    }
}

/// Records a layer of three inputs (input, weight, bias) on the autodiff graph with `step`,
/// which keeps the input and the weight for the backward pass.
fn tracked_layer<C: CheckpointStrategy, B>(
    [x, weight, bias]: [FloatTensor<Autodiff<Flex, C>>; 3],
    step: B,
    forward: impl FnOnce(FlexTensor, FlexTensor, FlexTensor) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>>
where
    B: Backward<Flex, 3, State = (FlexTensor, FlexTensor)>,
{
    let nodes = [x.node(), weight.node(), bias.node()];
    let (x, weight) = (x.into_primitive(), weight.into_primitive());
    let output = forward(x.clone(), weight.clone(), bias.into_primitive());
    match step.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((x, weight), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}
/// A unary operation whose gradient is `kernel(output, grad)`: the forward output is kept for the
/// backward pass (no recomputation, unlike Burn's own sigmoid).
#[derive(Debug)]
struct FromOutput {
    backward: fn(&[f32], &[f32], &mut [kernels::Out]),
}

impl Backward<Flex, 1> for FromOutput {
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            binary_op(output, grad, self.backward)
        });
    }
}

/// Records `forward` of `x` on the autodiff graph with the gradient [`FromOutput`].
fn tracked_unary<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    forward: fn(FlexTensor) -> FlexTensor,
    backward: fn(&[f32], &[f32], &mut [kernels::Out]),
) -> FloatTensor<Autodiff<Flex, C>> {
    let node = x.node();
    let output = forward(x.into_primitive());
    let step = FromOutput { backward };
    match step.prepare::<C>([node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// Records `forward` of `a` and `b` on the autodiff graph with the gradient `step`, which keeps
/// both inputs.
fn tracked_binary<C, S>(
    a: FloatTensor<Autodiff<Flex, C>>,
    b: FloatTensor<Autodiff<Flex, C>>,
    step: S,
    forward: fn(FlexTensor, FlexTensor) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>>
where
    C: CheckpointStrategy,
    S: Backward<Flex, 2, State = (FlexTensor, FlexTensor)>,
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

impl Backward<Flex, 2> for BceWithLogits {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (logits, target) = ops.state;
        let logits_for_target = logits.clone();
        binary::<Flex, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| {
                let slope = binary_op(logits, target, kernels::bce_with_logits_slope);
                binary_op(slope, grad, kernels::multiply)
            },
            |grad| {
                let minus_grad = Flex::float_neg(grad);
                binary_op(logits_for_target, minus_grad, kernels::multiply)
            },
        );
    }
}

/// The gradient of `(a - b)^2`: `2 grad (a - b)` for `a`, `2 grad (b - a)` for `b`.
#[derive(Debug)]
struct SquaredDifference;

impl Backward<Flex, 2> for SquaredDifference {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (a, b) = ops.state;
        let slope = |from: &FlexTensor, to: &FlexTensor, grad: FlexTensor| {
            build(grad.layout().shape().clone(), |out| {
                kernels::squared_difference_backward(
                    &values(from),
                    &values(to),
                    &values(&grad),
                    out,
                )
            })
        };
        binary::<Flex, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| slope(&a, &b, grad),
            |grad| slope(&b, &a, grad),
        );
    }
}

impl<C: CheckpointStrategy> CpuKernels for Autodiff<Flex, C> {
    fn ae_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_unary::<C>(x, Flex::ae_sigmoid, kernels::sigmoid_backward)
    }

    fn ae_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_unary::<C>(x, Flex::ae_tanh, kernels::tanh_backward)
    }

    fn ae_exp(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // d e^x / dx = e^x: the gradient times the output.
        tracked_unary::<C>(x, Flex::ae_exp, kernels::multiply)
    }

    fn ae_bce_with_logits(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        tracked_binary::<C, _>(logits, target, BceWithLogits, Flex::ae_bce_with_logits)
    }

    fn ae_squared_difference(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked_binary::<C, _>(a, b, SquaredDifference, Flex::ae_squared_difference)
    }

    fn ae_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        use burn::backend::TensorMetadata;
        let (geometry, _) = conv2d_geometry(&x.shape(), &weight.shape(), stride, padding);
        let step = ConvolutionBackward {
            geometry,
            transposed: false,
        };
        tracked_layer::<C, _>([x, weight, bias], step, |x, w, b| {
            Flex::ae_conv2d(x, w, b, stride, padding)
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
        use burn::backend::TensorMetadata;
        let (geometry, _) =
            conv_transpose2d_geometry(&x.shape(), &weight.shape(), stride, padding, padding_out);
        let step = ConvolutionBackward {
            geometry,
            transposed: true,
        };
        tracked_layer::<C, _>([x, weight, bias], step, |x, w, b| {
            Flex::ae_conv_transpose2d(x, w, b, stride, padding, padding_out)
        })
    }

    fn ae_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        use burn::backend::TensorMetadata;
        let step = DenseBackward {
            shape: dense_shape(&x.shape(), &weight.shape()),
        };
        tracked_layer::<C, _>([x, weight, bias], step, Flex::ae_linear)
    }

    fn ae_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }
}
