//! The element-wise kernels, one unit per value, and their launch: each forward and each backward
//! pass is one launch where Burn's operations take two to four.
//!
//! Every kernel keeps NaN where Burn's operations keep it (comparisons are written so that a NaN
//! fails them the way it fails Burn's masks).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

/// `max(x, 0)`, NaN kept (Burn's `relu` fills where `x <= 0`).
#[cube(launch_unchecked)]
fn relu_kernel(x: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let v = x[i];
        out[i] = select(v <= 0.0, 0.0, v);
    }
}

/// The gradient of `relu` from its output: `grad` where the output is not `<= 0`.
#[cube(launch_unchecked)]
fn relu_backward_kernel(output: &[f32], grad: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        out[i] = select(output[i] <= 0.0, 0.0, grad[i]);
    }
}

/// `1 / (1 + e^-x)`, computed as Burn's sigmoid computes it (`e^-ln(1 + e^-x)`, four launches
/// there): near 1 the gradient's `1 - s` magnifies a last-bit difference of `s` by thousands.
#[cube(launch_unchecked)]
fn sigmoid_kernel(x: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let e = (-x[i]).exp();
        out[i] = (-(e + 1.0).ln()).exp();
    }
}

/// The gradient of the sigmoid from its output `s`: `grad s (1 - s)`.
#[cube(launch_unchecked)]
fn sigmoid_backward_kernel(output: &[f32], grad: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let s = output[i];
        out[i] = grad[i] * (s * (1.0 - s));
    }
}

/// `(a - b)^2`.
#[cube(launch_unchecked)]
fn squared_difference_kernel(a: &[f32], b: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let d = a[i] - b[i];
        out[i] = d * d;
    }
}

/// The gradient of `(a - b)^2` in `a`: `2 grad (a - b)` (in `b`: called with the two swapped).
#[cube(launch_unchecked)]
fn squared_difference_backward_kernel(a: &[f32], b: &[f32], grad: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        out[i] = grad[i] * ((a[i] - b[i]) * 2.0);
    }
}

/// Binary cross-entropy of target `t` under logit `x`, `max(x, 0) - x t + ln(1 + e^-|x|)` (the
/// CPU kernel's formula): finite for every finite logit, NaN kept (every term carries it).
#[cube(launch_unchecked)]
fn bce_with_logits_kernel(x: &[f32], t: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let v = x[i];
        let positive = select(v > 0.0, v, 0.0);
        out[i] = positive - v * t[i] + ((-v.abs()).exp() + 1.0).ln();
    }
}

/// The gradient of [`bce_with_logits_kernel`] in the logit: `grad (σ(x) - t)`, the sigmoid as
/// Burn computes it.
#[cube(launch_unchecked)]
fn bce_with_logits_backward_kernel(x: &[f32], t: &[f32], grad: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let s = (-((-x[i]).exp() + 1.0).ln()).exp();
        out[i] = grad[i] * (s - t[i]);
    }
}

/// The gradient of [`bce_with_logits_kernel`] in the target: `-grad x`.
#[cube(launch_unchecked)]
fn bce_with_logits_target_backward_kernel(x: &[f32], grad: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        out[i] = -(grad[i] * x[i]);
    }
}

/// The per-value KL divergence of `N(mean, e^logvar)` from `N(0, 1)`, doubled:
/// `mean^2 + e^logvar - logvar - 1` (the VAE sums and halves it).
#[cube(launch_unchecked)]
fn kl_terms_kernel(mean: &[f32], logvar: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let m = mean[i];
        let l = logvar[i];
        out[i] = m * m + l.exp() - l - 1.0;
    }
}

/// The gradient of [`kl_terms_kernel`] in the mean: `2 grad mean`.
#[cube(launch_unchecked)]
fn kl_terms_mean_backward_kernel(mean: &[f32], grad: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        out[i] = grad[i] * (mean[i] * 2.0);
    }
}

/// The gradient of [`kl_terms_kernel`] in the log-variance: `grad e^logvar - grad`, the two
/// terms Burn's autodiff sums (`grad (e^logvar - 1)` would round differently near 0).
#[cube(launch_unchecked)]
fn kl_terms_logvar_backward_kernel(logvar: &[f32], grad: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < out.len() {
        let g = grad[i];
        out[i] = g * logvar[i].exp() - g;
    }
}

/// Adds a step's `sum` and `weight` (one value each) to the running `sums` in place, and with
/// `count_non_finite` one to `sums[2]` when the sum is NaN or infinite: one unit.
#[cube(launch_unchecked)]
fn accumulate_kernel(sums: &mut [f32], sum: &[f32], weight: &[f32], count_non_finite: u32) {
    if ABSOLUTE_POS == 0 {
        let s = sum[0];
        sums[0] += s;
        sums[1] += weight[0];
        if count_non_finite == 1 {
            sums[2] += select(s.is_nan() || s.is_inf(), 1.0, 0.0);
        }
    }
}

/// A kernel's launch: the client, the grid and the buffers (inputs, then the output).
type Launch<const N: usize> = fn(&ComputeClient, CubeCount, CubeDim, [BufferArg; N], BufferArg);

/// The compute client of a cube tensor.
type ComputeClient = cubecl::client::Client;

/// Runs an element-wise kernel of `N` inputs of one shape into a new tensor of that shape.
fn elementwise<const N: usize>(inputs: [CubeTensor; N], launch: Launch<N>) -> CubeTensor {
    let inputs = inputs.map(into_contiguous);
    let first = &inputs[0];
    let shape = first.meta.shape().clone();
    let num_elems = shape.num_elements();
    let client = first.client.clone();
    // Contiguous whatever the runtime's allocator prefers (CUDA's pads rows): the kernels index
    // every buffer linearly.
    let output =
        empty_device_contiguous_dtype(client.clone(), first.device.clone(), shape, first.dtype);
    if num_elems == 0 {
        return output;
    }
    let (cube_count, cube_dim) = super::elementwise_grid(&client, num_elems);
    let args = inputs.map(CubeTensor::into_buffer_arg);
    launch(
        &client,
        cube_count,
        cube_dim,
        args,
        output.clone().into_buffer_arg(),
    );
    output
}

// SAFETY (every launch below): `elementwise` passes contiguous f32 buffers of one shape (the
// callers check the dtype and the shapes) and a fresh output of that shape; each kernel reads
// and writes index `ABSOLUTE_POS` only below the output's length.

/// `max(x, 0)`.
pub fn relu(x: CubeTensor) -> CubeTensor {
    elementwise([x], |c, n, d, [x], out| unsafe {
        relu_kernel::launch_unchecked(c, n, d, x, out)
    })
}

/// `grad` where `output` (a relu's) is positive, else 0.
pub fn relu_backward(output: CubeTensor, grad: CubeTensor) -> CubeTensor {
    elementwise([output, grad], |c, n, d, [o, g], out| unsafe {
        relu_backward_kernel::launch_unchecked(c, n, d, o, g, out)
    })
}

/// `1 / (1 + e^-x)`.
pub fn sigmoid(x: CubeTensor) -> CubeTensor {
    elementwise([x], |c, n, d, [x], out| unsafe {
        sigmoid_kernel::launch_unchecked(c, n, d, x, out)
    })
}

/// `grad s (1 - s)` from the sigmoid's output `s`.
pub fn sigmoid_backward(output: CubeTensor, grad: CubeTensor) -> CubeTensor {
    elementwise([output, grad], |c, n, d, [o, g], out| unsafe {
        sigmoid_backward_kernel::launch_unchecked(c, n, d, o, g, out)
    })
}

/// `(a - b)^2`.
pub fn squared_difference(a: CubeTensor, b: CubeTensor) -> CubeTensor {
    elementwise([a, b], |c, n, d, [a, b], out| unsafe {
        squared_difference_kernel::launch_unchecked(c, n, d, a, b, out)
    })
}

/// `2 grad (a - b)`: the gradient of `(a - b)^2` in `a`.
pub fn squared_difference_backward(a: CubeTensor, b: CubeTensor, grad: CubeTensor) -> CubeTensor {
    elementwise([a, b, grad], |c, n, d, [a, b, g], out| unsafe {
        squared_difference_backward_kernel::launch_unchecked(c, n, d, a, b, g, out)
    })
}

/// `max(x, 0) - x t + ln(1 + e^-|x|)`: binary cross-entropy with logits.
pub fn bce_with_logits(x: CubeTensor, t: CubeTensor) -> CubeTensor {
    elementwise([x, t], |c, n, d, [x, t], out| unsafe {
        bce_with_logits_kernel::launch_unchecked(c, n, d, x, t, out)
    })
}

/// `grad (σ(x) - t)`: the gradient of [`bce_with_logits`] in `x`.
pub fn bce_with_logits_backward(x: CubeTensor, t: CubeTensor, grad: CubeTensor) -> CubeTensor {
    elementwise([x, t, grad], |c, n, d, [x, t, g], out| unsafe {
        bce_with_logits_backward_kernel::launch_unchecked(c, n, d, x, t, g, out)
    })
}

/// `-grad x`: the gradient of [`bce_with_logits`] in `t`.
pub fn bce_with_logits_target_backward(x: CubeTensor, grad: CubeTensor) -> CubeTensor {
    elementwise([x, grad], |c, n, d, [x, g], out| unsafe {
        bce_with_logits_target_backward_kernel::launch_unchecked(c, n, d, x, g, out)
    })
}

/// `mean^2 + e^logvar - logvar - 1`: twice the per-value KL divergence from `N(0, 1)`.
pub fn kl_terms(mean: CubeTensor, logvar: CubeTensor) -> CubeTensor {
    elementwise([mean, logvar], |c, n, d, [m, l], out| unsafe {
        kl_terms_kernel::launch_unchecked(c, n, d, m, l, out)
    })
}

/// `2 grad mean`: the gradient of [`kl_terms`] in the mean.
pub fn kl_terms_mean_backward(mean: CubeTensor, grad: CubeTensor) -> CubeTensor {
    elementwise([mean, grad], |c, n, d, [m, g], out| unsafe {
        kl_terms_mean_backward_kernel::launch_unchecked(c, n, d, m, g, out)
    })
}

/// `grad e^logvar - grad`: the gradient of [`kl_terms`] in the log-variance.
pub fn kl_terms_logvar_backward(logvar: CubeTensor, grad: CubeTensor) -> CubeTensor {
    elementwise([logvar, grad], |c, n, d, [l, g], out| unsafe {
        kl_terms_logvar_backward_kernel::launch_unchecked(c, n, d, l, g, out)
    })
}

/// Adds `sum` and `weight` (one value each) into `sums` (`[2]`, or `[3]` with a count of
/// non-finite sums) in place: one launch where a concatenation and an addition take four or
/// more. `Err` naming what does not fit unless `sums` is a contiguous `f32` buffer of its own
/// (see `adam::writable`) and all three are `f32` on one device.
pub(crate) fn accumulate(
    sums: CubeTensor,
    sum: CubeTensor,
    weight: CubeTensor,
) -> Result<(), String> {
    let width = sums.meta.shape().num_elements();
    let fits = super::adam::writable(&sums)
        && (width == 2 || width == 3)
        && [&sum, &weight].iter().all(|t| {
            t.dtype == burn::tensor::DType::F32
                && t.device == sums.device
                && t.meta.shape().num_elements() == 1
        });
    if !fits {
        return Err(format!(
            "running sums of {width} values ({:?}) and a step of {} and {} values do not fit",
            sums.dtype,
            sum.meta.shape().num_elements(),
            weight.meta.shape().num_elements()
        ));
    }
    let (sum, weight) = (into_contiguous(sum), into_contiguous(weight));
    let client = sums.client.clone();
    // SAFETY: `sums` is a contiguous f32 buffer of 2 or 3 values (checked above), `sum` and
    // `weight` of one value each; the one unit reads index 0 of those and writes indices 0, 1
    // and, when counting (3 values), 2.
    unsafe {
        accumulate_kernel::launch_unchecked(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(1),
            sums.into_buffer_arg(),
            sum.into_buffer_arg(),
            weight.into_buffer_arg(),
            u32::from(width == 3),
        );
    }
    Ok(())
}
