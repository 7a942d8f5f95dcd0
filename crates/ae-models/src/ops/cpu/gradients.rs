//! The backward passes of the CPU kernels on flex tensors, named by what they differentiate: the
//! one place their arithmetic is called from, by the autodiff graph of a local `flex` device
//! (`autodiff.rs`) and by a remote server running a client's backward pass (`ops::remote`).

use burn::backend::flex::FlexTensor;
use burn::tensor::{Shape, TensorData};

use super::convolution;
use super::dense;
use super::extension::{
    binary_op, build, conv_transpose2d_geometry, conv2d_geometry, dense_shape, values,
};
use super::kernels;

/// An element-wise function whose gradient is computed from its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FromOutput {
    /// `σ(x)`: `grad σ (1 - σ)`.
    Sigmoid,
    /// `tanh x`: `grad (1 - tanh²)`.
    Tanh,
    /// `e^x`: `grad e^x`.
    Exp,
}

/// The gradient of `function` at its `output`, from the output's gradient.
pub(crate) fn from_output(
    function: FromOutput,
    output: FlexTensor,
    grad: FlexTensor,
) -> FlexTensor {
    let kernel = match function {
        FromOutput::Sigmoid => kernels::sigmoid_backward,
        FromOutput::Tanh => kernels::tanh_backward,
        FromOutput::Exp => kernels::multiply,
    };
    binary_op(output, grad, kernel)
}

/// The gradient of binary cross-entropy with logits in the logits: `grad (σ(x) - t)`.
pub(crate) fn bce_logits(logits: FlexTensor, target: FlexTensor, grad: FlexTensor) -> FlexTensor {
    let slope = binary_op(logits, target, kernels::bce_with_logits_slope);
    binary_op(slope, grad, kernels::multiply)
}

/// The gradient of binary cross-entropy with logits in the target: `-grad x`.
pub(crate) fn bce_target(logits: FlexTensor, grad: FlexTensor) -> FlexTensor {
    use burn::backend::ops::FloatTensorOps;
    let minus_grad = burn::backend::Flex::float_neg(grad);
    binary_op(logits, minus_grad, kernels::multiply)
}

/// The gradient of `(from - to)^2` in `from`: `2 grad (from - to)`.
pub(crate) fn squared_difference(
    from: &FlexTensor,
    to: &FlexTensor,
    grad: FlexTensor,
) -> FlexTensor {
    build(grad.layout().shape().clone(), |out| {
        kernels::squared_difference_backward(&values(from), &values(to), &values(&grad), out)
    })
}

/// A layer of three inputs (input, weight, bias) with this workspace's kernels, and what its
/// geometry needs beyond the shapes of its input and weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// `x w + bias`.
    Dense,
    /// A 2-D convolution.
    Conv2d { stride: usize, padding: usize },
    /// A 2-D transposed convolution.
    ConvTranspose2d {
        stride: usize,
        padding: usize,
        padding_out: usize,
    },
}

impl Layer {
    /// The shape of the bias of this layer with `weight`.
    pub(crate) fn bias_shape(self, weight: &Shape) -> Shape {
        Shape::from([match self {
            Self::Dense | Self::ConvTranspose2d { .. } => weight[1],
            Self::Conv2d { .. } => weight[0],
        }])
    }
}

/// The gradients of `layer` at input `x` and `weight` from its output's gradient: the input's
/// (when `input_gradient`: a first layer's images need none), the weight's and the bias's.
pub(crate) fn layer(
    layer: Layer,
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    input_gradient: bool,
) -> (Option<FlexTensor>, FlexTensor, FlexTensor) {
    let (x_shape, weight_shape) = (x.layout().shape(), weight.layout().shape());
    let (x_values, weight_values, grad_values) = (values(x), values(weight), values(grad));
    let (dx, dweight, dbias) = match layer {
        Layer::Dense => dense::backward(
            &x_values,
            &weight_values,
            &grad_values,
            dense_shape(x_shape, weight_shape),
            input_gradient,
        ),
        Layer::Conv2d { stride, padding } => {
            let (geometry, _) = conv2d_geometry(x_shape, weight_shape, stride, padding);
            convolution::conv2d_backward(
                &x_values,
                &weight_values,
                &grad_values,
                &geometry,
                input_gradient,
            )
        }
        Layer::ConvTranspose2d {
            stride,
            padding,
            padding_out,
        } => {
            let (geometry, _) =
                conv_transpose2d_geometry(x_shape, weight_shape, stride, padding, padding_out);
            convolution::conv_transpose2d_backward(
                &x_values,
                &weight_values,
                &grad_values,
                &geometry,
                input_gradient,
            )
        }
    };
    let tensor =
        |values: Vec<f32>, shape: Shape| FlexTensor::from_data(TensorData::new(values, shape));
    let bias_shape = layer.bias_shape(weight_shape);
    (
        dx.map(|dx| tensor(dx, x_shape.clone())),
        tensor(dweight, weight_shape.clone()),
        tensor(dbias, bias_shape),
    )
}
