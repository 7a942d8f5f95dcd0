//! The operations against Burn's own: values on random and extreme inputs, gradients, layers,
//! matrix products, and the dispatch to Burn's operations on other backends.

mod elementwise;
mod layers;

use burn::tensor::{Distribution, Tensor, TensorData, activation};

use super::*;
use burn::tensor::Device;

/// Random values in `[-20, 20]` followed by the extremes: ±100, ±1000, 0, -0, denormals, the
/// smallest normal, ±infinity and NaN.
fn inputs(device: &Device) -> Tensor<2> {
    let random = Tensor::<2>::random([64, 300], Distribution::Uniform(-20.0, 20.0), device);
    let extremes = [
        100.0,
        -100.0,
        1000.0,
        -1000.0,
        0.0,
        -0.0,
        1e-40,
        -1e-40,
        f32::MIN_POSITIVE,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ];
    let mut row = vec![0.5f32; 300];
    row[..extremes.len()].copy_from_slice(&extremes);
    let extremes = Tensor::<2>::from_data(TensorData::new(row, [1, 300]), device);
    Tensor::cat(vec![random, extremes], 0)
}

/// Asserts that `got` and `want` agree to `tolerance` relative to `max(1, |want|)`, with NaN in
/// the same places and infinities equal.
fn assert_close<const D: usize>(got: Tensor<D>, want: Tensor<D>, tolerance: f32) {
    assert_eq!(got.dims(), want.dims());
    let got = got.into_data().try_to_vec::<f32>().unwrap();
    let want = want.into_data().try_to_vec::<f32>().unwrap();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tolerance * w.abs().max(1.0)
        };
        assert!(ok, "value {i}: got {g}, want {w}");
    }
}

/// The gradient of `sum(f(x) * weights)` in `x`, on the autodiff device.
fn gradient(f: impl Fn(Tensor<2>) -> Tensor<2>, x: &Tensor<2>, weights: &Tensor<2>) -> Tensor<2> {
    let x = x.clone().require_grad();
    let loss = (f(x.clone()) * weights.clone()).sum();
    let grads = loss.backward();
    x.grad(&grads).expect("x takes part in the loss")
}

/// Burn's layers and ours on the same weights and inputs: outputs and the gradients of a weighted
/// sum in the input and in each of the layer's `parameters`.
fn compare_layers<const D: usize>(
    ours: impl Fn(Tensor<D>) -> Tensor<D>,
    burns: impl Fn(Tensor<D>) -> Tensor<D>,
    x: Tensor<D>,
    parameters: impl Fn(&burn::tensor::Gradients) -> Vec<Tensor<1>>,
) {
    let x = x.require_grad();
    let (y_ours, y_burn) = (ours(x.clone()), burns(x.clone()));
    assert_eq!(y_ours.dims(), y_burn.dims());
    let weights = Tensor::<D>::random(y_ours.dims(), Distribution::Uniform(-1.0, 1.0), &x.device());
    assert_close(y_ours.clone(), y_burn.clone(), 1e-5);
    let grads_ours = (y_ours * weights.clone()).sum().backward();
    let grads_burn = (y_burn * weights).sum().backward();
    assert_close(
        x.grad(&grads_ours).unwrap(),
        x.grad(&grads_burn).unwrap(),
        1e-4,
    );
    for (ours, burns) in parameters(&grads_ours)
        .into_iter()
        .zip(parameters(&grads_burn))
    {
        assert_close(ours, burns, 1e-4);
    }
}

/// The gradients of a layer's weight (flattened) and of its bias, when it has one.
fn weight_and_bias<const D: usize>(
    weight: &burn::module::Param<Tensor<D>>,
    bias: &Option<burn::module::Param<Tensor<1>>>,
    grads: &burn::tensor::Gradients,
) -> Vec<Tensor<1>> {
    let mut gradients = vec![weight.val().grad(grads).unwrap().flatten(0, D - 1)];
    gradients.extend(bias.as_ref().map(|b| b.val().grad(grads).unwrap()));
    gradients
}

/// `adam_update` takes plain `f32` flex tensors of one shape, and hands back tensors under
/// autodiff or of different shapes for Burn's operations.
#[test]
fn adam_update_fuses_only_what_its_kernel_takes() {
    let step = AdamStep {
        beta_1: 0.9,
        beta_2: 0.999,
        learning_rate: 0.1,
        moment_1_scale: 1.0,
        epsilon: 1e-8,
    };
    let flex = Device::flex();
    let t = |device: &Device, n: usize| Tensor::<1>::ones([n], device);
    assert!(adam_update(t(&flex, 3), t(&flex, 3), t(&flex, 3), t(&flex, 3), step).is_ok());
    assert!(adam_update(t(&flex, 3), t(&flex, 4), t(&flex, 3), t(&flex, 3), step).is_err());
    let autodiff = flex.clone().autodiff();
    let a = || t(&autodiff, 3);
    assert!(adam_update(a(), a(), a(), a(), step).is_err());
}
