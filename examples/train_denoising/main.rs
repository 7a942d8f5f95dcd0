//! Trains a denoising autoencoder (dense or convolutional) on corrupted inputs with clean
//! targets, and shows noisy / denoised / clean test images.
//!
//! ```text
//! cargo run --release --example train_denoising
//! cargo run --release --example train_denoising -- --dataset fashion-mnist --epochs 3
//! cargo run --release --example train_denoising -- --noise masking --noise-level 0.3 --arch conv
//! ```

use clap::{Parser, ValueEnum};

use autoencoders::cli::ranges;
use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{
    Autoencoder, ConvAutoencoderConfig, Corruption, DenoisingAutoencoderConfig,
    DenoisingBaseConfig, VanillaAutoencoderConfig,
};
use autoencoders::run::Run;
use autoencoders::train::{TrainError, evaluate_denoising, save_image_grid, values};

const TRAINER: &str = "train_denoising";
const DEFAULTS: Defaults = Defaults::new(20, 256, 32);
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
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::positive, default_value_t = 0.5)]
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
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        if !matches!(cli.noise, Noise::Gaussian) && cli.noise_level > 1.0 {
            return Err(TrainError::InvalidArgument {
                what: "--noise-level",
                message: format!(
                    "{} is the fraction of pixels masking and salt-pepper noise change: give \
                     one in (0, 1]",
                    cli.noise_level
                ),
            });
        }
        let run = Run::prepare(TRAINER, &cli.common, &DEFAULTS)?;
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
        let latent = cli.common.latent_dim(&DEFAULTS);
        let shape = run.shape();
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
        let model = DenoisingAutoencoderConfig::new()
            .with_base(base)
            .with_corruption(corruption)
            .try_init(run.device())?;
        let mut trained = run.train(model)?;

        let (test, device) = (&run.data.test, run.device());
        let scores = evaluate_denoising(
            &trained.model,
            test,
            run.training().batch_size,
            TEST_NOISE_SEED,
            device,
        )?;
        trained
            .report
            .add("test PSNR of the noisy inputs (dB)", scores.psnr_noisy_db);
        trained.report.add(
            "test PSNR of the denoised images (dB)",
            scores.psnr_denoised_db,
        );
        trained.report.save(&run.out)?;

        // Rows: noisy inputs, their denoised versions, the clean images.
        let clean = test.batch(0..10, device).images;
        let noisy = trained.model.corrupt_seeded(clean.clone(), TEST_NOISE_SEED);
        let denoised = trained.model.reconstruct(noisy.clone());
        let rows = [noisy, denoised, clean]
            .into_iter()
            .map(values)
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        save_image_grid(
            &run.out.join("denoising.png"),
            &rows,
            &["noisy input", "denoised", "clean"],
            test.shape(),
            2,
        )?;

        print!("\n{}", trained.report.table());
        println!(
            "(test MSE and PSNR: clean test images through the model, as reconstructions.png \
             shows; it learned on corrupted ones, which it turns into the denoised figure)"
        );
        println!(
            "artifacts: {} (denoising.png: noisy / denoised / clean)",
            run.out.display()
        );
        Ok(())
    })
}
