//! Adam's update of one parameter as one kernel: [`adam_update`] decides which.

use burn::tensor::Tensor;

#[cfg(feature = "remote")]
use super::remote;
#[cfg(feature = "flex")]
use super::{cpu, on_cpu_kernels};
#[cfg(gpu_kernels)]
use super::{gpu, on_gpu_kernels};

/// The coefficients of one Adam step (Burn's `Adam` without weight decay or AMSGrad), with the
/// bias corrections of step `t` folded in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// The learning rate.
    pub learning_rate: f32,
    /// `sqrt(1 - beta_2^t) / (1 - beta_1^t)`.
    pub moment_1_scale: f32,
    /// `epsilon sqrt(1 - beta_2^t)`.
    pub epsilon: f32,
}

/// One Adam update of `param` from `grad`, with its moments: `Ok((param, moment_1, moment_2))`
/// from one fused kernel (the CPU's on `f32` flex tensors, the GPU's on `f32` CubeCL tensors;
/// all four of one shape, outside autodiff), `Err` with the four tensors untouched everywhere
/// else, for the caller to use Burn's operations.
pub fn adam_update<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moment_1: Tensor<D>,
    moment_2: Tensor<D>,
    step: AdamStep,
) -> Result<(Tensor<D>, Tensor<D>, Tensor<D>), Box<[Tensor<D>; 4]>> {
    let tensors = [param, grad, moment_1, moment_2];
    #[cfg(any(feature = "flex", gpu_kernels))]
    let fits = |on_kernels: fn(&Tensor<D>) -> bool, tensors: &[Tensor<D>; 4]| {
        tensors
            .iter()
            .all(|t| on_kernels(t) && !t.device().is_autodiff() && t.dims() == tensors[0].dims())
    };
    #[cfg(feature = "flex")]
    let tensors = if fits(on_cpu_kernels, &tensors) {
        let kernel = |[p, g, m1, m2]: [_; 4]| cpu::adam_update(p, g, m1, m2, step);
        match adam_on::<burn::backend::Flex, D>(tensors, kernel) {
            Ok(updated) => return Ok(updated),
            Err(tensors) => *tensors,
        }
    } else {
        tensors
    };
    #[cfg(gpu_kernels)]
    let tensors = if fits(on_gpu_kernels, &tensors) {
        let kernel = |[p, g, m1, m2]: [_; 4]| gpu::adam_update(p, g, m1, m2, step);
        match adam_on::<gpu::CubeBackend, D>(tensors, kernel) {
            Ok(updated) => return Ok(updated),
            Err(tensors) => *tensors,
        }
    } else {
        tensors
    };
    #[cfg(feature = "remote")]
    let on_remote_adam = |t: &Tensor<D>| {
        let device = t.device();
        t.dtype() == burn::tensor::DType::F32
            && matches!(
                device.as_dispatch(),
                burn::backend::DispatchDevice::Remote(_)
            )
            && remote::runs_adam(&device)
    };
    #[cfg(feature = "remote")]
    let tensors = if fits(on_remote_adam, &tensors) {
        let kernel = |[p, g, m1, m2]: [_; 4]| remote::adam_update(p, g, m1, m2, step);
        match adam_on::<burn::backend::Remote, D>(tensors, kernel) {
            Ok(updated) => return Ok(updated),
            Err(tensors) => *tensors,
        }
    } else {
        tensors
    };
    #[cfg(not(any(feature = "flex", gpu_kernels)))]
    let _ = step;
    Err(Box::new(tensors))
}

/// Runs a fused Adam `kernel` on backend `B`'s primitives of the four tensors:
/// `Ok((param, moment_1, moment_2))`, or `Err` with the four handed back when they are not all
/// `B`'s.
#[cfg(any(feature = "flex", gpu_kernels))]
#[allow(clippy::type_complexity)]
fn adam_on<B, const D: usize>(
    tensors: [Tensor<D>; 4],
    kernel: impl FnOnce(
        [burn::backend::tensor::FloatTensor<B>; 4],
    ) -> (
        burn::backend::tensor::FloatTensor<B>,
        burn::backend::tensor::FloatTensor<B>,
        burn::backend::tensor::FloatTensor<B>,
    ),
) -> Result<(Tensor<D>, Tensor<D>, Tensor<D>), Box<[Tensor<D>; 4]>>
where
    B: burn::backend::Backend,
    burn::backend::DispatchTensor: burn::backend::DispatchKindConversion<B>,
{
    let [Ok(p), Ok(g), Ok(m1), Ok(m2)] = tensors.clone().map(Tensor::try_into_primitive::<B>)
    else {
        return Err(Box::new(tensors));
    };
    // The kernel may write buffers nothing else holds: the caller's handles go first.
    drop(tensors);
    let (p, m1, m2) = kernel([p, g, m1, m2]);
    Ok((
        Tensor::from_primitive::<B>(p),
        Tensor::from_primitive::<B>(m1),
        Tensor::from_primitive::<B>(m2),
    ))
}
