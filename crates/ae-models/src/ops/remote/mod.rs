//! This workspace's kernels on remote devices (feature `remote`): a trainer's operations on a
//! device of a `serve` process run the kernels on the server, shipped as Burn's custom operations
//! (`CustomOpIr`, one per kernel, forward and backward, and one per parameter for Adam) instead of
//! the several Burn operations each replaces: every CPU kernel where the server hosts `flex`, the
//! element-wise GPU kernels and Adam where it hosts a GPU ([`ServerKernels`]). The client reaches
//! a GPU server's kernels through the same [`CpuKernels`] operations, which the routing of
//! [`crate::ops`] calls only for what the server answered it runs.
//!
//! Burn's server refuses a custom operation it has no handler for by ending the session, so a
//! client ships them only to a device whose server said it has them: [`probe`] asks once, when
//! the device is opened (`ae-train` does), and remembers the answer for the process. A server of
//! another backend answers that it has none (its devices run Burn's own operations), and a server
//! that is not this workspace's `serve` cannot answer: the trainer says so and names
//! [`REMOTE_KERNELS_ENV`], which turns the probe and the kernels off.
//!
//! The server side is [`server`] (feature `remote-server`).

mod client;
#[cfg(feature = "remote-server")]
pub mod server;
#[cfg(all(test, feature = "remote-server"))]
mod tests;

pub(crate) use client::adam_update;
#[cfg(all(test, feature = "remote-server"))]
use client::ship_one;

use burn::backend::{DispatchDevice, Remote};
use burn::remote::CustomOpClient;
use burn::tensor::{DType, Device, Shape, Tensor};
use burn_ir::{CustomOpIr, TensorIr};

#[cfg(doc)]
use super::cpu::CpuKernels;
use super::cpu::gradients::{FromOutput, Layer};

/// The environment variable that, set to `off`, keeps this workspace's kernels off remote
/// devices: no probe, Burn's own operations on the server (for a server that is not this
/// workspace's `serve`, and for measuring what the kernels change).
pub const REMOTE_KERNELS_ENV: &str = "AE_REMOTE_KERNELS";

/// The version of the operations below, which a server reports to [`probe`]: a client ships them
/// only to a server of the same version.
pub const KERNELS_VERSION: u32 = 2;

/// Which of this workspace's kernels a server runs, as it answers [`probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKernels {
    /// None: the client sends Burn's operations (a server of another version, or `ndarray`, or
    /// a GPU backend with Burn's `fusion`, which fuses Adam itself).
    None,
    /// Every CPU kernel, forward and backward, and Adam: a server of `flex` devices.
    Cpu,
    /// This workspace's CubeCL kernels for what they cover, each one launch: Adam, the sigmoid,
    /// the squared error and BCE with logits, with their gradients (a server of GPU devices).
    Gpu,
}

impl ServerKernels {
    /// The probe's answer on the wire.
    pub(crate) fn answer(self) -> f32 {
        match self {
            Self::None => 0.0,
            Self::Cpu => KERNELS_VERSION as f32,
            Self::Gpu => (1000 + KERNELS_VERSION) as f32,
        }
    }

    /// The kernels an answer names (none for an answer of another version).
    fn of_answer(answer: f32) -> Self {
        [Self::Cpu, Self::Gpu]
            .into_iter()
            .find(|kernels| kernels.answer() == answer)
            .unwrap_or(Self::None)
    }
}

/// The operations a client ships and a server runs, named on the wire by [`Op::id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// No input; one output `[1]`: the server's [`ServerKernels::answer`].
    Probe,
    Sigmoid,
    Tanh,
    Exp,
    BceWithLogits,
    SquaredDifference,
    /// Scalars: stride, padding.
    Conv2d,
    /// Scalars: stride, padding, output padding.
    ConvTranspose2d,
    Linear,
    Matmul,
    /// Inputs: output, grad; scalar: [`function_code`].
    FromOutputGradient,
    /// Inputs: logits, target, grad.
    BceLogitsGradient,
    /// Inputs: logits, grad.
    BceTargetGradient,
    /// Inputs: from, to, grad.
    SquaredDifferenceGradient,
    /// Inputs: x, weight, grad; scalars: [`layer_codes`] and whether the input's gradient is
    /// wanted; outputs: (dx,) dweight, dbias.
    LayerGradients,
    /// Inputs: param, grad, moment 1, moment 2; scalars: the [`super::AdamStep`] in field order;
    /// outputs: param, moment 1, moment 2.
    Adam,
}

impl Op {
    /// Every operation.
    pub(crate) const ALL: [Self; 16] = [
        Self::Probe,
        Self::Sigmoid,
        Self::Tanh,
        Self::Exp,
        Self::BceWithLogits,
        Self::SquaredDifference,
        Self::Conv2d,
        Self::ConvTranspose2d,
        Self::Linear,
        Self::Matmul,
        Self::FromOutputGradient,
        Self::BceLogitsGradient,
        Self::BceTargetGradient,
        Self::SquaredDifferenceGradient,
        Self::LayerGradients,
        Self::Adam,
    ];

    /// The operation's name on the wire.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::Probe => "autoencoders.kernels",
            Self::Sigmoid => "autoencoders.sigmoid",
            Self::Tanh => "autoencoders.tanh",
            Self::Exp => "autoencoders.exp",
            Self::BceWithLogits => "autoencoders.bce_with_logits",
            Self::SquaredDifference => "autoencoders.squared_difference",
            Self::Conv2d => "autoencoders.conv2d",
            Self::ConvTranspose2d => "autoencoders.conv_transpose2d",
            Self::Linear => "autoencoders.linear",
            Self::Matmul => "autoencoders.matmul",
            Self::FromOutputGradient => "autoencoders.from_output_gradient",
            Self::BceLogitsGradient => "autoencoders.bce_logits_gradient",
            Self::BceTargetGradient => "autoencoders.bce_target_gradient",
            Self::SquaredDifferenceGradient => "autoencoders.squared_difference_gradient",
            Self::LayerGradients => "autoencoders.layer_gradients",
            Self::Adam => "autoencoders.adam",
        }
    }
}

/// The functions of [`FromOutput`] on the wire.
const FROM_OUTPUT: [FromOutput; 3] = [FromOutput::Sigmoid, FromOutput::Tanh, FromOutput::Exp];

/// `function` as a number on the wire.
fn function_code(function: FromOutput) -> u64 {
    FROM_OUTPUT.iter().position(|&f| f == function).unwrap_or(0) as u64
}

/// The function [`function_code`] gave.
fn function_of(code: u64) -> Option<FromOutput> {
    FROM_OUTPUT.get(usize::try_from(code).ok()?).copied()
}

/// `layer` as four numbers on the wire: kind, stride, padding, output padding.
fn layer_codes(layer: Layer) -> [u64; 4] {
    let n = |v: usize| v as u64;
    match layer {
        Layer::Dense => [0, 0, 0, 0],
        Layer::Conv2d { stride, padding } => [1, n(stride), n(padding), 0],
        Layer::ConvTranspose2d {
            stride,
            padding,
            padding_out,
        } => [2, n(stride), n(padding), n(padding_out)],
    }
}

/// The layer [`layer_codes`] gave.
fn layer_of([kind, stride, padding, padding_out]: [u64; 4]) -> Option<Layer> {
    let n = |v: u64| usize::try_from(v).ok();
    Some(match kind {
        0 => Layer::Dense,
        1 => Layer::Conv2d {
            stride: n(stride)?,
            padding: n(padding)?,
        },
        2 => Layer::ConvTranspose2d {
            stride: n(stride)?,
            padding: n(padding)?,
            padding_out: n(padding_out)?,
        },
        _ => return None,
    })
}

/// The remote devices whose server runs some of the kernels (the devices without autodiff).
static WITH_KERNELS: std::sync::RwLock<Vec<(Device, ServerKernels)>> =
    std::sync::RwLock::new(Vec::new());

/// Whether [`REMOTE_KERNELS_ENV`] turned the remote kernels off (read once per process).
pub fn remote_kernels_off() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| super::kernel_switch_off(REMOTE_KERNELS_ENV).unwrap_or(false))
}

/// The kernels the server of `device` (a remote device, with or without autodiff) runs, as it
/// answered [`probe`]; [`ServerKernels::None`] for a device never asked.
pub(crate) fn server_kernels(device: &Device) -> ServerKernels {
    let device = device.clone().inner();
    WITH_KERNELS
        .read()
        .ok()
        .and_then(|devices| {
            devices
                .iter()
                .find(|(known, _)| *known == device)
                .map(|(_, kernels)| *kernels)
        })
        .unwrap_or(ServerKernels::None)
}

/// Whether `device` runs every CPU kernel (its server hosts `flex`).
pub(crate) fn has_kernels(device: &Device) -> bool {
    server_kernels(device) == ServerKernels::Cpu
}

/// Asks the server of the remote `device` which of this workspace's kernels it runs, and
/// remembers the answer for the process: operations on the device then use them. Nothing is
/// asked of a device that is not remote, or when [`REMOTE_KERNELS_ENV`] is `off`
/// ([`ServerKernels::None`]).
///
/// # Errors
/// The server could not answer: it has no handler for the question, so it is not this
/// workspace's `serve` (its session with this client is over), or it stopped answering. The
/// message says what to do.
pub fn probe(device: &Device) -> Result<ServerKernels, String> {
    let device = device.clone().inner();
    let DispatchDevice::Remote(remote) = device.as_dispatch() else {
        return Ok(ServerKernels::None);
    };
    if remote_kernels_off() {
        return Ok(ServerKernels::None);
    }
    let client = CustomOpClient::new(remote);
    let output = TensorIr::uninit(client.create_empty_handle(), Shape::from([1]), DType::F32);
    let op = CustomOpIr::new(Op::Probe.id(), &[], std::slice::from_ref(&output));
    let Some(answer) = client.register(op).pop() else {
        return Err("the remote backend registered no output for the question".into());
    };
    let answer = Tensor::<1>::from_primitive::<Remote>(answer)
        .try_into_data()
        .map_err(|e| {
            format!(
                "the server did not answer whether it runs this workspace's kernels ({e}): a \
                 server that is not this workspace's `serve` ends the session on that question; \
                 set {REMOTE_KERNELS_ENV}=off to run Burn's own operations there"
            )
        })?
        .try_to_vec::<f32>()
        .ok()
        .and_then(|values| values.first().copied())
        .unwrap_or(0.0);
    let kernels = ServerKernels::of_answer(answer);
    if let Ok(mut devices) = WITH_KERNELS.write() {
        devices.retain(|(known, _)| *known != device);
        devices.push((device, kernels));
    }
    Ok(kernels)
}

/// Whether Adam of `f32` tensors on `device` runs as one operation on its server: a flex server's
/// CPU kernel or a GPU server's kernel.
pub(crate) fn runs_adam(device: &Device) -> bool {
    match server_kernels(device) {
        ServerKernels::Cpu => !super::cpu_kernels_off(),
        ServerKernels::Gpu => true,
        ServerKernels::None => false,
    }
}
