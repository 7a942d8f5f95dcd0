//! Trains a variational autoencoder (by default 784-400-20 with a Bernoulli likelihood, the
//! PyTorch example's model), reports the negative ELBO per image split into reconstruction and KL
//! and an importance-weighted estimate of the test negative log-likelihood, and draws samples from
//! the prior and interpolations between test images.
//!
//! ```text
//! cargo run --release --example train_vae
//! cargo run --release --example train_vae -- --dataset fashion-mnist --epochs 5
//! cargo run --release --example train_vae -- --arch conv --beta 4
//! ```

use clap::{Parser, ValueEnum};

use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{VaeArchitecture, VaeConfig};
use autoencoders::train::images::save_image_grid;
use autoencoders::train::{TrainError, evaluate_vae, run_training, values};

const TRAINER: &str = "train_vae";
const DEFAULTS: Defaults = Defaults {
    epochs: 10,
    batch_size: 128,
    latent_dim: 20,
};
/// Seed of sampling at test time and of the pictures.
const SAMPLE_SEED: u64 = 2024;

#[derive(Parser)]
#[command(about = "Train a variational autoencoder")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    /// Dense (hidden widths from --hidden) or convolutional (32-64 channels).
    #[arg(long, value_enum, default_value_t = Arch::Mlp)]
    arch: Arch,
    /// Hidden widths of the dense encoder.
    #[arg(long, value_delimiter = ',', default_value = "400")]
    hidden: Vec<usize>,
    /// Weight of the KL term (1 is the ELBO).
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// Importance samples per test image for the log-likelihood estimate.
    #[arg(long, default_value_t = 100)]
    iw_samples: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Arch {
    Mlp,
    Conv,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit_on_error(|| -> Result<(), TrainError> {
        let settings = cli.common.settings(TRAINER, DEFAULTS)?;
        let out = cli.common.out_dir(TRAINER);
        let architecture = match cli.arch {
            Arch::Mlp => VaeArchitecture::Mlp {
                hidden: cli.hidden.clone(),
            },
            Arch::Conv => VaeArchitecture::Conv {
                channels: vec![32, 64],
                kernel_size: 3,
            },
        };
        let config = VaeConfig::new()
            .with_architecture(architecture)
            .with_latent_dim(cli.common.latent_dim(DEFAULTS))
            .with_beta(cli.beta);
        let mut run = run_training(&settings, &out, cli.common.resume, |shape, device| {
            Ok(config.with_input_shape(shape.dims()).try_init(device)?)
        })?;

        let scores = evaluate_vae(
            &run.model,
            &run.test,
            250,
            cli.iw_samples,
            SAMPLE_SEED,
            &run.device,
        )?;
        run.report.add(
            "test reconstruction NLL per image (nats)",
            scores.reconstruction_nll,
        );
        run.report.add("test KL per image (nats)", scores.kl);
        run.report
            .add("test negative ELBO per image (nats)", scores.negative_elbo);
        run.report.add(
            &format!(
                "test NLL, {}-sample importance-weighted (nats)",
                scores.iw_samples
            ),
            scores.iw_nll,
        );
        run.report.save(&out)?;

        // 8 x 8 samples from the prior.
        run.device.seed(SAMPLE_SEED);
        let samples = values(run.model.sample(64, &run.device))?;
        let shape = run.test.shape();
        let rows: Vec<&[f32]> = samples.chunks(8 * shape.numel()).collect();
        save_image_grid(&out.join("samples.png"), &rows, shape, 2)?;
        // Interpolations between consecutive pairs of test images, ends included.
        let strips = (0..4)
            .map(|i| {
                let a = run.test.batch(2 * i..2 * i + 1, &run.device).images;
                let b = run.test.batch(2 * i + 1..2 * i + 2, &run.device).images;
                values(run.model.interpolate(a, b, 10))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<&[f32]> = strips.iter().map(Vec::as_slice).collect();
        save_image_grid(&out.join("interpolation.png"), &rows, shape, 2)?;

        print!("\n{}", run.report.table());
        println!(
            "artifacts: {} (samples.png, interpolation.png, reconstructions.png)",
            out.display()
        );
        Ok(())
    })
}
