//! Adam's update of one parameter as one GPU kernel launch, where Burn's `Adam` issues about
//! thirteen element-wise operations (each a launch) per parameter and step.

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

use crate::ops::AdamStep;

/// One unit per value, with the operations in the order of Burn's `Adam` (and of the CPU
/// kernel), so that the roundings agree.
#[cube(launch_unchecked)]
fn adam_kernel(
    param: &[f32],
    grad: &[f32],
    moment_1: &[f32],
    moment_2: &[f32],
    param_out: &mut [f32],
    moment_1_out: &mut [f32],
    moment_2_out: &mut [f32],
    beta_1: f32,
    beta_2: f32,
    learning_rate: f32,
    moment_1_scale: f32,
    epsilon: f32,
) {
    let i = ABSOLUTE_POS;
    if i < param.len() {
        let g = grad[i];
        let first = moment_1[i] * beta_1 + g * (1.0 - beta_1);
        let second = moment_2[i] * beta_2 + (g * g) * (1.0 - beta_2);
        moment_1_out[i] = first;
        moment_2_out[i] = second;
        let update = (first * moment_1_scale) / (second.sqrt() + epsilon);
        param_out[i] = param[i] - update * learning_rate;
    }
}

/// One Adam update of `param` (`f32`, any shape, all four of one shape and device):
/// `(param, moment_1, moment_2)` after the step, from a single kernel launch.
///
/// The three results go to fresh buffers, laid out contiguously whatever the runtime's
/// allocator prefers (CUDA's pads rows): burn-train's learner still holds the parameter, and the
/// old buffers return to the memory pool when the caller drops them, so an in-place update would
/// save no memory and would need a copy whenever a buffer is still referenced.
pub fn adam_update(
    param: CubeTensor,
    grad: CubeTensor,
    moment_1: CubeTensor,
    moment_2: CubeTensor,
    step: AdamStep,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let [param, grad, moment_1, moment_2] = [param, grad, moment_1, moment_2].map(into_contiguous);
    let shape = param.meta.shape().clone();
    let num_elems = shape.num_elements();
    let fresh = || {
        empty_device_contiguous_dtype(
            param.client.clone(),
            param.device.clone(),
            shape.clone(),
            param.dtype,
        )
    };
    let outputs = (fresh(), fresh(), fresh());
    if num_elems == 0 {
        return outputs;
    }
    let client = param.client.clone();
    let (cube_count, cube_dim) = super::elementwise_grid(&client, num_elems);
    // SAFETY: the seven buffers are contiguous f32 buffers of `num_elems` values each (made so
    // above; the caller checks the dtype and shapes), the kernel reads and writes index
    // `ABSOLUTE_POS` only below `param.len()`, and the three it writes are fresh.
    unsafe {
        adam_kernel::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            param.into_buffer_arg(),
            grad.into_buffer_arg(),
            moment_1.into_buffer_arg(),
            moment_2.into_buffer_arg(),
            outputs.0.clone().into_buffer_arg(),
            outputs.1.clone().into_buffer_arg(),
            outputs.2.clone().into_buffer_arg(),
            step.beta_1,
            step.beta_2,
            step.learning_rate,
            step.moment_1_scale,
            step.epsilon,
        );
    }
    outputs
}

/// [`adam_kernel`] writing the parameter and the moments back where they are, with the step's
/// coefficients read from a buffer (`[learning rate, moment_1_scale, epsilon]`), so that a
/// captured graph replays a new step each time its coefficients are rewritten.
#[cube(launch_unchecked)]
fn adam_in_place_kernel(
    param: &mut [f32],
    grad: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    coefficients: &[f32],
    beta_1: f32,
    beta_2: f32,
    num_elems: usize,
) {
    let i = ABSOLUTE_POS;
    if i < num_elems {
        let learning_rate = coefficients[0];
        let moment_1_scale = coefficients[1];
        let epsilon = coefficients[2];
        let g = grad[i];
        let first = moment_1[i] * beta_1 + g * (1.0 - beta_1);
        let second = moment_2[i] * beta_2 + (g * g) * (1.0 - beta_2);
        moment_1[i] = first;
        moment_2[i] = second;
        let update = (first * moment_1_scale) / (second.sqrt() + epsilon);
        param[i] -= update * learning_rate;
    }
}

/// Whether `tensor` is an `f32` buffer this module may write element `i` of directly, for `i`
/// below its number of values: contiguous, starting where its handle starts (not a view
/// further into a larger buffer), with at least that many values between its offsets (the
/// allocator rounds sizes up: 3 values get 32 bytes on wgpu, the rest an end offset).
pub(super) fn writable(tensor: &CubeTensor) -> bool {
    let handle = &tensor.handle;
    let start = handle.offset_start.unwrap_or(0);
    let end = handle.offset_end.unwrap_or(0);
    let usable = handle.size().saturating_sub(start).saturating_sub(end);
    tensor.dtype == burn::tensor::DType::F32
        && tensor.is_contiguous()
        && start == 0
        && usable as usize >= tensor.meta.shape().num_elements() * 4
}

/// One Adam step of `param` from `grad`, written into the buffers of `param`, `moment_1` and
/// `moment_2` (every handle on them sees the new values), with the coefficients read from the
/// three values of `coefficients` on the device (see `adam_in_place_kernel`). `Err` naming
/// what does not fit unless the four have one number of values and `param`, the moments and
/// the coefficients are contiguous `f32` buffers of their own size.
pub(crate) fn adam_update_in_place(
    param: CubeTensor,
    grad: CubeTensor,
    moment_1: CubeTensor,
    moment_2: CubeTensor,
    coefficients: CubeTensor,
    beta_1: f32,
    beta_2: f32,
) -> Result<(), String> {
    let num_elems = param.meta.shape().num_elements();
    for (name, tensor) in [
        ("the parameter", &param),
        ("the first moment", &moment_1),
        ("the second moment", &moment_2),
        ("the coefficients", &coefficients),
    ] {
        if !writable(tensor) {
            return Err(format!(
                "{name} is not a contiguous f32 buffer of its own size ({:?}, shape {:?}, \
                 strides {:?}, buffer of {} bytes)",
                tensor.dtype,
                tensor.meta.shape(),
                tensor.meta.strides(),
                tensor.handle.size()
            ));
        }
    }
    if grad.dtype != burn::tensor::DType::F32
        || [&grad, &moment_1, &moment_2, &coefficients]
            .iter()
            .any(|t| t.device != param.device)
    {
        return Err(format!(
            "the gradient ({:?}) and the moments must be f32 on the parameter's device",
            grad.dtype
        ));
    }
    let sizes = [&grad, &moment_1, &moment_2].map(|t| t.meta.shape().num_elements());
    if sizes.iter().any(|&n| n != num_elems) || coefficients.meta.shape().num_elements() != 3 {
        return Err(format!(
            "sizes do not fit: parameter {num_elems}, gradient and moments {sizes:?}, \
             coefficients {} (3 expected)",
            coefficients.meta.shape().num_elements()
        ));
    }
    if num_elems == 0 {
        return Ok(());
    }
    let grad = into_contiguous(grad);
    let client = param.client.clone();
    let (cube_count, cube_dim) = super::elementwise_grid(&client, num_elems);
    // SAFETY: the five buffers are contiguous f32 buffers (checked above; the gradient made so)
    // of at least `num_elems` values, the coefficients of 3; each unit reads and writes its own
    // index `ABSOLUTE_POS` only below `num_elems`, and reads coefficients 0 to 2.
    unsafe {
        adam_in_place_kernel::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            param.into_buffer_arg(),
            grad.into_buffer_arg(),
            moment_1.into_buffer_arg(),
            moment_2.into_buffer_arg(),
            coefficients.into_buffer_arg(),
            beta_1,
            beta_2,
            num_elems,
        );
    }
    Ok(())
}
