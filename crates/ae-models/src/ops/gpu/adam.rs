//! Adam's update of one parameter as one GPU kernel launch, where Burn's `Adam` issues about
//! thirteen element-wise operations (each a launch) per parameter and step.

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;

use crate::ops::AdamStep;

/// One unit per value: the moments in place, the parameter into `param_out`, with the
/// operations in the order of Burn's `Adam` (and of the CPU kernel), so that the roundings agree.
#[cube(launch_unchecked)]
fn adam_kernel(
    param: &[f32],
    grad: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    param_out: &mut [f32],
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
        moment_1[i] = first;
        moment_2[i] = second;
        let update = (first * moment_1_scale) / (second.sqrt() + epsilon);
        param_out[i] = param[i] - update * learning_rate;
    }
}

/// A contiguous tensor that nothing else holds, so that a kernel may write it in place: `tensor`
/// itself when it already is one, else a copy (one more launch; the optimizer's moments are
/// normally the step's own).
fn writable(tensor: CubeTensor) -> CubeTensor {
    let tensor = into_contiguous(tensor);
    if tensor.can_mut() && tensor.is_contiguous_buffer() {
        tensor
    } else {
        let copy = tensor.copy();
        if copy.can_mut() && copy.is_contiguous_buffer() {
            copy
        } else {
            // `copy` writes into its input when it may; a fresh buffer is then the only way.
            into_contiguous(copy.copy())
        }
    }
}

/// One Adam update of `param` (`f32`, any shape, all four of one shape and device):
/// `(param, moment_1, moment_2)` after the step, from a single kernel launch.
///
/// The parameter is written to a new buffer (burn-train's learner still holds the old one); the
/// moments are updated in place.
pub fn adam_update(
    param: CubeTensor,
    grad: CubeTensor,
    moment_1: CubeTensor,
    moment_2: CubeTensor,
    step: AdamStep,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let param = into_contiguous(param);
    let grad = into_contiguous(grad);
    let moment_1 = writable(moment_1);
    let moment_2 = writable(moment_2);
    let shape = param.meta.shape().clone();
    let num_elems = shape.num_elements();
    let param_out = empty_device_dtype(
        param.client.clone(),
        param.device.clone(),
        shape,
        param.dtype,
    );
    if num_elems == 0 {
        return (param_out, moment_1, moment_2);
    }
    let client = param.client.clone();
    let cube_dim = CubeDim::new(&client, num_elems);
    let cube_count = cubecl::calculate_cube_count_elemwise(&client, num_elems, cube_dim);
    // SAFETY: the five buffers are contiguous f32 buffers of `num_elems` values each (checked
    // above and by the caller), the kernel reads and writes index `ABSOLUTE_POS` only below
    // `param.len()`, and the three it writes are distinct from each other and from its inputs
    // (`writable` and the fresh `param_out`).
    unsafe {
        adam_kernel::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            param.into_buffer_arg(),
            grad.into_buffer_arg(),
            moment_1.clone().into_buffer_arg(),
            moment_2.clone().into_buffer_arg(),
            param_out.clone().into_buffer_arg(),
            step.beta_1,
            step.beta_2,
            step.learning_rate,
            step.moment_1_scale,
            step.epsilon,
        );
    }
    (param_out, moment_1, moment_2)
}
