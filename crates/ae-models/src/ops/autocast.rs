//! Mixed precision, the way `torch.autocast` does it: inside [`autocast`], the products of the
//! dense layers and convolutions ([`super::linear`], [`super::conv2d`],
//! [`super::conv_transpose2d`]) compute in a half-precision type (`f16` or `bf16`) from `f32`
//! inputs and weights and hand back `f32`, to which the bias is added in `f32`. Everything
//! else — biases, activations, batch normalisation, losses, the metrics' sums — stays in `f32`,
//! so no sum over a batch accumulates in 16 bits (an `f16` sum of 100,000 ones is `inf` on flex
//! and on wgpu; a bias's gradient is such a sum) and no operation meets two types (flex panics on
//! `f16 + f32`, and wgpu silently reads one as the other).
//!
//! The casts are Burn's `cast`, which autodiff differentiates: the gradient of each `f32` weight
//! comes back in `f32`, so the optimizer and the saved model never see a 16-bit value.

use std::cell::Cell;

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::Linear;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{DType, FloatDType, Tensor};

thread_local! {
    /// The type layers compute in on this thread, when inside [`autocast`].
    static COMPUTE: Cell<Option<FloatDType>> = const { Cell::new(None) };
}

/// Runs `body` with the layers of this module computing in `dtype` on this thread (the previous
/// setting comes back afterwards, also when `body` panics). `f32` turns autocasting off.
pub fn autocast<T>(dtype: FloatDType, body: impl FnOnce() -> T) -> T {
    struct Restore(Option<FloatDType>);
    impl Drop for Restore {
        fn drop(&mut self) {
            COMPUTE.with(|c| c.set(self.0));
        }
    }
    let wanted = (dtype != FloatDType::F32).then_some(dtype);
    let _restore = Restore(COMPUTE.with(|c| c.replace(wanted)));
    body()
}

/// The type [`autocast`] set on this thread, if any.
pub fn autocast_dtype() -> Option<FloatDType> {
    COMPUTE.with(Cell::get)
}

/// The type a layer given `x` computes in: the autocast type when one is set and `x` is another
/// float type.
pub(super) fn compute_dtype<const D: usize>(x: &Tensor<D>) -> Option<FloatDType> {
    let dtype = autocast_dtype()?;
    (x.dtype() != DType::from(dtype)).then_some(dtype)
}

/// A dense layer's product computed in `dtype`, its bias added in `x`'s type.
pub(super) fn linear(layer: &Linear, x: Tensor<2>, dtype: FloatDType) -> Tensor<2> {
    let mut product = layer.clone();
    let bias = product.bias.take();
    let y = layer_in(&product, x, dtype, |layer, x| layer.forward(x));
    match bias {
        Some(bias) => y + bias.val().unsqueeze_dim(0),
        None => y,
    }
}

/// A convolution's product computed in `dtype`, its bias added per channel in `x`'s type.
pub(super) fn conv2d(conv: &Conv2d, x: Tensor<4>, dtype: FloatDType) -> Tensor<4> {
    let mut product = conv.clone();
    let bias = product.bias.take();
    let y = layer_in(&product, x, dtype, |conv, x| conv.forward(x));
    add_channel_bias(y, bias)
}

/// A transposed convolution's product computed in `dtype`, its bias added per channel in
/// `x`'s type.
pub(super) fn conv_transpose2d(
    conv: &ConvTranspose2d,
    x: Tensor<4>,
    dtype: FloatDType,
) -> Tensor<4> {
    let mut product = conv.clone();
    let bias = product.bias.take();
    let y = layer_in(&product, x, dtype, |conv, x| conv.forward(x));
    add_channel_bias(y, bias)
}

/// `y` plus one bias value per channel.
///
/// # Shapes
/// - y: `[N, C, H, W]`
/// - bias: `[C]`
fn add_channel_bias(y: Tensor<4>, bias: Option<Param<Tensor<1>>>) -> Tensor<4> {
    match bias {
        Some(bias) => {
            let [channels] = bias.dims();
            y + bias.val().reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

/// `forward(layer, x)` computed in `dtype`: the layer's weights and `x` cast to it, the result
/// cast back to `x`'s type.
fn layer_in<L: Module, const D: usize, const E: usize>(
    layer: &L,
    x: Tensor<D>,
    dtype: FloatDType,
    forward: impl FnOnce(&L, Tensor<D>) -> Tensor<E>,
) -> Tensor<E> {
    let back = FloatDType::from(x.dtype());
    let cast = layer.clone().map(&mut CastFloats(dtype));
    forward(&cast, x.cast(dtype)).cast(back)
}

/// Casts every float parameter of a module, keeping its id (and, under autodiff, its link to
/// the original weight).
struct CastFloats(FloatDType);

impl ModuleMapper for CastFloats {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(|t| t.cast(dtype))
    }
}
