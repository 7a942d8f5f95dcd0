//! Convolutions, dense layers and matrix products against Burn's layers.

use super::*;

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
    use cpu::convolution::{Geometry, col2im_add, im2col};
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
    use cpu::convolution::{Geometry, conv_transpose2d_backward, conv2d_backward};
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
