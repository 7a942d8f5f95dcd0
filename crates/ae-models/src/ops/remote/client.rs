//! The client side of the remote kernels: [`CpuKernels`] and [`KernelHost`] for the remote
//! backend, each operation shipped to the server as one custom operation, and Adam.

use burn::backend::Remote;
use burn::backend::TensorMetadata;
use burn::backend::tensor::FloatTensor;
use burn::remote::CustomOpClient;
use burn::tensor::{DType, Shape};
use burn_ir::{CustomOpIr, ScalarIr, TensorIr};

use super::{Op, function_code, layer_codes};
use crate::ops::cpu::gradients::{FromOutput, Layer};
use crate::ops::cpu::{CpuKernels, KernelHost};

/// Ships `op` of `inputs` (all on one remote device) and `scalars` to its server, returning its
/// outputs, of `shapes`, `f32`.
fn ship(
    op: Op,
    inputs: Vec<FloatTensor<Remote>>,
    shapes: Vec<Shape>,
    scalars: Vec<ScalarIr>,
) -> Vec<FloatTensor<Remote>> {
    let device = inputs[0].device();
    let client = CustomOpClient::new(&device);
    let outputs: Vec<TensorIr> = shapes
        .into_iter()
        .map(|shape| TensorIr::uninit(client.create_empty_handle(), shape, DType::F32))
        .collect();
    let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
    client.register(CustomOpIr {
        id: op.id().to_string(),
        inputs,
        outputs,
        scalars,
    })
}

/// [`ship`] for an operation with one output.
pub(super) fn ship_one(
    op: Op,
    inputs: Vec<FloatTensor<Remote>>,
    shape: Shape,
    scalars: Vec<ScalarIr>,
) -> FloatTensor<Remote> {
    let mut outputs = ship(op, inputs, vec![shape], scalars);
    outputs.remove(0)
}

/// [`ship_one`] for an element-wise operation: its output has its inputs' shape.
fn ship_elementwise(
    op: Op,
    inputs: Vec<FloatTensor<Remote>>,
    scalars: Vec<ScalarIr>,
) -> FloatTensor<Remote> {
    let shape = inputs[0].shape();
    ship_one(op, inputs, shape, scalars)
}

fn uints(values: &[usize]) -> Vec<ScalarIr> {
    values.iter().map(|&v| ScalarIr::UInt(v as u64)).collect()
}

impl CpuKernels for Remote {
    fn ae_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        ship_elementwise(Op::Sigmoid, vec![x], vec![])
    }

    fn ae_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
        ship_elementwise(Op::Tanh, vec![x], vec![])
    }

    fn ae_exp(x: FloatTensor<Self>) -> FloatTensor<Self> {
        ship_elementwise(Op::Exp, vec![x], vec![])
    }

    fn ae_bce_with_logits(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        ship_elementwise(Op::BceWithLogits, vec![logits, target], vec![])
    }

    fn ae_squared_difference(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        ship_elementwise(Op::SquaredDifference, vec![a, b], vec![])
    }

    fn ae_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let (_, shape) =
            crate::ops::cpu::conv2d_geometry(&x.shape(), &weight.shape(), stride, padding);
        let scalars = uints(&[stride, padding]);
        ship_one(Op::Conv2d, vec![x, weight, bias], shape.into(), scalars)
    }

    fn ae_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        padding_out: usize,
    ) -> FloatTensor<Self> {
        let (_, shape) = crate::ops::cpu::conv_transpose2d_geometry(
            &x.shape(),
            &weight.shape(),
            stride,
            padding,
            padding_out,
        );
        let scalars = uints(&[stride, padding, padding_out]);
        ship_one(
            Op::ConvTranspose2d,
            vec![x, weight, bias],
            shape.into(),
            scalars,
        )
    }

    fn ae_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let shape = Shape::from([x.shape()[0], weight.shape()[1]]);
        ship_one(Op::Linear, vec![x, weight, bias], shape, vec![])
    }

    fn ae_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = Shape::from([lhs.shape()[0], rhs.shape()[1]]);
        ship_one(Op::Matmul, vec![lhs, rhs], shape, vec![])
    }
}

impl KernelHost for Remote {
    fn from_output_gradient(
        function: FromOutput,
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let scalars = vec![ScalarIr::UInt(function_code(function))];
        ship_elementwise(Op::FromOutputGradient, vec![output, grad], scalars)
    }

    fn bce_logits_gradient(
        logits: FloatTensor<Self>,
        target: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        ship_elementwise(Op::BceLogitsGradient, vec![logits, target, grad], vec![])
    }

    fn bce_target_gradient(
        logits: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        ship_elementwise(Op::BceTargetGradient, vec![logits, grad], vec![])
    }

    fn squared_difference_gradient(
        from: FloatTensor<Self>,
        to: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        ship_elementwise(Op::SquaredDifferenceGradient, vec![from, to, grad], vec![])
    }

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
    ) {
        let (x_shape, weight_shape) = (x.shape(), weight.shape());
        let bias_shape = layer.bias_shape(&weight_shape);
        let mut shapes = vec![weight_shape, bias_shape];
        if input_gradient {
            shapes.insert(0, x_shape);
        }
        let mut scalars: Vec<ScalarIr> = layer_codes(layer).map(ScalarIr::UInt).into();
        scalars.push(ScalarIr::Bool(input_gradient));
        let mut outputs = ship(Op::LayerGradients, vec![x, weight, grad], shapes, scalars);
        let dbias = outputs.pop();
        let dweight = outputs.pop();
        match (outputs.pop(), dweight, dbias) {
            (dx, Some(dweight), Some(dbias)) => (dx, dweight, dbias),
            // `ship` returns one tensor per shape asked for.
            _ => unreachable!("the remote backend returns the outputs it was given"),
        }
    }
}

/// Adam on the server of the four tensors' remote device, its CPU kernel
/// ([`super::cpu::adam_update`]) or its GPU kernel: one operation for the parameter instead of
/// Burn's thirteen.
pub(crate) fn adam_update(
    param: FloatTensor<Remote>,
    grad: FloatTensor<Remote>,
    moment_1: FloatTensor<Remote>,
    moment_2: FloatTensor<Remote>,
    step: crate::ops::AdamStep,
) -> (
    FloatTensor<Remote>,
    FloatTensor<Remote>,
    FloatTensor<Remote>,
) {
    let shape = param.shape();
    let scalars: Vec<ScalarIr> = [
        step.beta_1,
        step.beta_2,
        step.learning_rate,
        step.moment_1_scale,
        step.epsilon,
    ]
    .map(|v| ScalarIr::Float(f64::from(v)))
    .into();
    let inputs = vec![param, grad, moment_1, moment_2];
    let shapes = vec![shape.clone(), shape.clone(), shape];
    let mut outputs = ship(Op::Adam, inputs, shapes, scalars).into_iter();
    // `ship` returns one tensor per shape asked for.
    match (outputs.next(), outputs.next(), outputs.next()) {
        (Some(param), Some(moment_1), Some(moment_2)) => (param, moment_1, moment_2),
        _ => unreachable!("the remote backend returns the outputs it was given"),
    }
}
