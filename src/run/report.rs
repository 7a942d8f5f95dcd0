//! What a run writes besides the model: its settings (`run.json`), its results (`report.json`)
//! and the machine it ran on.

use std::path::Path;

use serde::{Deserialize, Serialize};

use ae_data::DatasetSource;
use ae_models::WeightsPrecision;
use ae_train::{EpochMetrics, ReconstructionReport, Result, TrainError, TrainingConfig};

use crate::table::Table;

/// The training epochs of `history` grouped by where and how they ran, as `epochs 1-3 on
/// ws://host:3000 in bf16` (one stretch for a run that never moved).
pub fn ran_in_stretches(history: &[EpochMetrics]) -> Vec<String> {
    let mut stretches: Vec<(usize, usize, String)> = Vec::new();
    for record in history.iter().filter(|r| r.split == "train") {
        let ran = record.ran();
        match stretches.last_mut() {
            Some((_, last, how)) if *how == ran => *last = record.epoch,
            _ => stretches.push((record.epoch, record.epoch, ran)),
        }
    }
    stretches
        .into_iter()
        .map(|(first, last, how)| {
            let epochs = if first == last {
                format!("epoch {first}")
            } else {
                format!("epochs {first}-{last}")
            };
            if how.is_empty() {
                format!("{epochs} (not recorded)")
            } else {
                format!("{epochs} {how}")
            }
        })
        .collect()
}

/// The settings of a run, saved as `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSettings {
    /// Which trainer made the run (`train_vanilla`, ...).
    pub trainer: String,
    /// The data.
    pub dataset: DatasetSource,
    /// The devices (`flex`, `wgpu`, `cuda:0`, ...; several for data-parallel training).
    pub devices: Vec<String>,
    /// Epochs, batch size, optimiser, seed.
    pub training: TrainingConfig,
    /// Fraction of the training split held out for validation; 0 validates on the test split
    /// (for monitoring only: no model selection is made from validation).
    pub valid_fraction: f64,
    /// Use only the first `limit` training and test images (quick runs).
    pub limit: Option<usize>,
}

impl RunSettings {
    /// The settings a trainer saved in `dir` (its `run.json`), or `None` when it holds none
    /// that this version reads (a model saved by hand, or by an older version).
    pub fn load(dir: &Path) -> Option<Self> {
        let text = ae_io::read_to_string(&dir.join("run.json"), ae_io::Limit::JSON).ok()?;
        serde_json::from_str(&text).ok()
    }
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
    /// The shape every image was read at, `CxHxW` (`3x64x64`).
    pub image_shape: String,
    /// Epochs trained in total (a resumed run counts the earlier ones).
    pub epochs: usize,
    /// Wall time of this process's training epochs (validation passes included).
    pub train_seconds: f64,
    /// Training images per second of wall time.
    pub train_images_per_second: f64,
    /// Seconds from the start of training to the end of the first epoch this process trained:
    /// kernel compilation, autotuning and the upload of the data are paid there.
    pub warmup_seconds: Option<f64>,
    /// Training images per second over the later epochs (validation excluded); absent after a
    /// single epoch.
    pub steady_images_per_second: Option<f64>,
    /// Whether this process's training steps were captured and replayed (`--capture`; false
    /// where the run could not be and trained the ordinary way; a resumed run's earlier epochs
    /// may have been either).
    #[serde(default)]
    pub captured: bool,
    /// Test reconstruction quality.
    pub test: ReconstructionReport,
    /// Test MSE of predicting the training set's mean image for every image: the number to beat.
    pub mean_image_mse: f64,
    /// Epoch means per epoch and split.
    pub history: Vec<EpochMetrics>,
    /// Where it ran.
    pub machine: MachineInfo,
    /// The GPU adapters the devices ran on, as `wgpu: NVIDIA H100 80GB HBM3` (none on the CPU
    /// backends).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<String>,
    /// The Burn version.
    pub burn: String,
    /// The model's parameters (weights and biases).
    #[serde(default)]
    pub parameters: usize,
    /// The precision the weights are stored at (`--weights`); the test figures are those of
    /// the stored weights.
    #[serde(default)]
    pub weights: WeightsPrecision,
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
        for adapter in &self.adapters {
            t.row(["GPU adapter", adapter]);
        }
        t.row([
            "images (train / valid / test)",
            &format!(
                "{} / {} / {}",
                self.images[0], self.images[1], self.images[2]
            ),
        ]);
        t.row(["image shape (channels x height x width)", &self.image_shape]);
        if self.parameters > 0 {
            t.row(["parameters", &thousands(self.parameters)]);
        }
        t.row(["epochs", &self.epochs.to_string()]);
        if self.train_seconds > 0.0 {
            t.row([
                "training wall time",
                &format!("{:.1} s", self.train_seconds),
            ]);
            t.row([
                "training throughput",
                &format!("{:.0} images/s", self.train_images_per_second),
            ]);
        } else {
            t.row(["training", "done before (--resume of a finished run)"]);
        }
        if let Some(warmup) = self.warmup_seconds {
            t.row(["warm-up (to the end of epoch 1)", &format!("{warmup:.1} s")]);
        }
        if let Some(steady) = self.steady_images_per_second {
            t.row([
                "steady training throughput (later epochs)",
                &format!("{steady:.0} images/s"),
            ]);
        }
        if self.captured {
            t.row(["training steps", "captured and replayed (--capture)"]);
        }
        let stretches = ran_in_stretches(&self.history);
        if stretches.len() > 1 {
            t.row([
                "where the epochs ran (resumed elsewhere)",
                &stretches.join("; "),
            ]);
        }
        t.row(["test MSE", &format!("{:.5}", self.test.mse)]);
        t.row(["test PSNR", &format!("{:.2} dB", self.test.psnr_db)]);
        t.row([
            "test MSE of the mean image",
            &format!("{:.5}", self.mean_image_mse),
        ]);
        if self.test.mse > self.mean_image_mse {
            // A model that collapsed to one output (a learning rate too high for ReLUs) or one
            // trained too little: both look like results in the rows above.
            t.row([
                "note",
                "the model reconstructs worse than the mean image: train longer (--epochs), or \
                 lower --lr if the loss rose",
            ]);
        }
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

/// `222384` as `222,384`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Checks that [`write_json`] can write `path` (given as `flag`), its folder created if needed,
/// before the work whose results it will hold.
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming `flag` and the path.
pub fn check_writable(path: &Path, flag: &'static str) -> Result<()> {
    // The file is written through `probe` and renamed, which would replace a device, FIFO,
    // link or folder at `path`.
    let probe = ae_io::temporary_path(path);
    let folder = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty());
    ae_io::check_replaceable(path)
        .and_then(|()| folder.map_or(Ok(()), std::fs::create_dir_all))
        // A byte, not an empty file: a full disk still makes empty files.
        .and_then(|()| std::fs::write(&probe, b"{"))
        .map_err(|e| {
            let _ = std::fs::remove_file(&probe);
            TrainError::InvalidArgument {
                what: flag,
                message: format!("{}: {e}", path.display()),
            }
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, split: &str, devices: Option<&str>) -> EpochMetrics {
        EpochMetrics {
            epoch,
            split: split.into(),
            metrics: Default::default(),
            elapsed_seconds: None,
            devices: devices.map(str::to_string),
            hardware: None,
            precision: devices.map(|_| "f32".to_string()),
        }
    }

    #[test]
    fn epochs_are_grouped_by_where_they_ran() {
        let history = [
            epoch(1, "train", None),
            epoch(1, "valid", Some("flex")),
            epoch(2, "train", Some("ws://h:3000")),
            epoch(2, "valid", Some("ws://h:3000")),
            epoch(3, "train", Some("ws://h:3000")),
            epoch(4, "train", Some("flex")),
        ];
        assert_eq!(
            ran_in_stretches(&history),
            [
                "epoch 1 (not recorded)",
                "epochs 2-3 on ws://h:3000 in f32",
                "epoch 4 on flex in f32"
            ]
        );
        assert_eq!(ran_in_stretches(&history[2..5]).len(), 1);
    }

    /// A model that reconstructs worse than the mean image gets a note saying what to do.
    #[test]
    fn a_model_worse_than_the_mean_image_gets_a_note() {
        let report = |mse: f64| RunReport {
            trainer: "train_vanilla".into(),
            dataset: "mnist-sample".into(),
            device: "flex".into(),
            images: [7200, 800, 2000],
            image_shape: "1x28x28".into(),
            epochs: 2,
            train_seconds: 1.0,
            train_images_per_second: 14400.0,
            warmup_seconds: None,
            steady_images_per_second: None,
            captured: false,
            test: ae_train::ReconstructionReport {
                dataset: "mnist-sample".into(),
                images: 2000,
                mse,
                psnr_db: 10.0,
            },
            mean_image_mse: 0.06728,
            history: Vec::new(),
            machine: MachineInfo::detect(),
            adapters: Vec::new(),
            burn: "0.22.1".into(),
            parameters: 0,
            weights: WeightsPrecision::default(),
            extra: Vec::new(),
        };
        assert_eq!(thousands(222384), "222,384");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(999), "999");
        let worse = report(0.11442).table().to_string();
        assert!(
            worse.contains("reconstructs worse than the mean image"),
            "{worse}"
        );
        let better = report(0.01716).table().to_string();
        assert!(!better.contains("note"), "{better}");
    }
}
