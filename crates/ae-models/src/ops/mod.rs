//! The hot operations of the zoo's models, with this workspace's own CPU kernels: the
//! element-wise functions, convolutions, dense layers and matrix products.
//!
//! Burn's CPU backend (`flex` 0.22.1) computes `exp`, `tanh` and `sigmoid` one value at a time
//! through libm on one thread, and its autodiff sigmoid computes the sigmoid again in the backward
//! pass; its convolutions spend much of their time lowering; its matmul zeroes each output, then
//! copies it to realign it. On `flex` (with or without autodiff) and `f32` tensors, the functions
//! here run vectorised kernels ([`kernels`]: AVX-512, AVX2+FMA or the baseline, picked at run
//! time) on several threads for large tensors, convolutions as im2col + `gemm` ([`convolution`])
//! and dense layers as one `gemm` into a buffer the bias initialises ([`dense`]) (a plain
//! product, [`matmul`], into a buffer gemm writes once), through Burn's backend-extension API,
//! with their own backward passes. On every other backend and dtype they are Burn's own
//! operations, so the GPU paths are unchanged.
//!
//! The models call these instead of `burn::tensor::activation` and the layers' `forward`; the
//! results agree with Burn's to a few units in the last place (see the tests). A loop over them
//! runs fastest on one of rayon's threads: [`on_kernel_threads`].

#[cfg(feature = "flex")]
pub mod convolution;
#[cfg(feature = "flex")]
pub mod dense;
#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "flex")]
pub mod kernels;
#[cfg(feature = "flex")]
pub mod matrix;

use burn::tensor::Tensor;
use burn::tensor::activation;

#[cfg(feature = "flex")]
pub use flex::CpuKernels;

/// Whether `tensor` runs on this module's CPU kernels: an `f32` tensor on `flex`.
#[cfg(feature = "flex")]
fn on_cpu_kernels<const D: usize>(tensor: &Tensor<D>) -> bool {
    use burn::backend::DispatchDevice;
    tensor.dtype() == burn::tensor::DType::F32
        && matches!(
            tensor.device().inner().as_dispatch(),
            DispatchDevice::Flex(_)
        )
}

/// Runs `work` on one of rayon's threads when `device` is the CPU (`flex`), else on this thread,
/// and returns what it returns.
///
/// The CPU kernels (these and flex's own) split large operations across rayon's threads. A
/// thread outside rayon's pool that starts one hands all of it to the pool and sleeps until it is
/// done: every operation wakes pool threads and then the caller again, and with as many pool
/// threads as cores, three threads share them. Started on a pool thread, the caller does its own
/// share and the other threads steal the rest, as PyTorch's caller does in its OpenMP regions.
/// `ae_train::fit` runs its training loop through this, and so does a program's own loop over
/// the models that wants the same speed (measured on 2 cores: dense training steps +8-27%,
/// inference +10%, a whole training run +18-21%).
///
/// `work` may block on other threads (burn-train's learner waits on its event processor and its
/// data loaders, which run tensor operations too): a pool thread is lent to at most all but one
/// such call at a time, so that one is always left for the work they wait on. The others, and
/// calls on a pool thread already, run here.
///
/// The first call on the CPU also sets the pool's threads to flush denormal floats to zero
/// (x86-64's FTZ and DAZ), as TensorFlow runs its CPU threads and PyTorch does after
/// `torch.set_flush_denormal(True)`: values below 1.2e-38 then count as 0. Without it, training
/// slows down as it goes: a sigmoid output driven towards 0 (a dark pixel) and Adam's moments of
/// units that stopped learning reach that range, and every operation on such a value takes a
/// microcode assist (20 epochs of `train_vanilla` on Fashion-MNIST: 18.3 s, the later epochs
/// 40% slower than the second; with the flush 12.2 s at the same test MSE). The calling thread
/// is left as it is.
pub fn on_kernel_threads<R: Send>(
    device: &burn::tensor::Device,
    work: impl FnOnce() -> R + Send,
) -> R {
    #[cfg(feature = "flex")]
    if matches!(device.as_dispatch(), burn::backend::DispatchDevice::Flex(_)) {
        flush_denormals_on_pool();
        if rayon::current_thread_index().is_none()
            && let Some(_seat) = PoolSeat::take()
        {
            return rayon::scope(|_| work());
        }
    }
    #[cfg(not(feature = "flex"))]
    let _ = device;
    work()
}

/// Sets every thread of rayon's pool to flush denormal floats to zero, once per process (see
/// [`on_kernel_threads`]).
#[cfg(feature = "flex")]
fn flush_denormals_on_pool() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        rayon::broadcast(|_| flush_denormals_on_this_thread());
    });
}

/// Sets this thread's MXCSR to flush denormal results to zero (FTZ, bit 15) and to read denormal
/// operands as zero (DAZ, bit 6).
#[cfg(all(feature = "flex", target_arch = "x86_64"))]
fn flush_denormals_on_this_thread() {
    const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);
    let mut control = 0u32;
    // SAFETY: `stmxcsr` stores this thread's SSE control and status register into `control`,
    // `ldmxcsr` loads it back with the two mode bits set; nothing else is read or written. The
    // modes change only how values below the smallest normal float round (to zero). The compiler
    // assumes the default modes, so arithmetic it folds at compile time may still give a denormal
    // that the same arithmetic at run time would flush: a difference below 1.2e-38, no more.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut control, options(nostack, preserves_flags));
        control |= FTZ_DAZ;
        std::arch::asm!("ldmxcsr [{}]", in(reg) &control, options(nostack, preserves_flags));
    }
}

/// Other targets keep their floating-point modes.
#[cfg(all(feature = "flex", not(target_arch = "x86_64")))]
fn flush_denormals_on_this_thread() {}

/// Calls of [`on_kernel_threads`] running on a pool thread now.
#[cfg(feature = "flex")]
static LENT_POOL_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A pool thread lent to one call of [`on_kernel_threads`], given back when dropped.
#[cfg(feature = "flex")]
struct PoolSeat;

#[cfg(feature = "flex")]
impl PoolSeat {
    /// A seat while fewer than all but one of the pool's threads are lent.
    fn take() -> Option<Self> {
        use std::sync::atomic::Ordering::SeqCst;
        let seats = rayon::current_num_threads().saturating_sub(1);
        LENT_POOL_THREADS
            .fetch_update(SeqCst, SeqCst, |lent| (lent < seats).then_some(lent + 1))
            .ok()
            .map(|_| PoolSeat)
    }
}

#[cfg(feature = "flex")]
impl Drop for PoolSeat {
    fn drop(&mut self) {
        LENT_POOL_THREADS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Runs `kernel` on the tensor's dispatch form.
#[cfg(feature = "flex")]
fn through<const D: usize>(
    tensor: Tensor<D>,
    kernel: fn(burn::backend::DispatchTensor) -> burn::backend::DispatchTensor,
) -> Tensor<D> {
    Tensor::from_dispatch(kernel(tensor.into_dispatch()))
}

/// Runs `kernel` on the two tensors' dispatch forms.
#[cfg(feature = "flex")]
fn through_both<const D: usize>(
    a: Tensor<D>,
    b: Tensor<D>,
    kernel: fn(
        burn::backend::DispatchTensor,
        burn::backend::DispatchTensor,
    ) -> burn::backend::DispatchTensor,
) -> Tensor<D> {
    Tensor::from_dispatch(kernel(a.into_dispatch(), b.into_dispatch()))
}

/// `1 / (1 + e^-x)`, element-wise.
///
/// # Shapes
/// - x, output: any, the same
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if on_cpu_kernels(&x) {
        return through(x, <burn::backend::Dispatch as CpuKernels>::ae_sigmoid);
    }
    activation::sigmoid(x)
}

/// `tanh x`, element-wise.
///
/// # Shapes
/// - x, output: any, the same
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if on_cpu_kernels(&x) {
        return through(x, <burn::backend::Dispatch as CpuKernels>::ae_tanh);
    }
    activation::tanh(x)
}

/// `e^x`, element-wise.
///
/// # Shapes
/// - x, output: any, the same
pub fn exp<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if on_cpu_kernels(&x) {
        return through(x, <burn::backend::Dispatch as CpuKernels>::ae_exp);
    }
    x.exp()
}

/// Element-wise binary cross-entropy of targets `t` in `[0, 1]` under logits `x`:
/// `-(t ln σ(x) + (1 - t) ln(1 - σ(x)))`, computed as `max(x, 0) - x t + ln(1 + e^-|x|)`, finite
/// for any finite logit, never the log of a rounded-off probability. One kernel on the CPU
/// (forward and backward); elsewhere `x (1 - t) - ln σ(x)` from Burn's operations. (Burn's
/// `BinaryCrossEntropyLoss` takes integer targets only, while image intensities are fractional.)
///
/// # Shapes
/// - logits, target: `[N, D]`
/// - output: `[N, D]`
pub fn bce_with_logits(logits: Tensor<2>, target: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if on_cpu_kernels(&logits) && on_cpu_kernels(&target) && logits.dims() == target.dims() {
        let kernel = <burn::backend::Dispatch as CpuKernels>::ae_bce_with_logits;
        return through_both(logits, target, kernel);
    }
    let one_minus_t = target.neg().add_scalar(1.0);
    logits.clone() * one_minus_t - activation::log_sigmoid(logits)
}

/// `(a - b)^2`, element-wise: the squared error of a reconstruction. One kernel on the CPU,
/// forward and backward (Burn's `(a - b).square()` takes a subtraction and a product forward and
/// three passes backward, each allocating), with Burn's roundings: the same values and gradients
/// to the last bit. Elsewhere Burn's operations.
///
/// # Shapes
/// - a, b, output: any, the same
pub fn squared_difference<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if on_cpu_kernels(&a) && on_cpu_kernels(&b) && a.dims() == b.dims() {
        let kernel = <burn::backend::Dispatch as CpuKernels>::ae_squared_difference;
        return through_both(a, b, kernel);
    }
    (a - b).square()
}

/// `conv.forward(x)`: on the CPU kernels ([`convolution`]: im2col and `gemm` per image, images in
/// parallel, with its own backward pass) when the layer is what they do (square kernel, one
/// stride and symmetric padding, no dilation or groups, a bias), else Burn's.
///
/// # Shapes
/// - x: `[N, C_in, H, W]`
/// - output: `[N, C_out, H_out, W_out]`
pub fn conv2d(conv: &burn::nn::conv::Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    {
        use burn::nn::PaddingConfig2d;
        let [k, k2] = conv.kernel_size;
        let padding = match conv.padding {
            PaddingConfig2d::Valid => Some(0),
            PaddingConfig2d::Explicit(a, b, c, d) if a == b && b == c && c == d => Some(a),
            _ => None,
        };
        let [s, s2] = conv.stride;
        if let (Some(padding), Some(bias)) = (padding, &conv.bias)
            && k == k2
            && s == s2
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && on_cpu_kernels(&x)
            && on_cpu_kernels(&conv.weight.val())
            && x.dims()[1] == conv.weight.dims()[1]
            && x.dims()[2] + 2 * padding >= k
            && x.dims()[3] + 2 * padding >= k
        {
            let output = <burn::backend::Dispatch as CpuKernels>::ae_conv2d(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                s,
                padding,
            );
            return Tensor::from_dispatch(output);
        }
    }
    conv.forward(x)
}

/// `linear.forward(x)`: on the CPU kernels ([`dense`]: one `gemm` into a buffer the bias
/// initialises, with its own backward pass) for `f32` flex tensors, else Burn's.
///
/// # Shapes
/// - x: `[N, d_input]`
/// - output: `[N, d_output]`
pub fn linear(linear: &burn::nn::Linear, x: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    {
        let weight = linear.weight.val();
        if on_cpu_kernels(&x)
            && on_cpu_kernels(&weight)
            && x.dims()[1] == weight.dims()[0]
            && linear
                .bias
                .as_ref()
                .is_none_or(|b| on_cpu_kernels(&b.val()))
        {
            let bias = match &linear.bias {
                Some(bias) => bias.val(),
                None => Tensor::zeros([weight.dims()[1]], &weight.device()),
            };
            let output = <burn::backend::Dispatch as CpuKernels>::ae_linear(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
            );
            return Tensor::from_dispatch(output);
        }
    }
    linear.forward(x)
}

/// `lhs rhs`: on `f32` flex tensors one gemm into a new buffer (flex's own matmul zeroes its
/// output and then copies it whole to realign it), reading a transposed or sliced operand where
/// it lies; on every other backend, and under autodiff, Burn's `matmul`.
///
/// # Shapes
/// - lhs: `[M, K]`
/// - rhs: `[K, N]`
/// - output: `[M, N]`
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if on_cpu_kernels(&lhs) && on_cpu_kernels(&rhs) && lhs.dims()[1] == rhs.dims()[0] {
        let kernel = <burn::backend::Dispatch as CpuKernels>::ae_matmul;
        return through_both(lhs, rhs, kernel);
    }
    lhs.matmul(rhs)
}

/// `conv.forward(x)` for a transposed convolution, on the CPU kernels under the same conditions
/// as [`conv2d`] (and an output padding below the stride), else Burn's.
///
/// # Shapes
/// - x: `[N, C_in, H, W]`
/// - output: `[N, C_out, H_out, W_out]`
pub fn conv_transpose2d(conv: &burn::nn::conv::ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    {
        let [k, k2] = conv.kernel_size;
        let [s, s2] = conv.stride;
        let [p, p2] = conv.padding;
        let [o, o2] = conv.padding_out;
        if let Some(bias) = &conv.bias
            && k == k2
            && s == s2
            && p == p2
            && o == o2
            && o < s
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && on_cpu_kernels(&x)
            && on_cpu_kernels(&conv.weight.val())
            && x.dims()[1] == conv.weight.dims()[0]
            && x.dims()[2] >= 1
            && x.dims()[3] >= 1
            && k + o > 2 * p
        {
            let output = <burn::backend::Dispatch as CpuKernels>::ae_conv_transpose2d(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                s,
                p,
                o,
            );
            return Tensor::from_dispatch(output);
        }
    }
    conv.forward(x)
}

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
/// from one fused kernel on the CPU (plain `f32` flex tensors of one shape), `Err` with the
/// four tensors untouched everywhere else, for the caller to use Burn's operations.
pub fn adam_update<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moment_1: Tensor<D>,
    moment_2: Tensor<D>,
    step: AdamStep,
) -> Result<(Tensor<D>, Tensor<D>, Tensor<D>), Box<[Tensor<D>; 4]>> {
    #[cfg(feature = "flex")]
    {
        use burn::backend::Flex;
        let tensors = [&param, &grad, &moment_1, &moment_2];
        let fits = tensors
            .iter()
            .all(|t| on_cpu_kernels(t) && !t.device().is_autodiff() && t.dims() == param.dims());
        if fits {
            let flex = |t: Tensor<D>| t.try_into_primitive::<Flex>();
            if let (Ok(p), Ok(g), Ok(m1), Ok(m2)) = (
                flex(param.clone()),
                flex(grad.clone()),
                flex(moment_1.clone()),
                flex(moment_2.clone()),
            ) {
                drop((param, grad, moment_1, moment_2));
                let (p, m1, m2) = flex::adam_update(p, g, m1, m2, step);
                return Ok((
                    Tensor::from_primitive::<Flex>(p),
                    Tensor::from_primitive::<Flex>(m1),
                    Tensor::from_primitive::<Flex>(m2),
                ));
            }
        }
    }
    #[cfg(not(feature = "flex"))]
    let _ = step;
    Err(Box::new([param, grad, moment_1, moment_2]))
}

#[cfg(all(test, feature = "flex"))]
mod tests;
