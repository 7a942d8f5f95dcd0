//! Where an example runs: `--device`, `--devices`, `--strategy`, `--remote-token-file`, and the
//! devices they open.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::Args;

use ae_train::{Backend, DataParallel, DeviceSpec, FitOptions, GpuAdapter, TrainError};

/// Where to run: `--device`, `--devices`.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Backend and device: flex (the default), ndarray, wgpu, vulkan, metal, cuda, optionally
    /// `:INDEX` (each needs its cargo feature, e.g. `--features wgpu`), or a remote server
    /// ws://HOST:PORT[#INDEX] (`--features remote`; the `serve` example runs one).
    #[arg(long)]
    pub device: Option<DeviceSpec>,
    /// Several devices, e.g. `cuda:0,cuda:1` or `ws://gpu1:3000,ws://gpu2:3000`: training runs
    /// data-parallel on them (burn-train's multi-device strategy; the first also validates and
    /// evaluates). Instead of --device.
    #[arg(long, value_delimiter = ',', conflicts_with = "device")]
    pub devices: Vec<DeviceSpec>,
    /// How the devices share each step: multi (burn-train's multi-device strategy: any devices,
    /// the gradients summed on the first) or ddp (PyTorch's DistributedDataParallel: CUDA
    /// devices only, `--features cuda`, the gradients averaged with NCCL).
    #[arg(long, value_enum, default_value_t = StrategyArg::Multi)]
    pub strategy: StrategyArg,
    /// A file whose first line is the token remote servers check (else AE_REMOTE_TOKEN; never
    /// on the command line, where other users can read it).
    #[arg(long, value_name = "FILE")]
    pub remote_token_file: Option<PathBuf>,
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// burn-train's multi-device strategy.
    Multi,
    /// Distributed data parallel with NCCL (CUDA).
    Ddp,
}

impl From<StrategyArg> for DataParallel {
    fn from(value: StrategyArg) -> Self {
        match value {
            StrategyArg::Multi => DataParallel::MultiDevice,
            StrategyArg::Ddp => DataParallel::Ddp,
        }
    }
}

/// The devices of [`DeviceArgs`], created once.
#[derive(Debug, Clone)]
pub struct Devices {
    /// The device models live on: the first of `--devices`, or `--device`.
    pub spec: DeviceSpec,
    /// That device.
    pub device: Device,
    /// Every device of `--devices` (empty without it).
    pub data_parallel: Vec<Device>,
    /// How they share each step (`--strategy`).
    pub strategy: DataParallel,
    /// The training devices as named on the command line ([`DeviceArgs::names`]).
    pub names: Vec<String>,
    /// The GPU adapters among them, as `wgpu: NVIDIA H100 80GB HBM3` ([`GpuAdapter`]).
    pub adapters: Vec<String>,
}

impl Devices {
    /// How [`fit`](ae_train::fit) trains into `dir` on these devices: the model's device, the
    /// data-parallel ones and their strategy; the caller adds the run's other options.
    ///
    /// From then on Ctrl+C says where the run's checkpoints are ([`super::interrupt`]).
    pub fn fit_options(&self, dir: &Path) -> FitOptions {
        super::interrupt::say_how_to_resume(dir);
        FitOptions::new(dir, &self.device)
            .with_devices(self.data_parallel.clone())
            .with_data_parallel(self.strategy)
            .with_device_names(self.names.clone())
    }
}

impl DeviceArgs {
    /// The device models live on: the first of `--devices`, or `--device`.
    pub fn main_spec(&self) -> DeviceSpec {
        self.devices
            .first()
            .cloned()
            .or_else(|| self.device.clone())
            .unwrap_or(DeviceSpec::new(Backend::Flex))
    }

    /// Every device named: `--devices`, else `--device` (empty when neither is given).
    pub fn named(&self) -> Vec<DeviceSpec> {
        if self.devices.is_empty() {
            self.device.clone().into_iter().collect()
        } else {
            self.devices.clone()
        }
    }

    /// Creates the devices, checking each backend is compiled in and has a usable device.
    ///
    /// # Errors
    /// [`TrainError::BackendNotCompiled`] or [`TrainError::DeviceUnavailable`].
    pub fn open(&self) -> Result<Devices, TrainError> {
        let spec = self.main_spec();
        let token = match &self.remote_token_file {
            Some(path) => Some(ae_train::token_from_file(path, "--remote-token-file")?),
            None => ae_train::token_from_env(),
        };
        self.check_remote_named_once()?;
        let open = |spec: &DeviceSpec| spec.device_with_token(token.as_deref());
        let data_parallel = self
            .devices
            .iter()
            .map(open)
            .collect::<Result<Vec<_>, _>>()?;
        let device = match data_parallel.first() {
            Some(first) => first.clone(),
            None => open(&spec)?,
        };
        // A strategy these devices cannot run is refused before any data is read or written.
        let strategy = DataParallel::from(self.strategy);
        if data_parallel.is_empty() {
            strategy.check(std::slice::from_ref(&device))?;
        } else {
            strategy.check(&data_parallel)?;
        }
        #[cfg(feature = "remote")]
        self.watch_servers()?;
        let names = self.names();
        // Which adapter a GPU name landed on, said once: `wgpu` on a machine without a GPU is
        // Mesa's software renderer, 50-100x slower than flex.
        let training = if data_parallel.is_empty() {
            std::slice::from_ref(&device)
        } else {
            &data_parallel[..]
        };
        let adapters: Vec<String> = names
            .iter()
            .zip(training)
            .filter_map(|(name, device)| {
                GpuAdapter::of(device).map(|adapter| format!("{name}: {adapter}"))
            })
            .collect();
        for adapter in &adapters {
            println!("device {adapter}");
        }
        Ok(Devices {
            spec,
            device,
            data_parallel,
            strategy,
            names,
            adapters,
        })
    }

    /// Stops the process with an error when a server of the remote devices named stops answering
    /// without closing its connections ([`ae_train::watch_servers`]), which would otherwise hold
    /// the example forever.
    #[cfg(feature = "remote")]
    fn watch_servers(&self) -> Result<(), TrainError> {
        let mut servers: Vec<ae_train::RemoteAddress> = Vec::new();
        for server in self.named().into_iter().filter_map(|spec| spec.remote) {
            if !servers.contains(&server) {
                servers.push(server);
            }
        }
        if servers.is_empty() {
            return Ok(());
        }
        ae_train::watch_servers(servers, ae_train::SILENCE_LIMIT, |message| {
            eprintln!("error: {message}");
            std::process::exit(1);
        })
        .map_err(|e| TrainError::InvalidArgument {
            what: if self.devices.is_empty() {
                "--device"
            } else {
                "--devices"
            },
            message: format!("cannot watch the remote servers: {e}"),
        })
    }

    /// Refuses a remote device named twice in `--devices`: burn-train's two workers would share
    /// one connection's device and take turns on it (measured: 10 s a step instead of 0.3).
    /// (A local device twice, `flex,flex`, is two workers on one machine's cores, as intended.)
    fn check_remote_named_once(&self) -> Result<(), TrainError> {
        let remote: Vec<(&ae_train::RemoteAddress, usize)> = self
            .devices
            .iter()
            .filter_map(|spec| Some((spec.remote.as_ref()?, spec.index.unwrap_or(0))))
            .collect();
        for (i, device) in remote.iter().enumerate() {
            if remote[..i].contains(device) {
                return Err(TrainError::InvalidArgument {
                    what: "--devices",
                    message: format!(
                        "{}#{} is named twice: each remote device trains one share of a step; \
                         name it once, or serve more devices (`serve --devices`, or a second \
                         server)",
                        device.0, device.1
                    ),
                });
            }
        }
        Ok(())
    }

    /// The device names, as `run.json` records them.
    pub fn names(&self) -> Vec<String> {
        if self.devices.is_empty() {
            vec![self.main_spec().to_string()]
        } else {
            self.devices.iter().map(ToString::to_string).collect()
        }
    }
}
