//! Training, evaluating and saving autoencoders with burn-train.
//!
//! - [`fit`] trains any `ae_models::Autoencoder` with burn-train's supervised learner (loss, MSE
//!   and PSNR metrics, atomic checkpoints, resume, per-epoch JSON lines, progress display).
//! - [`evaluate`] scores a model on a dataset; [`images`] writes PNG grids.
//! - [`DeviceSpec`] turns `"flex"`, `"wgpu"`, `"cuda:1"`, ... into a Burn device, with clear
//!   errors when a backend is not compiled in or has no device.
//! - [`run_training`] is the whole pipeline of the example trainers, writing an artifact folder.
//! - [`text`] trains and queries the sentence autoencoder; [`recommend`] trains AutoRec on
//!   ratings and scores it against baselines. Both run on [`fit_learner`], the loop under [`fit`].

pub mod allocator;
pub mod anomaly;
pub mod bench;
pub mod checkpoint;
pub mod classify;
pub mod codes;
pub mod device;
pub mod epoch_log;
pub mod error;
pub mod evaluate;
pub mod experiment;
pub mod images;
pub mod impute;
pub mod learner;
pub mod metrics;
pub mod pca;
pub mod recommend;
pub mod renderer;
pub mod table;
pub mod text;
pub mod train;

pub use device::{Backend, DeviceSpec};
pub use epoch_log::EpochMetrics;
pub use error::{Result, TrainError};
pub use evaluate::{
    DenoisingReport, ReconstructionReport, VaeReport, evaluate, evaluate_denoising,
    evaluate_sparsity, evaluate_vae, reconstruction_errors, values,
};
pub use experiment::{MachineInfo, RunReport, RunSettings, TrainedRun, run_training, write_json};
pub use learner::AutoencoderLearner;
pub use table::Table;
pub use train::{Fitted, TrainingConfig, fit, fit_learner, fit_with};
