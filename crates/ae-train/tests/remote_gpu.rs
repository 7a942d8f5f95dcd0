//! A GPU served remotely runs this workspace's GPU kernels (Adam, the sigmoid, the squared error,
//! BCE with logits and their gradients): a server of this process's wgpu device (lavapipe in CI,
//! `AE_REQUIRE_WGPU=1`) on 127.0.0.1 and a client of it.

#![cfg(feature = "remote-server")]

mod common;

use std::net::TcpListener;

use ae_models::ops::{self, AdamStep, remote::ServerKernels};
use burn::remote::RemoteHost;
use burn::server::{RemoteServer, WebSocketTransport};
use burn::tensor::{Device, Distribution, Tensor};

#[test]
fn a_remote_gpu_runs_the_gpu_kernels_with_the_local_results() {
    let Some(gpu) = common::wgpu() else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let served = gpu.clone();
    std::thread::spawn(move || {
        let devices = vec![served];
        let (server, kernels) =
            ops::remote::server::with_kernels(RemoteServer::new(devices.clone()), &devices);
        assert_eq!(kernels, ServerKernels::Gpu);
        let _ = server.serve(WebSocketTransport::from_listener(listener));
    });
    let remote = Device::remote_options(&RemoteHost::websocket(&format!("ws://127.0.0.1:{port}")))
        .init()
        .expect("the server answers");
    assert_eq!(ops::remote::probe(&remote), Ok(ServerKernels::Gpu));

    let step = AdamStep {
        beta_1: 0.9,
        beta_2: 0.999,
        learning_rate: 0.01,
        moment_1_scale: 0.5,
        epsilon: 1e-8,
    };
    let flex = Device::flex();
    flex.seed(3);
    let data: Vec<_> = (0..4)
        .map(|_| Tensor::<2>::random([6, 5], Distribution::Normal(0.0, 1.0), &flex).into_data())
        .collect();
    let adam = |device: &Device| -> Vec<Vec<f32>> {
        let t = |i: usize| Tensor::<2>::from_data(data[i].clone(), device);
        let (param, m1, m2) = ops::adam_update(t(0), t(1), t(2), t(3).abs(), step)
            .unwrap_or_else(|_| panic!("one kernel on {device:?}"));
        [param, m1, m2]
            .map(|t| t.into_data().try_to_vec::<f32>().expect("f32"))
            .into()
    };
    let before = ops::remote::server::operations_run();
    let (local, shipped) = (adam(&gpu), adam(&remote));
    assert_eq!(ops::remote::server::operations_run() - before, 1);
    for (l, r) in local.iter().flatten().zip(shipped.iter().flatten()) {
        assert!(
            (l - r).abs() <= 1e-6 * (1.0 + l.abs()),
            "local {l}, remote {r}"
        );
    }

    // The element-wise kernels forward and backward: the local GPU kernels' values and gradients.
    let pass = |device: &Device| -> Vec<Vec<f32>> {
        let device = device.clone().autodiff();
        let x = Tensor::<2>::from_data(data[0].clone(), &device).require_grad();
        let target = Tensor::<2>::from_data(data[1].clone(), &device)
            .abs()
            .clamp_max(1.0);
        let y = ops::sigmoid(x.clone());
        let loss = ops::squared_difference(y.clone(), target.clone()).mean()
            + ops::bce_with_logits(x.clone(), target).mean();
        let grads = loss.backward();
        let grad = x.grad(&grads).expect("a gradient");
        [y.inner(), grad]
            .map(|t| t.into_data().try_to_vec::<f32>().expect("f32"))
            .into()
    };
    let before = ops::remote::server::operations_run();
    let (local, shipped) = (pass(&gpu), pass(&remote));
    // Three kernels forward, three gradients (the target asks for none).
    assert_eq!(ops::remote::server::operations_run() - before, 6);
    for (l, r) in local.iter().flatten().zip(shipped.iter().flatten()) {
        assert!(
            (l - r).abs() <= 1e-6 * (1.0 + l.abs()),
            "local {l}, remote {r}"
        );
    }
}
