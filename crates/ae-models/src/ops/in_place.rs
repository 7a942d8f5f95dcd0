//! Work on buffers that already exist, for captured graphs and device-side bookkeeping: a copy
//! into a buffer (a captured graph's input), a fresh contiguous copy, Adam's step and a running
//! sum written in place, and whether the device has TF32. Each is this workspace's GPU kernel
//! on `f32` CubeCL tensors and `Err` (or the identity) elsewhere, so the caller keeps its own
//! path for the CPU backends.

use burn::tensor::Tensor;

#[cfg(gpu_kernels)]
use super::{gpu, on_gpu_kernels};

/// Writes the values of `source` into the buffer `destination` already has, so that every
/// handle on that buffer (a captured graph's input among them) reads them: `Ok` for `f32` GPU
/// tensors of one shape, `destination` contiguous from the start of its buffer (as
/// [`fresh_copy`] makes them); `Err` with `source` everywhere else, the CPU backends included.
pub fn write_into<const D: usize>(
    destination: &Tensor<D>,
    source: Tensor<D>,
) -> Result<(), Box<Tensor<D>>> {
    #[cfg(gpu_kernels)]
    if on_gpu_kernels(destination)
        && on_gpu_kernels(&source)
        && !destination.device().is_autodiff()
        && !source.device().is_autodiff()
    {
        let (Ok(d), Ok(s)) = (
            destination.clone().try_into_primitive::<gpu::CubeBackend>(),
            source.clone().try_into_primitive::<gpu::CubeBackend>(),
        ) else {
            return Err(Box::new(source));
        };
        drop(source);
        return gpu::write_into(d, s)
            .map_err(|s| Box::new(Tensor::from_primitive::<gpu::CubeBackend>(*s)));
    }
    let _ = destination;
    Err(Box::new(source))
}

/// `tensor`'s values in a fresh contiguous buffer nothing else references (`f32` GPU tensors:
/// one copy launch), or `tensor` itself elsewhere.
pub fn fresh_copy<const D: usize>(tensor: Tensor<D>) -> Tensor<D> {
    #[cfg(gpu_kernels)]
    if on_gpu_kernels(&tensor)
        && !tensor.device().is_autodiff()
        && let Ok(t) = tensor.clone().try_into_primitive::<gpu::CubeBackend>()
    {
        return Tensor::from_primitive::<gpu::CubeBackend>(gpu::fresh_copy(t));
    }
    tensor
}

/// One Adam step of `param` from `grad`, written into the buffers `param`, `moment_1` and
/// `moment_2` already have (every handle on them sees the new values), the step's coefficients
/// read on the device from `coefficients` (`[learning rate, moment_1_scale, epsilon]` of
/// [`AdamStep`](super::AdamStep)): what a captured training step replays. On `f32` GPU tensors outside autodiff
/// whose parameter, moments and coefficients are contiguous from the start of their buffers
/// (as [`fresh_copy`] makes them); `Err` saying why everywhere else, the CPU backends included.
pub fn adam_update_in_place<const D: usize>(
    param: &Tensor<D>,
    grad: Tensor<D>,
    moment_1: &Tensor<D>,
    moment_2: &Tensor<D>,
    coefficients: &Tensor<1>,
    [beta_1, beta_2]: [f32; 2],
) -> Result<(), String> {
    #[cfg(gpu_kernels)]
    {
        let on_gpu = [param, &grad, moment_1, moment_2]
            .iter()
            .all(|t| on_gpu_kernels(t) && !t.device().is_autodiff())
            && on_gpu_kernels(coefficients)
            && !coefficients.device().is_autodiff();
        if on_gpu {
            let cube = |t: Tensor<D>| t.try_into_primitive::<gpu::CubeBackend>().ok();
            let coefficients = coefficients
                .clone()
                .try_into_primitive::<gpu::CubeBackend>()
                .ok();
            if let (Some(p), Some(g), Some(m1), Some(m2), Some(c)) = (
                cube(param.clone()),
                cube(grad),
                cube(moment_1.clone()),
                cube(moment_2.clone()),
                coefficients,
            ) {
                return gpu::adam_update_in_place(p, g, m1, m2, c, beta_1, beta_2);
            }
        }
    }
    #[cfg(not(gpu_kernels))]
    let _ = (
        param,
        grad,
        moment_1,
        moment_2,
        coefficients,
        beta_1,
        beta_2,
    );
    Err(
        "an in-place Adam step needs f32 tensors of a GPU backend built without fusion, \
         outside autodiff"
            .into(),
    )
}

/// Adds a step's `sum` and `weight` (`[1]` each) into running `sums` (`[2]`, or `[3]` whose last
/// value counts the steps whose sum was NaN or infinite) in place: one launch on `f32` GPU
/// tensors outside autodiff, `sums` a buffer of its own (as [`fresh_copy`] makes it); `Err`
/// elsewhere, where the caller adds with Burn's operations.
pub fn accumulate_into(sums: &Tensor<1>, sum: Tensor<1>, weight: Tensor<1>) -> Result<(), String> {
    #[cfg(gpu_kernels)]
    if [sums, &sum, &weight]
        .iter()
        .all(|t| on_gpu_kernels(t) && !t.device().is_autodiff())
    {
        let cube = |t: Tensor<1>| t.try_into_primitive::<gpu::CubeBackend>().ok();
        if let (Some(s), Some(x), Some(w)) =
            (cube(sums.clone()), cube(sum.clone()), cube(weight.clone()))
        {
            return gpu::accumulate(s, x, w);
        }
    }
    #[cfg(not(gpu_kernels))]
    let _ = (sums, sum, weight);
    Err("an in-place sum needs f32 tensors of a GPU backend built without fusion".into())
}

/// Whether `device` computes `f32` matrix products in TF32 on tensor cores (CUDA on Ampere and
/// later, where Burn's matmul does so for its accelerated tiles): asked of the GPU runtime, so
/// `false` on the CPU backends, on wgpu/Vulkan (whose tensor cores take f16/bf16 only) and in a
/// build with `fusion` (which leaves out this crate's GPU module).
pub fn supports_tf32(device: &burn::tensor::Device) -> bool {
    #[cfg(gpu_kernels)]
    {
        gpu::supports_tf32(Tensor::zeros([1], device))
    }
    #[cfg(not(gpu_kernels))]
    {
        let _ = device;
        false
    }
}
