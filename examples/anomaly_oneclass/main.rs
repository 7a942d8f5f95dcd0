//! One-class anomaly detection (the protocol of Ruff et al., 2018): for each class k, train an
//! autoencoder on the training images of class k only, score every test image by how badly it is
//! reconstructed (a VAE: by its negative ELBO), and measure how well the score separates the other
//! classes (anomalies) from class k.
//!
//! ```text
//! cargo run --release --example anomaly_oneclass                       # MNIST sample, dense AE
//! cargo run --release --example anomaly_oneclass -- --dataset fashion-mnist
//! cargo run --release --example anomaly_oneclass -- --model conv --classes 0,1
//! ```

use clap::{Parser, ValueEnum};
use serde::Serialize;

use autoencoders::cli::ranges;
use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::persist::SaveFolder;
use autoencoders::models::{AnyAutoencoder, ModelConfig};
use autoencoders::run::{MachineInfo, Run, write_json};
use autoencoders::table::Table;
use autoencoders::train::anomaly::{self, AnomalyReport};
use autoencoders::train::{RocCurve, TrainError, fit, save_roc_curves};

const NAME: &str = "anomaly_oneclass";

#[derive(Parser)]
#[command(about = "One-class anomaly detection with autoencoders, class by class")]
struct Cli {
    /// The training, data and output flags; --epochs defaults to 3 per class (20 on the small
    /// mnist-sample, for a similar number of steps); --valid-fraction is the fraction of each
    /// class's training images held out to set the threshold (and to validate): 0 trains on all
    /// of them and takes the threshold from their own scores (AUROC and AUPRC do not depend on
    /// the threshold).
    #[command(flatten)]
    common: TrainerArgs,
    /// The detector: mlp (dense AE, reconstruction MSE), conv (conv AE, reconstruction MSE), vae
    /// (negative ELBO).
    #[arg(long, value_enum, default_value_t = Detector::Mlp)]
    detector: Detector,
    /// Classes to run (default: all).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<u32>>,
    /// Threshold at this percentile of the scores of held-out normal images.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::percentile, default_value_t = 95.0)]
    percentile: f64,
}

#[derive(Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Detector {
    Conv,
    Mlp,
    Vae,
}

#[derive(Serialize)]
struct ClassResult {
    class: u32,
    name: String,
    train_images: usize,
    #[serde(flatten)]
    report: AnomalyReport,
}

#[derive(Serialize)]
struct Summary {
    dataset: String,
    detector: Detector,
    epochs: usize,
    mean_auroc: f64,
    mean_auprc: f64,
    classes: Vec<ClassResult>,
    machine: MachineInfo,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let epochs = if cli.common.data.dataset == "mnist-sample" {
            20
        } else {
            3
        };
        let defaults = Defaults::new(epochs, 128, 32);
        let run = Run::prepare(NAME, &cli.common, &defaults)?;
        let (device, seed) = (run.device(), run.training().seed);
        let test = &run.data.test;
        let test_labels = test.labels().ok_or_else(|| TrainError::InvalidArgument {
            what: "dataset",
            message: "one-class detection needs labelled test images".into(),
        })?;
        let classes = cli
            .classes
            .clone()
            .unwrap_or_else(|| (0..run.data.train.num_classes() as u32).collect());
        check_plan(&run, &classes, cli.classes.is_some(), test_labels)?;
        let preset = match cli.detector {
            Detector::Conv => "conv-mnist",
            Detector::Mlp => "keras-mlp",
            Detector::Vae => "vae-mlp",
        };
        let latent_dim = cli.common.latent_dim(&defaults);

        let mut results = Vec::new();
        let mut curves: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for &k in &classes {
            let name = run
                .data
                .train
                .class_names()
                .get(k as usize)
                .cloned()
                .unwrap_or(k.to_string());
            println!("\n== class {k} ({name}) as normal");
            let train = run.data.train.filter_class(k)?;
            // Without a held-out split, the threshold comes from the training images' own scores.
            let valid = if run.settings.valid_fraction > 0.0 {
                run.data.valid.filter_class(k)?
            } else {
                train.clone()
            };
            device.seed(seed);
            let config = match ModelConfig::preset(preset)? {
                ModelConfig::Vae(c) => ModelConfig::Vae(c.with_latent_dim(latent_dim)),
                ModelConfig::Conv(c) => ModelConfig::Conv(c.with_latent_dim(latent_dim)),
                ModelConfig::Vanilla(c) => ModelConfig::Vanilla(c.with_latent_dim(latent_dim)),
                other => other,
            }
            .with_input_shape(run.shape().dims());
            let model = config.init(device)?;
            let train_images = train.count();
            let dir = run.out.join(format!("class-{k}"));
            let fitted = fit(
                model,
                train,
                valid.clone(),
                run.training(),
                &run.fit_options(&dir),
            )?;
            // Scored as stored (`--weights f16`: rounded to 16 bits).
            let model = fitted.model.save_rounded(&dir, run.weights())?;
            fitted.lock.check_in_place()?;
            let score = |set| -> Result<Vec<f64>, TrainError> {
                match &model {
                    AnyAutoencoder::Vae(vae) => anomaly::vae_scores(vae, set, 500, seed, device),
                    other => anomaly::reconstruction_scores(other, set, 500, device),
                }
            };
            let scores = score(test)?;
            let labels: Vec<bool> = test_labels.iter().map(|&l| l != k).collect();
            let report = anomaly::report(&scores, &labels, &score(&valid)?, cli.percentile)?;
            println!(
                "class {k} ({name}): AUROC {:.4}, AUPRC {:.4}",
                report.auroc, report.auprc
            );
            // Digits are named by their class number: "class 3", not "3 3".
            let shown = if name == k.to_string() {
                format!("class {k}")
            } else {
                format!("{k} {name}")
            };
            curves.push((
                format!("{shown} (AUROC {:.3})", report.auroc),
                anomaly::roc_curve(&scores, &labels)?,
            ));
            results.push(ClassResult {
                class: k,
                name,
                train_images,
                report,
            });
        }

        let roc: Vec<RocCurve> = curves
            .iter()
            .map(|(label, points)| RocCurve {
                label: label.clone(),
                points,
            })
            .collect();
        save_roc_curves(
            &run.out.join("roc.png"),
            "ROC per normal class (anomaly: any other)",
            &roc,
        )?;
        let n = results.len().max(1) as f64;
        let mean_auroc = results.iter().map(|r| r.report.auroc).sum::<f64>() / n;
        let mean_auprc = results.iter().map(|r| r.report.auprc).sum::<f64>() / n;
        let mut table = Table::new([
            "class",
            "normal",
            "train",
            "AUROC",
            "AUPRC",
            &format!("F1 @ p{}", cli.percentile),
            "best F1",
        ]);
        for r in &results {
            table.row([
                r.class.to_string(),
                r.name.clone(),
                r.train_images.to_string(),
                format!("{:.4}", r.report.auroc),
                format!("{:.4}", r.report.auprc),
                format!("{:.4}", r.report.at_percentile.f1),
                format!("{:.4}", r.report.best_f1.f1),
            ]);
        }
        table.row([
            "mean",
            "",
            "",
            &format!("{mean_auroc:.4}"),
            &format!("{mean_auprc:.4}"),
            "",
            "",
        ]);
        let summary = Summary {
            dataset: run.settings.dataset.name().to_string(),
            detector: cli.detector,
            epochs: run.training().epochs,
            mean_auroc,
            mean_auprc,
            classes: results,
            machine: MachineInfo::detect(),
        };
        let path = run.out.join("anomaly_oneclass.json");
        write_json(&path, &summary)?;
        print!("\n{table}");
        println!(
            "anomaly = any class but the normal one; results: {} (and roc.png)",
            path.display()
        );
        Ok(())
    })
}

/// Classes trained without being asked for one by one (`--classes`): one model, one folder and
/// one training per class, so thousands of classes would be hours and gigabytes.
const MAX_DEFAULT_CLASSES: usize = 100;

/// Checks the whole plan before any model trains: how many classes, and that every class has
/// images in each split it needs (a missing one would otherwise stop the run after the classes
/// before it had trained).
fn check_plan(
    run: &Run,
    classes: &[u32],
    asked: bool,
    test_labels: &[u32],
) -> Result<(), TrainError> {
    if let Some(twice) = classes
        .iter()
        .enumerate()
        .find_map(|(i, k)| classes[..i].contains(k).then_some(k))
    {
        return Err(TrainError::InvalidArgument {
            what: "--classes",
            message: format!("class {twice} is named twice: name each class once"),
        });
    }
    if !asked && classes.len() > MAX_DEFAULT_CLASSES {
        return Err(TrainError::InvalidArgument {
            what: "--classes",
            message: format!(
                "the dataset has {} classes, and each would train its own model (one training and \
                 one folder of checkpoints each); name at most {MAX_DEFAULT_CLASSES} with \
                 --classes (e.g. --classes 0,1,2)",
                classes.len()
            ),
        });
    }
    let count = |labels: Option<&[u32]>, k: u32| {
        labels.map_or(0, |l| l.iter().filter(|&&x| x == k).count())
    };
    for &k in classes {
        let splits = [
            ("training", count(run.data.train.labels(), k)),
            (
                "validation",
                if run.settings.valid_fraction > 0.0 {
                    count(run.data.valid.labels(), k)
                } else {
                    usize::MAX
                },
            ),
            ("test", count(Some(test_labels), k)),
        ];
        if !test_labels.iter().any(|&l| l != k) {
            return Err(TrainError::InvalidArgument {
                what: "dataset",
                message: format!("every test image is of class {k}: no anomaly to detect"),
            });
        }
        if let Some((split, _)) = splits.iter().find(|(_, n)| *n == 0) {
            return Err(TrainError::InvalidArgument {
                what: "--classes",
                message: format!(
                    "class {k} has no {split} images, so it cannot be trained and scored as the \
                     normal class; leave it out of --classes{}",
                    if *split == "validation" {
                        " or set --valid-fraction 0"
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    Ok(())
}
