//! Dimensionality reduction: an autoencoder against PCA with the same number of components,
//! fitted on the same training images, compared by test reconstruction MSE at several code sizes,
//! and the 2-D codes of both drawn side by side, coloured by class.
//!
//! ```text
//! cargo run --release --example compare_pca                         # MNIST sample, sizes 2, 8, 32
//! cargo run --release --example compare_pca -- --dataset fashion-mnist --epochs 20
//! cargo run --release --example compare_pca -- --sizes 2,16,64
//! ```

use burn::nn::activation::ActivationConfig;
use clap::Parser;
use serde::Serialize;

use autoencoders::cli::ranges::{self, MAX_WIDTH};
use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{Autoencoder, VanillaAutoencoderConfig};
use autoencoders::run::{Run, write_json};
use autoencoders::table::Table;
use autoencoders::train::pca::{Pca, flat_images};
use autoencoders::train::{ScatterPanel, TrainError, save_scatter_panels, values};

const NAME: &str = "compare_pca";
const DEFAULTS: Defaults = Defaults::new(30, 256, 2);

#[derive(Parser)]
#[command(about = "Compare autoencoders with PCA at several code sizes")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    /// Code sizes to compare (one autoencoder is trained for each).
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>, value_delimiter = ',', default_value = "2,8,32")]
    sizes: Vec<usize>,
}

#[derive(Serialize)]
struct Row {
    size: usize,
    pca_test_mse: f64,
    pca_explained_variance: f64,
    autoencoder_test_mse: f64,
    autoencoder_train_seconds: f64,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        if let Some(dim) = cli.common.latent.latent_dim {
            return Err(TrainError::InvalidArgument {
                what: "--latent-dim",
                message: format!(
                    "compare_pca trains one autoencoder per code size: use --sizes {dim} (or a \
                     list, e.g. --sizes 2,{dim})"
                ),
            });
        }
        if let Some(twice) = cli
            .sizes
            .iter()
            .enumerate()
            .find_map(|(i, s)| cli.sizes[..i].contains(s).then_some(s))
        {
            return Err(TrainError::InvalidArgument {
                what: "--sizes",
                message: format!("{twice} is named twice: name each size once"),
            });
        }
        let run = Run::prepare(NAME, &cli.common, &DEFAULTS)?;
        let (out, device) = (&run.out, run.device());
        let (train, test) = (&run.data.train, &run.data.test);
        // PCA has at most as many components as the data has dimensions and training images,
        // less one: refused before any autoencoder trains.
        let most = run.shape().numel().min(train.count().saturating_sub(1));
        if let Some(&size) = cli.sizes.iter().find(|&&s| s > most) {
            return Err(TrainError::InvalidArgument {
                what: "--sizes",
                message: format!(
                    "{size}: PCA of {} training images of {} values has at most {most} \
                     components; use sizes up to {most}",
                    train.count(),
                    run.shape().numel()
                ),
            });
        }
        let mut rows = Vec::new();
        let mut scatter = None;
        for &size in &cli.sizes {
            println!("\n== code size {size}");
            // The Keras-tutorial network with a linear code, the autoencoder closest to PCA.
            let model = VanillaAutoencoderConfig::new()
                .with_input_shape(run.shape().dims())
                .with_latent_dim(size)
                .with_latent_activation(ActivationConfig::Identity)
                .try_init(device)?;
            let trained = run.train_into(model, &out.join(format!("ae-{size}")))?;
            let pca = Pca::fit_dataset(train, size, device)?;
            let test_x = flat_images(test, device);
            let pca_mse = pca.reconstruction_mse(test_x.clone());
            rows.push(Row {
                size,
                pca_test_mse: pca_mse,
                pca_explained_variance: pca.explained_variance_ratio(),
                autoencoder_test_mse: trained.report.test.mse,
                autoencoder_train_seconds: trained.report.train_seconds,
            });
            if size == 2 {
                let labels = test.labels().unwrap_or_default().to_vec();
                let ae_codes = values(
                    trained
                        .model
                        .encode(test.batch(0..test.count(), device).images),
                )?;
                scatter = Some((values(pca.transform(test_x))?, ae_codes, labels));
            }
        }
        let mut table = Table::new([
            "code size",
            "PCA test MSE",
            "PCA var. kept",
            "AE test MSE",
            "AE / PCA",
        ]);
        for r in &rows {
            table.row([
                r.size.to_string(),
                format!("{:.5}", r.pca_test_mse),
                format!("{:.1}%", 100.0 * r.pca_explained_variance),
                format!("{:.5}", r.autoencoder_test_mse),
                format!("{:.2}", r.autoencoder_test_mse / r.pca_test_mse),
            ]);
        }
        if let Some((pca_codes, ae_codes, labels)) = &scatter
            && !labels.is_empty()
        {
            let panel = |title, points, axes| ScatterPanel {
                title,
                points,
                labels,
                axes,
            };
            save_scatter_panels(
                &out.join("latent_2d.png"),
                &[
                    panel("PCA", pca_codes, ["PC 1", "PC 2"]),
                    panel("autoencoder", ae_codes, ["z 1", "z 2"]),
                ],
                run.data.test.class_names(),
                420,
            )?;
        }
        write_json(&out.join("compare_pca.json"), &rows)?;
        print!(
            "\n{} (test split), PCA and the autoencoder fitted on the same training images\n{table}",
            run.settings.dataset.name()
        );
        println!("artifacts: {} (compare_pca.json)", run.out.display());
        if scatter.is_some() {
            println!(
                "latent_2d.png: test codes of PCA (left) and the autoencoder (right), colour = class (legend below)"
            );
        }
        Ok(())
    })
}
