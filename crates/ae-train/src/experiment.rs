//! A whole training run as the example trainers do it: load data, split, build the model, train,
//! save, evaluate on the test split, and write the artifact folder.
//!
//! The artifact folder holds:
//! - `config.json` and `model.bpk`: the model (load it with `SavedModel::load`);
//! - `run.json`: the settings of the run (dataset, device, training configuration);
//! - `metrics.jsonl`: one line of epoch means per epoch and split;
//! - `report.json`: test metrics, the mean-image baseline, timing and the machine;
//! - `reconstructions.png`: test images (odd rows) above their reconstructions (even rows);
//! - `checkpoint/`: burn-train checkpoints of the last epochs, for `--resume`.

use std::path::Path;

use burn::module::ModuleDisplay;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use ae_data::{DatasetSource, ImageDataset, ImageShape};
use ae_models::{Autoencoder, SavedModel};

use crate::device::DeviceSpec;
use crate::epoch_log::EpochMetrics;
use crate::error::{Result, TrainError};
use crate::evaluate::{ReconstructionReport, evaluate, values};
use crate::images::save_reconstruction_grid;
use crate::table::Table;
use crate::train::{TrainingConfig, fit};

/// The settings of a run, saved as `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSettings {
    /// Which trainer made the run (`train_vanilla`, ...).
    pub trainer: String,
    /// The data.
    pub dataset: DatasetSource,
    /// The device (`flex`, `wgpu`, `cuda:0`, ...).
    pub device: String,
    /// Epochs, batch size, optimiser, seed.
    pub training: TrainingConfig,
    /// Fraction of the training split held out for validation; 0 validates on the test split
    /// (for monitoring only: no model selection is made from validation).
    pub valid_fraction: f64,
    /// Use only the first `limit` training and test images (quick runs).
    pub limit: Option<usize>,
}

/// Facts about the machine a run was measured on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MachineInfo {
    /// CPU model from `/proc/cpuinfo` (or "unknown").
    pub cpu: String,
    /// Logical cores available to the process.
    pub cores: usize,
    /// Operating system and architecture.
    pub os: String,
}

impl MachineInfo {
    /// Reads the facts of this machine.
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// The results of a run, saved as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The trainer.
    pub trainer: String,
    /// The dataset's name.
    pub dataset: String,
    /// The device.
    pub device: String,
    /// Training, validation and test images.
    pub images: [usize; 3],
    /// Epochs trained in total (a resumed run counts the earlier ones).
    pub epochs: usize,
    /// Wall time of this process's training epochs (validation passes included).
    pub train_seconds: f64,
    /// Training images per second of wall time.
    pub train_images_per_second: f64,
    /// Test reconstruction quality.
    pub test: ReconstructionReport,
    /// Test MSE of predicting the training set's mean image for every image: the number to beat.
    pub mean_image_mse: f64,
    /// Epoch means per epoch and split.
    pub history: Vec<EpochMetrics>,
    /// Where it ran.
    pub machine: MachineInfo,
    /// The Burn version.
    pub burn: String,
    /// Model-specific figures (PSNR of noisy and denoised images, ELBO terms, sparsity, ...),
    /// added by the trainers, in the order they are printed.
    pub extra: Vec<(String, f64)>,
}

impl RunReport {
    /// The closing table the trainers print.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["", ""]);
        t.row(["dataset", &self.dataset]);
        t.row(["device", &self.device]);
        t.row([
            "images (train / valid / test)",
            &format!(
                "{} / {} / {}",
                self.images[0], self.images[1], self.images[2]
            ),
        ]);
        t.row(["epochs", &self.epochs.to_string()]);
        t.row([
            "training wall time",
            &format!("{:.1} s", self.train_seconds),
        ]);
        t.row([
            "training throughput",
            &format!("{:.0} images/s", self.train_images_per_second),
        ]);
        t.row(["test MSE", &format!("{:.5}", self.test.mse)]);
        t.row(["test PSNR", &format!("{:.2} dB", self.test.psnr_db)]);
        t.row([
            "test MSE of the mean image",
            &format!("{:.5}", self.mean_image_mse),
        ]);
        for (name, value) in &self.extra {
            t.row([name.as_str(), &format!("{value:.4}")]);
        }
        t
    }

    /// Adds a model-specific figure.
    pub fn add(&mut self, name: &str, value: f64) {
        self.extra.push((name.to_string(), value));
    }

    /// Writes `report.json` into the artifact folder.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join("report.json"), self)
    }
}

/// Writes `value` as pretty JSON, atomically (creating the folder if needed).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_string_pretty(value).map_err(|e| TrainError::InvalidArgument {
        what: "report",
        message: e.to_string(),
    })?;
    ae_models::persist::write_atomic(path, json.as_bytes())?;
    Ok(())
}

/// The (train, validation, test) datasets of a run's settings.
pub fn load_splits(settings: &RunSettings) -> Result<(ImageDataset, ImageDataset, ImageDataset)> {
    let data = settings.dataset.load()?;
    let (train, test) = match settings.limit {
        Some(n) => (data.train.take(n), data.test.take(n)),
        None => (data.train, data.test),
    };
    if settings.valid_fraction == 0.0 {
        Ok((train, test.clone(), test))
    } else {
        let (train, valid) = train.split(settings.valid_fraction, settings.training.seed)?;
        Ok((train, valid, test))
    }
}

/// Writes `reconstructions.png`: the first `count` test images above their reconstructions.
pub fn write_reconstruction_png<M: Autoencoder>(
    model: &M,
    test: &ImageDataset,
    count: usize,
    path: &Path,
    device: &Device,
) -> Result<()> {
    let shape = test.shape();
    let batch = test.batch(0..count, device);
    let recon = model.reconstruct(batch.images.clone());
    save_reconstruction_grid(path, &values(batch.images)?, &values(recon)?, shape, 10)
}

/// What [`run_training`] hands back, for trainers that evaluate more.
pub struct TrainedRun<M> {
    /// The trained model (inference mode).
    pub model: M,
    /// The report, already saved as `report.json`; add figures and save again.
    pub report: RunReport,
    /// The training split (validation images excluded).
    pub train: ImageDataset,
    /// The test split.
    pub test: ImageDataset,
    /// The device the model lives on.
    pub device: Device,
}

/// Runs a whole training: `build` makes the model for the data's image shape on the device.
///
/// # Errors
/// Any error of data loading, device selection, model building, training or writing.
pub fn run_training<M, F>(
    settings: &RunSettings,
    out: &Path,
    resume: bool,
    build: F,
) -> Result<TrainedRun<M>>
where
    M: Autoencoder + SavedModel + ModuleDisplay + 'static,
    F: FnOnce(ImageShape, &Device) -> Result<M>,
{
    let spec: DeviceSpec = settings.device.parse()?;
    let device = spec.device()?;
    let (train, valid, test) = load_splits(settings)?;
    println!(
        "data: {} ({} train, {} valid, {} test images of {})",
        settings.dataset.name(),
        train.count(),
        valid.count(),
        test.count(),
        train.shape()
    );
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    write_json(&out.join("run.json"), settings)?;

    device.seed(settings.training.seed);
    let model = build(train.shape(), &device)?;
    let counts = [train.count(), valid.count(), test.count()];
    let mean_image_mse = test.mse_of_constant(&train.mean_image());
    let fitted = fit(
        model,
        train.clone(),
        valid,
        &settings.training,
        out,
        &device,
        resume,
    )?;
    let model = fitted.model;
    model.save(out)?;

    let test_report = evaluate(&model, &test, 500, &device)?;
    write_reconstruction_png(&model, &test, 20, &out.join("reconstructions.png"), &device)?;
    let report = RunReport {
        trainer: settings.trainer.clone(),
        dataset: settings.dataset.name().to_string(),
        device: spec.to_string(),
        images: counts,
        epochs: settings.training.epochs,
        train_seconds: fitted.seconds,
        train_images_per_second: fitted.train_images as f64 / fitted.seconds.max(1e-9),
        test: test_report,
        mean_image_mse,
        history: fitted.epochs,
        machine: MachineInfo::detect(),
        burn: "0.22.1".into(),
        extra: Vec::new(),
    };
    report.save(out)?;
    Ok(TrainedRun {
        model,
        report,
        train,
        test,
        device,
    })
}
