//! Choosing a backend and device from a string (`flex`, `ndarray`, `wgpu`, `cuda:1`, ...), in one
//! place for every example and test.

use std::str::FromStr;

use burn::tensor::Device;

use super::remote::RemoteAddress;
use crate::error::TrainError;

/// The backends this workspace knows, whether or not they are compiled in.
///
/// ```
/// use ae_train::{Backend, DeviceSpec};
///
/// let spec: DeviceSpec = "cuda:1".parse()?;
/// assert_eq!((spec.backend, spec.index), (Backend::Cuda, Some(1)));
/// assert_eq!(spec.to_string(), "cuda:1");
/// assert!("flex:1".parse::<DeviceSpec>().is_err()); // the CPU has one device
/// let device = "flex".parse::<DeviceSpec>()?.device()?; // a burn Device
/// # let _ = device;
/// # Ok::<(), ae_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Burn's pure-Rust CPU backend (SIMD + rayon): the default.
    Flex,
    /// The ndarray CPU backend: the reference implementation (deprecated upstream).
    NdArray,
    /// wgpu, on whichever graphics API the machine offers (Vulkan, Metal, DX12, ...).
    Wgpu,
    /// wgpu pinned to Vulkan (SPIR-V).
    Vulkan,
    /// wgpu pinned to Metal (macOS).
    Metal,
    /// NVIDIA CUDA.
    Cuda,
    /// A device of another machine, through Burn's remote backend (`ws://host:port`).
    Remote,
}

impl Backend {
    /// Every backend, in the order `--device` lists them.
    pub const ALL: [Backend; 7] = [
        Self::Flex,
        Self::NdArray,
        Self::Wgpu,
        Self::Vulkan,
        Self::Metal,
        Self::Cuda,
        Self::Remote,
    ];

    /// The name used on command lines, and the cargo feature that compiles it in.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::NdArray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Vulkan => "vulkan",
            Self::Metal => "metal",
            Self::Cuda => "cuda",
            Self::Remote => "remote",
        }
    }

    /// Whether this binary was compiled with the backend's feature.
    pub const fn is_compiled(self) -> bool {
        match self {
            Self::Flex => cfg!(feature = "flex"),
            Self::NdArray => cfg!(feature = "ndarray"),
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Vulkan => cfg!(feature = "vulkan"),
            Self::Metal => cfg!(feature = "metal"),
            Self::Cuda => cfg!(feature = "cuda"),
            Self::Remote => cfg!(feature = "remote"),
        }
    }

    /// The backends compiled into this binary.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// Whether the backend runs on a GPU (or a software GPU such as lavapipe). A remote
    /// device runs on whatever its server serves.
    pub const fn is_gpu(self) -> bool {
        !matches!(self, Self::Flex | Self::NdArray | Self::Remote)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend and, for GPU backends, which device (`cuda:1`, `wgpu:0`); for a remote device, the
/// server (`ws://host:port`, `ws://host:port#1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceSpec {
    /// The backend.
    pub backend: Backend,
    /// The device index; `None` lets the backend choose (the first of a remote server's).
    pub index: Option<usize>,
    /// The server of a [`Backend::Remote`] device.
    pub remote: Option<RemoteAddress>,
}

impl FromStr for DeviceSpec {
    type Err = TrainError;

    /// Parses `flex`, `ndarray`, `wgpu`, `vulkan`, `metal`, `cuda`, optionally with `:INDEX`, or
    /// a remote server `ws://HOST:PORT`, optionally with `#INDEX`.
    fn from_str(text: &str) -> Result<Self, TrainError> {
        let text = text.trim();
        if text
            .get(..5)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("ws://"))
        {
            let (address, index) = RemoteAddress::parse(&format!("ws://{}", &text[5..]))?;
            return Ok(Self {
                backend: Backend::Remote,
                index,
                remote: Some(address),
            });
        }
        let text = text.to_ascii_lowercase();
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(TrainError::InvalidDevice {
                given: text.clone(),
                message: format!(
                    "a remote device is ws://HOST:PORT, not {scheme}://: Burn's transport is \
                     plain WebSocket (encrypt it with an SSH tunnel: ssh -L PORT:localhost:PORT \
                     HOST, then ws://127.0.0.1:PORT)"
                ),
            });
        }
        let (name, index) = match text.split_once(':') {
            Some((name, index)) => {
                let index = index.parse().map_err(|_| TrainError::InvalidDevice {
                    given: text.clone(),
                    message: format!("`{index}` is not a device index"),
                })?;
                (name.to_string(), Some(index))
            }
            None => (text.clone(), None),
        };
        let backend = Backend::ALL
            .into_iter()
            .filter(|&b| b != Backend::Remote)
            .find(|b| b.name() == name)
            .ok_or_else(|| TrainError::InvalidDevice {
                given: text.clone(),
                message: format!(
                    "unknown backend; choose one of {}, or a remote server ws://HOST:PORT",
                    Backend::ALL[..6]
                        .iter()
                        .map(|b| b.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        if index.is_some() && !backend.is_gpu() {
            return Err(TrainError::InvalidDevice {
                given: text,
                message: format!("the {backend} backend has a single device and takes no index"),
            });
        }
        Ok(Self {
            backend,
            index,
            remote: None,
        })
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.remote, self.index) {
            (Some(address), Some(i)) => write!(f, "{address}#{i}"),
            (Some(address), None) => write!(f, "{address}"),
            (None, Some(i)) => write!(f, "{}:{i}", self.backend),
            (None, None) => write!(f, "{}", self.backend),
        }
    }
}

impl DeviceSpec {
    /// The spec for a backend's default device.
    pub const fn new(backend: Backend) -> Self {
        Self {
            backend,
            index: None,
            remote: None,
        }
    }

    /// Creates the device, checking that the backend is compiled in and, for GPU and remote
    /// backends, that the device runs a small computation. A remote device presents the token of
    /// `AE_REMOTE_TOKEN`, if set. A GPU device puts the process's GPU work on one CubeCL stream
    /// first, unless `AE_STREAMS=per-thread` ([`crate::Streams`]).
    ///
    /// # Errors
    /// [`TrainError::BackendNotCompiled`] naming the cargo feature to enable,
    /// [`TrainError::DeviceUnavailable`] saying what was tried, or
    /// [`TrainError::InvalidArgument`] for an `AE_STREAMS` or a kernel switch
    /// (`AE_CPU_KERNELS`, `AE_GPU_KERNELS`, `AE_REMOTE_KERNELS`) it does not know.
    pub fn device(&self) -> Result<Device, TrainError> {
        self.device_with_token(super::remote::token_from_env().as_deref())
    }

    /// [`Self::device`], a remote device presenting `token` (ignored by local devices).
    ///
    /// # Errors
    /// As [`Self::device`].
    pub fn device_with_token(&self, token: Option<&str>) -> Result<Device, TrainError> {
        if !self.backend.is_compiled() {
            return Err(TrainError::BackendNotCompiled {
                backend: self.backend.name(),
                compiled: Backend::compiled()
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        ae_models::ops::check_kernel_switches().map_err(|message| TrainError::InvalidArgument {
            what: "environment",
            message,
        })?;
        // Checked on every backend: a misspelt `AE_STREAMS` is refused before a GPU run too.
        let streams = super::Streams::from_env()?;
        if self.backend.is_gpu() {
            streams.apply();
        }
        let device = self.create(token)?;
        // A remote device computed its first sum when it connected, within a time limit
        // (`remote::connect`).
        if self.backend.is_gpu() {
            probe(&device).map_err(|message| TrainError::DeviceUnavailable {
                device: self.to_string(),
                message: format!("{message}. {GPU_HINT}"),
            })?;
        }
        Ok(device)
    }

    #[allow(unreachable_code, unused_variables)]
    fn create(&self, token: Option<&str>) -> Result<Device, TrainError> {
        #[cfg(any(feature = "wgpu", feature = "vulkan", feature = "metal"))]
        let kind = match self.index {
            Some(i) => burn::tensor::DeviceKind::DiscreteGpu(i),
            None => burn::tensor::DeviceKind::DefaultDevice,
        };
        match self.backend {
            #[cfg(feature = "flex")]
            Backend::Flex => return Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::NdArray => return Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => return wgpu_device(kind, self),
            #[cfg(feature = "vulkan")]
            Backend::Vulkan => return Ok(Device::vulkan(kind)),
            #[cfg(feature = "metal")]
            Backend::Metal => return Ok(Device::metal(kind)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => return Ok(Device::cuda(self.index.unwrap_or(0))),
            #[cfg(feature = "remote")]
            Backend::Remote => {
                let address = self
                    .remote
                    .as_ref()
                    .ok_or_else(|| TrainError::InvalidDevice {
                        given: self.to_string(),
                        message: "a remote device needs its server: ws://HOST:PORT".into(),
                    })?;
                return super::remote::connect(address, self.index.unwrap_or(0), token);
            }
            _ => {}
        }
        Err(TrainError::BackendNotCompiled {
            backend: self.backend.name(),
            compiled: String::new(),
        })
    }
}

/// wgpu's runtime can be initialised once per process and device kind; later calls reuse it.
#[cfg(feature = "wgpu")]
fn wgpu_device(kind: burn::tensor::DeviceKind, spec: &DeviceSpec) -> Result<Device, TrainError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static DEVICES: OnceLock<Mutex<HashMap<String, Result<Device, String>>>> = OnceLock::new();
    let key = format!("{kind:?}");
    let mut devices = DEVICES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let entry = devices.entry(key).or_insert_with(|| {
        Device::wgpu_options()
            .device_kind(kind)
            .init()
            .map_err(|e| e.to_string())
    });
    entry
        .clone()
        .map_err(|message| TrainError::DeviceUnavailable {
            device: spec.to_string(),
            message: format!("{message}. {GPU_HINT}"),
        })
}

/// What to do when a GPU backend finds no usable adapter.
const GPU_HINT: &str = "For wgpu/vulkan without a GPU, install a software Vulkan driver \
     (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`), or use `--device flex`";

/// Runs `1 + 2` on the device and reads it back; a missing driver shows up here rather than in
/// the middle of training. Backends report some failures by panicking, so the probe catches
/// the panic and returns its message.
pub(super) fn probe(device: &Device) -> Result<(), String> {
    use burn::tensor::Tensor;
    let device = device.clone();
    // Quietly: the default hook would print the panic (cudarc's missing `libcuda` is some 30
    // lines) above the error that says it better; the message goes into that error.
    let result = crate::quiet::catch_quietly(move || {
        Tensor::<1>::from_floats([1.0, 2.0], &device)
            .sum()
            .into_scalar::<f32>()
    });
    match result {
        Ok(v) if (v - 3.0).abs() < 1e-6 => Ok(()),
        Ok(v) => Err(format!("the device computed 1 + 2 = {v}")),
        Err(panic) => Err(crate::quiet::panic_message(panic.as_ref())
            .unwrap_or_else(|| "the backend panicked".to_string())),
    }
}

/// The adapter a GPU device runs on, as it names itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuAdapter {
    /// The part's name: `NVIDIA H100 80GB HBM3`, or Mesa's software renderer
    /// `llvmpipe (LLVM 19.1.7, 256 bits)`.
    pub name: String,
    /// No card behind it: a renderer on the CPU (lavapipe), which runs the GPU code path far
    /// slower than the CPU backends run the same work.
    pub software: bool,
}

impl GpuAdapter {
    /// The adapter of `device` (opening it): `None` for the CPU backends and remote devices.
    pub fn of(device: &Device) -> Option<Self> {
        #[cfg(any(
            feature = "wgpu",
            feature = "vulkan",
            feature = "metal",
            feature = "cuda"
        ))]
        {
            device.identity().map(|identity| Self {
                name: identity.name,
                software: identity.physical.is_none(),
            })
        }
        #[cfg(not(any(
            feature = "wgpu",
            feature = "vulkan",
            feature = "metal",
            feature = "cuda"
        )))]
        {
            let _ = device;
            None
        }
    }
}

impl std::fmt::Display for GpuAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if self.software {
            write!(
                f,
                " (no GPU: a software renderer on the CPU, much slower than --device flex)"
            )?;
        }
        Ok(())
    }
}

/// A device as a user names it in a sentence (`the flex (CPU) device`, `this wgpu device`).
pub(crate) fn device_name(device: &Device) -> String {
    let backend = backend_name(device);
    match backend.as_str() {
        "flex" | "ndarray" => format!("the {backend} (CPU) device"),
        "remote" => "the remote device".to_string(),
        "cuda" | "wgpu" => format!("this {backend} device"),
        _ => backend,
    }
}

/// A device's backend as a user names it (`flex`, `wgpu`, `remote`, ...), for logs that do not
/// know the name the user gave (`Device`'s `Debug` spells out the dispatch layers).
pub(crate) fn backend_name(device: &Device) -> String {
    let debug = format!("{device:?}");
    [
        ("Flex", "flex"),
        ("NdArray", "ndarray"),
        ("Cuda", "cuda"),
        ("Wgpu", "wgpu"),
        ("Remote", "remote"),
    ]
    .into_iter()
    .find(|(key, _)| debug.contains(key))
    .map_or(debug, |(_, name)| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_indices() {
        // Not ASCII where a scheme would end: an unknown backend, not a panic.
        assert!("flexé".parse::<DeviceSpec>().is_err());
        assert!("wsé://h:1".parse::<DeviceSpec>().is_err());
        let spec: DeviceSpec = "cuda:1".parse().unwrap();
        assert_eq!(spec.backend, Backend::Cuda);
        assert_eq!(spec.index, Some(1));
        assert_eq!(spec.to_string(), "cuda:1");
        assert_eq!(
            "FLEX".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::new(Backend::Flex)
        );
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("flex:2".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn a_backend_not_compiled_in_names_its_feature() {
        if let Some(missing) = Backend::ALL.into_iter().find(|b| !b.is_compiled()) {
            let err = DeviceSpec::new(missing).device().unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("--features {}", missing.name())),
                "{err}"
            );
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_is_available() {
        let device = DeviceSpec::new(Backend::Flex).device().unwrap();
        let t = burn::tensor::Tensor::<1>::from_floats([2.0, 3.0], &device);
        assert_eq!(t.sum().into_scalar::<f32>(), 5.0);
    }
}
