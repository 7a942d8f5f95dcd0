//! Errors of model construction, saving and loading.

use std::path::PathBuf;

impl ModelError {
    /// This error, naming `path` when it is a configuration's value read from that file.
    pub(crate) fn in_config_file(self, path: &std::path::Path) -> Self {
        match self {
            Self::InvalidConfig { field, message } => Self::InvalidConfigFile {
                path: path.to_path_buf(),
                field,
                message,
            },
            other => other,
        }
    }
}

/// What can go wrong when building, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is out of range or inconsistent with another.
    #[error("invalid model configuration: `{field}` {message}")]
    InvalidConfig {
        /// The field (dotted path for nested configs).
        field: &'static str,
        /// What is wrong and what to use instead.
        message: String,
    },

    /// A path given as a model folder is none: missing, a file, or without `config.json`.
    #[error(
        "{}: {what}; a model folder is a trainer's output folder (config.json and model.bpk): \
         train one there first, or name another",
        path.display()
    )]
    NotAModelFolder {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },

    /// A configuration file's value is out of range or inconsistent with another.
    #[error("{}: invalid model configuration: `{field}` {message}", path.display())]
    InvalidConfigFile {
        /// The configuration file.
        path: PathBuf,
        /// The field (dotted path for nested configs).
        field: &'static str,
        /// What is wrong and what to use instead.
        message: String,
    },

    /// The path is not a regular file, is larger than its limit, or loops.
    #[error(transparent)]
    Input(#[from] ae_io::InputError),

    /// A file could not be written (a full disk, a read-only folder).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A configuration file is not valid JSON for this model (the message gives line and column).
    #[error("{}: not a valid model configuration: {source}", path.display())]
    ConfigJson {
        /// The file.
        path: PathBuf,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// A model folder holds another kind of model than the one asked for.
    #[error("{} holds a `{found}` model, not a `{expected}` one", path.display())]
    WrongKind {
        /// The configuration file.
        path: PathBuf,
        /// The kind asked for.
        expected: String,
        /// The kind the file names.
        found: String,
    },

    /// A weights file is not a burnpack file, or does not fit the model of the configuration.
    #[error(
        "{}: cannot load weights: {message}; was this file saved from a model of the same configuration?",
        path.display()
    )]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// Burn's message.
        message: String,
    },

    /// A model's weights hold NaN or infinite values: it diverged in training, or its file was
    /// written by something that did.
    #[error(
        "{}: {count} weights are NaN or infinite (the model diverged in training); retrain it \
         with a lower learning rate",
        path.display()
    )]
    NonFiniteWeights {
        /// The model folder or file.
        path: PathBuf,
        /// How many weights are not finite.
        count: usize,
    },

    /// Weights too large for the precision they were to be stored at.
    #[error(
        "{count} weights of {} are larger than {precision} can store (65,504 for f16): save it with \
         --weights f32 (or `WeightsPrecision::F32`); the model was not written",
        path.display()
    )]
    WeightsOutOfRange {
        /// The model folder.
        path: PathBuf,
        /// How many weights are too large.
        count: usize,
        /// The precision asked for.
        precision: crate::persist::WeightsPrecision,
    },

    /// No pretrained model of that name was trained on that dataset.
    #[error(
        "no pretrained `{model}` trained on `{dataset}`; the pretrained models are: {available}"
    )]
    UnknownPretrained {
        /// The model asked for.
        model: String,
        /// The dataset asked for.
        dataset: String,
        /// The pairs there are, `model/dataset`, comma-separated.
        available: String,
    },

    /// A pretrained model's weights do not have the checksum its card records.
    #[error(
        "{}: the weights' sha256 is {found}, its card says {expected}: the file was damaged or \
         replaced; rebuild the crate from a clean download, or retrain it with `cargo xtask zoo`",
        path.display()
    )]
    Checksum {
        /// The weights.
        path: PathBuf,
        /// The card's checksum.
        expected: String,
        /// The weights' checksum.
        found: String,
    },

    /// A captured reconstruction was given what it was not captured for.
    #[error("captured reconstruction: {0}")]
    Capture(String),

    /// A tensor's values could not be read back from the device.
    #[error("cannot read {what} back from the device: {message}")]
    ReadBack {
        /// What was being read (`"decoded tokens"`, ...).
        what: &'static str,
        /// The backend's message.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
