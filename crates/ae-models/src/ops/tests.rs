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
    assert!(a.shape().num_elements() > kernels::PARALLEL_THRESHOLD);
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

/// The gradient of `sum(f(x) * weights)` in `x`, on the autodiff device.
fn gradient(f: impl Fn(Tensor<2>) -> Tensor<2>, x: &Tensor<2>, weights: &Tensor<2>) -> Tensor<2> {
    let x = x.clone().require_grad();
    let loss = (f(x.clone()) * weights.clone()).sum();
    let grads = loss.backward();
    x.grad(&grads).expect("x takes part in the loss")
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
    let n = kernels::PARALLEL_THRESHOLD * 3 + 17;
    let x = Tensor::<2>::random([1, n], Distribution::Uniform(-10.0, 10.0), &device);
    assert_close(sigmoid(x.clone()), activation::sigmoid(x), 1e-6);
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

#[test]
fn convolutions_match_burns_forward_and_backward() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    let device = Device::flex().autodiff();
    // The conv autoencoder's layers, odd sizes, no padding, stride 1 and a 5x5 kernel.
    for (channels, side, kernel, stride, padding) in [
        ([1, 32], 28, 3, 2, 1),
        ([32, 64], 14, 3, 2, 1),
        ([3, 5], 9, 3, 2, 1),
        ([2, 4], 8, 3, 1, 0),
        ([3, 2], 11, 5, 2, 2),
    ] {
        let conv = Conv2dConfig::new(channels, [kernel; 2])
            .with_stride([stride; 2])
            .with_padding(PaddingConfig2d::Explicit(
                padding, padding, padding, padding,
            ))
            .init(&device);
        let x = Tensor::<4>::random(
            [5, channels[0], side, side],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        compare_layers(
            |x| conv2d(&conv, x),
            |x| conv.forward(x),
            x,
            |grads| weight_and_bias(&conv.weight, &conv.bias, grads),
        );
    }
    for (channels, side, kernel, stride, padding, padding_out) in [
        ([64, 32], 7, 3, 2, 1, 1),
        ([32, 1], 14, 3, 2, 1, 1),
        ([3, 4], 5, 3, 2, 1, 0),
        ([2, 3], 6, 3, 1, 1, 0),
        ([4, 2], 4, 5, 2, 2, 1),
    ] {
        let conv = ConvTranspose2dConfig::new(channels, [kernel; 2])
            .with_stride([stride; 2])
            .with_padding([padding; 2])
            .with_padding_out([padding_out; 2])
            .init(&device);
        let x = Tensor::<4>::random(
            [3, channels[0], side, side],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        compare_layers(
            |x| conv_transpose2d(&conv, x),
            |x| conv.forward(x),
            x,
            |grads| weight_and_bias(&conv.weight, &conv.bias, grads),
        );
    }
}

#[test]
fn convolutions_without_autodiff_match_burns() {
    use burn::nn::conv::Conv2dConfig;
    let device = Device::flex();
    let conv = Conv2dConfig::new([2, 3], [3, 3]).init(&device); // no padding, stride 1
    let x = Tensor::<4>::random([4, 2, 10, 7], Distribution::Uniform(-1.0, 1.0), &device);
    assert_close(conv2d(&conv, x.clone()), conv.forward(x), 1e-5);
}

/// Dense layers: ours and Burn's on the same weights, with and without a bias, small (one
/// thread) and large (blocks of rows on each thread, an uneven split too), on a transposed
/// (strided) input too: outputs and the gradients of a weighted sum in the input, the weight and
/// the bias.
#[test]
fn dense_layers_match_burns_forward_and_backward() {
    use burn::nn::LinearConfig;
    let device = Device::flex().autodiff();
    for (rows, inputs, outputs, bias, transposed) in [
        (5, 7, 3, true, false),
        (4, 6, 2, false, false),
        (6, 5, 4, true, true),
        (256, 784, 128, true, false), // the dense model's first layer: threaded
        (257, 784, 128, false, true), // threaded, blocks of 129 and 128 rows
    ] {
        let layer = LinearConfig::new(inputs, outputs)
            .with_bias(bias)
            .init(&device);
        let x = if transposed {
            Tensor::<2>::random([inputs, rows], Distribution::Uniform(-1.0, 1.0), &device)
                .transpose()
        } else {
            Tensor::<2>::random([rows, inputs], Distribution::Uniform(-1.0, 1.0), &device)
        };
        compare_layers(
            |x| linear(&layer, x),
            |x| layer.forward(x),
            x,
            |grads| weight_and_bias(&layer.weight, &layer.bias, grads),
        );
    }
    // Without autodiff, and a batch of none.
    let device = Device::flex();
    let layer = LinearConfig::new(3, 2).init(&device);
    let x = Tensor::<2>::random([4, 3], Distribution::Uniform(-1.0, 1.0), &device);
    assert_close(linear(&layer, x.clone()), layer.forward(x), 1e-6);
    assert_eq!(
        linear(&layer, Tensor::<2>::zeros([0, 3], &device)).dims(),
        [0, 2]
    );
}

/// im2col by its definition, one value at a time, for the geometries the kernels take shortcuts
/// on (windows wholly in the padding, kernels wider than the padded image is tall).
#[test]
fn im2col_matches_its_definition_and_col2im_is_its_adjoint() {
    use convolution::{Geometry, col2im_add, im2col};
    for (shape, kernel, stride, padding) in [
        ([2, 5, 7], 3, 2, 1),
        ([1, 4, 4], 3, 1, 0),
        ([3, 6, 5], 5, 2, 2),
        ([1, 3, 3], 3, 3, 4),
        ([2, 2, 9], 1, 2, 0),
    ] {
        let g = Geometry::new(shape, kernel, stride, padding);
        let image: Vec<f32> = (0..g.image_len()).map(|i| i as f32 + 1.0).collect();
        let mut columns = vec![f32::NAN; g.column_rows() * g.positions()];
        im2col(&image, &g, &mut columns);
        for row in 0..g.column_rows() {
            let (c, ki, kj) = (row / (kernel * kernel), row / kernel % kernel, row % kernel);
            for oh in 0..g.out_height {
                for ow in 0..g.out_width {
                    let ih = (oh * stride + ki) as isize - padding as isize;
                    let iw = (ow * stride + kj) as isize - padding as isize;
                    let inside = (0..shape[1] as isize).contains(&ih)
                        && (0..shape[2] as isize).contains(&iw);
                    let want = if inside {
                        image[(c * shape[1] + ih as usize) * shape[2] + iw as usize]
                    } else {
                        0.0
                    };
                    let got = columns[row * g.positions() + oh * g.out_width + ow];
                    assert_eq!(got, want, "{shape:?} k{kernel} s{stride} p{padding}");
                }
            }
        }
        // <im2col(x), y> = <x, col2im(y)> for any y.
        let y: Vec<f32> = (0..columns.len()).map(|i| (i % 7) as f32 - 3.0).collect();
        let mut back = vec![0.0f32; g.image_len()];
        col2im_add(&y, &g, &mut back);
        let left: f32 = columns.iter().zip(&y).map(|(a, b)| a * b).sum();
        let right: f32 = image.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert_eq!(left, right, "{shape:?} k{kernel} s{stride} p{padding}");
    }
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

/// `on_kernel_threads` moves work on the CPU onto a pool thread (when the pool has two), runs a
/// nested call in place, and leaves other devices' work where it is. Then two calls at once
/// whose work blocks until a thread outside the pool gets a rayon job done (as burn-train's
/// learner waits on its event processor) both finish: a pool thread is always left for that job.
/// With every pool thread lent to a blocked call, they would wait forever. Last, the pool's
/// threads flush denormals and the caller's does not. (One test: the pool's seats are shared by
/// the whole process, and no other test here may call `on_kernel_threads`.)
#[test]
fn kernel_threads_take_cpu_work_into_the_pool_and_leave_one_thread() {
    use std::sync::{Arc, Barrier, mpsc};
    use std::time::Duration;

    let where_run = |device: &Device| on_kernel_threads(device, rayon::current_thread_index);
    if rayon::current_num_threads() >= 2 {
        assert!(where_run(&Device::flex()).is_some());
        let (outer, inner) = on_kernel_threads(&Device::flex(), || {
            (rayon::current_thread_index(), where_run(&Device::flex()))
        });
        assert_eq!(outer, inner);
    }
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)] // ndarray is deprecated upstream; it is the other CPU backend here
    let ndarray = Device::ndarray();
    #[cfg(feature = "ndarray")]
    assert_eq!(where_run(&ndarray), None);

    let calls = 2.max(rayon::current_num_threads());
    let all_inside = Arc::new(Barrier::new(calls));
    let (done, finished) = mpsc::channel();
    for _ in 0..calls {
        let (all_inside, done) = (all_inside.clone(), done.clone());
        std::thread::spawn(move || {
            let sum = on_kernel_threads(&Device::flex(), || {
                all_inside.wait();
                let (job, result) = mpsc::channel();
                std::thread::spawn(move || job.send(rayon::join(|| 1, || 2)));
                let (a, b) = result.recv().expect("the helper thread answers");
                a + b
            });
            done.send(sum).expect("the test waits");
        });
    }
    for _ in 0..calls {
        let sum = finished
            .recv_timeout(Duration::from_secs(60))
            .expect("blocked calls on the pool deadlocked");
        assert_eq!(sum, 3);
    }

    // After a call on the CPU, rayon's threads flush denormal results to zero; this thread (not
    // one of the pool's) does not.
    #[cfg(target_arch = "x86_64")]
    {
        let tiny = f32::MIN_POSITIVE;
        let halved = || std::hint::black_box(tiny) / 2.0;
        let on_pool = rayon::broadcast(|_| halved());
        assert!(on_pool.iter().all(|&v| v == 0.0), "{on_pool:?}");
        assert!(halved() > 0.0);
    }
}

/// `matmul` against Burn's on plain flex: small, threaded, empty dimensions (no rows, no inner
/// dimension: zeros, no columns), a transposed and a sliced operand (read where they lie); and
/// under autodiff, where it is Burn's, the same values and gradients.
#[test]
fn matmul_matches_burns() {
    let device = Device::flex();
    let random = |shape: [usize; 2], device: &Device| {
        Tensor::<2>::random(shape, Distribution::Uniform(-1.0, 1.0), device)
    };
    for (m, k, n) in [(5, 7, 3), (256, 784, 128), (0, 4, 3), (4, 0, 3), (3, 4, 0)] {
        let (a, b) = (random([m, k], &device), random([k, n], &device));
        assert_close(matmul(a.clone(), b.clone()), a.matmul(b), 1e-5);
    }
    let a = random([7, 5], &device).transpose();
    let b = random([9, 6], &device).slice([1..8, 2..5]);
    assert_close(matmul(a.clone(), b.clone()), a.matmul(b), 1e-5);
    assert_eq!(
        matmul(random([4, 0], &device), random([0, 3], &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap(),
        [0.0; 12]
    );

    let device = Device::flex().autodiff();
    let (a, b) = (
        random([6, 4], &device).require_grad(),
        random([4, 3], &device).require_grad(),
    );
    let ours = matmul(a.clone(), b.clone());
    let burns = a.clone().matmul(b.clone());
    assert_close(ours.clone(), burns.clone(), 1e-6);
    let (ours, burns) = (ours.sum().backward(), burns.sum().backward());
    for param in [&a, &b] {
        assert_close(
            param.grad(&ours).expect("a gradient"),
            param.grad(&burns).expect("a gradient"),
            1e-6,
        );
    }
}

/// A convolution's gradients are the same to the bit whatever the number of threads: the
/// batch's weight gradient is summed in one fixed order (37 images: several blocks and a
/// partial one).
#[test]
fn convolution_gradients_do_not_depend_on_the_threads() {
    use convolution::{Geometry, conv_transpose2d_backward, conv2d_backward};
    let values = |n: usize, seed: u32| -> Vec<f32> {
        (0..n as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    };
    let images = 37;
    let g = Geometry::new([3, 9, 9], 3, 2, 1);
    let (channels, positions) = (4, g.positions());
    let x = values(images * g.image_len(), 1);
    let weight = values(channels * g.column_rows(), 2);
    let dy = values(images * channels * positions, 3);
    let on_threads = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let conv = conv2d_backward(&x, &weight, &dy, &g, true);
            // The transposed convolution reads `dy` as its input and `x` as its output gradient.
            let transposed = conv_transpose2d_backward(&dy, &weight, &x, &g, true);
            (conv, transposed)
        })
    };
    let one = on_threads(1);
    for threads in [2, 3, 5] {
        assert!(
            on_threads(threads) == one,
            "{threads} threads differ from one"
        );
    }
}
