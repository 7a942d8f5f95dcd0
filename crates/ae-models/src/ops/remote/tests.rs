//! A server refusing what a client should never send: operations whose shapes or sizes the
//! kernels cannot take end that client's session, and the server goes on serving others.

use std::net::TcpListener;

use burn::remote::RemoteHost;
use burn::server::{RemoteServer, WebSocketTransport};
use burn::tensor::{Device, Shape, Tensor};
use burn_ir::ScalarIr;

use super::{Op, probe, ship_one};

/// A server of `device` of this process with the kernels, on a free port of 127.0.0.1.
fn serve(device: Device) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        let devices = vec![device];
        let (server, _) = super::server::with_kernels(RemoteServer::new(devices.clone()), &devices);
        let _ = server.serve(WebSocketTransport::from_listener(listener));
    });
    format!("ws://127.0.0.1:{port}")
}

/// A client session of its own (the server takes any credential; a new one is a new session),
/// whose server runs `kernels`.
fn client(url: &str, name: &str, kernels: super::ServerKernels) -> Device {
    let host = RemoteHost::websocket(url).with_credential(name);
    let device = Device::remote_options(&host)
        .init()
        .expect("the server answers");
    assert_eq!(probe(&device), Ok(kernels));
    device
}

/// `op` of `inputs` (vectors of ones of these lengths) asking for one output of `output` values:
/// its values, or the error of reading them.
#[cfg(all(gpu_kernels, feature = "wgpu"))]
fn ship_ones(device: &Device, op: Op, inputs: &[usize], output: usize) -> Result<Vec<f32>, String> {
    let inputs = inputs
        .iter()
        .map(|&length| {
            Tensor::<1>::ones([length], device)
                .try_into_primitive::<burn::backend::Remote>()
                .map_err(|_| "a remote tensor".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = ship_one(op, inputs, Shape::from([output]), vec![]);
    Tensor::<1>::from_primitive::<burn::backend::Remote>(out)
        .try_into_data()
        .map_err(|e| e.to_string())
        .and_then(|data| data.try_to_vec::<f32>().map_err(|e| format!("{e:?}")))
}

/// Ships a convolution of 1x1 images and kernel with `padding`, asking for `output`.
fn conv_with_padding(
    device: &Device,
    padding: u64,
    output: [usize; 4],
) -> Result<Vec<f32>, String> {
    let one = |shape: [usize; 4]| {
        Tensor::<4>::ones(shape, device)
            .try_into_primitive::<burn::backend::Remote>()
            .map_err(|_| "a remote tensor".to_string())
    };
    let bias = Tensor::<1>::ones([1], device)
        .try_into_primitive::<burn::backend::Remote>()
        .map_err(|_| "a remote tensor".to_string())?;
    let out = ship_one(
        Op::Conv2d,
        vec![one([1, 1, 1, 1])?, one([1, 1, 1, 1])?, bias],
        Shape::from(output),
        vec![ScalarIr::UInt(1), ScalarIr::UInt(padding)],
    );
    Tensor::<4>::from_primitive::<burn::backend::Remote>(out)
        .try_into_data()
        .map_err(|e| e.to_string())
        .and_then(|data| data.try_to_vec::<f32>().map_err(|e| format!("{e:?}")))
}

#[test]
fn hostile_shapes_end_their_session_only() {
    let url = serve(Device::flex());
    let cpu = super::ServerKernels::Cpu;
    // A padding whose doubled size overflows, a claimed output of one value.
    let first = client(&url, "first", cpu);
    assert!(conv_with_padding(&first, 1 << 62, [1, 1, 1, 1]).is_err());
    // An output of 2^40 values (a padding of 2^19): refused before anything is allocated.
    let second = client(&url, "second", cpu);
    let side = (1usize << 20) + 1;
    assert!(conv_with_padding(&second, 1 << 19, [1, 1, side, side]).is_err());
    // The server still serves: a valid convolution on a new session gives its value, 1 + 1.
    let third = client(&url, "third", cpu);
    assert_eq!(conv_with_padding(&third, 0, [1, 1, 1, 1]), Ok(vec![2.0]));
}

#[cfg(all(gpu_kernels, feature = "wgpu"))]
#[test]
fn a_gpu_server_refuses_what_its_kernels_cannot_take() {
    let gpu = match Device::wgpu_options().init() {
        Ok(device) => device,
        Err(err) if std::env::var("AE_REQUIRE_WGPU").is_ok_and(|v| v == "1") => {
            panic!("AE_REQUIRE_WGPU=1 but: {err}")
        }
        Err(err) => return eprintln!("skipped: {err}"),
    };
    let url = serve(gpu);
    let kernels = super::ServerKernels::Gpu;
    // Inputs of two shapes: refused (its kernels index every buffer as the first).
    let first = client(&url, "first", kernels);
    assert!(ship_ones(&first, Op::SquaredDifference, &[4, 3], 4).is_err());
    // An operation without a GPU kernel: the server has no handler for it.
    let second = client(&url, "second", kernels);
    assert!(ship_ones(&second, Op::Tanh, &[3], 3).is_err());
    // The server still serves: σ(1) on a new session.
    let third = client(&url, "third", kernels);
    let values = ship_ones(&third, Op::Sigmoid, &[2], 2).expect("a sigmoid");
    assert!(
        values.iter().all(|v| (v - 0.731_058_6).abs() < 1e-6),
        "{values:?}"
    );
}
