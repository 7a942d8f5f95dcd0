//! One CubeCL stream for the GPU backends' work, chosen before the first GPU device is created.
//!
//! CubeCL gives each OS thread its own stream by default. burn-train reads every step's outputs on
//! its metric thread, so each time that thread touches a buffer the training thread wrote, the
//! scheduler flushes the training thread's stream with an extra submit (116 flushes in 16 steps,
//! counted with CubeCL's streaming logger on lavapipe: `docs/gpu.md`). With one stream for every
//! thread there is nothing to flush, and the numbers are the same. Work on two devices still
//! runs apart: each device has its own streams.

use crate::error::TrainError;

/// The environment variable that chooses the stream policy: `single` (this workspace's default)
/// or `per-thread` (CubeCL's own default, under which a `cubecl.toml`'s `[streaming] policy`
/// applies).
pub const STREAMS_ENV: &str = "AE_STREAMS";

/// How the GPU backends' work is spread over CubeCL streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    /// Every thread's work on one stream per device: no cross-stream flushes (the default).
    Single,
    /// CubeCL's own choice: one stream per OS thread, or what `cubecl.toml` says.
    PerThread,
}

impl Streams {
    /// The policy [`STREAMS_ENV`] names (unset: [`Streams::Single`]).
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] for any other value, naming the variable and the choices.
    pub fn from_env() -> Result<Self, TrainError> {
        Self::parse(std::env::var(STREAMS_ENV).ok().as_deref())
    }

    fn parse(value: Option<&str>) -> Result<Self, TrainError> {
        // Any case, as the kernel switches (`AE_GPU_KERNELS=OFF`).
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("single") => Ok(Self::Single),
            Some("per-thread") => Ok(Self::PerThread),
            Some(_) => Err(TrainError::InvalidArgument {
                what: "AE_STREAMS",
                message: format!(
                    "`{}`: use `single` (the default) or `per-thread`",
                    value.unwrap_or_default().trim()
                ),
            }),
        }
    }

    /// Makes this the policy of the process's GPU work. Takes effect for threads that have not
    /// launched GPU work yet, so call it before the first GPU device is used ([`DeviceSpec::device`]
    /// does); [`Streams::PerThread`] leaves CubeCL's policy as it is.
    ///
    /// [`DeviceSpec::device`]: crate::DeviceSpec::device
    pub fn apply(self) {
        #[cfg(any(
            feature = "wgpu",
            feature = "vulkan",
            feature = "metal",
            feature = "cuda"
        ))]
        if self == Self::Single {
            use cubecl_environment::stream::{StreamPolicy, set_policy};
            set_policy(StreamPolicy::Single);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_read_from_its_variable() {
        assert_eq!(Streams::parse(None).unwrap(), Streams::Single);
        assert_eq!(Streams::parse(Some("single")).unwrap(), Streams::Single);
        assert_eq!(
            Streams::parse(Some(" per-thread ")).unwrap(),
            Streams::PerThread
        );
        assert_eq!(
            Streams::parse(Some("PER-THREAD")).unwrap(),
            Streams::PerThread
        );
        let err = Streams::parse(Some("perthread")).unwrap_err().to_string();
        assert!(
            err.contains("AE_STREAMS") && err.contains("per-thread"),
            "{err}"
        );
    }
}
