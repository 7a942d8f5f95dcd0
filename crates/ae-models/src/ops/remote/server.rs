//! The server side of the remote kernels (feature `remote-server`): [`with_kernels`] registers
//! on a `burn::server::RemoteServer` the handlers of every CPU kernel operation (`flex` devices)
//! or of those the GPU kernels cover (GPU devices without Burn's `fusion`), or only the answer to
//! [`super::probe`] that it has none.
//!
//! A handler checks what a client sent (the number of inputs, outputs and scalars, the ranks and
//! sides the kernel reads) before running a kernel, since the kernels trust their slices' lengths.
//! Burn's server API lets a handler refuse only by panicking: Burn's session worker catches it,
//! logs it and ends that client's session, as it does for any malformed operation; the server and
//! its other sessions go on.

use burn::backend::flex::FlexTensor;
use burn::backend::{DispatchDevice, Flex};
use burn::server::RemoteServer;
use burn::tensor::{Device, TensorData};
use burn_ir::BackendIr;
use burn_ir::{CustomOpIr, HandleContainer, ScalarIr};

use super::{Op, ServerKernels, remote_kernels_off};
use crate::ops::AdamStep;
use crate::ops::cpu::CpuKernels;
use crate::ops::cpu::gradients::{self, FromOutput, Layer};

/// `server` (hosting `devices`) with this workspace's kernels, unless
/// [`super::REMOTE_KERNELS_ENV`] is `off`: every CPU kernel on `flex` devices, the GPU kernels
/// (Adam, the sigmoid, the squared error, BCE with logits, with their gradients) on GPU devices
/// without Burn's `fusion`; elsewhere, or when off, answering [`super::probe`] that it has none,
/// so that clients send Burn's operations there. Returns what it registered.
pub fn with_kernels(server: RemoteServer, devices: &[Device]) -> (RemoteServer, ServerKernels) {
    let first = devices.first().map(|d| d.clone().inner());
    let dispatch = first.as_ref().map(Device::as_dispatch);
    if matches!(dispatch, Some(DispatchDevice::Flex(_))) && !remote_kernels_off() {
        let server = Op::ALL.into_iter().fold(server, |server, op| {
            server.with_custom_op::<Flex, _>(op.id(), move |handles, ir, _| run(op, handles, ir))
        });
        return (server, ServerKernels::Cpu);
    }
    let server = match dispatch {
        Some(DispatchDevice::Flex(_)) => without_kernels::<Flex>(server),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)] // ndarray is served as Burn 0.22.1 still serves it.
        Some(DispatchDevice::NdArray(_)) => without_kernels::<burn::backend::NdArray>(server),
        // This workspace's GPU kernels exist without Burn's `fusion` (which fuses Adam itself).
        #[cfg(gpu_kernels)]
        Some(DispatchDevice::Cube(_)) if !remote_kernels_off() => {
            return (with_gpu_kernels(server), ServerKernels::Gpu);
        }
        #[cfg(any(
            feature = "wgpu",
            feature = "vulkan",
            feature = "metal",
            feature = "cuda"
        ))]
        Some(DispatchDevice::Cube(_)) => without_kernels::<burn::backend::Cube>(server),
        _ => server,
    };
    (server, ServerKernels::None)
}

/// `server` answering [`Op::Probe`] with 0: no kernels here.
fn without_kernels<B: BackendIr>(server: RemoteServer) -> RemoteServer {
    answering::<B>(server, ServerKernels::None)
}

/// `server` answering [`Op::Probe`] with `kernels`.
fn answering<B: BackendIr>(server: RemoteServer, kernels: ServerKernels) -> RemoteServer {
    server.with_custom_op::<B, _>(Op::Probe.id(), move |handles, ir, device| {
        let answer = B::float_from_data(TensorData::new(vec![kernels.answer()], [1]), device);
        if let Some(output) = ir.outputs.first() {
            handles.register_float_tensor::<B>(&output.id, answer);
        }
    })
}

/// How many operations the handlers of this process ran.
static OPERATIONS_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many of the kernels' operations the servers of this process have run (the probe's
/// answers included): for logs, and for tests that the kernels, not Burn's operations, ran.
pub fn operations_run() -> u64 {
    OPERATIONS_RUN.load(std::sync::atomic::Ordering::Relaxed)
}

/// The operations a GPU server runs as this workspace's CubeCL kernels ([`crate::ops::gpu`]):
/// those of one shape in and out that the GPU kernels cover.
#[cfg(gpu_kernels)]
const GPU_OPS: [Op; 8] = [
    Op::Adam,
    Op::Sigmoid,
    Op::SquaredDifference,
    Op::BceWithLogits,
    Op::FromOutputGradient,
    Op::SquaredDifferenceGradient,
    Op::BceLogitsGradient,
    Op::BceTargetGradient,
];

/// `server` of GPU devices with [`GPU_OPS`] as this workspace's GPU kernels, one launch each
/// (Adam: one per parameter instead of Burn's thirteen).
#[cfg(gpu_kernels)]
fn with_gpu_kernels(server: RemoteServer) -> RemoteServer {
    use crate::ops::gpu::CubeBackend;
    let server = answering::<CubeBackend>(server, ServerKernels::Gpu);
    GPU_OPS.into_iter().fold(server, |server, op| {
        server.with_custom_op::<CubeBackend, _>(op.id(), move |handles, ir, _| {
            handle::<CubeBackend>(op, handles, ir, |inputs| compute_on_gpu(op, inputs, ir))
        })
    })
}

/// The outputs of one of [`GPU_OPS`] on `inputs` as `ir` describes it, or what is wrong with
/// them: every input and output of these operations has one shape.
#[cfg(gpu_kernels)]
fn compute_on_gpu(
    op: Op,
    inputs: Vec<burn_cubecl::tensor::CubeTensor>,
    ir: &CustomOpIr,
) -> Result<Vec<burn_cubecl::tensor::CubeTensor>, String> {
    use crate::ops::gpu::kernels;
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.meta.shape().to_vec()).collect();
    let shape = shapes.first().ok_or("no inputs")?;
    if shapes.iter().any(|other| other != shape) {
        return Err(format!("inputs of {shapes:?}: one shape expected"));
    }
    values_of(shape)?;
    if inputs.iter().any(|t| t.dtype != burn::tensor::DType::F32) {
        return Err("the kernels take f32 tensors".into());
    }
    if ir.outputs.iter().any(|o| o.shape.to_vec() != *shape) {
        return Err(format!("outputs of the inputs' shape {shape:?} expected"));
    }
    let outputs = match (op, inputs.len()) {
        (Op::Adam, 4) => {
            let step = adam_step(&ir.scalars)?;
            let [param, grad, moment_1, moment_2] = exactly(inputs)?;
            let (param, moment_1, moment_2) =
                crate::ops::gpu::adam_update(param, grad, moment_1, moment_2, step);
            vec![param, moment_1, moment_2]
        }
        (Op::Sigmoid, 1) => {
            let [x] = exactly(inputs)?;
            vec![kernels::sigmoid(x)]
        }
        (Op::SquaredDifference, 2) => {
            let [a, b] = exactly(inputs)?;
            vec![kernels::squared_difference(a, b)]
        }
        (Op::BceWithLogits, 2) => {
            let [x, t] = exactly(inputs)?;
            vec![kernels::bce_with_logits(x, t)]
        }
        (Op::FromOutputGradient, 2) => {
            // The GPU kernels have the sigmoid's only; a client sends no other here.
            match ir.scalars.first() {
                Some(ScalarIr::UInt(code))
                    if super::function_of(*code) == Some(FromOutput::Sigmoid) => {}
                other => {
                    return Err(format!(
                        "no GPU kernel for the gradient of function {other:?}"
                    ));
                }
            }
            let [output, grad] = exactly(inputs)?;
            vec![kernels::sigmoid_backward(output, grad)]
        }
        (Op::SquaredDifferenceGradient, 3) => {
            let [from, to, grad] = exactly(inputs)?;
            vec![kernels::squared_difference_backward(from, to, grad)]
        }
        (Op::BceLogitsGradient, 3) => {
            let [x, t, grad] = exactly(inputs)?;
            vec![kernels::bce_with_logits_backward(x, t, grad)]
        }
        (Op::BceTargetGradient, 2) => {
            let [x, grad] = exactly(inputs)?;
            vec![kernels::bce_with_logits_target_backward(x, grad)]
        }
        (op, count) => return Err(format!("{count} inputs do not fit {op:?}")),
    };
    Ok(outputs)
}

/// The [`AdamStep`] of an [`Op::Adam`]'s scalars.
fn adam_step(scalars: &[ScalarIr]) -> Result<AdamStep, String> {
    let float = |i: usize| match scalars.get(i) {
        Some(ScalarIr::Float(v)) => Ok(*v as f32),
        other => Err(format!("scalar {i}: expected a float, got {other:?}")),
    };
    Ok(AdamStep {
        beta_1: float(0)?,
        beta_2: float(1)?,
        learning_rate: float(2)?,
        moment_1_scale: float(3)?,
        epsilon: float(4)?,
    })
}

/// Runs `op` as `ir` describes it on the session's flex tensors.
fn run(op: Op, handles: &mut HandleContainer<<Flex as BackendIr>::Handle>, ir: &CustomOpIr) {
    handle::<Flex>(op, handles, ir, |inputs| {
        // On one of rayon's threads, as a local training loop runs (see `on_kernel_threads`).
        crate::ops::on_kernel_threads(&Device::flex(), || compute(op, inputs, &ir.scalars))
    });
}

/// Takes the inputs of `op` as `ir` names them from the session's `handles`, computes its
/// outputs with `compute`, and registers them under the ids `ir` gives, refusing an operation
/// whose outputs are not those `ir` asked for.
fn handle<B: BackendIr>(
    op: Op,
    handles: &mut HandleContainer<B::Handle>,
    ir: &CustomOpIr,
    compute: impl FnOnce(Vec<B::FloatTensorPrimitive>) -> Result<Vec<B::FloatTensorPrimitive>, String>,
) {
    use burn::backend::TensorMetadata;
    let inputs = ir
        .inputs
        .iter()
        .map(|input| handles.get_float_tensor::<B>(input))
        .collect();
    let outputs = compute(inputs).unwrap_or_else(|message| refuse(op, &message));
    if outputs.len() != ir.outputs.len() {
        let count = (ir.outputs.len(), outputs.len());
        refuse(
            op,
            &format!("{} outputs asked for, {} computed", count.0, count.1),
        );
    }
    for (output, tensor) in ir.outputs.iter().zip(outputs) {
        if output.shape != tensor.shape() {
            refuse(op, &format!("output shape {:?} asked for", output.shape));
        }
        handles.register_float_tensor::<B>(&output.id, tensor);
    }
    OPERATIONS_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Ends the session of a client that sent a malformed `op` (see the module's documentation).
fn refuse(op: Op, message: &str) -> ! {
    panic!("refused {}: {message}", op.id())
}

/// The most values one tensor of the kernels' operations may hold on a server (8 GiB of `f32`):
/// larger shapes, and shapes whose sizes overflow, are refused before anything is allocated.
const MAX_VALUES: usize = 1 << 31;

/// The number of values of a tensor of `dims`, if it is at most [`MAX_VALUES`].
fn values_of(dims: &[usize]) -> Result<usize, String> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_VALUES)
        .ok_or_else(|| format!("a tensor of {dims:?} holds more than {MAX_VALUES} values"))
}

/// The outputs of `op` on `inputs` and `scalars`, or what is wrong with them.
fn compute(
    op: Op,
    inputs: Vec<FlexTensor>,
    scalars: &[ScalarIr],
) -> Result<Vec<FlexTensor>, String> {
    let dims = |t: &FlexTensor| t.layout().shape().to_vec();
    if inputs.iter().any(|t| t.dtype() != burn::tensor::DType::F32) {
        return Err("the kernels take f32 tensors".into());
    }
    for input in &inputs {
        values_of(&dims(input))?;
    }
    let same = |a: &FlexTensor, b: &FlexTensor| -> Result<(), String> {
        (dims(a) == dims(b))
            .then_some(())
            .ok_or_else(|| format!("shapes {:?} and {:?} differ", dims(a), dims(b)))
    };
    let uint = |i: usize| -> Result<usize, String> {
        match scalars.get(i) {
            Some(ScalarIr::UInt(v)) => usize::try_from(*v).map_err(|e| e.to_string()),
            other => Err(format!(
                "scalar {i}: expected an unsigned integer, got {other:?}"
            )),
        }
    };
    Ok(match (op, inputs) {
        (Op::Probe, inputs) if inputs.is_empty() => {
            vec![FlexTensor::from_data(TensorData::new(
                vec![ServerKernels::Cpu.answer()],
                [1],
            ))]
        }
        (Op::Sigmoid | Op::Tanh | Op::Exp, mut inputs) if inputs.len() == 1 => {
            let x = inputs.remove(0);
            vec![match op {
                Op::Sigmoid => Flex::ae_sigmoid(x),
                Op::Tanh => Flex::ae_tanh(x),
                _ => Flex::ae_exp(x),
            }]
        }
        (Op::BceWithLogits | Op::SquaredDifference, inputs) => {
            let [a, b] = exactly(inputs)?;
            same(&a, &b)?;
            vec![if op == Op::BceWithLogits {
                Flex::ae_bce_with_logits(a, b)
            } else {
                Flex::ae_squared_difference(a, b)
            }]
        }
        (Op::Linear, inputs) => {
            let [x, weight, bias] = exactly(inputs)?;
            let (x_dims, w_dims) = (dims(&x), dims(&weight));
            let fits = x_dims.len() == 2
                && w_dims.len() == 2
                && x_dims[1] == w_dims[0]
                && dims(&bias) == [w_dims[1]];
            if !fits {
                return Err(format!(
                    "x {x_dims:?}, weight {w_dims:?}, bias {:?}",
                    dims(&bias)
                ));
            }
            values_of(&[x_dims[0], w_dims[1]])?;
            vec![Flex::ae_linear(x, weight, bias)]
        }
        (Op::Matmul, inputs) => {
            let [lhs, rhs] = exactly(inputs)?;
            let (l, r) = (dims(&lhs), dims(&rhs));
            if l.len() != 2 || r.len() != 2 || l[1] != r[0] {
                return Err(format!("lhs {l:?}, rhs {r:?}"));
            }
            values_of(&[l[0], r[1]])?;
            vec![Flex::ae_matmul(lhs, rhs)]
        }
        (Op::Conv2d, inputs) => {
            let [x, weight, bias] = exactly(inputs)?;
            let (stride, padding) = (uint(0)?, uint(1)?);
            let layer = Layer::Conv2d { stride, padding };
            check_layer(layer, &dims(&x), &dims(&weight))?;
            check_bias(layer, &weight, &bias)?;
            vec![Flex::ae_conv2d(x, weight, bias, stride, padding)]
        }
        (Op::ConvTranspose2d, inputs) => {
            let [x, weight, bias] = exactly(inputs)?;
            let (stride, padding, padding_out) = (uint(0)?, uint(1)?, uint(2)?);
            let layer = Layer::ConvTranspose2d {
                stride,
                padding,
                padding_out,
            };
            check_layer(layer, &dims(&x), &dims(&weight))?;
            check_bias(layer, &weight, &bias)?;
            vec![Flex::ae_conv_transpose2d(
                x,
                weight,
                bias,
                stride,
                padding,
                padding_out,
            )]
        }
        (Op::FromOutputGradient, inputs) => {
            let [output, grad] = exactly(inputs)?;
            same(&output, &grad)?;
            let function = u64::try_from(uint(0)?)
                .ok()
                .and_then(super::function_of)
                .ok_or("unknown function")?;
            vec![gradients::from_output(function, output, grad)]
        }
        (Op::BceLogitsGradient, inputs) => {
            let [logits, target, grad] = exactly(inputs)?;
            same(&logits, &target)?;
            same(&logits, &grad)?;
            vec![gradients::bce_logits(logits, target, grad)]
        }
        (Op::BceTargetGradient, inputs) => {
            let [logits, grad] = exactly(inputs)?;
            same(&logits, &grad)?;
            vec![gradients::bce_target(logits, grad)]
        }
        (Op::SquaredDifferenceGradient, inputs) => {
            let [from, to, grad] = exactly(inputs)?;
            same(&from, &to)?;
            same(&from, &grad)?;
            vec![gradients::squared_difference(&from, &to, grad)]
        }
        (Op::LayerGradients, inputs) => {
            let [x, weight, grad] = exactly(inputs)?;
            let codes = [uint(0)?, uint(1)?, uint(2)?, uint(3)?].map(|v| v as u64);
            let layer = super::layer_of(codes).ok_or("unknown layer")?;
            let input_gradient = match scalars.get(4) {
                Some(ScalarIr::Bool(wanted)) => *wanted,
                other => return Err(format!("scalar 4: expected a bool, got {other:?}")),
            };
            let output = check_layer(layer, &dims(&x), &dims(&weight))?;
            if dims(&grad) != output {
                return Err(format!("grad {:?} for an output {output:?}", dims(&grad)));
            }
            let (dx, dweight, dbias) = gradients::layer(layer, &x, &weight, &grad, input_gradient);
            dx.into_iter().chain([dweight, dbias]).collect()
        }
        (Op::Adam, inputs) => {
            let [param, grad, moment_1, moment_2] = exactly(inputs)?;
            for other in [&grad, &moment_1, &moment_2] {
                same(&param, other)?;
            }
            let step = adam_step(scalars)?;
            let (param, moment_1, moment_2) =
                crate::ops::cpu::adam_update(param, grad, moment_1, moment_2, step);
            vec![param, moment_1, moment_2]
        }
        (op, inputs) => return Err(format!("{} inputs do not fit {op:?}", inputs.len())),
    })
}

/// The `N` inputs of an operation that takes `N`.
fn exactly<T, const N: usize>(inputs: Vec<T>) -> Result<[T; N], String> {
    let count = inputs.len();
    <[T; N]>::try_from(inputs).map_err(|_| format!("{count} inputs, {N} expected"))
}

/// The output shape of `layer` over an input of `x` and a weight of `weight`, or why the kernel
/// cannot take them (sizes computed without overflow, the output at most [`MAX_VALUES`]).
fn check_layer(layer: Layer, x: &[usize], weight: &[usize]) -> Result<Vec<usize>, String> {
    let wrong = || format!("{layer:?} of x {x:?} with weight {weight:?}");
    if x.len() != weight.len() || !matches!(x.len(), 2 | 4) {
        return Err(wrong());
    }
    let output = match layer {
        Layer::Dense if x.len() == 2 && x[1] == weight[0] => Some(vec![x[0], weight[1]]),
        Layer::Conv2d { stride, padding } if x.len() == 4 && x[1] == weight[1] => {
            let kernel = weight[2];
            let side = |input: usize| -> Option<usize> {
                let padded = input.checked_add(padding.checked_mul(2)?)?;
                Some(padded.checked_sub(kernel)? / stride + 1)
            };
            let fits = kernel > 0 && weight[3] == kernel && stride > 0;
            fits.then(|| Some(vec![x[0], weight[0], side(x[2])?, side(x[3])?]))
                .flatten()
        }
        Layer::ConvTranspose2d {
            stride,
            padding,
            padding_out,
        } if x.len() == 4 && x[1] == weight[0] => {
            let kernel = weight[2];
            let side = |input: usize| -> Option<usize> {
                input
                    .checked_sub(1)?
                    .checked_mul(stride)?
                    .checked_add(kernel)?
                    .checked_add(padding_out)?
                    .checked_sub(padding.checked_mul(2)?)
                    .filter(|&side| side > 0)
            };
            let fits = kernel > 0 && weight[3] == kernel && stride > 0 && padding_out < stride;
            fits.then(|| Some(vec![x[0], weight[1], side(x[2])?, side(x[3])?]))
                .flatten()
        }
        _ => None,
    }
    .ok_or_else(wrong)?;
    values_of(&output)?;
    Ok(output)
}

/// Whether `bias` is `layer`'s bias with `weight`.
fn check_bias(layer: Layer, weight: &FlexTensor, bias: &FlexTensor) -> Result<(), String> {
    let expected = layer.bias_shape(weight.layout().shape());
    if *bias.layout().shape() == expected {
        Ok(())
    } else {
        Err(format!(
            "bias {:?}, expected {expected:?}",
            bias.layout().shape()
        ))
    }
}
