//! Latent-space classification, the four ways: the codes of a trained autoencoder (frozen
//! encoder; a VAE gives its means) as features for a logistic regression and a k-NN classifier,
//! the encoder fine-tuned with a softmax head, and the same architecture trained from scratch on
//! reconstruction + classification — with 1%, 10% or all of the labels, against the same
//! classifiers on raw pixels and on PCA codes of the same size.
//!
//! ```text
//! cargo run --release --example latent_classify
//! cargo run --release --example latent_classify -- --dataset fashion-mnist --epochs 20
//! cargo run --release --example latent_classify -- --model runs/train_vae-mnist-sample  # VAE means
//! ```

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use autoencoders::cli::ranges;
use autoencoders::cli::{Defaults, ModelDirArgs, TrainerArgs, exit_on_error};
use autoencoders::models::{Autoencoder, ModelConfig, VanillaAutoencoderConfig};
use autoencoders::run::{Run, write_json};
use autoencoders::table::Table;
use autoencoders::train::classify::{
    ClassifierProgress, EncoderClassifierConfig, check_classes, encode_all, knn_accuracy,
    labelled_subset, linear_accuracy, standardize, train_encoder_classifier, train_logistic,
};
use autoencoders::train::pca::{Pca, flat_images};
use autoencoders::train::{TrainError, values};

const NAME: &str = "latent_classify";
const DEFAULTS: Defaults = Defaults::new(50, 256, 32);

#[derive(Parser)]
#[command(about = "Classify with autoencoder codes, few labels, against pixels and PCA")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    #[command(flatten)]
    pretrained: ModelDirArgs,
    /// Fractions of the training labels used by the classifiers.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::fraction, value_delimiter = ',', default_value = "0.01,0.1,1")]
    fractions: Vec<f64>,
    /// Neighbours of the k-NN classifier.
    #[arg(long, value_parser = ranges::count::<1, 1000>, default_value_t = 5)]
    k: usize,
    /// Adam steps of fine-tuning and of joint training (the same for every label fraction).
    #[arg(long, value_parser = ranges::count::<1, 10_000_000>, default_value_t = 2000)]
    steps: usize,
    /// Weight of the autoencoder's own loss in joint training (cross-entropy + weight x loss).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::positive, default_value_t = 1.0)]
    joint_weight: f64,
}

#[derive(Serialize)]
struct Row {
    features: String,
    dim: usize,
    label_fraction: f64,
    labels: usize,
    /// Logistic regression on the features; for the trained encoders, their own softmax head.
    logistic_accuracy: f64,
    /// k-NN on the features (not measured for the trained encoders).
    knn_accuracy: Option<f64>,
}

/// A progress bar for one classifier training, showing the last loss read back.
fn progress_bar(message: String, steps: usize) -> impl FnMut(ClassifierProgress) {
    let bar = ProgressBar::new(steps as u64).with_message(message);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} steps, {prefix} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    move |p: ClassifierProgress| {
        if let Some(loss) = p.loss {
            bar.set_prefix(format!("loss {loss:.4}"));
        }
        bar.set_position(p.step as u64);
        if p.step == p.steps {
            bar.finish_and_clear();
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(NAME, &cli.common, &DEFAULTS)?;
        // Before the autoencoder trains: a dataset of thousands of classes is refused at once.
        check_classes(run.data.train.num_classes())?;
        // k neighbours among fewer labelled images would be all of them, reported as k-NN.
        let labelled = cli
            .fractions
            .iter()
            .map(|&f| {
                (
                    f,
                    labelled_subset(run.data.train.count(), f, cli.common.train.seed).len(),
                )
            })
            .min_by_key(|&(_, n)| n);
        if let Some((fraction, n)) = labelled.filter(|&(_, n)| n < cli.k) {
            return Err(TrainError::InvalidArgument {
                what: "--k",
                message: format!(
                    "{} neighbours among the {n} labelled images of --fractions {fraction}: use \
                     a smaller --k or a larger fraction",
                    cli.k
                ),
            });
        }
        let out = &run.out;
        let latent = cli.common.latent_dim(&DEFAULTS);
        let config = VanillaAutoencoderConfig::new().with_latent_dim(latent);
        let model = run.model(&cli.pretrained, ModelConfig::Vanilla(config))?;
        let (train, test, device) = (&run.data.train, &run.data.test, run.device());
        let missing = || TrainError::InvalidArgument {
            what: "dataset",
            message: "classification needs labels".into(),
        };
        let (train_y, test_y) = (
            train.labels().ok_or_else(missing)?,
            test.labels().ok_or_else(missing)?,
        );
        let classes = train.num_classes();
        let d = model.latent_dim();
        let seed = cli.common.train.seed;

        let pixels = (
            values(flat_images(train, device))?,
            values(flat_images(test, device))?,
            train.shape().numel(),
        );
        let pca = Pca::fit_dataset(train, d, device)?;
        let pca_codes = (
            values(pca.transform(flat_images(train, device)))?,
            values(pca.transform(flat_images(test, device)))?,
            d,
        );
        let codes = (
            encode_all(&model, train, device)?,
            encode_all(&model, test, device)?,
            d,
        );
        let kind = model.config().kind();
        let feature_sets = [
            ("raw pixels".to_string(), pixels),
            (format!("PCA-{d} codes"), pca_codes),
            (format!("{kind} codes (frozen encoder)"), codes),
        ];

        let mut rows = Vec::new();
        for (name, (tr, te, dim)) in &feature_sets {
            let (tr, te) = standardize(tr, te, *dim);
            for &fraction in &cli.fractions {
                let subset = labelled_subset(train_y.len(), fraction, seed);
                println!(
                    "logistic regression on {name}, {} labelled images ({classes} classes) ...",
                    subset.len()
                );
                // About 2,000 optimiser steps whatever the number of labels.
                let epochs = (2000 / subset.len().div_ceil(128)).clamp(10, 300);
                let model =
                    train_logistic(&tr, train_y, &subset, *dim, classes, epochs, seed, device)?;
                let row = Row {
                    features: name.clone(),
                    dim: *dim,
                    label_fraction: fraction,
                    labels: subset.len(),
                    logistic_accuracy: linear_accuracy(&model, &te, test_y, *dim, device)?,
                    knn_accuracy: Some(knn_accuracy(
                        &tr, train_y, &subset, &te, test_y, *dim, cli.k, device,
                    )?),
                };
                println!(
                    "{name}, {} labels: logistic {:.4}, {}-NN {:.4}",
                    row.labels,
                    row.logistic_accuracy,
                    cli.k,
                    row.knn_accuracy.unwrap_or(f64::NAN)
                );
                rows.push(row);
            }
        }

        // (b) fine-tuning the trained encoder with a softmax head; (c) the same architecture
        // trained from scratch on reconstruction (all images) + classification (the labels), and
        // its control without the reconstruction term.
        // (name, start from the trained model?, weight of the autoencoder's loss)
        let trained_encoders = [
            (format!("{kind} encoder fine-tuned + softmax"), true, 0.0),
            (
                format!("{kind} joint reconstruction + softmax (from scratch)"),
                false,
                cli.joint_weight,
            ),
            // The control of joint training: the same network from scratch on the labels only,
            // which says what the reconstruction term adds.
            (
                format!("{kind} encoder + softmax, labels only (from scratch)"),
                false,
                0.0,
            ),
        ];
        for (name, pretrained, weight) in &trained_encoders {
            for &fraction in &cli.fractions {
                let subset = labelled_subset(train_y.len(), fraction, seed);
                let config = EncoderClassifierConfig::new()
                    .with_steps(cli.steps)
                    .with_reconstruction_weight(*weight)
                    .with_seed(seed);
                let start = if *pretrained {
                    model.clone()
                } else {
                    model.config().init(device)?
                };
                let model = train_encoder_classifier(
                    start,
                    train,
                    &subset,
                    &config,
                    device,
                    progress_bar(format!("{name}, {} labels", subset.len()), cli.steps),
                )?;
                let row = Row {
                    features: name.clone(),
                    dim: d,
                    label_fraction: fraction,
                    labels: subset.len(),
                    logistic_accuracy: model.accuracy(test, device)?,
                    knn_accuracy: None,
                };
                println!(
                    "{name}, {} labels: softmax head {:.4}",
                    row.labels, row.logistic_accuracy
                );
                rows.push(row);
            }
        }
        let mut table = Table::new([
            "features",
            "labels",
            "logistic / softmax head",
            &format!("{}-NN", cli.k),
        ]);
        for r in &rows {
            table.row([
                r.features.clone(),
                format!("{} ({}%)", r.labels, r.label_fraction * 100.0),
                format!("{:.4}", r.logistic_accuracy),
                r.knn_accuracy.map_or("-".into(), |a| format!("{a:.4}")),
            ]);
        }
        write_json(&out.join("latent_classify.json"), &rows)?;
        print!(
            "\ntest accuracy on {} ({} test images)\n{table}",
            test.name(),
            test.count()
        );
        println!("results: {}", out.join("latent_classify.json").display());
        Ok(())
    })
}
