//! The kernels as a Burn backend extension of `flex`: the [`CpuKernels`] trait and its
//! implementation on `Flex`, from `FlexTensor`s to the slice kernels and back. The autodiff side
//! is in [`super::autodiff`].

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::{DType, TensorData};

use super::convolution::{self, Geometry};
use super::dense::{self, DenseShape};
use super::kernels;
use super::matrix;

/// This workspace's CPU kernels (element-wise, convolutions, dense layers), for `flex` and
/// autodiff over `flex` (the public functions of [`crate::ops`] call them only there).
#[backend_extension(Flex, Remote: cfg(feature = "remote"), Autodiff)]
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
pub(crate) fn dense_shape(x: &burn::tensor::Shape, weight: &burn::tensor::Shape) -> DenseShape {
    DenseShape {
        rows: x[0],
        inputs: x[1],
        outputs: weight[1],
    }
}

/// The geometry of `ae_conv2d` over `x` with `weight`, and the output shape.
pub(crate) fn conv2d_geometry(
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
pub(crate) fn conv_transpose2d_geometry(
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
pub(super) fn values(tensor: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
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
pub(super) fn build(
    shape: burn::tensor::Shape,
    kernel: impl FnOnce(&mut [kernels::Out]),
) -> FlexTensor {
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

pub(super) fn binary_op(
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
pub(crate) fn adam_update(
    param: FlexTensor,
    grad: FlexTensor,
    moment_1: FlexTensor,
    moment_2: FlexTensor,
    step: crate::ops::AdamStep,
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
