//! What the examples share on the command line: flag groups ([`TrainerArgs`] and its parts)
//! and [`exit_on_error`].

mod args;
mod device_args;
pub mod interrupt;
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
            let mut said = err.to_string();
            eprintln!("error: {said}");
            let mut source = err.source();
            while let Some(cause) = source {
                // Most messages quote their cause already: say only what is new.
                let cause_text = cause.to_string();
                if !cause_text.is_empty() && !said.contains(&cause_text) {
                    eprintln!("  caused by: {cause_text}");
                    said.push_str(&cause_text);
                }
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
