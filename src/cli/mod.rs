//! What the examples share on the command line: flag groups ([`TrainerArgs`] and its parts)
//! and [`exit_on_error`].

mod args;
mod device_args;
pub mod ranges;

use std::process::ExitCode;

pub use args::{
    Color, DataResidency, Defaults, ImageDataArgs, InputArgs, LatentArgs, ModelDirArgs, OutputArgs,
    PrecisionArg, TrainArgs, TrainerArgs, WeightsArg,
};
pub use device_args::{DeviceArgs, Devices, StrategyArg};

/// Runs `main`, printing an error and its causes and returning a failure exit code on error.
pub fn exit_on_error<E: std::error::Error>(main: impl FnOnce() -> Result<(), E>) -> ExitCode {
    match main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
