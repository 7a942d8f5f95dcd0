//! Training on burn-train: the [`Trainable`] bridge and its one [`ModelSteps`] learner, the one
//! [`fit`], the splits it takes, metrics, atomic checkpoints, the epoch log, plain progress
//! lines, and device selection.

mod adam_record;
mod captured_fit;
mod captured_plan;
mod captured_step;
mod captured_validation;
mod checkpoint;
mod data_parallel;
mod device;
mod epoch_log;
mod image;
mod learner;
mod loaders;
mod metrics;
mod optim;
mod options;
mod precision;
mod ratings;
mod remote;
#[cfg(feature = "remote")]
mod remote_watch;
mod renderer;
mod run_folder;
mod sequence;
mod step_gate;
mod step_logs;
mod step_sums;
mod streams;
mod training;

pub use captured_fit::{CapturedFit, CapturedStrategy};
pub use captured_step::{CapturedAdam, CapturedTrainingStep};
pub use checkpoint::{
    AtomicFileCheckpointer, CHECKPOINT_KINDS, checkpoint_path, latest_complete_checkpoint,
};
pub use data_parallel::DataParallel;
pub use device::{Backend, DeviceSpec, GpuAdapter};
pub use epoch_log::{EpochLog, EpochMetrics, read_epoch_log};
pub use image::ReconstructionOutput;
pub use learner::{ModelSteps, Trainable};
pub use loaders::TrainingSplit;
pub use metrics::{DeviceMeanMetric, Divergence, GROWTH_LIMIT, MetricsContext, Reduction};
pub use optim::{FusedAdam, adam_optimizer};
pub use options::{AppFolder, FitOptions, TrainingConfig};
pub use precision::{LossScale, Precision, StepPrecision};
pub use ratings::RatingsOutput;
#[cfg(feature = "remote")]
pub use remote::CONNECT_TIMEOUT;
pub use remote::{MAX_TOKEN_BYTES, RemoteAddress, TOKEN_ENV, token_from_env, token_from_file};
#[cfg(feature = "remote")]
pub use remote_watch::{SILENCE_LIMIT, watch_servers};
pub use renderer::PlainRenderer;
pub use run_folder::{
    IDENTITY_FILE, LOCK_FILE, RunLock, begin_app_folder, check_run_folder, check_trained_on,
};
pub use step_gate::StepGate;
pub use step_sums::{StepSum, StepSums, masked_sum, row_sums};
pub use streams::{STREAMS_ENV, Streams};
pub use training::{Fitted, PROGRESS_ENV, fit};
