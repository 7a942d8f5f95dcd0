//! Errors of training, evaluation and artifact writing.

use std::path::PathBuf;

/// What can go wrong in `ae-train`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The path is not a regular file (or folder), is larger than its limit, or loops.
    #[error(transparent)]
    Input(#[from] ae_io::InputError),

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
    #[error("no usable `{device}` device: {message}")]
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

    /// A file or folder could not be written (a full disk, a read-only folder).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file could not be read, or a folder listed or cleared.
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

    /// A log of the run could not be written while training (a full disk, a folder removed):
    /// training stopped before the epoch's checkpoint.
    #[error("cannot write {}: {source}; training stopped. {next}", path.display())]
    WriteFailed {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
        /// What the user can do: resume from the last complete checkpoint, or start over.
        next: String,
    },

    /// The loss of a training loop outside `fit` (a classifier) stopped being finite.
    #[error(
        "the {what} diverged: its loss is {loss} at step {step}; lower its learning rate, or \
         check the features for extreme values"
    )]
    LossNotFinite {
        /// Which loop.
        what: &'static str,
        /// The step (1-based) where the loss was read.
        step: usize,
        /// The value read.
        loss: f64,
    },

    /// A remote device stopped answering during training; the finished epochs are kept.
    #[error(
        "the remote device {devices} stopped answering during training (is its server still \
         running and reachable?): the checkpoints of the finished epochs are kept in {}; continue \
         with --resume on devices that answer (another server, or --device flex). ({message})",
        dir.display()
    )]
    DeviceLost {
        /// The devices that no longer answer, as named (`ws://host:port#0`).
        devices: String,
        /// The checkpoint folder.
        dir: PathBuf,
        /// What burn-train reported.
        message: String,
    },

    /// A resume was asked for but there is no complete checkpoint to resume from.
    #[error(
        "nothing to resume in {}: no epoch has all of model-N.bpk, optim-N.bpk and scheduler-N.bpk \
         (the run stopped before its first epoch's checkpoint, or they were deleted): start over \
         with --overwrite instead (it deletes what the run wrote), or use another --out",
        dir.display()
    )]
    NoCheckpoint {
        /// The checkpoint folder.
        dir: PathBuf,
    },

    /// The loss stopped being finite, or grew past
    /// [`GROWTH_LIMIT`](crate::GROWTH_LIMIT) times its first step's value: training
    /// stopped, the earlier epochs' checkpoints are kept and no model was written.
    #[error(
        "the {split} loss {}: the model diverged. Lower the learning rate (--lr, e.g. ten times \
         lower; or raise --adam-epsilon if it was set below its default) or check the data for \
         extreme values, then start over (--overwrite){}",
        how_it_diverged(*epoch, *step, *grew),
        kept_checkpoints(*epoch, dir)
    )]
    Diverged {
        /// `"train"` or `"valid"`.
        split: &'static str,
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// For a loss that stayed finite: its first step's value and the mean it reached.
        grew: Option<(f64, f64)>,
        /// The checkpoint folder.
        dir: PathBuf,
    },

    /// A value computed from a model is not finite (a NaN or infinite loss, error or weight).
    #[error("{what} is not finite ({value}): {hint}")]
    NotFinite {
        /// What was computed.
        what: String,
        /// The value.
        value: f64,
        /// What to do about it.
        hint: &'static str,
    },

    /// A model and the data it is given disagree on the shape of one item.
    #[error(
        "{model_name} takes items of shape {model:?} but {data_name} holds items of shape {data:?}"
    )]
    ShapeMismatch {
        /// The model (or its folder).
        model_name: String,
        /// The shape it takes.
        model: Vec<usize>,
        /// The data.
        data_name: String,
        /// The shape it holds.
        data: Vec<usize>,
    },

    /// `--resume` found a run that is not the one asked for.
    #[error(
        "cannot resume {}: it holds a run with {field} = {found}, but this run has {field} = \
         {expected}{}; resume with the same settings, start over with --overwrite, or use another \
         --out",
        dir.display(),
        which_data_differ(field)
    )]
    RunMismatch {
        /// The run folder.
        dir: PathBuf,
        /// The first setting that differs (a dotted path, e.g. `model.config.latent_dim`).
        field: String,
        /// Its value in the folder.
        found: String,
        /// Its value now.
        expected: String,
    },

    /// A fresh run was started in a folder that holds another run.
    #[error(
        "{} holds an earlier run ({what}); {}start over with --overwrite (its checkpoints and \
         logs are deleted), or use another --out",
        dir.display(),
        if *resumable { "continue it with --resume, " } else { "it finished no epoch to resume from: " }
    )]
    FolderHoldsRun {
        /// The run folder.
        dir: PathBuf,
        /// What was found.
        what: String,
        /// Whether it has a complete checkpoint `--resume` continues from.
        resumable: bool,
    },

    /// A fresh run was asked for in a folder holding files no run of this workspace wrote.
    #[error(
        "{} holds files this workspace did not write ({files}): a run owns its folder, and \
         --overwrite removes only what runs wrote; move them, or use another --out",
        dir.display()
    )]
    FolderHoldsOtherFiles {
        /// The run folder.
        dir: PathBuf,
        /// Up to ten of the files, relative to the folder.
        files: String,
    },

    /// Another process is training in the run folder.
    #[error(
        "{} is in use by {} (lock file {}); wait for it to finish, or use another --out",
        dir.display(),
        match *pid {
            0 => "another process".to_string(),
            own if own == std::process::id() => {
                "this process (a `Fitted` it holds keeps the lock: drop it first)".to_string()
            }
            other => format!("process {other}"),
        },
        lock.display()
    )]
    FolderInUse {
        /// The run folder.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The process holding it (0 when its file did not say yet).
        pid: u32,
    },

    /// `--resume` found a checkpoint past the last epoch asked for.
    #[error(
        "the run in {} already trained {checkpoint} epochs and --epochs asks for {epochs}; pass \
         --epochs {} or more to continue it",
        dir.display(),
        checkpoint + 1
    )]
    NothingToResume {
        /// The run folder.
        dir: PathBuf,
        /// The newest checkpoint's epoch.
        checkpoint: usize,
        /// The epochs asked for.
        epochs: usize,
    },

    /// A checkpoint file cannot be loaded.
    #[error("cannot resume from {}: {message}; {}", path.display(), checkpoint_advice(path))]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What a difference in a split's identity (its size or checksum) comes from.
fn which_data_differ(field: &str) -> String {
    match field.split('.').next() {
        Some(split @ ("train" | "valid")) => format!(
            " (the {split} split's data differ: another data file or dataset, --seed, or a flag \
             that sizes or splits the data)"
        ),
        _ if field.ends_with("vocab_size") => " (the vocabulary is built from the training \
             split: another corpus, --seed or split changes it)"
            .to_string(),
        _ => String::new(),
    }
}

/// How the loss diverged: grew (from what, to what) or stopped being finite, and where.
fn how_it_diverged(epoch: usize, step: usize, grew: Option<(f64, f64)>) -> String {
    match grew {
        Some((first, reached)) => format!(
            "grew from {} at its start to a mean of {reached:.3e} by epoch {epoch}, step {step}",
            if (1e-3..1e5).contains(&first) {
                format!("{first:.4}")
            } else {
                format!("{first:.3e}")
            }
        ),
        None => format!("stopped being finite at epoch {epoch}, step {step}"),
    }
}

/// Where the checkpoints of the epochs before `epoch` are, when there are any.
fn kept_checkpoints(epoch: usize, dir: &std::path::Path) -> String {
    if epoch > 1 {
        format!(
            "; the checkpoints of the epochs before are kept in {}",
            dir.display()
        )
    } else {
        String::new()
    }
}

/// What to do about an unreadable checkpoint file: an epoch's file can go with its epoch (the
/// run then resumes from the epoch before); anything else needs a fresh start.
fn checkpoint_advice(path: &std::path::Path) -> String {
    let epoch = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| stem.rsplit_once('-'))
        .and_then(|(_, epoch)| epoch.parse::<usize>().ok());
    match epoch {
        Some(epoch) => format!(
            "delete that epoch's files (model-{epoch}.bpk, optim-{epoch}.bpk, \
             scheduler-{epoch}.bpk) to resume from the epoch before, or start over with \
             --overwrite"
        ),
        None => "start over with --overwrite".into(),
    }
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Write {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusals of a resume and a divergence say what a user changes.
    #[test]
    fn messages_name_what_to_change() {
        assert!(which_data_differ("train.checksum").contains("--seed"));
        assert!(which_data_differ("model.config.vocab_size").contains("vocabulary"));
        assert_eq!(which_data_differ("model.config.latent_dim"), "");
        assert_eq!(
            how_it_diverged(1, 7, Some((550.7131, 1.936e33))),
            "grew from 550.7131 at its start to a mean of 1.936e33 by epoch 1, step 7"
        );
        assert!(how_it_diverged(1, 7, Some((2e-6, 1.0))).starts_with("grew from 2.000e-6"));
        assert_eq!(
            how_it_diverged(2, 3, None),
            "stopped being finite at epoch 2, step 3"
        );
    }
}
