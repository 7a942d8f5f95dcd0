//! A server refusing what a client should never send: operations whose shapes or sizes the
//! kernels cannot take end that client's session, and the server goes on serving others.

use std::net::TcpListener;

use burn::remote::RemoteHost;
use burn::server::{RemoteServer, WebSocketTransport};
use burn::tensor::{Device, Shape, Tensor};
use burn_ir::ScalarIr;

use super::{Op, probe, ship_one};

/// A server of this process's flex device with the kernels, on a free port of 127.0.0.1.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        let devices = vec![Device::flex()];
        let (server, _) = super::server::with_kernels(RemoteServer::new(devices.clone()), &devices);
        let _ = server.serve(WebSocketTransport::from_listener(listener));
    });
    format!("ws://127.0.0.1:{port}")
}

/// A client session of its own (the server takes any credential; a new one is a new session).
fn client(url: &str, name: &str) -> Device {
    let host = RemoteHost::websocket(url).with_credential(name);
    let device = Device::remote_options(&host)
        .init()
        .expect("the server answers");
    assert_eq!(probe(&device), Ok(super::ServerKernels::Cpu));
    device
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
    let url = serve();
    // A padding whose doubled size overflows, a claimed output of one value.
    let first = client(&url, "first");
    assert!(conv_with_padding(&first, 1 << 62, [1, 1, 1, 1]).is_err());
    // An output of 2^40 values (a padding of 2^19): refused before anything is allocated.
    let second = client(&url, "second");
    let side = (1usize << 20) + 1;
    assert!(conv_with_padding(&second, 1 << 19, [1, 1, side, side]).is_err());
    // The server still serves: a valid convolution on a new session gives its value, 1 + 1.
    let third = client(&url, "third");
    assert_eq!(conv_with_padding(&third, 0, [1, 1, 1, 1]), Ok(vec![2.0]));
}
