//! The CPU kernels on a remote `flex` device: servers in this process on 127.0.0.1 (nothing else
//! is reached), one with the kernels registered and one without, and a client of each.

#![cfg(feature = "remote-server")]

use std::net::TcpListener;

use ae_models::ops;
use burn::module::Module;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{LinearConfig, PaddingConfig2d};
use burn::remote::RemoteHost;
use burn::server::{RemoteServer, WebSocketTransport};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// Serves this process's flex device on a free port of 127.0.0.1, with or without the kernels,
/// and returns the device of a client of it.
fn remote_flex(with_kernels: bool) -> Device {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        let devices = vec![Device::flex()];
        let server = RemoteServer::new(devices.clone());
        let server = if with_kernels {
            ops::remote::server::with_kernels(server, &devices).0
        } else {
            server
        };
        let _ = server.serve(WebSocketTransport::from_listener(listener));
    });
    Device::remote_options(&RemoteHost::websocket(&format!("ws://127.0.0.1:{port}")))
        .init()
        .expect("the server answers")
}

fn random<const D: usize>(shape: [usize; D], seed: u64) -> TensorData {
    let device = Device::flex();
    device.seed(seed);
    Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &device).into_data()
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().expect("f32 values")
}

/// Every kernel forward and backward on `device` from the same inputs and weights: the outputs
/// and the gradients of the inputs and parameters, in a fixed order.
fn forward_and_backward(device: &Device) -> Vec<Vec<f32>> {
    let device = device.clone().autodiff();
    // The same weights everywhere: made on flex, then moved.
    let flex = Device::flex().autodiff();
    flex.seed(7);
    let linear = LinearConfig::new(12, 8).init(&flex).to_device(&device);
    let conv = Conv2dConfig::new([2, 3], [3, 3])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&flex)
        .to_device(&device);
    let deconv = ConvTranspose2dConfig::new([3, 2], [3, 3])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_padding_out([1, 1])
        .init(&flex)
        .to_device(&device);

    let x = Tensor::<2>::from_data(random([4, 12], 1), &device).require_grad();
    let target = Tensor::<2>::from_data(random([4, 8], 2), &device)
        .abs()
        .clamp_max(1.0);
    let images = Tensor::<4>::from_data(random([2, 2, 6, 6], 3), &device).require_grad();

    let logits = ops::linear(&linear, x.clone());
    let codes = ops::tanh(logits.clone());
    let bce = ops::bce_with_logits(logits.clone(), target.clone()).mean();
    let grown = ops::exp(codes.clone().mul_scalar(0.1));
    let decoded = ops::conv_transpose2d(&deconv, ops::conv2d(&conv, images.clone()));
    let reconstruction = ops::sigmoid(decoded);
    let error = ops::squared_difference(
        reconstruction.clone(),
        images.clone().detach().abs().clamp_max(1.0),
    )
    .mean();
    let product = ops::matmul(x.clone().detach(), x.clone().detach().transpose());
    let loss = bce + error + grown.clone().mean();

    let grads = loss.backward();
    let grad = |t: Tensor<2>| values(t.grad(&grads).expect("a gradient"));
    let mut all = vec![
        values(logits),
        values(codes),
        values(grown),
        values(reconstruction),
        values(product),
        grad(x),
        values(images.grad(&grads).expect("a gradient")),
        grad(linear.weight.val()),
        values(
            linear
                .bias
                .expect("a bias")
                .val()
                .grad(&grads)
                .expect("a gradient"),
        ),
    ];
    all.push(values(conv.weight.val().grad(&grads).expect("a gradient")));
    all.push(values(
        deconv.weight.val().grad(&grads).expect("a gradient"),
    ));
    all
}

fn assert_close(local: &[Vec<f32>], remote: &[Vec<f32>]) {
    assert_eq!(local.len(), remote.len());
    for (i, (l, r)) in local.iter().zip(remote).enumerate() {
        assert_eq!(l.len(), r.len(), "result {i}");
        for (a, b) in l.iter().zip(r) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
                "result {i}: local {a}, remote {b}"
            );
        }
    }
}

#[test]
fn remote_kernels_give_the_local_kernels_values_and_gradients() {
    let remote = remote_flex(true);
    assert_eq!(
        ops::remote::probe(&remote),
        Ok(ops::remote::ServerKernels::Cpu)
    );
    let before = ops::remote::server::operations_run();
    let local = forward_and_backward(&Device::flex());
    let shipped = forward_and_backward(&remote);
    assert_close(&local, &shipped);
    // Nine forward kernels and their gradients ran on the server, not Burn's operations.
    let ran = ops::remote::server::operations_run() - before;
    assert!(ran >= 15, "{ran} operations ran on the server");

    // Adam: one operation per parameter, the local kernel's result.
    let step = ops::AdamStep {
        beta_1: 0.9,
        beta_2: 0.999,
        learning_rate: 0.01,
        moment_1_scale: 0.5,
        epsilon: 1e-8,
    };
    let adam = |device: &Device| {
        let t = |seed| Tensor::<2>::from_data(random([5, 7], seed), device);
        let moment_2 = t(14).abs();
        let (param, m1, m2) = ops::adam_update(t(11), t(12), t(13), moment_2, step)
            .unwrap_or_else(|_| panic!("the kernel takes f32 tensors on {device:?}"));
        vec![values(param), values(m1), values(m2)]
    };
    let before = ops::remote::server::operations_run();
    assert_close(&adam(&Device::flex()), &adam(&remote));
    assert_eq!(ops::remote::server::operations_run() - before, 1);
}

#[test]
fn a_server_without_the_kernels_is_refused_with_what_to_do() {
    let remote = remote_flex(false);
    let message = ops::remote::probe(&remote).expect_err("no handler there");
    assert!(message.contains("AE_REMOTE_KERNELS=off"), "{message}");
}
