//! The hot operations of the zoo's models, with this workspace's own CPU kernels: the
//! element-wise functions, convolutions, dense layers and matrix products.
//!
//! Burn's CPU backend (`flex` 0.22.1) computes `exp`, `tanh` and `sigmoid` one value at a time
//! through libm on one thread, and its autodiff sigmoid computes the sigmoid again in the backward
//! pass; its convolutions spend much of their time lowering; its matmul zeroes each output, then
//! copies it to realign it. On `flex` (with or without autodiff) and `f32` tensors, the functions
//! here run this workspace's kernels ([`cpu`]: vectorised element-wise kernels for AVX-512,
//! AVX2+FMA or the baseline, picked at run time, on several threads for large tensors;
//! convolutions as im2col + `gemm`; dense layers as one `gemm` into a buffer the bias initialises;
//! a plain product, [`matmul`], into a buffer gemm writes once), through Burn's backend-extension
//! API, with their own backward passes. On the GPU backends (`f32`, without Burn's `fusion`),
//! the Adam update, ReLU, the sigmoid, the squared error, BCE and the KL terms run this workspace's CubeCL kernels
//! (`gpu`: one launch each, forward and backward, where Burn's operations take two to thirteen;
//! `AE_GPU_KERNELS=off` turns them off). Everywhere else they are Burn's own operations.
//!
//! Inside [`autocast`] the dense layers and convolutions compute in `f16` or `bf16` instead
//! (mixed precision; see the `autocast` module), everything else in `f32`.
//!
//! Each public function here is the one place that decides where a tensor goes; the kernels of
//! each family live in their own folder (`cpu`, `gpu`).
//!
//! The models call these instead of `burn::tensor::activation` and the layers' `forward`; the
//! results agree with Burn's to a few units in the last place (see the tests). A loop over them
//! runs fastest on one of rayon's threads: [`on_kernel_threads`].

mod adam;
mod autocast;
#[cfg(feature = "flex")]
pub mod cpu;
#[cfg(gpu_kernels)]
pub mod gpu;
mod in_place;
#[cfg(feature = "remote")]
pub mod remote;
mod threads;

use burn::tensor::Tensor;
use burn::tensor::activation;

pub use adam::{AdamStep, adam_update};
pub use autocast::{autocast, autocast_dtype};
#[cfg(feature = "flex")]
pub use cpu::CpuKernels;
#[cfg(gpu_kernels)]
pub use gpu::GpuKernels;
pub use in_place::{accumulate_into, adam_update_in_place, fresh_copy, supports_tf32, write_into};
pub use threads::on_kernel_threads;

/// The environment variable that, set to `off`, sends every operation here to Burn's own
/// implementation on the CPU too: for measuring what the kernels change (the same binary both
/// ways), never needed otherwise.
pub const CPU_KERNELS_ENV: &str = "AE_CPU_KERNELS";

/// Whether the kernel switch `variable` ([`CPU_KERNELS_ENV`], [`GPU_KERNELS_ENV`],
/// `remote::REMOTE_KERNELS_ENV`) turns its kernels off: `off` does; unset, empty or `on` leaves
/// them on (any case, spaces trimmed).
///
/// # Errors
/// Any other value, with the values to use.
pub fn kernel_switch_off(variable: &str) -> Result<bool, String> {
    match std::env::var(variable) {
        Err(std::env::VarError::NotPresent) => Ok(false),
        Err(std::env::VarError::NotUnicode(value)) => Err(format!(
            "{variable} is {value:?}, not text: use `off` or `on`"
        )),
        Ok(value) => switch_value_off(variable, &value),
    }
}

/// [`kernel_switch_off`] of the value `value` of `variable`.
fn switch_value_off(variable: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "on" => Ok(false),
        "off" => Ok(true),
        _ => Err(format!(
            "{variable} is `{value}`: use `off` (Burn's own operations instead of this \
             workspace's kernels) or `on` (the default)"
        )),
    }
}

/// Checks every kernel switch this build reads ([`kernel_switch_off`]), so that a mistyped value
/// is refused before anything runs instead of leaving the kernels on.
///
/// # Errors
/// The first switch with a value it does not know.
pub fn check_kernel_switches() -> Result<(), String> {
    let switches = [
        CPU_KERNELS_ENV,
        GPU_KERNELS_ENV,
        #[cfg(feature = "remote")]
        remote::REMOTE_KERNELS_ENV,
    ];
    switches
        .into_iter()
        .try_for_each(|variable| kernel_switch_off(variable).map(drop))
}

/// Whether [`CPU_KERNELS_ENV`] turned the CPU kernels off (read once per process).
#[cfg(feature = "flex")]
fn cpu_kernels_off() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| kernel_switch_off(CPU_KERNELS_ENV).unwrap_or(false))
}

/// Whether `tensor` runs on this module's CPU kernels: an `f32` tensor on `flex`, or on a remote
/// device whose server runs them ([`remote`]).
#[cfg(feature = "flex")]
fn on_cpu_kernels<const D: usize>(tensor: &Tensor<D>) -> bool {
    use burn::backend::DispatchDevice;
    if cpu_kernels_off() || tensor.dtype() != burn::tensor::DType::F32 {
        return false;
    }
    let device = tensor.device().inner();
    match device.as_dispatch() {
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "remote")]
        DispatchDevice::Remote(_) => remote::has_kernels(&device),
        _ => false,
    }
}

/// Whether `tensor` runs the element-wise kernels (the sigmoid, the squared error, BCE with
/// logits, and their gradients) through [`CpuKernels`]: [`on_cpu_kernels`], or on a remote
/// device whose server runs them as its GPU kernels ([`remote::ServerKernels::Gpu`]).
#[cfg(feature = "flex")]
fn on_elementwise_kernels<const D: usize>(tensor: &Tensor<D>) -> bool {
    // The local flex device first: the common case asks nothing more.
    if on_cpu_kernels(tensor) {
        return true;
    }
    #[cfg(feature = "remote")]
    {
        let device = tensor.device();
        tensor.dtype() == burn::tensor::DType::F32
            && matches!(
                device.clone().inner().as_dispatch(),
                burn::backend::DispatchDevice::Remote(_)
            )
            && remote::server_kernels(&device) == remote::ServerKernels::Gpu
    }
    #[cfg(not(feature = "remote"))]
    false
}

/// The environment variable that, set to `off`, sends every operation here to Burn's own
/// implementation on the GPU backends too (the same binary both ways, for measurements).
pub const GPU_KERNELS_ENV: &str = "AE_GPU_KERNELS";

/// Whether `tensor` runs on this module's GPU kernels: an `f32` tensor on a CubeCL device
/// (wgpu, vulkan, metal, cuda), unless [`GPU_KERNELS_ENV`] is `off`.
#[cfg(gpu_kernels)]
fn on_gpu_kernels<const D: usize>(tensor: &Tensor<D>) -> bool {
    use burn::backend::DispatchDevice;
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let off = *OFF.get_or_init(|| kernel_switch_off(GPU_KERNELS_ENV).unwrap_or(false));
    !off && tensor.dtype() == burn::tensor::DType::F32
        && matches!(
            tensor.device().inner().as_dispatch(),
            DispatchDevice::Cube(_)
        )
}

/// Runs `kernel` on the tensor's dispatch form.
#[cfg(any(feature = "flex", gpu_kernels))]
fn through<const D: usize>(
    tensor: Tensor<D>,
    kernel: fn(burn::backend::DispatchTensor) -> burn::backend::DispatchTensor,
) -> Tensor<D> {
    Tensor::from_dispatch(kernel(tensor.into_dispatch()))
}

/// Runs `kernel` on the two tensors' dispatch forms.
#[cfg(any(feature = "flex", gpu_kernels))]
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
    if on_elementwise_kernels(&x) {
        return through(x, <burn::backend::Dispatch as CpuKernels>::ae_sigmoid);
    }
    #[cfg(gpu_kernels)]
    if on_gpu_kernels(&x) {
        return through(x, <burn::backend::Dispatch as GpuKernels>::ae_gpu_sigmoid);
    }
    activation::sigmoid(x)
}

/// `max(x, 0)`, element-wise (NaN kept). One launch forward and one backward on the GPU
/// backends; Burn's elsewhere.
///
/// # Shapes
/// - x, output: any, the same
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(gpu_kernels)]
    if on_gpu_kernels(&x) {
        return through(x, <burn::backend::Dispatch as GpuKernels>::ae_gpu_relu);
    }
    activation::relu(x)
}

/// `layer.forward(x)`, through this module's kernels for the activations it has (ReLU, the
/// sigmoid, tanh): what the models call between their layers.
///
/// # Shapes
/// - x, output: any, the same
pub fn activation<const D: usize>(
    layer: &burn::nn::activation::Activation,
    x: Tensor<D>,
) -> Tensor<D> {
    use burn::nn::activation::Activation;
    match layer {
        Activation::Relu(_) => relu(x),
        Activation::Sigmoid(_) => sigmoid(x),
        Activation::Tanh(_) => tanh(x),
        other => other.forward(x),
    }
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
/// for any finite logit, never the log of a rounded-off probability. One kernel on the CPU and
/// on the GPU (forward and backward); elsewhere `x (1 - t) - ln σ(x)` from Burn's operations. (Burn's
/// `BinaryCrossEntropyLoss` takes integer targets only, while image intensities are fractional.)
///
/// # Shapes
/// - logits, target: `[N, D]`
/// - output: `[N, D]`
pub fn bce_with_logits(logits: Tensor<2>, target: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "flex")]
    if on_elementwise_kernels(&logits)
        && on_elementwise_kernels(&target)
        && logits.dims() == target.dims()
    {
        let kernel = <burn::backend::Dispatch as CpuKernels>::ae_bce_with_logits;
        return through_both(logits, target, kernel);
    }
    #[cfg(gpu_kernels)]
    if on_gpu_kernels(&logits) && on_gpu_kernels(&target) && logits.dims() == target.dims() {
        let kernel = <burn::backend::Dispatch as GpuKernels>::ae_gpu_bce_with_logits;
        return through_both(logits, target, kernel);
    }
    let one_minus_t = target.neg().add_scalar(1.0);
    logits.clone() * one_minus_t - activation::log_sigmoid(logits)
}

/// `mean^2 + e^logvar - logvar - 1`, element-wise: twice the KL divergence of
/// `N(mean, e^logvar)` from `N(0, 1)` per value, which the VAE sums over a code and halves. One
/// kernel forward and one per input backward on the GPU (Burn's operations: five forward, as
/// many backward); Burn's operations elsewhere.
///
/// # Shapes
/// - mean, logvar, output: `[N, D]`
pub fn kl_terms(mean: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
    #[cfg(gpu_kernels)]
    if on_gpu_kernels(&mean) && on_gpu_kernels(&logvar) && mean.dims() == logvar.dims() {
        let kernel = <burn::backend::Dispatch as GpuKernels>::ae_gpu_kl_terms;
        return through_both(mean, logvar, kernel);
    }
    (mean.square() + exp(logvar.clone()) - logvar).add_scalar(-1.0)
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
    if on_elementwise_kernels(&a) && on_elementwise_kernels(&b) && a.dims() == b.dims() {
        let kernel = <burn::backend::Dispatch as CpuKernels>::ae_squared_difference;
        return through_both(a, b, kernel);
    }
    #[cfg(gpu_kernels)]
    if on_gpu_kernels(&a) && on_gpu_kernels(&b) && a.dims() == b.dims() {
        let kernel = <burn::backend::Dispatch as GpuKernels>::ae_gpu_squared_difference;
        return through_both(a, b, kernel);
    }
    (a - b).square()
}

/// `conv.forward(x)`: on the CPU kernels ([`cpu::convolution`]: im2col and `gemm` per image,
/// images in parallel, with its own backward pass) when the layer is what they do (square kernel,
/// one stride and symmetric padding, no dilation or groups, a bias), else Burn's.
///
/// # Shapes
/// - x: `[N, C_in, H, W]`
/// - output: `[N, C_out, H_out, W_out]`
pub fn conv2d(conv: &burn::nn::conv::Conv2d, x: Tensor<4>) -> Tensor<4> {
    if let Some(dtype) = autocast::compute_dtype(&x) {
        return autocast::conv2d(conv, x, dtype);
    }
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

/// `linear.forward(x)`: on the CPU kernels ([`cpu::dense`]: one `gemm` into a buffer the bias
/// initialises, with its own backward pass) for `f32` flex tensors, else Burn's.
///
/// # Shapes
/// - x: `[N, d_input]`
/// - output: `[N, d_output]`
pub fn linear(linear: &burn::nn::Linear, x: Tensor<2>) -> Tensor<2> {
    if let Some(dtype) = autocast::compute_dtype(&x) {
        return autocast::linear(linear, x, dtype);
    }
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
    if let Some(dtype) = autocast::compute_dtype(&x) {
        return autocast::conv_transpose2d(conv, x, dtype);
    }
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

#[cfg(all(test, feature = "flex"))]
mod tests;

#[cfg(test)]
mod switch_tests {
    use super::switch_value_off;

    #[test]
    fn a_kernel_switch_takes_off_and_on_in_any_case_and_refuses_the_rest() {
        for off in ["off", "OFF", " Off\n"] {
            assert_eq!(switch_value_off("AE_X", off), Ok(true), "{off:?}");
        }
        for on in ["", "on", "ON", "  "] {
            assert_eq!(switch_value_off("AE_X", on), Ok(false), "{on:?}");
        }
        for bad in ["0", "false", "no", "of", "garbage"] {
            let err = switch_value_off("AE_X", bad).unwrap_err();
            assert!(
                err.contains("AE_X") && err.contains("`off`"),
                "{bad}: {err}"
            );
        }
    }
}
