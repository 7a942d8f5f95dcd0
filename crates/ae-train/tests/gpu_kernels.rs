//! This workspace's GPU kernels against Burn's operations on a real GPU code path (Mesa's
//! lavapipe is enough): the same values on random and extreme inputs, NaN kept.
//!
//! Skipped with a printed reason where no wgpu adapter exists, unless `AE_REQUIRE_WGPU=1`.

use ae_train::{Backend, DeviceSpec, FusedAdam};
use burn::optim::{AdamConfig, Optimizer};
use burn::tensor::{Device, Distribution, Tensor, TensorData, Tolerance};

/// A few units in the last place of an `f32`, amplified by at most a few operations: the kernels
/// compute the same formulas as Burn's operations, but not always in the same order (the
/// sigmoid's gradient differs from Burn's by up to 3e-6 relative).
const TOLERANCE: f32 = 1e-6;

/// A wgpu device, or `None` (with the reason printed) where none can be had.
fn wgpu() -> Option<Device> {
    let require = std::env::var("AE_REQUIRE_WGPU").is_ok_and(|v| v == "1");
    if !Backend::Wgpu.is_compiled() {
        assert!(!require, "AE_REQUIRE_WGPU=1 but the wgpu feature is off");
        eprintln!("skipped: wgpu not compiled in (cargo feature `wgpu`)");
        return None;
    }
    match DeviceSpec::new(Backend::Wgpu).device() {
        Ok(device) => Some(device),
        Err(err) if !require => {
            eprintln!("skipped: {err}");
            None
        }
        Err(err) => panic!("wgpu: {err}"),
    }
}

/// `got` equals `want` within `TOLERANCE` relative (NaN where NaN, infinities equal).
fn close<const D: usize>(got: Tensor<D>, want: Tensor<D>, what: &str) {
    let (got, want) = (got.into_data(), want.into_data());
    let (g, w) = (
        got.try_to_vec::<f32>().unwrap(),
        want.try_to_vec::<f32>().unwrap(),
    );
    assert_eq!(g.len(), w.len(), "{what}: lengths");
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let same = (a.is_nan() && b.is_nan())
            || a == b
            || (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()).max(1e-6);
        assert!(same, "{what}[{i}]: {a} (fused) against {b} (Burn)");
    }
}

/// Steps `param` with the fused optimizer and with Burn's Adam through `grads` and compares the
/// parameters and both moments after every step.
fn steps_agree<const D: usize>(device: &Device, param: Tensor<D>, grads: Vec<Tensor<D>>) {
    let config = AdamConfig::new().with_epsilon(1e-8);
    let fused = FusedAdam::new(&config).expect("a plain Adam configuration");
    let adam = config.build();
    let (mut a, mut b) = (param.clone(), param);
    let (mut state_a, mut state_b) = (None, None);
    for (step, grad) in grads.into_iter().enumerate() {
        let grad = grad.to_device(device);
        (a, state_a) = fused.step(1e-3, a, grad.clone(), state_a);
        (b, state_b) = adam.step(1e-3, b, grad, state_b);
        close(
            a.clone(),
            b.clone(),
            &format!("parameter after step {}", step + 1),
        );
        let (ma, mb) = (
            state_a.clone().unwrap().momentum,
            state_b.clone().unwrap().momentum,
        );
        assert_eq!(ma.time, mb.time);
        close(ma.moment_1, mb.moment_1, "first moment");
        close(ma.moment_2, mb.moment_2, "second moment");
    }
}

/// The kernel is what runs on wgpu: `adam_update` takes the tensors instead of handing them
/// back for Burn's operations.
#[test]
fn the_fused_adam_kernel_runs_on_wgpu() {
    let Some(device) = wgpu() else { return };
    let t = || Tensor::<2>::ones([3, 5], &device);
    let step = ae_models::ops::AdamStep {
        beta_1: 0.9,
        beta_2: 0.999,
        learning_rate: 0.1,
        moment_1_scale: 1.0,
        epsilon: 1e-8,
    };
    let done = ae_models::ops::adam_update(t(), t(), t(), t(), step);
    assert!(
        done.is_ok(),
        "adam_update fell back to Burn's operations on wgpu"
    );
}

/// Five steps from random values, with gradients from 1e-2 to 1e2, agree with Burn's Adam.
#[test]
fn fused_adam_on_wgpu_equals_burns_adam() {
    let Some(device) = wgpu() else { return };
    device.seed(3);
    let param = Tensor::<2>::random([300, 200], Distribution::Uniform(-1.0, 1.0), &device);
    let grads = (0..5)
        .map(|step| {
            Tensor::<2>::random([300, 200], Distribution::Normal(0.0, 1.0), &device)
                .mul_scalar(10f32.powi(step - 2))
        })
        .collect();
    steps_agree(&device, param, grads);
}

/// Extreme gradients (zero, tiny, huge, infinite, NaN) give what Burn's Adam gives, NaN and
/// infinities included.
#[test]
fn fused_adam_on_wgpu_keeps_burns_extremes() {
    let Some(device) = wgpu() else { return };
    let values = [
        0.0f32,
        1e-30,
        -1e-30,
        1e19,
        -1e19,
        3e38,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0,
    ];
    let param = Tensor::<1>::from_data(TensorData::new(vec![0.5f32; 10], [10]), &device);
    let grad = Tensor::<1>::from_data(TensorData::new(values.to_vec(), [10]), &device);
    steps_agree(&device, param, vec![grad.clone(), grad.clone().neg(), grad]);
}

/// A parameter something else holds keeps its values; a transposed (non-contiguous) parameter
/// steps like the same values laid out in order.
#[test]
fn fused_adam_on_wgpu_leaves_held_and_strided_parameters_right() {
    let Some(device) = wgpu() else { return };
    let fused = FusedAdam::new(&AdamConfig::new()).unwrap();
    let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.1 - 0.5).collect();
    let param = Tensor::<2>::from_data(TensorData::new(values.clone(), [3, 4]), &device);
    let grad = Tensor::<2>::ones([4, 3], &device);
    let (transposed, _) = fused.step(0.1, param.clone().transpose(), grad.clone(), None);
    let (direct, _) = fused.step(0.1, param.clone(), grad.transpose(), None);
    param
        .into_data()
        .assert_eq(&TensorData::new(values, [3, 4]), true);
    transposed
        .transpose()
        .into_data()
        .assert_approx_eq::<f32>(&direct.into_data(), Tolerance::absolute(1e-7));
}

/// Random values and the extremes (zero, ±tiny, ±huge, ±infinity, NaN) on `device`.
fn inputs(device: &Device) -> Tensor<2> {
    let extremes = [
        0.0f32,
        -0.0,
        1e-30,
        -1e-30,
        1e30,
        -1e30,
        88.0,
        -88.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0,
    ];
    let extremes = Tensor::<2>::from_data(TensorData::new(extremes.to_vec(), [1, 12]), device);
    let random = Tensor::<2>::random([63, 12], Distribution::Normal(0.0, 4.0), device);
    Tensor::cat(vec![extremes, random], 0)
}

/// `op` against Burn's `reference` on wgpu: the values, and the gradient of `sum(out * w)` in the
/// input for random weights `w` (autodiff over wgpu).
fn agrees_with_burn(
    op: fn(Tensor<2>) -> Tensor<2>,
    reference: fn(Tensor<2>) -> Tensor<2>,
    what: &str,
) {
    let Some(device) = wgpu() else { return };
    device.seed(11);
    let x = inputs(&device);
    close(op(x.clone()), reference(x.clone()), what);
    let autodiff = device.clone().autodiff();
    let weights = Tensor::<2>::random(x.dims(), Distribution::Normal(0.0, 1.0), &autodiff);
    let gradient = |f: fn(Tensor<2>) -> Tensor<2>| {
        let x = Tensor::<2>::from_data(x.to_data(), &autodiff).require_grad();
        let grads = (f(x.clone()) * weights.clone()).sum().backward();
        x.grad(&grads).expect("a gradient for x")
    };
    close(
        gradient(op),
        gradient(reference),
        &format!("gradient of {what}"),
    );
}

#[test]
fn relu_on_wgpu_equals_burns() {
    agrees_with_burn(ae_models::ops::relu, burn::tensor::activation::relu, "relu");
}

#[test]
fn sigmoid_on_wgpu_equals_burns() {
    agrees_with_burn(
        ae_models::ops::sigmoid,
        burn::tensor::activation::sigmoid,
        "sigmoid",
    );
}

/// The squared error and its gradients in both operands (a reconstruction and a target that
/// asks for one too).
#[test]
fn squared_difference_on_wgpu_equals_burns() {
    let Some(device) = wgpu() else { return };
    device.seed(12);
    let (a, b) = (inputs(&device), inputs(&device).flip([0]));
    close(
        ae_models::ops::squared_difference(a.clone(), b.clone()),
        (a.clone() - b.clone()).square(),
        "squared difference",
    );
    let autodiff = device.clone().autodiff();
    let gradients = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<2>| {
        let a = Tensor::<2>::from_data(a.to_data(), &autodiff).require_grad();
        let b = Tensor::<2>::from_data(b.to_data(), &autodiff).require_grad();
        let grads = f(a.clone(), b.clone()).sum().backward();
        (a.grad(&grads).unwrap(), b.grad(&grads).unwrap())
    };
    let (ours_a, ours_b) = gradients(ae_models::ops::squared_difference);
    let (burn_a, burn_b) = gradients(|a, b| (a - b).square());
    close(ours_a, burn_a, "gradient in a");
    close(ours_b, burn_b, "gradient in b");
}
