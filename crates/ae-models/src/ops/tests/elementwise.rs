//! The element-wise operations: values, gradients, the parallel path, other backends.

use super::*;

#[test]
fn forward_passes_match_burn_on_random_and_extreme_inputs() {
    let device = Device::flex();
    let x = inputs(&device);
    assert_close(sigmoid(x.clone()), activation::sigmoid(x.clone()), 1e-6);
    assert_close(tanh(x.clone()), activation::tanh(x.clone()), 1e-6);
    // Relative: e^x spans the whole float range.
    let random = x.clone().slice([0..64, 0..300]);
    let ratio = exp(random.clone()) / random.exp();
    assert_close(ratio, Tensor::ones([64, 300], &device), 1e-6);
    let got = exp(x.clone()).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(got[64 * 300 + 9], f32::INFINITY);
    assert_eq!(got[64 * 300 + 10], 0.0);
    assert!(got[64 * 300 + 11].is_nan());
}

#[test]
fn bce_matches_burns_composition() {
    let device = Device::flex();
    let logits = Tensor::<2>::random([128, 784], Distribution::Uniform(-30.0, 30.0), &device);
    let target = Tensor::<2>::random([128, 784], Distribution::Uniform(0.0, 1.0), &device);
    let reference = logits.clone() * target.clone().neg().add_scalar(1.0)
        - activation::log_sigmoid(logits.clone());
    assert_close(bce_with_logits(logits, target), reference, 2e-6);
}

/// The fused squared difference computes Burn's `(a - b).square()` and its gradients in both
/// operands bit for bit (NaN as NaN, whatever its payload), extremes and a broadcast (stride-0)
/// incoming gradient included.
#[test]
fn squared_difference_is_burns_to_the_bit() {
    let device = Device::flex().autodiff();
    // Twice the inputs: over the parallel threshold, so the threaded path runs too.
    let a = Tensor::cat(vec![inputs(&device), inputs(&device)], 0);
    assert!(a.shape().num_elements() > cpu::kernels::PARALLEL_THRESHOLD);
    let b = Tensor::<2>::random(a.dims(), Distribution::Uniform(-1.0, 1.0), &device);
    let same = |got: Tensor<2>, want: Tensor<2>| {
        let got = got.into_data().try_to_vec::<f32>().unwrap();
        let want = want.into_data().try_to_vec::<f32>().unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let equal = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
            assert!(equal, "value {i}: got {g}, want {w}");
        }
    };
    let reference = |a: Tensor<2>, b: Tensor<2>| (a - b).square();
    same(
        squared_difference(a.clone(), b.clone()),
        reference(a.clone(), b.clone()),
    );
    let weights = Tensor::<2>::random(a.dims(), Distribution::Uniform(-1.0, 1.0), &device);
    let b_for_a = b.clone();
    same(
        gradient(|a| squared_difference(a, b_for_a.clone()), &a, &weights),
        gradient(|a| reference(a, b_for_a.clone()), &a, &weights),
    );
    let a_for_b = a.clone();
    same(
        gradient(|b| squared_difference(a_for_b.clone(), b), &b, &weights),
        gradient(|b| reference(a_for_b.clone(), b), &b, &weights),
    );
    // Under a mean, as the loss uses it: the incoming gradient is one value broadcast.
    let mean_gradient = |f: &dyn Fn(Tensor<2>) -> Tensor<2>| {
        let a = a.clone().require_grad();
        let grads = f(a.clone()).mean().backward();
        a.grad(&grads).expect("a takes part in the loss")
    };
    same(
        mean_gradient(&|a| squared_difference(a, b.clone())),
        mean_gradient(&|a| reference(a, b.clone())),
    );
}

#[test]
fn non_contiguous_inputs_are_read_in_order() {
    let device = Device::flex();
    let x = Tensor::<2>::random([40, 70], Distribution::Uniform(-5.0, 5.0), &device);
    let transposed = x.clone().transpose();
    assert_close(
        sigmoid(transposed.clone()),
        activation::sigmoid(transposed),
        1e-6,
    );
    let sliced = x.slice([3..30, 10..60]);
    assert_close(tanh(sliced.clone()), activation::tanh(sliced), 1e-6);
}

#[test]
fn gradients_match_burns_autodiff() {
    let device = Device::flex().autodiff();
    let x = Tensor::<2>::random([96, 400], Distribution::Uniform(-8.0, 8.0), &device);
    let weights = Tensor::<2>::random([96, 400], Distribution::Uniform(-1.0, 1.0), &device);
    assert_close(
        gradient(sigmoid, &x, &weights),
        gradient(activation::sigmoid, &x, &weights),
        1e-6,
    );
    assert_close(
        gradient(tanh, &x, &weights),
        gradient(activation::tanh, &x, &weights),
        1e-6,
    );
    assert_close(
        gradient(exp, &x, &weights) / gradient(|x| x.exp(), &x, &weights),
        Tensor::ones([96, 400], &device),
        1e-6,
    );

    let target = Tensor::<2>::random([96, 400], Distribution::Uniform(0.0, 1.0), &device);
    let reference = |logits: Tensor<2>, target: Tensor<2>| {
        logits.clone() * target.neg().add_scalar(1.0) - activation::log_sigmoid(logits)
    };
    let t = target.clone();
    assert_close(
        gradient(|x| bce_with_logits(x, t.clone()), &x, &weights),
        gradient(|x| reference(x, t.clone()), &x, &weights),
        1e-6,
    );
    // In the target too (never the case in the models, where it is data).
    let logits = x.clone();
    assert_close(
        gradient(|t| bce_with_logits(logits.clone(), t), &target, &weights),
        gradient(|t| reference(logits.clone(), t), &target, &weights),
        1e-6,
    );
}

#[test]
fn gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let values = [-6.0f32, -1.5, -0.2, 0.0, 0.3, 1.0, 2.5, 7.0];
    let x = Tensor::<2>::from_data(TensorData::new(values.to_vec(), [2, 4]), &device);
    let target = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 0.2, 0.5, 1.0, 0.9, 0.1, 0.7, 0.3], [2, 4]),
        &device,
    );
    let ones = Tensor::<2>::ones([2, 4], &device);
    let h = 1e-2f64;
    let check = |f: &dyn Fn(Tensor<2>) -> Tensor<2>, name: &str| {
        let analytic = gradient(f, &x, &ones)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (i, &v) in values.iter().enumerate() {
            // Central difference of the one value (the operations are element-wise).
            let at = |delta: f64| {
                let mut shifted = values;
                shifted[i] = (f64::from(v) + delta) as f32;
                let x = Tensor::<2>::from_data(TensorData::new(shifted.to_vec(), [2, 4]), &device);
                let values = f(x).into_data().try_to_vec::<f32>().unwrap();
                f64::from(values[i])
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            let error = (f64::from(analytic[i]) - numeric).abs();
            assert!(
                error <= 2e-3 * numeric.abs().max(1.0),
                "{name} at {v}: analytic {}, numeric {numeric}",
                analytic[i]
            );
        }
    };
    check(&sigmoid, "sigmoid");
    check(&tanh, "tanh");
    check(&exp, "exp");
    check(&|x| bce_with_logits(x, target.clone()), "bce_with_logits");
}

#[test]
fn large_tensors_take_the_parallel_path_with_the_same_values() {
    let device = Device::flex();
    let n = cpu::kernels::PARALLEL_THRESHOLD * 3 + 17;
    let x = Tensor::<2>::random([1, n], Distribution::Uniform(-10.0, 10.0), &device);
    assert_close(sigmoid(x.clone()), activation::sigmoid(x), 1e-6);
}

/// On every other backend the functions are Burn's own operations, value for value.
#[cfg(feature = "ndarray")]
#[test]
#[allow(deprecated)] // ndarray is deprecated upstream; it is the other CPU backend compiled here
fn other_backends_use_burns_operations() {
    use burn::nn::conv::Conv2dConfig;
    let device = Device::ndarray();
    let x = Tensor::<2>::random([8, 50], Distribution::Uniform(-9.0, 9.0), &device);
    let t = Tensor::<2>::random([8, 50], Distribution::Uniform(0.0, 1.0), &device);
    let exact = |a: Tensor<2>, b: Tensor<2>| a.into_data().assert_eq(&b.into_data(), true);
    exact(sigmoid(x.clone()), activation::sigmoid(x.clone()));
    exact(tanh(x.clone()), activation::tanh(x.clone()));
    exact(exp(x.clone()), x.clone().exp());
    let reference =
        x.clone() * t.clone().neg().add_scalar(1.0) - activation::log_sigmoid(x.clone());
    exact(bce_with_logits(x.clone(), t), reference);
    let conv = Conv2dConfig::new([2, 3], [3, 3]).init(&device);
    let images = Tensor::<4>::random([2, 2, 6, 6], Distribution::Uniform(-1.0, 1.0), &device);
    conv2d(&conv, images.clone())
        .into_data()
        .assert_eq(&conv.forward(images).into_data(), true);
    let layer = burn::nn::LinearConfig::new(50, 4).init(&device);
    linear(&layer, x.clone())
        .into_data()
        .assert_eq(&layer.forward(x).into_data(), true);
}
