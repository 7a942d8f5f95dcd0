//! Training on several devices: which of burn-train's strategies runs the step, and the checks
//! that refuse a combination before anything is written.

use burn::tensor::Device;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::train::{ExecutionStrategy, MultiDeviceOptim};

use super::device::device_name;
use super::training::FitOptions;
use crate::error::{Result, TrainError};

/// How a run on several devices shares each step ([`FitOptions::data_parallel`], `--strategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DataParallel {
    /// burn-train's multi-device strategy: each device takes its own batch, the gradients are
    /// summed on the first device, which runs the optimizer and hands the weights back. Any
    /// devices, local or remote, of any backend.
    #[default]
    MultiDevice,
    /// burn-train's distributed data parallel strategy: a copy of the model per device, the
    /// gradients averaged by an all-reduce during the backward pass (NCCL), each device running
    /// its own optimizer step — PyTorch's `DistributedDataParallel`. Burn 0.22.1 implements the
    /// all-reduce on CUDA only, so every device must be a local `cuda` device; one device is
    /// allowed (a check of the path on a one-GPU machine).
    Ddp,
}

impl DataParallel {
    /// The name `--strategy` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Self::MultiDevice => "multi",
            Self::Ddp => "ddp",
        }
    }
}

/// Whether `device` is a local CUDA device (the only kind whose all-reduce Burn 0.22.1 has).
fn is_cuda(device: &Device) -> bool {
    #[cfg(feature = "cuda")]
    {
        matches!(
            device.as_dispatch(),
            burn::backend::DispatchDevice::Cube(cube)
                if cube.runtime() == burn::cubecl::RuntimeId::Cuda
        )
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = device;
        false
    }
}

/// The devices a run trains on: `--devices`, else the model's device.
fn training_devices(options: &FitOptions) -> Vec<Device> {
    if options.devices.is_empty() {
        vec![options.device.clone()]
    } else {
        options.devices.clone()
    }
}

/// Checks the devices suit [`FitOptions::data_parallel`].
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming `--strategy`.
pub(super) fn check_strategy(options: &FitOptions) -> Result<()> {
    if options.data_parallel == DataParallel::Ddp
        && let Some(other) = training_devices(options)
            .iter()
            .find(|device| !is_cuda(device))
    {
        let built = if cfg!(feature = "cuda") {
            ""
        } else {
            " (this binary was built without the `cuda` feature)"
        };
        return Err(TrainError::InvalidArgument {
            what: "--strategy",
            message: format!(
                "ddp averages gradients with NCCL, which Burn 0.22.1 has on local CUDA devices \
                 only, and {} is not one{built}: name CUDA devices (--devices cuda:0,cuda:1) or \
                 use --strategy multi, which runs on any devices",
                device_name(other)
            ),
        });
    }
    Ok(())
}

/// Checks that each device of a data-parallel run gets at least one whole batch of the
/// `items` of the training split per epoch: burn-train's strategies give each device an equal
/// share of the split, cut into whole batches, and a share smaller than a batch would train
/// nothing, silently.
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming `--devices`.
pub(super) fn check_shares(options: &FitOptions, items: usize, batch_size: usize) -> Result<()> {
    let workers = training_devices(options).len();
    if workers > 1 && items / workers < batch_size {
        return Err(TrainError::InvalidArgument {
            what: "--devices",
            message: format!(
                "{workers} devices each train on their own share of the {items} training items \
                 per epoch ({} each), fewer than one batch of {batch_size}: lower --batch-size \
                 to at most {}, use fewer devices, or add data",
                items / workers,
                items / workers
            ),
        });
    }
    Ok(())
}

/// burn-train's strategy for the run's devices, or `None` for one device the ordinary way.
pub(super) fn execution_strategy(options: &FitOptions) -> Option<ExecutionStrategy> {
    match options.data_parallel {
        DataParallel::Ddp => {
            let devices = training_devices(options);
            log::info!("training with DDP on {devices:?}");
            Some(ExecutionStrategy::ddp(
                devices,
                DistributedConfig {
                    all_reduce_op: ReduceOperation::Mean,
                },
            ))
        }
        DataParallel::MultiDevice if options.devices.len() > 1 => {
            log::info!("training data-parallel on {:?}", options.devices);
            Some(ExecutionStrategy::multi(
                options.devices.clone(),
                MultiDeviceOptim::OptimMainDevice,
            ))
        }
        DataParallel::MultiDevice => None,
    }
}
