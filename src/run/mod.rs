//! The run of an image example, one step after the other:
//!
//! 1. [`Run::prepare`]: parse the devices once, load the splits once, write `run.json`;
//! 2. the example builds its model for [`Run::shape`] on [`Run::device`] (or loads one with
//!    [`Run::load_model`], which checks its input shape against the data);
//! 3. [`Run::train`]: fit, save, evaluate on the test split, draw the reconstructions, write the
//!    report — the artifact folder:
//!    - `config.json` and `model.bpk`: the model (load it with `SavedModel::load`);
//!    - `run.json`: the settings of the run (dataset, devices, training configuration);
//!    - `metrics.jsonl`: one line of epoch means per epoch and split;
//!    - `report.json`: test metrics, the mean-image baseline, timing and the machine;
//!    - `reconstructions.png`: test images (odd rows) above their reconstructions (even rows);
//!    - `checkpoint/`: burn-train checkpoints of the last epochs, for `--resume`.

mod report;
mod staged;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;

use ae_data::{ImageBatch, ImageDataset, ImageShape, Residency};
use ae_models::{
    AnyAutoencoder, Autoencoder, ModelConfig, SaveFolder, WeightsPrecision, load_model,
};
use ae_train::{
    AppFolder, FitOptions, Result, TrainError, Trainable, TrainingConfig, begin_app_folder,
    evaluate, fit, image_batches, save_reconstruction_grid, values,
};

pub use report::{MachineInfo, RunReport, RunSettings, check_writable, write_json};
pub use staged::StagedFile;

use crate::cli::{Defaults, Devices, ModelDirArgs, OutputArgs, TrainerArgs};

/// The three splits of a run's images.
#[derive(Debug, Clone)]
pub struct Splits {
    /// What the model trains on.
    pub train: ImageDataset,
    /// What each epoch validates on: held out from the training images, or the test split
    /// (monitoring only) with `--valid-fraction 0`.
    pub valid: ImageDataset,
    /// What the final report scores.
    pub test: ImageDataset,
}

/// The report's name for the test MSE of the f32 weights, when they are stored at another
/// precision (`--weights f16`).
pub const FULL_PRECISION_MSE: &str = "test MSE with f32 weights";

/// A prepared run: its devices, data and settings, and the folder it writes.
#[derive(Debug, Clone)]
pub struct Run {
    /// The output folder.
    pub out: PathBuf,
    /// The devices, created once.
    pub devices: Devices,
    /// What `run.json` records.
    pub settings: RunSettings,
    /// The images.
    pub data: Splits,
    resume: bool,
    overwrite: bool,
    residency: Residency,
    capture: bool,
    weights: WeightsPrecision,
    /// Whether "each epoch trains on ..." was printed.
    told_epoch_size: Arc<AtomicBool>,
}

/// What [`Run::train`] returns.
pub struct Trained<M> {
    /// The trained model (inference mode).
    pub model: M,
    /// The report, already saved as `report.json`; add figures and [`RunReport::save`] again.
    pub report: RunReport,
}

impl Run {
    /// Parses the devices and loads the splits, for an output folder of `--out`, or
    /// `runs/<name>-<dataset>` (written by [`Run::train`]).
    ///
    /// # Errors
    /// On a flag out of range, a device that cannot be used, or data that cannot be loaded.
    pub fn prepare(name: &str, args: &TrainerArgs, defaults: &Defaults) -> Result<Self> {
        let training = args.train.config(defaults)?;
        let valid_fraction = args.data.valid_fraction;
        if !(0.0..1.0).contains(&valid_fraction) {
            return Err(TrainError::InvalidArgument {
                what: "--valid-fraction",
                message: format!("{valid_fraction} is not in [0, 1)"),
            });
        }
        let out = args.out_dir(name);
        if out.exists() && !out.is_dir() {
            // Found at once, not when the first file goes in after the work is done.
            return Err(TrainError::InvalidArgument {
                what: "--out",
                message: format!(
                    "{} is not a folder: name a folder for the run",
                    out.display()
                ),
            });
        }
        if let Some(data_dir) = &args.data.data_dir {
            OutputArgs::check_outside(&out, data_dir, "--data-dir")?;
            // Found now, not by the report's JSON after training (paths there are text).
            if data_dir.to_str().is_none() {
                return Err(TrainError::InvalidArgument {
                    what: "--data-dir",
                    message: format!(
                        "{} is not UTF-8, which the run's report records paths in: rename the \
                         folder, or give a link to it with a UTF-8 name",
                        data_dir.display()
                    ),
                });
            }
        }
        let mut source = args.data.source()?;
        // An image folder's train/test split follows the run's seed, as every other draw does.
        if let ae_data::DatasetSource::ImageFolder { seed, .. } = &mut source {
            *seed = training.seed;
        }
        let devices = args.device.open()?;
        // An image folder decodes only the images --limit keeps.
        let loaded = source.load_limited(args.data.limit)?;
        let (train, test) = (loaded.train, loaded.test);
        let (train, test) = (args.data.reshape(train)?, args.data.reshape(test)?);
        if let ae_data::DatasetSource::ImageFolder { options, .. } = &source {
            println!(
                "image folder read at {}x{}, {} ({}; --image-size and --color change them)",
                options.height,
                options.width,
                match options.color {
                    ae_data::image_folder::ColorMode::Rgb => "rgb",
                    ae_data::image_folder::ColorMode::Grayscale => "gray",
                },
                if args.data.color.is_some() {
                    "as asked"
                } else {
                    "rgb when any image looked at is in colour"
                }
            );
        }
        // Found before training, not as a report of zeros (or NaN) after it.
        if test.count() == 0 {
            return Err(TrainError::InvalidArgument {
                what: "data",
                message: format!(
                    "{}: the test split holds no images, so the run would end with no test \
                     figures: give a dataset whose test split has images",
                    source.name()
                ),
            });
        }
        let data = if valid_fraction == 0.0 {
            Splits {
                train,
                valid: test.clone(),
                test,
            }
        } else {
            let (train, valid) = train.split(valid_fraction, training.seed)?;
            Splits { train, valid, test }
        };
        println!(
            "data: {} ({} train, {} valid, {} test images of {})",
            source.name(),
            data.train.count(),
            data.valid.count(),
            data.test.count(),
            data.train.shape()
        );
        let settings = RunSettings {
            trainer: name.to_string(),
            dataset: source,
            devices: args.device.names(),
            training,
            valid_fraction,
            limit: args.data.limit,
        };
        Ok(Self {
            out: args.out_dir(name),
            devices,
            settings,
            data,
            resume: args.output.resume,
            overwrite: args.output.overwrite,
            residency: args.train.residency.into(),
            capture: args.train.capture,
            weights: args.output.weights.into(),
            told_epoch_size: Arc::default(),
        })
    }

    /// The precision trained weights are stored at (`--weights`).
    pub fn weights(&self) -> WeightsPrecision {
        self.weights
    }

    /// The device models live on.
    pub fn device(&self) -> &Device {
        &self.devices.device
    }

    /// The shape of every image of the run.
    pub fn shape(&self) -> ImageShape {
        self.data.train.shape()
    }

    /// The training configuration.
    pub fn training(&self) -> &TrainingConfig {
        &self.settings.training
    }

    /// How [`fit`] runs for a model trained into `dir`: the run's devices, `--resume` and
    /// `--overwrite`.
    pub fn fit_options(&self, dir: &Path) -> FitOptions {
        // `--resume` of an application that trains several models (one per class, per code
        // size) reaches models it had not begun, or stopped before their first checkpoint:
        // those train from the start. (Only an application's own model folders: a trainer's
        // `--out`, or a folder holding a model or a checkpoint, is resumed or refused by `fit`.)
        let finished_nothing =
            self.resume && dir != self.out && (!dir.exists() || stopped_before_a_checkpoint(dir));
        if finished_nothing {
            eprintln!(
                "--resume: nothing finished in {} yet; training it from the start",
                dir.display()
            );
        }
        let options = self
            .devices
            .fit_options(dir)
            .with_resume(self.resume && !finished_nothing)
            .with_overwrite(self.overwrite || (finished_nothing && dir.exists()))
            .with_residency(self.residency)
            .with_capture(self.capture);
        if dir == self.out {
            options
        } else {
            options.with_app_folder(self.app_folder())
        }
    }

    /// The output folder as an application's (its model folders inside): `--overwrite` removes
    /// the earlier run's results there once the new run is accepted.
    pub fn app_folder(&self) -> AppFolder {
        AppFolder {
            dir: self.out.clone(),
            start_over: self.overwrite && !self.resume,
        }
    }

    /// Trains `model` into the output folder: see [`Run::train_into`].
    ///
    /// # Errors
    /// As [`Run::train_into`].
    pub fn train<M>(&self, model: M) -> Result<Trained<M>>
    where
        M: Autoencoder + SaveFolder + Trainable<Batch = ImageBatch>,
    {
        self.train_into(model, &self.out)
    }

    /// Trains `model` on the training split (validating each epoch), saves it and `run.json`
    /// into `dir`, scores it on the test split, draws `reconstructions.png` and writes
    /// `report.json`.
    ///
    /// # Errors
    /// Any error of training, evaluation or writing.
    pub fn train_into<M>(&self, model: M, dir: &Path) -> Result<Trained<M>>
    where
        M: Autoencoder + SaveFolder + Trainable<Batch = ImageBatch>,
    {
        let Splits { train, valid, test } = &self.data;
        let batch = self.training().batch_size;
        let whole = train.count() / batch * batch;
        if whole != train.count()
            && whole > 0
            && !self.told_epoch_size.swap(true, Ordering::Relaxed)
        {
            // Said once, before the first training, so that the epochs' "7168 items" beside
            // 7200 images is no riddle.
            println!(
                "each epoch trains on {whole} of the {} training images, in whole batches of \
                 {batch} (the order changes every epoch, so every image takes part)",
                train.count()
            );
        }
        let mean_image_mse = test.mse_of_constant(&train.mean_image());
        let fitted = fit(
            model,
            train.clone(),
            valid.clone(),
            self.training(),
            &self.fit_options(dir),
        )?;
        // A folder removed or moved during training: nothing more is written in its name.
        fitted.lock.check_in_place()?;
        let device = self.device();
        // Evaluated in batches of the training size: on a GPU, the kernels validation compiled.
        let batch_size = self.training().batch_size;
        // Weights stored at a lower precision are scored as stored, the f32 weights beside them.
        let full_precision_mse = match self.weights {
            WeightsPrecision::F32 => None,
            _ => Some(evaluate(&fitted.model, test, batch_size, device)?.mse),
        };
        let model = fitted.model.save_rounded(dir, self.weights)?;
        // Written once training is done and the model saved: a refused resume, or a model that
        // could not be saved, leaves the folder's run.json as it was.
        write_json(&dir.join("run.json"), &self.settings)?;

        let test_report = evaluate(&model, test, batch_size, device)?;
        if let Some(batch) = image_batches(test, batch_size, device).next() {
            let shown = batch.rows.min(20) * test.shape().numel();
            let reconstructions = model.reconstruct(batch.images.clone());
            let (mut originals, mut reconstructions) =
                (values(batch.images)?, values(reconstructions)?);
            originals.truncate(shown);
            reconstructions.truncate(shown);
            save_reconstruction_grid(
                &dir.join("reconstructions.png"),
                &originals,
                &reconstructions,
                test.shape(),
                10,
            )?;
        }
        let mut report = RunReport {
            trainer: self.settings.trainer.clone(),
            dataset: self.settings.dataset.name().to_string(),
            device: self.settings.devices.join(","),
            images: [train.count(), valid.count(), test.count()],
            image_shape: train.shape().to_string(),
            epochs: self.training().epochs,
            train_seconds: fitted.seconds,
            train_images_per_second: fitted.train_items as f64 / fitted.seconds.max(1e-9),
            warmup_seconds: fitted.warmup_seconds,
            steady_images_per_second: fitted.steady_items_per_second,
            captured: fitted.captured,
            test: test_report,
            mean_image_mse,
            history: fitted.epochs,
            machine: MachineInfo::detect(),
            adapters: self.devices.adapters.clone(),
            burn: "0.22.1".into(),
            parameters: burn::module::Module::num_params(&model),
            weights: self.weights,
            extra: Vec::new(),
        };
        if let Some(mse) = full_precision_mse {
            report.add(FULL_PRECISION_MSE, mse);
        }
        report.save(dir)?;
        fitted.lock.check_in_place()?;
        Ok(Trained { model, report })
    }

    /// The model of an application: the folder of `--model` when given (see
    /// [`Run::load_model`]), else a model of `config` (adapted to the run's image shape) trained
    /// now into `<out>/model`.
    ///
    /// # Errors
    /// As [`Run::load_model`] and [`Run::train_into`].
    pub fn model(&self, pretrained: &ModelDirArgs, config: ModelConfig) -> Result<AnyAutoencoder> {
        if let Some(dir) = &pretrained.model {
            let model = self.load_model(dir)?;
            let app = self.app_folder();
            begin_app_folder(&app.dir, app.start_over)?;
            // Flags that shape or train a model have nothing to act on: say so once.
            println!(
                "using {} as trained ({} model, a latent size of {}): --latent-dim, --epochs and \
                 the other model and training flags are not used",
                dir.display(),
                model.config().kind(),
                model.latent_dim()
            );
            return Ok(model);
        }
        let model = config
            .with_input_shape(self.shape().dims())
            .init(self.device())?;
        Ok(self.train_into(model, &self.out.join("model"))?.model)
    }

    /// An image folder is split into train and test by the run's seed: a model trained with
    /// another seed (its `run.json` says) would be scored on images it trained on. Other
    /// datasets have a fixed test split; a folder without `run.json` is not checked.
    fn check_same_test_split(&self, dir: &Path) -> Result<()> {
        let ae_data::DatasetSource::ImageFolder {
            dir: data_dir,
            seed,
            test_fraction,
            ..
        } = &self.settings.dataset
        else {
            return Ok(());
        };
        let Some(ae_data::DatasetSource::ImageFolder {
            dir: their_dir,
            seed: their_seed,
            test_fraction: their_fraction,
            ..
        }) = RunSettings::load(dir).map(|trained| trained.dataset)
        else {
            return Ok(());
        };
        // Another folder's model: its images are not this folder's.
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if canonical(&their_dir) == canonical(data_dir)
            && (their_seed != *seed || their_fraction != *test_fraction)
        {
            return Err(TrainError::InvalidArgument {
                what: "--model",
                message: format!(
                    "{} was trained on this image folder split by --seed {their_seed} (test \
                     fraction {their_fraction}), this run splits it by --seed {seed} \
                     ({test_fraction}): its test images would include some it trained on; pass \
                     --seed {their_seed}",
                    dir.display(),
                ),
            });
        }
        Ok(())
    }

    /// Loads a trained model folder (any trainer's output folder) onto the run's device, checking
    /// that it takes the run's images.
    ///
    /// # Errors
    /// When the folder cannot be loaded, or the model takes images of another shape.
    pub fn load_model(&self, dir: &Path) -> Result<AnyAutoencoder> {
        let model = load_model(dir, self.device())?;
        self.check_same_test_split(dir)?;
        if model.input_shape() != self.shape().dims() {
            // The same check as evaluation's, with the folder's name.
            let [channels, height, width] = model.input_shape();
            let color = if channels == 3 { "rgb" } else { "gray" };
            return Err(TrainError::InvalidArgument {
                what: "--model",
                message: format!(
                    "{} takes {:?} images but {} has {}: read the data as the model takes it \
                     with --image-size {height}x{width} --color {color}",
                    dir.display(),
                    model.input_shape(),
                    self.settings.dataset.name(),
                    self.shape()
                ),
            });
        }
        Ok(model)
    }
}
/// Whether the model folder `dir` holds a run stopped before its first checkpoint: no model, no
/// report, and a checkpoint folder that is absent or readable and holds no complete epoch.
fn stopped_before_a_checkpoint(dir: &Path) -> bool {
    let checkpoint = dir.join("checkpoint");
    let no_checkpoint = match std::fs::read_dir(&checkpoint) {
        Ok(_) => ae_train::latest_complete_checkpoint(&checkpoint).is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    no_checkpoint
        && ["model.bpk", "run.json", "report.json"]
            .iter()
            .all(|file| !dir.join(file).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a model folder that finished nothing is trained again from the start on `--resume`.
    #[test]
    fn a_folder_that_finished_nothing_is_told_from_one_that_did() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path();
        std::fs::write(part.join("fit.json"), "{}").unwrap();
        assert!(stopped_before_a_checkpoint(part));
        let checkpoint = part.join("checkpoint");
        std::fs::create_dir(&checkpoint).unwrap();
        std::fs::write(checkpoint.join("model-1.bpk"), "x").unwrap();
        assert!(stopped_before_a_checkpoint(part), "an incomplete epoch");
        for kind in ["optim", "scheduler"] {
            std::fs::write(checkpoint.join(format!("{kind}-1.bpk")), "x").unwrap();
        }
        assert!(!stopped_before_a_checkpoint(part), "a complete epoch");
        std::fs::remove_dir_all(&checkpoint).unwrap();
        std::fs::write(part.join("model.bpk"), "x").unwrap();
        assert!(!stopped_before_a_checkpoint(part), "a saved model");
    }
}
