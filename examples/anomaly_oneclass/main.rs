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

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use serde::Serialize;

use autoencoders::cli::exit_on_error;
use autoencoders::data::DatasetSource;
use autoencoders::models::{AnyAutoencoder, ModelConfig};
use autoencoders::train::anomaly::{self, AnomalyReport};
use autoencoders::train::{DeviceSpec, Table, TrainError, TrainingConfig, fit, write_json};

#[derive(Parser)]
#[command(about = "One-class anomaly detection with autoencoders, class by class")]
struct Cli {
    /// Dataset: mnist-sample (embedded), fashion-mnist, mnist (with --data-dir).
    #[arg(long, default_value = "mnist-sample")]
    dataset: String,
    /// Folder of the dataset's files.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Backend and device (flex, ndarray, wgpu, cuda, ...).
    #[arg(long, default_value = "flex")]
    device: String,
    /// The detector: mlp (dense AE, reconstruction MSE), conv (conv AE, reconstruction MSE), vae
    /// (negative ELBO).
    #[arg(long, value_enum, default_value_t = Model::Mlp)]
    model: Model,
    /// Size of the code.
    #[arg(long, default_value_t = 32)]
    latent_dim: usize,
    /// Epochs per class (default 3; 20 on the small mnist-sample, for a similar number of steps).
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Classes to run (default: all).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<u32>>,
    /// Threshold at this percentile of the scores of held-out normal images.
    #[arg(long, default_value_t = 95.0)]
    percentile: f64,
    /// Fraction of each class's training images held out to set the threshold (and to validate).
    /// 0 trains on all of them and takes the threshold from their own scores (AUROC and AUPRC do
    /// not depend on the threshold).
    #[arg(long, default_value_t = 0.1)]
    valid_fraction: f64,
    /// Output folder (per-class runs and anomaly_oneclass.json).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Model {
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
    model: Model,
    epochs: usize,
    mean_auroc: f64,
    mean_auprc: f64,
    classes: Vec<ClassResult>,
    machine: autoencoders::train::MachineInfo,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit_on_error(|| -> Result<(), TrainError> {
        let source = DatasetSource::from_name(&cli.dataset, cli.data_dir.as_deref())?;
        let out = cli.out.clone().unwrap_or_else(|| {
            PathBuf::from("runs").join(format!("anomaly_oneclass-{}", cli.dataset))
        });
        let device = cli.device.parse::<DeviceSpec>()?.device()?;
        let data = source.load()?;
        let test_labels = data
            .test
            .labels()
            .ok_or_else(|| TrainError::InvalidArgument {
                what: "dataset",
                message: "one-class detection needs labelled test images".into(),
            })?;
        let classes = cli
            .classes
            .clone()
            .unwrap_or_else(|| (0..data.train.num_classes() as u32).collect());
        let preset = match cli.model {
            Model::Conv => "conv-mnist",
            Model::Mlp => "keras-mlp",
            Model::Vae => "vae-mlp",
        };
        let epochs = cli
            .epochs
            .unwrap_or(if matches!(source, DatasetSource::MnistSample) {
                20
            } else {
                3
            });
        let training = TrainingConfig::new()
            .with_epochs(epochs)
            .with_batch_size(cli.batch_size)
            .with_learning_rate(cli.lr)
            .with_seed(cli.seed);

        let mut results = Vec::new();
        for &k in &classes {
            let name = data
                .train
                .class_names()
                .get(k as usize)
                .cloned()
                .unwrap_or(k.to_string());
            println!("\n== class {k} ({name}) as normal");
            let normal = data.train.filter_class(k)?;
            let (train, valid) = if cli.valid_fraction > 0.0 {
                normal.split(cli.valid_fraction, cli.seed)?
            } else {
                (normal.clone(), normal)
            };
            device.seed(cli.seed);
            let config = match ModelConfig::preset(preset)? {
                ModelConfig::Vae(c) => ModelConfig::Vae(c.with_latent_dim(cli.latent_dim)),
                ModelConfig::Conv(c) => ModelConfig::Conv(c.with_latent_dim(cli.latent_dim)),
                ModelConfig::Vanilla(c) => ModelConfig::Vanilla(c.with_latent_dim(cli.latent_dim)),
                other => other,
            }
            .with_input_shape(data.train.shape().dims());
            let model = config.init(&device)?;
            let train_images = train.count();
            let dir = out.join(format!("class-{k}"));
            let fitted = fit(model, train, valid.clone(), &training, &dir, &device, false)?;
            fitted.model.save(&dir)?;
            let score = |set| -> Result<Vec<f64>, TrainError> {
                match &fitted.model {
                    AnyAutoencoder::Vae(vae) => {
                        anomaly::vae_scores(vae, set, 500, cli.seed, &device)
                    }
                    other => anomaly::reconstruction_scores(other, set, 500, &device),
                }
            };
            let scores = score(&data.test)?;
            let labels: Vec<bool> = test_labels.iter().map(|&l| l != k).collect();
            let report = anomaly::report(&scores, &labels, &score(&valid)?, cli.percentile)?;
            println!(
                "class {k} ({name}): AUROC {:.4}, AUPRC {:.4}",
                report.auroc, report.auprc
            );
            results.push(ClassResult {
                class: k,
                name,
                train_images,
                report,
            });
        }

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
            dataset: source.name().to_string(),
            model: cli.model,
            epochs,
            mean_auroc,
            mean_auprc,
            classes: results,
            machine: autoencoders::train::MachineInfo::detect(),
        };
        write_json(&out.join("anomaly_oneclass.json"), &summary)?;
        print!("\n{table}");
        println!(
            "anomaly = any class but the normal one; results: {}",
            out.join("anomaly_oneclass.json").display()
        );
        Ok(())
    })
}
