//! Anomaly detection on tabular data: a dense autoencoder trained on normal rows only flags rows
//! it reconstructs badly. Reads CSV files of numeric and categorical columns with a label column;
//! the defaults fit the KDD Cup 1999 intrusion-detection file (`kddcup.data_10_percent`: no
//! header, 41 features, label last, `normal.` for normal traffic).
//!
//! ```text
//! cargo run --release --example anomaly_tabular                     # a synthetic KDD-format file
//! cargo run --release --example anomaly_tabular -- --csv kddcup.data_10_percent
//! cargo run --release --example anomaly_tabular -- --csv data.csv --header --label-column 0 --normal-label ok
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::data::dataset::Dataset;
use burn::nn::activation::ActivationConfig;
use clap::Parser;
use serde::Serialize;

use autoencoders::cli::ranges::{self, MAX_WIDTH};
use autoencoders::cli::{
    Defaults, DeviceArgs, InputArgs, LatentArgs, OutputArgs, TrainArgs, exit_on_error,
};
use autoencoders::data::tabular::{
    KDD_NORMAL, VectorDataset, anomaly_splits, read_csv, write_synthetic_kdd,
};
use autoencoders::models::{Autoencoder, OutputActivation, SaveFolder, VanillaAutoencoderConfig};
use autoencoders::run::{MachineInfo, StagedFile, write_json};
use autoencoders::table::Table;
use autoencoders::train::anomaly::{self, AnomalyReport};
use autoencoders::train::{
    RocCurve, TrainError, check_run_folder, errors_of, fit, save_roc_curves,
};

const NAME: &str = "anomaly_tabular";
const DEFAULTS: Defaults = Defaults::new(20, 256, 8);

#[derive(Parser)]
#[command(about = "Anomaly detection on tabular data (CSV; KDD Cup 1999 by default)")]
// `--residency` places image splits; tables and ratings are batched from the host.
#[command(mut_arg("residency", |a| a.hide(true)))]
struct Cli {
    /// The CSV file (default: generate a synthetic KDD Cup 1999-format file of --rows rows).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Rows of the synthetic file.
    #[arg(long, value_parser = ranges::count::<2, 10_000_000>, default_value_t = 20_000)]
    rows: usize,
    /// The file has a header line.
    #[arg(long)]
    header: bool,
    /// Index of the label column (default: the last).
    #[arg(long)]
    label_column: Option<usize>,
    /// The label of normal rows.
    #[arg(long, default_value = KDD_NORMAL)]
    normal_label: String,
    /// Fraction of all rows held out for testing.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::open_fraction, default_value_t = 0.3)]
    test_fraction: f64,
    /// Hidden widths of the encoder.
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>, value_delimiter = ',', default_value = "64,32")]
    hidden: Vec<usize>,
    /// Threshold at this percentile of held-out normal rows' scores.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::percentile, default_value_t = 95.0)]
    percentile: f64,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    latent: LatentArgs,
}

#[derive(Serialize)]
struct Summary {
    file: String,
    rows: usize,
    features: usize,
    train_rows: usize,
    test_rows: usize,
    #[serde(flatten)]
    report: AnomalyReport,
    detection_rate_by_label: BTreeMap<String, f64>,
    machine: MachineInfo,
}

fn scores<M: Autoencoder>(
    model: &M,
    data: &VectorDataset,
    device: &burn::tensor::Device,
) -> Result<Vec<f64>, TrainError> {
    let batches = (0..data.len())
        .step_by(1000)
        .map(|start| data.batch(start..start + 1000, device));
    Ok(errors_of(model, batches)?
        .mse
        .into_iter()
        .map(f64::from)
        .collect())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        cli.input.apply();
        let training = cli.train.config(&DEFAULTS)?;
        let seed = training.seed;
        let out = cli.output.dir(NAME);
        // A run that fit would refuse is refused before its generated data file is written.
        check_run_folder(&out.join("model"), cli.output.resume, cli.output.overwrite)?;
        let devices = cli.device.open()?;
        // The synthetic file takes its name once the run is accepted (`StagedFile`).
        let (path, staged) = match &cli.csv {
            Some(p) => (p.clone(), None),
            None => {
                let staged = StagedFile::new(&out.join("synthetic-kdd.data"));
                staged.write(|path| write_synthetic_kdd(path, cli.rows, 0.2, seed))?;
                println!(
                    "generated {} synthetic KDD Cup 1999-format rows, kept as {} once the run is \
                     accepted",
                    cli.rows,
                    staged.target().display()
                );
                (staged.target().to_path_buf(), Some(staged))
            }
        };
        let table = read_csv(staged.as_ref().map_or(&path, |s| s.path()), cli.header)?;
        let label_column = cli.label_column.unwrap_or(table.columns.len() - 1);
        let splits = anomaly_splits(
            &table,
            label_column,
            &cli.normal_label,
            cli.test_fraction,
            0.1,
            seed,
        )?;
        let dim = splits.encoder.width();
        println!(
            "{}: {} rows, {} columns -> {dim} features; training on {} normal rows, testing on {}",
            path.display(),
            table.len(),
            table.columns.len(),
            splits.train.len(),
            splits.test.len()
        );
        // Scoring needs both kinds of test rows: known now, refused before training.
        let test_labels = splits.test.labels().unwrap_or_default();
        let anomalies = test_labels.iter().filter(|&&l| l == 1).count();
        if anomalies == 0 || anomalies == test_labels.len() {
            return Err(TrainError::InvalidArgument {
                what: "anomaly test split",
                message: format!(
                    "the test split of {} holds {anomalies} anomalous and {} normal rows (normal: \
                     label {:?} in column {label_column}); scoring needs both: check \
                     --normal-label and --label-column, or give more rows",
                    path.display(),
                    test_labels.len() - anomalies,
                    cli.normal_label
                ),
            });
        }
        let device = &devices.device;
        device.seed(seed);
        // Standardised and one-hot features: linear code and output, MSE.
        let model = VanillaAutoencoderConfig::new()
            .with_input_shape([1, 1, dim])
            .with_hidden(cli.hidden.clone())
            .with_latent_dim(cli.latent.latent_dim(&DEFAULTS))
            .with_latent_activation(ActivationConfig::Identity)
            .with_output_activation(OutputActivation::Identity)
            .try_init(device)?;
        let model_dir = out.join("model");
        let options = cli
            .output
            .app_fit_options(&devices, &out, &model_dir, cli.train.capture);
        let fitted = fit(
            model,
            splits.train.clone(),
            splits.valid.clone(),
            &training,
            &options,
        )?;
        // Scored below as stored (`--weights f16`: rounded to 16 bits).
        let model = fitted
            .model
            .save_rounded(&model_dir, cli.output.weights.into())?;
        fitted.lock.check_in_place()?;
        if let Some(staged) = staged {
            staged.commit()?;
        }

        let test_scores = scores(&model, &splits.test, device)?;
        let labels: Vec<bool> = splits
            .test
            .labels()
            .unwrap_or_default()
            .iter()
            .map(|&l| l == 1)
            .collect();
        let report = anomaly::report(
            &test_scores,
            &labels,
            &scores(&model, &splits.valid, device)?,
            cli.percentile,
        )?;
        let curve = anomaly::roc_curve(&test_scores, &labels)?;
        save_roc_curves(
            &out.join("roc.png"),
            &format!("ROC on the {} test rows", labels.len()),
            &[RocCurve {
                label: format!("autoencoder (AUROC {:.3})", report.auroc),
                points: &curve,
            }],
        )?;
        let mut by_label: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (label, score) in splits.test_labels.iter().zip(&test_scores) {
            let entry = by_label.entry(label.clone()).or_default();
            entry.0 += usize::from(*score > report.at_percentile.threshold);
            entry.1 += 1;
        }
        let mut table_out = Table::new(["test label", "rows", "flagged"]);
        for (label, (flagged, total)) in &by_label {
            table_out.row([
                label.clone(),
                total.to_string(),
                format!("{:.1}%", 100.0 * *flagged as f64 / *total as f64),
            ]);
        }
        let mut summary_table = Table::new(["", ""]);
        summary_table.row(["AUROC", &format!("{:.4}", report.auroc)]);
        summary_table.row(["AUPRC", &format!("{:.4}", report.auprc)]);
        let p = &report.at_percentile;
        summary_table.row([
            format!("at the p{} threshold", cli.percentile).as_str(),
            &format!(
                "precision {:.4}, recall {:.4}, F1 {:.4}",
                p.precision, p.recall, p.f1
            ),
        ]);
        summary_table.row(["best F1", &format!("{:.4}", report.best_f1.f1)]);
        let summary = Summary {
            file: path.display().to_string(),
            rows: table.len(),
            features: dim,
            train_rows: splits.train.len(),
            test_rows: splits.test.len(),
            detection_rate_by_label: by_label
                .iter()
                .map(|(k, (f, t))| (k.clone(), *f as f64 / *t as f64))
                .collect(),
            report,
            machine: MachineInfo::detect(),
        };
        let path = out.join("anomaly_tabular.json");
        write_json(&path, &summary)?;
        print!("\n{summary_table}\n{table_out}");
        println!("results: {} (and roc.png)", path.display());
        Ok(())
    })
}
