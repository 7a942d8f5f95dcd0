//! Training on several devices: which of burn-train's strategies runs the step, and the checks
//! that refuse a combination before anything is written.

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::tensor::Device;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::train::{ExecutionStrategy, MultiDeviceOptim};

use super::device::device_name;
use super::options::FitOptions;
use super::step_gate::StepGate;
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

/// Whether `device` is a local CUDA device (the only kind whose all-reduce Burn 0.22.1 has); an
/// autodiff device is judged by the device under it.
fn is_cuda(device: &Device) -> bool {
    #[cfg(feature = "cuda")]
    {
        matches!(
            device.clone().inner().as_dispatch(),
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

impl DataParallel {
    /// Checks that `devices` (every device a run trains on) suit the strategy: DDP takes
    /// distinct local CUDA devices only. The trainers call it as soon as `--devices` are open,
    /// before any data is read or written; [`fit`](super::fit) calls it again.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming `--strategy`.
    pub fn check(self, devices: &[Device]) -> Result<()> {
        if self != Self::Ddp {
            return Ok(());
        }
        let refuse = |message: String| {
            Err(TrainError::InvalidArgument {
                what: "--strategy",
                message,
            })
        };
        if let Some(other) = devices.iter().find(|device| !is_cuda(device)) {
            let built = if cfg!(feature = "cuda") {
                ""
            } else {
                " (this binary was built without the `cuda` feature)"
            };
            return refuse(format!(
                "ddp averages gradients with NCCL, which Burn 0.22.1 has on local CUDA devices \
                 only, and {} is not one{built}: name CUDA devices (--devices cuda:0,cuda:1) or \
                 use --strategy multi, which runs on any devices",
                device_name(other)
            ));
        }
        // NCCL takes one rank per GPU, and Burn's sync server keys its workers by device.
        if let Some((i, _)) = devices
            .iter()
            .enumerate()
            .find(|(i, device)| devices[..*i].contains(device))
        {
            return refuse(format!(
                "ddp needs distinct devices, and device {} of --devices repeats an earlier one \
                 (one process per GPU; --strategy multi can share a device between workers)",
                i + 1
            ));
        }
        Ok(())
    }
}

/// The devices a run trains on: `--devices`, else the model's device.
pub(super) fn training_devices(options: &FitOptions) -> Vec<Device> {
    if options.devices.is_empty() {
        vec![options.device.clone()]
    } else {
        options.devices.clone()
    }
}

/// Checks the devices suit [`FitOptions::data_parallel`] ([`DataParallel::check`]).
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming `--strategy`.
pub(super) fn check_strategy(options: &FitOptions) -> Result<()> {
    options.data_parallel.check(&training_devices(options))
}

/// The training loader workers that wait for each other at every step can share: DDP's
/// all-reduce waits for every device at every step, and so does the [`StepGate`] of a run on
/// remote devices, so each must take the same number of steps per epoch. burn-train's split gives
/// the last device the remainder of the items, and Burn's own loaders keep a partial last batch,
/// so a worker could take one step more than the others and wait for ever. Under DDP, or on
/// several devices one of which is remote, the split is cut to a whole number of batches per
/// device (what is cut, fewer than devices x batch size items, is said on stderr); otherwise
/// `loader` is returned as it is. Returns the loader and its items per epoch.
pub(super) fn equal_shares<B: 'static>(
    options: &FitOptions,
    loader: Arc<dyn DataLoader<B>>,
    batch_size: usize,
) -> (Arc<dyn DataLoader<B>>, usize) {
    let items = loader.num_items();
    let devices = training_devices(options);
    let workers = devices.len();
    let in_step = options.data_parallel == DataParallel::Ddp || StepGate::needed(&devices);
    if !in_step || workers < 2 {
        return (loader, items);
    }
    let kept = items / (workers * batch_size) * workers * batch_size;
    if kept == items || kept == 0 {
        // Nothing to cut, or too little data: `check_shares` refuses the latter.
        return (loader, items);
    }
    eprintln!(
        "training on {kept} of the {items} items per epoch, {} batches of {batch_size} on each \
         of the {workers} devices, which take their steps together",
        kept / workers / batch_size
    );
    (loader.slice(0, kept), kept)
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

#[cfg(test)]
mod tests {
    use burn::data::dataloader::batcher::Batcher;
    use burn::data::dataloader::split::split_dataloader;
    use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
    use burn::data::dataset::InMemDataset;

    use super::*;

    /// A batch is its items.
    #[derive(Clone)]
    struct Items;

    impl Batcher<usize, Vec<usize>> for Items {
        fn batch(&self, items: Vec<usize>, _device: &Device) -> Vec<usize> {
            items
        }
    }

    /// Burn's loader over `items` numbers, in batches of `batch_size`, shuffled.
    fn loader(items: usize, batch_size: usize) -> Arc<dyn DataLoader<Vec<usize>>> {
        DataLoaderBuilder::new(Items)
            .batch_size(batch_size)
            .shuffle(7)
            .build(InMemDataset::new((0..items).collect()))
    }

    /// The batches each device's share takes in one epoch, as burn-train splits the loader.
    fn steps_per_device(loader: Arc<dyn DataLoader<Vec<usize>>>, devices: &[Device]) -> Vec<usize> {
        split_dataloader(loader, devices)
            .iter()
            .map(|share| share.iter().count())
            .collect()
    }

    /// Under DDP every device takes the same number of steps (else the all-reduce waits for
    /// ever), whole batches only; without DDP, or on one device, the loader is left as it is.
    #[test]
    fn ddp_shares_take_the_same_number_of_whole_batches() {
        let device = Device::default();
        for (items, batch_size, workers, kept) in
            [(129, 64, 2, 128), (1000, 64, 3, 960), (256, 64, 2, 256)]
        {
            let devices = vec![device.clone(); workers];
            let raw = steps_per_device(loader(items, batch_size), &devices);
            let options = FitOptions::new("unused", &device)
                .with_devices(devices.clone())
                .with_data_parallel(DataParallel::Ddp);
            let (cut, count) = equal_shares(&options, loader(items, batch_size), batch_size);
            assert_eq!(count, kept);
            let steps = steps_per_device(cut.clone(), &devices);
            assert_eq!(steps, vec![kept / workers / batch_size; workers], "{raw:?}");
            let sizes: Vec<usize> = cut.iter().map(|batch| batch.unwrap().len()).collect();
            assert!(sizes.iter().all(|&n| n == batch_size), "{sizes:?}");
        }
        // The case that hangs without the cut: one batch on the first device, two on the last.
        let two = vec![device.clone(); 2];
        assert_eq!(steps_per_device(loader(129, 64), &two), vec![1, 2]);
        for options in [
            FitOptions::new("unused", &device).with_devices(two.clone()),
            FitOptions::new("unused", &device).with_data_parallel(DataParallel::Ddp),
        ] {
            let (_, count) = equal_shares(&options, loader(129, 64), 64);
            assert_eq!(count, 129);
        }
    }
}
