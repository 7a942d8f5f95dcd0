//! Errors of training, evaluation and artifact writing.

use std::path::PathBuf;

/// What can go wrong in `ae-train`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The device string could not be parsed.
    #[error("invalid device `{given}`: {message}")]
    InvalidDevice {
        /// The string given.
        given: String,
        /// Why it is rejected.
        message: String,
    },

    /// The backend exists but this binary was built without it.
    #[error(
        "the `{backend}` backend is not compiled into this binary: rebuild with `--features {backend}` \
         (compiled in: {compiled})"
    )]
    BackendNotCompiled {
        /// The backend's name and cargo feature.
        backend: &'static str,
        /// The backends that are compiled in.
        compiled: String,
    },

    /// The backend is compiled in but no usable device was found.
    #[error(
        "no usable `{device}` device: {message}. For wgpu/vulkan without a GPU, install a software \
         Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`), or use `--device flex`"
    )]
    DeviceUnavailable {
        /// The device asked for.
        device: String,
        /// What the backend said.
        message: String,
    },

    /// A training or evaluation setting is out of range.
    #[error("invalid {what}: {message}")]
    InvalidArgument {
        /// The setting.
        what: &'static str,
        /// Why it is rejected.
        message: String,
    },

    /// Reading data failed.
    #[error(transparent)]
    Data(#[from] ae_data::DataError),

    /// Building, saving or loading a model failed.
    #[error(transparent)]
    Model(#[from] ae_models::ModelError),

    /// A file could not be written or read.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// An image could not be written.
    #[error("cannot write image {}: {source}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },

    /// Training stopped with an error inside burn-train.
    #[error("training failed: {0}")]
    Training(String),

    /// A resume was asked for but there is no complete checkpoint to resume from.
    #[error(
        "nothing to resume in {}: no epoch has all of model-N.bpk, optim-N.bpk and scheduler-N.bpk; \
         start without --resume",
        dir.display()
    )]
    NoCheckpoint {
        /// The checkpoint folder.
        dir: PathBuf,
    },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
