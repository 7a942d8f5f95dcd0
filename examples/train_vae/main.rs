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

use autoencoders::cli::ranges::{self, MAX_WIDTH};
use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{VaeArchitecture, VaeConfig};
use autoencoders::run::Run;
use autoencoders::train::{
    TrainError, evaluate_vae, save_image_grid, save_vae_interpolations, values,
};

const TRAINER: &str = "train_vae";
const DEFAULTS: Defaults = Defaults::new(10, 128, 20);
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
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>, value_delimiter = ',', default_value = "400")]
    hidden: Vec<usize>,
    /// Weight of the KL term (1 is the ELBO).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::positive, default_value_t = 1.0)]
    beta: f64,
    /// Importance samples per test image for the log-likelihood estimate.
    #[arg(long, value_parser = ranges::count::<1, 100_000>, default_value_t = 100)]
    iw_samples: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Arch {
    Mlp,
    Conv,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(TRAINER, &cli.common, &DEFAULTS)?;
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
            .with_latent_dim(cli.common.latent_dim(&DEFAULTS))
            .with_beta(cli.beta);
        let model = config
            .with_input_shape(run.shape().dims())
            .try_init(run.device())?;
        let mut trained = run.train(model)?;
        let (test, device) = (&run.data.test, run.device());

        let scores = evaluate_vae(
            &trained.model,
            test,
            run.training().batch_size,
            cli.iw_samples,
            SAMPLE_SEED,
            device,
        )?;
        trained.report.add(
            "test reconstruction NLL per image (nats)",
            scores.reconstruction_nll,
        );
        trained.report.add("test KL per image (nats)", scores.kl);
        trained
            .report
            .add("test negative ELBO per image (nats)", scores.negative_elbo);
        trained.report.add(
            &format!(
                "test NLL, {}-sample importance-weighted (nats)",
                scores.iw_samples
            ),
            scores.iw_nll,
        );
        trained.report.save(&run.out)?;

        // 8 x 8 samples from the prior.
        let model = &trained.model;
        device.seed(SAMPLE_SEED);
        let samples = values(model.sample(64, device))?;
        let shape = test.shape();
        let rows: Vec<&[f32]> = samples.chunks(8 * shape.numel()).collect();
        save_image_grid(
            &run.out.join("samples.png"),
            &rows,
            &vec!["sample"; rows.len()],
            shape,
            2,
        )?;
        // Interpolations between consecutive pairs of test images, ends included.
        let path = run.out.join("interpolation.png");
        let drawn = save_vae_interpolations(&path, model, test, 4, 10, 2, device)?;

        print!("\n{}", trained.report.table());
        if drawn == 0 {
            println!("(no interpolation.png: the test split holds fewer than two images)");
        }
        println!(
            "artifacts: {} (samples.png, {}reconstructions.png)",
            run.out.display(),
            if drawn > 0 { "interpolation.png, " } else { "" }
        );
        Ok(())
    })
}
