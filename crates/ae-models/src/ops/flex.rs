//! The kernels as a Burn backend extension of `flex`, with their backward passes for autodiff.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::{DType, TensorData};

use super::convolution::{self, Geometry};
use super::dense::{self, DenseShape};
use super::kernels;
use super::matrix;

/// This workspace's CPU kernels (element-wise, convolutions, dense layers), for `flex` and
/// autodiff over `flex` (the public functions of [`crate::ops`] call them only there).
#[backend_extension(Flex, Autodiff)]
pub trait CpuKernels: Backend {
    /// `1 / (1 + e^-x)`.
    fn ae_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `tanh x`.
    fn ae_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `e^x`.
    fn ae_exp(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `max(x, 0) - x t + ln(1 + e^-|x|)`, element-wise.
    fn ae_bce_with_logits(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// `(a - b)^2`, element-wise.
    fn ae_squared_difference(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
    /// A 2-D convolution with bias: `x` `[N, C, H, W]`, `weight` `[O, C, K, K]`, `bias` `[O]`,
    /// one stride and padding for both axes.
    fn ae_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;
    /// A 2-D transposed convolution with bias: `x` `[N, C_in, H, W]`, `weight`
    /// `[C_in, C_out, K, K]`, `bias` `[C_out]`; the output side is
    /// `(H - 1) stride - 2 padding + K + padding_out`.
    fn ae_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        padding_out: usize,
    ) -> FloatTensor<Self>;
    /// A dense layer: `x w + bias`, `x` `[N, d_input]`, `w` `[d_input, d_output]`, `bias`
    /// `[d_output]`.
    fn ae_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// `lhs rhs`, `lhs` `[M, K]`, `rhs` `[K, N]`: this workspace's product on flex; Burn's
    /// (with its backward pass) under autodiff.
    fn ae_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The product shape of `ae_linear` over `x` with `weight`.
fn dense_shape(x: &burn::tensor::Shape, weight: &burn::tensor::Shape) -> DenseShape {
    DenseShape {
        rows: x[0],
        inputs: x[1],
        outputs: weight[1],
    }
}

/// The geometry of `ae_conv2d` over `x` with `weight`, and the output shape.
fn conv2d_geometry(
    x: &burn::tensor::Shape,
    weight: &burn::tensor::Shape,
    stride: usize,
    padding: usize,
) -> (Geometry, [usize; 4]) {
    let g = Geometry::new([x[1], x[2], x[3]], weight[2], stride, padding);
    (g, [x[0], weight[0], g.out_height, g.out_width])
}

/// The geometry of `ae_conv_transpose2d` (that of the convolution it transposes, over its
/// output) and the output shape.
fn conv_transpose2d_geometry(
    x: &burn::tensor::Shape,
    weight: &burn::tensor::Shape,
    stride: usize,
    padding: usize,
    padding_out: usize,
) -> (Geometry, [usize; 4]) {
    let side = |input: usize| (input - 1) * stride + weight[2] + padding_out - 2 * padding;
    let (height, width) = (side(x[2]), side(x[3]));
    let g = Geometry::new([weight[1], height, width], weight[2], stride, padding);
    (g, [x[0], weight[1], height, width])
}

/// The values of `tensor` in row-major order, borrowed when they already are.
fn values(tensor: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => std::borrow::Cow::Borrowed(values),
        // A strided view (a transpose, a slice): `into_data` copies it out in row-major order.
        None => std::borrow::Cow::Owned(
            tensor
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default(),
        ),
    }
}

/// A new tensor of `shape` from an element-wise `kernel` writing every value (no zeroing).
fn build(shape: burn::tensor::Shape, kernel: impl FnOnce(&mut [kernels::Out])) -> FlexTensor {
    let out = kernels::collect(shape.num_elements(), kernel);
    FlexTensor::from_data(TensorData::new(out, shape))
}

/// A new tensor of `shape` (`[groups, bias.len(), ..]`) that starts as the bias, each value
/// repeated over a run of the remaining axes, and that `accumulate` then adds a layer's product
/// onto.
fn build_from_bias(
    shape: [usize; 4],
    bias: &[f32],
    accumulate: impl FnOnce(&mut [f32]),
) -> FlexTensor {
    let mut out = matrix::bias_filled(shape[0], bias, shape[2] * shape[3]);
    accumulate(&mut out);
    FlexTensor::from_data(TensorData::new(out, shape))
}

/// `kernel` over `x`: in `x`'s own buffer when nothing else holds it (no allocation), else into
/// a new tensor.
fn unary_op(
    mut x: FlexTensor,
    kernel: fn(&[f32], &mut [kernels::Out]),
    in_place: fn(&mut [f32]),
) -> FlexTensor {
    debug_assert_eq!(x.dtype(), DType::F32);
    let n = x.layout().num_elements();
    if row_major(&x)
        && let Some(values) = x.try_storage_mut::<f32>()
    {
        in_place(&mut values[..n]);
        return x;
    }
    let shape = x.layout().shape().clone();
    build(shape, |out| kernel(&values(&x), out))
}

fn binary_op(
    a: FlexTensor,
    b: FlexTensor,
    kernel: fn(&[f32], &[f32], &mut [kernels::Out]),
) -> FlexTensor {
    debug_assert_eq!(a.layout().shape(), b.layout().shape());
    let shape = a.layout().shape().clone();
    build(shape, |out| kernel(&values(&a), &values(&b), out))
}

impl CpuKernels for Flex {
    fn ae_sigmoid(x: FlexTensor) -> FlexTensor {
        unary_op(x, kernels::sigmoid_forward, kernels::sigmoid_in_place)
    }

    fn ae_tanh(x: FlexTensor) -> FlexTensor {
        unary_op(x, kernels::tanh_forward, kernels::tanh_in_place)
    }

    fn ae_exp(x: FlexTensor) -> FlexTensor {
        unary_op(x, kernels::exp_forward, kernels::exp_in_place)
    }

    fn ae_bce_with_logits(logits: FlexTensor, target: FlexTensor) -> FlexTensor {
        binary_op(logits, target, kernels::bce_with_logits_forward)
    }

    fn ae_squared_difference(a: FlexTensor, b: FlexTensor) -> FlexTensor {
        binary_op(a, b, kernels::squared_difference_forward)
    }

    fn ae_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        padding: usize,
    ) -> FlexTensor {
        let (g, shape) =
            conv2d_geometry(x.layout().shape(), weight.layout().shape(), stride, padding);
        build_from_bias(shape, &values(&bias), |y| {
            convolution::conv2d(&values(&x), &values(&weight), &g, y)
        })
    }

    fn ae_conv_transpose2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        padding: usize,
        padding_out: usize,
    ) -> FlexTensor {
        let (g, shape) = conv_transpose2d_geometry(
            x.layout().shape(),
            weight.layout().shape(),
            stride,
            padding,
            padding_out,
        );
        build_from_bias(shape, &values(&bias), |y| {
            convolution::conv_transpose2d(&values(&x), &values(&weight), &g, y)
        })
    }

    fn ae_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let s = dense_shape(x.layout().shape(), weight.layout().shape());
        let y = dense::forward(&values(&x), &values(&weight), &values(&bias), s);
        FlexTensor::from_data(TensorData::new(y, [s.rows, s.outputs]))
    }

    fn ae_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
        let ([m, k], [_, n]) = (dims_2d(&lhs), dims_2d(&rhs));
        let (lhs_values, [lhs_row, lhs_col]) = strided(&lhs);
        let (rhs_values, [rhs_row, rhs_col]) = strided(&rhs);
        let y = matrix::product(
            matrix::Matrix::strided(&lhs_values, m, k, lhs_row, lhs_col),
            matrix::Matrix::strided(&rhs_values, k, n, rhs_row, rhs_col),
            m * k * n >= matrix::PARALLEL_PRODUCT,
        );
        FlexTensor::from_data(TensorData::new(y, [m, n]))
    }
}

/// The two sides of a 2-D tensor.
fn dims_2d(tensor: &FlexTensor) -> [usize; 2] {
    let shape = tensor.layout().shape();
    [shape[0], shape[1]]
}

/// The values of a 2-D `tensor` and its `[row, column]` strides over them: its own storage from
/// its offset when its strides are not negative (a transpose or a slice is read where it lies),
/// else a row-major copy.
fn strided(tensor: &FlexTensor) -> (std::borrow::Cow<'_, [f32]>, [usize; 2]) {
    let layout = tensor.layout();
    if let Some((_, _, row, col)) = layout.as_2d_strides()
        && row >= 0
        && col >= 0
    {
        let storage = &tensor.storage::<f32>()[layout.start_offset()..];
        return (
            std::borrow::Cow::Borrowed(storage),
            [row as usize, col as usize],
        );
    }
    (values(tensor), [dims_2d(tensor)[1], 1])
}

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

/// Whether `tensor`'s values are its storage in row-major order from the start.
fn row_major(tensor: &FlexTensor) -> bool {
    tensor.layout().is_contiguous() && tensor.layout().start_offset() == 0
}

/// `tensor` contiguous from offset 0, copied only when it is not.
fn contiguous(tensor: FlexTensor) -> FlexTensor {
    if row_major(&tensor) {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

/// [`kernels::adam_update`] on flex tensors: in place where a tensor is not shared, else on a
/// copy (flex's copy-on-write).
pub(super) fn adam_update(
    param: FlexTensor,
    grad: FlexTensor,
    moment_1: FlexTensor,
    moment_2: FlexTensor,
    step: super::AdamStep,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (mut param, mut moment_1, mut moment_2) = (
        contiguous(param),
        contiguous(moment_1),
        contiguous(moment_2),
    );
    let grad = values(&grad);
    let n = grad.len();
    kernels::adam_update(
        &mut param.storage_mut::<f32>()[..n],
        &grad,
        &mut moment_1.storage_mut::<f32>()[..n],
        &mut moment_2.storage_mut::<f32>()[..n],
        step,
    );
    (param, moment_1, moment_2)
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
