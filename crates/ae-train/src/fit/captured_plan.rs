//! Whether a run is captured: the settings a captured step cannot run (several devices, half
//! precision, Adam's variants, a backend without in-place writes), and the strategy of one that
//! can ([`CapturedFit`], handed to the model to accept).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::captured_fit::{CapturedFit, CapturedStrategy};
use super::captured_step::{CapturedAdam, check_in_place};
use super::data_parallel::DataParallel;
use super::learner::Trainable;
use super::optim::FusedAdam;
use super::options::{FitOptions, TrainingConfig};
use crate::error::TrainError;

/// What stops a run from being captured, before the model is asked
/// ([`Trainable::captured_fit`]): `Err` with the reason, or the step's Adam.
fn capture_settings(config: &TrainingConfig, options: &FitOptions) -> Result<CapturedAdam, String> {
    if options.devices.len() > 1 || options.data_parallel == DataParallel::Ddp {
        return Err("a captured step runs on one device, not on --devices or with DDP".into());
    }
    if config.precision.compute_dtype().is_some() {
        return Err(format!(
            "{} steps are not captured (f32 and tf32 steps are)",
            config.precision.name()
        ));
    }
    let Some(adam) = FusedAdam::new(&config.optimizer) else {
        return Err(
            "a captured step runs plain Adam (no weight decay, AMSGrad or clipping)".into(),
        );
    };
    check_in_place(&options.device).map_err(|_| {
        let device = super::device::device_name(&options.device);
        let gpu = !matches!(
            super::device::backend_name(&options.device).as_str(),
            "flex" | "ndarray" | "remote"
        );
        if gpu && ae_models::ops::kernel_switch_off(ae_models::ops::GPU_KERNELS_ENV) == Ok(true) {
            format!(
                "{device} replays a captured step with this workspace's GPU kernels, which {}=off \
                 turns off",
                ae_models::ops::GPU_KERNELS_ENV
            )
        } else {
            format!(
                "{device} cannot replay a captured step (GPU backends built without `fusion` \
                 can: wgpu, vulkan, metal, cuda)"
            )
        }
    })?;
    Ok(adam.captured(config.learning_rate as f32))
}

/// What a captured run's strategy reports: the error that stopped it, and whether the step was
/// captured (it falls back to ordinary steps where the capture fails).
pub(crate) struct CaptureOutcome {
    pub(crate) failure: Arc<Mutex<Option<TrainError>>>,
    pub(crate) captured: Arc<AtomicBool>,
}

/// The strategy of a captured run, and where it leaves the error that stops one; `None` (after
/// saying why on stderr) when the run cannot be captured.
pub(crate) fn plan_capture<M: Trainable>(
    model: &M,
    config: &TrainingConfig,
    options: &FitOptions,
    resume: Option<(PathBuf, usize)>,
) -> Option<(CapturedStrategy<M>, CaptureOutcome)> {
    let planned = capture_settings(config, options).and_then(|adam| {
        let strategy = CapturedFit::new(
            options.device.clone(),
            adam,
            config.batch_size,
            config.precision,
            resume,
        );
        let outcome = CaptureOutcome {
            failure: strategy.failure(),
            captured: strategy.captured(),
        };
        model.captured_fit(strategy).map(|s| (s, outcome))
    });
    match planned {
        Ok(planned) => Some(planned),
        Err(reason) => {
            log::warn!("--capture: {reason}; training without capture");
            eprintln!("--capture: {reason}; training without capture");
            None
        }
    }
}
