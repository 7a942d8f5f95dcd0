//! Trains a denoising autoencoder (dense or convolutional) on corrupted inputs with clean
//! targets, and shows noisy / denoised / clean test images.
//!
//! ```text
//! cargo run --release --example train_denoising
//! cargo run --release --example train_denoising -- --dataset fashion-mnist --epochs 3
//! cargo run --release --example train_denoising -- --noise masking --noise-level 0.3 --arch conv
//! ```

use clap::{Parser, ValueEnum};

use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{
    Autoencoder, ConvAutoencoderConfig, Corruption, DenoisingAutoencoderConfig,
    DenoisingBaseConfig, VanillaAutoencoderConfig,
};
use autoencoders::train::images::save_image_grid;
use autoencoders::train::{TrainError, evaluate_denoising, run_training};

const TRAINER: &str = "train_denoising";
const DEFAULTS: Defaults = Defaults {
    epochs: 20,
    batch_size: 256,
    latent_dim: 32,
};
/// Seed of the test-time corruption, so every run scores the same noisy images.
const TEST_NOISE_SEED: u64 = 1234;

#[derive(Parser)]
#[command(about = "Train a denoising autoencoder (corrupted inputs, clean targets)")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    /// Corruption: gaussian (std = level, clipped to [0, 1]), masking (fraction = level set to
    /// 0), salt-pepper (fraction = level set to 0 or 1).
    #[arg(long, value_enum, default_value_t = Noise::Gaussian)]
    noise: Noise,
    /// The corruption's standard deviation or fraction.
    #[arg(long, default_value_t = 0.5)]
    noise_level: f64,
    /// The architecture under the corruption.
    #[arg(long, value_enum, default_value_t = Arch::Mlp)]
    arch: Arch,
}

#[derive(Clone, Copy, ValueEnum)]
enum Noise {
    Gaussian,
    Masking,
    SaltPepper,
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
        let corruption = match cli.noise {
            Noise::Gaussian => Corruption::Gaussian {
                std: cli.noise_level,
                clip: true,
            },
            Noise::Masking => Corruption::Masking {
                fraction: cli.noise_level,
            },
            Noise::SaltPepper => Corruption::SaltAndPepper {
                fraction: cli.noise_level,
            },
        };
        let latent = cli.common.latent_dim(DEFAULTS);
        let mut run = run_training(&settings, &out, cli.common.resume, |shape, device| {
            let base = match cli.arch {
                Arch::Mlp => DenoisingBaseConfig::Mlp(
                    VanillaAutoencoderConfig::new()
                        .with_input_shape(shape.dims())
                        .with_latent_dim(latent),
                ),
                Arch::Conv => DenoisingBaseConfig::Conv(
                    ConvAutoencoderConfig::new()
                        .with_input_shape(shape.dims())
                        .with_latent_dim(latent),
                ),
            };
            let config = DenoisingAutoencoderConfig::new()
                .with_base(base)
                .with_corruption(corruption);
            Ok(config.try_init(device)?)
        })?;

        let scores = evaluate_denoising(&run.model, &run.test, 500, TEST_NOISE_SEED, &run.device)?;
        run.report
            .add("test PSNR of the noisy inputs (dB)", scores.psnr_noisy_db);
        run.report.add(
            "test PSNR of the denoised images (dB)",
            scores.psnr_denoised_db,
        );
        run.report.save(&out)?;

        // Rows: noisy inputs, their denoised versions, the clean images.
        let clean = run.test.batch(0..10, &run.device).images;
        let noisy = run.model.corrupt_seeded(clean.clone(), TEST_NOISE_SEED);
        let denoised = run.model.reconstruct(noisy.clone());
        let rows: Vec<Vec<f32>> = [noisy, denoised, clean]
            .into_iter()
            .map(|t| t.into_data().try_to_vec_as::<f32>().unwrap_or_default())
            .collect();
        let rows: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        save_image_grid(&out.join("denoising.png"), &rows, run.test.shape(), 2)?;

        print!("\n{}", run.report.table());
        println!(
            "artifacts: {} (denoising.png: noisy / denoised / clean)",
            out.display()
        );
        Ok(())
    })
}
