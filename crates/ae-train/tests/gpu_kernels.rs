//! This workspace's GPU kernels against Burn's operations on a real GPU code path (Mesa's
//! lavapipe is enough): the same values on random and extreme inputs, NaN kept.
//!
//! Skipped with a printed reason where no wgpu adapter exists, unless `AE_REQUIRE_WGPU=1`.

mod common;

use ae_train::FusedAdam;
use burn::optim::{AdamConfig, Optimizer};
use burn::tensor::{Device, Distribution, Tensor, TensorData, Tolerance};

/// A few units in the last place of an `f32`, amplified by at most a few operations: the kernels
/// compute the same formulas as Burn's operations, but not always in the same order (the
/// sigmoid's gradient differs from Burn's by up to 3e-6 relative).
const TOLERANCE: f32 = 1e-6;

/// `got` equals `want` within `TOLERANCE` relative (NaN where NaN, infinities equal).
fn close<const D: usize>(got: Tensor<D>, want: Tensor<D>, what: &str) {
    close_or_within(got, want, what, 0.0);
}

/// [`close`], or within `absolute` of each other: for a result that cancels terms much larger
/// than itself (`x - x t` where `x t ≈ x`), which one kernel rounds once (a fused multiply-add)
/// and Burn's separate operations twice.
fn close_or_within<const D: usize>(got: Tensor<D>, want: Tensor<D>, what: &str, absolute: f32) {
    let (got, want) = (got.into_data(), want.into_data());
    let (g, w) = (
        got.try_to_vec::<f32>().unwrap(),
        want.try_to_vec::<f32>().unwrap(),
    );
    assert_eq!(g.len(), w.len(), "{what}: lengths");
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let same = (a.is_nan() && b.is_nan())
            || a == b
            || (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()).max(1e-6)
            || (a - b).abs() <= absolute;
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
    let Some(device) = common::wgpu() else { return };
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
    let Some(device) = common::wgpu() else { return };
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
    let Some(device) = common::wgpu() else { return };
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
    let Some(device) = common::wgpu() else { return };
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
    let Some(device) = common::wgpu() else { return };
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
    let Some(device) = common::wgpu() else { return };
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

/// The values and the gradients in both inputs of `sum(op(a, b) * w)` for random weights `w`,
/// on `device` (the inputs copied there).
fn binary_with_gradients(
    op: fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
    [a, b, w]: [&Tensor<2>; 3],
    device: &Device,
) -> [Tensor<2>; 3] {
    let on = |t: &Tensor<2>, d: &Device| Tensor::<2>::from_data(t.to_data(), d);
    let value = op(on(a, device), on(b, device));
    let autodiff = device.clone().autodiff();
    let (a, b) = (
        on(a, &autodiff).require_grad(),
        on(b, &autodiff).require_grad(),
    );
    let grads = (op(a.clone(), b.clone()) * on(w, &autodiff))
        .sum()
        .backward();
    [value, a.grad(&grads).unwrap(), b.grad(&grads).unwrap()]
}

/// Binary cross-entropy with logits on wgpu against the CPU kernel on flex (the same formula,
/// `max(x, 0) - x t + ln(1 + e^-|x|)`): the values and the gradients in the logits and the
/// targets, on random and extreme logits (NaN and infinities included) and targets in `[0, 1]`.
#[test]
fn bce_with_logits_on_wgpu_equals_the_cpu_kernel() {
    let Some(device) = common::wgpu() else { return };
    device.seed(13);
    let x = inputs(&device);
    let t = Tensor::<2>::random(x.dims(), Distribution::Uniform(0.0, 1.0), &device);
    let w = Tensor::<2>::random(x.dims(), Distribution::Normal(0.0, 1.0), &device);
    let gpu = binary_with_gradients(ae_models::ops::bce_with_logits, [&x, &t, &w], &device);
    let cpu = binary_with_gradients(
        ae_models::ops::bce_with_logits,
        [&x, &t, &w],
        &Device::flex(),
    );
    for (what, (g, c)) in ["bce", "gradient in the logits", "gradient in the targets"]
        .into_iter()
        .zip(gpu.into_iter().zip(cpu))
    {
        // Terms below 30 but for the extremes (compared relatively): a few units in the last
        // place of 30 is 1e-5.
        close_or_within(g, c, what, 1e-5);
    }
    // And against Burn's own formula where the logits are finite (the first row holds the
    // extremes, on which the two formulas meet infinity differently).
    let finite = |v: Tensor<2>| v.narrow(0, 1, 63);
    let burn = x.clone() * t.clone().neg().add_scalar(1.0)
        - burn::tensor::activation::log_sigmoid(x.clone());
    // The two formulas round differently (Burn's subtracts ln σ(x) from x (1 - t)): within
    // 1e-5 of each other for these values, which stay below 30.
    finite(ae_models::ops::bce_with_logits(x, t))
        .into_data()
        .assert_approx_eq::<f32>(&finite(burn).into_data(), Tolerance::absolute(1e-5));
}

/// The VAE's KL terms `mean^2 + e^logvar - logvar - 1` on wgpu against Burn's operations:
/// values and both gradients, on random and extreme inputs.
#[test]
fn kl_terms_on_wgpu_equal_burns() {
    let Some(device) = common::wgpu() else { return };
    device.seed(14);
    let (mean, logvar) = (inputs(&device), inputs(&device).flip([0]));
    let w = Tensor::<2>::random(mean.dims(), Distribution::Normal(0.0, 1.0), &device);
    let ours = binary_with_gradients(ae_models::ops::kl_terms, [&mean, &logvar, &w], &device);
    let burns = binary_with_gradients(
        |m, l| (m.square() + l.clone().exp() - l).add_scalar(-1.0),
        [&mean, &logvar, &w],
        &device,
    );
    for (what, (o, b)) in [
        "kl terms",
        "gradient in the mean",
        "gradient in the log-variance",
    ]
    .into_iter()
    .zip(ours.into_iter().zip(burns))
    {
        close_or_within(o, b, what, 1e-5);
    }
}
