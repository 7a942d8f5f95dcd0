//! Generation with a variational autoencoder: a grid of samples from the prior, a walk across a
//! 2-D latent grid, and interpolations between test images. Trains a VAE with a 2-D latent space
//! (so that the walk covers it all) or loads any trained VAE folder.
//!
//! ```text
//! cargo run --release --example generate                           # 2-D VAE on the MNIST sample
//! cargo run --release --example generate -- --dataset fashion-mnist --epochs 10
//! cargo run --release --example generate -- --model runs/train_vae-mnist-sample
//! ```

use burn::tensor::{Tensor, TensorData};
use clap::Parser;

use autoencoders::cli::ranges;
use autoencoders::cli::{Defaults, ModelDirArgs, TrainerArgs, exit_on_error};
use autoencoders::models::{AnyAutoencoder, Autoencoder, ModelConfig, VaeConfig};
use autoencoders::run::{Run, write_json};
use autoencoders::table::Table;
use autoencoders::train::{
    TrainError, evaluate_vae, save_image_grid, save_vae_interpolations, values,
};

const NAME: &str = "generate";
const DEFAULTS: Defaults = Defaults::new(30, 128, 2);
const SEED: u64 = 7;

#[derive(Parser)]
#[command(about = "Generate images with a variational autoencoder")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    #[command(flatten)]
    pretrained: ModelDirArgs,
    /// Side of the latent walk grid.
    #[arg(long, value_parser = ranges::count::<2, 64>, default_value_t = 15)]
    grid: usize,
    /// The walk covers [-span, span] on the first two latent dimensions (the others stay 0).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::positive_f32, default_value_t = 2.0)]
    span: f32,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(NAME, &cli.common, &DEFAULTS)?;
        let out = &run.out;
        let latent = cli.common.latent_dim(&DEFAULTS);
        // The walk spans two latent dimensions: refused before training, not after.
        let too_small = |what: &'static str, d: usize| TrainError::InvalidArgument {
            what,
            message: format!("{d}: the latent walk needs at least 2 dimensions"),
        };
        if latent < 2 && cli.pretrained.model.is_none() {
            return Err(too_small("--latent-dim", latent));
        }
        let config = VaeConfig::new().with_latent_dim(latent);
        let model = run.model(&cli.pretrained, ModelConfig::Vae(config))?;
        let AnyAutoencoder::Vae(vae) = &model else {
            return Err(TrainError::InvalidArgument {
                what: "--model",
                message: format!(
                    "generation needs a VAE; this folder holds a `{}` model",
                    model.config().kind()
                ),
            });
        };
        let (test, device, shape) = (&run.data.test, run.device(), run.shape());
        let d = vae.latent_dim();
        if d < 2 {
            return Err(too_small("--model's latent size", d));
        }

        // Samples from the prior.
        device.seed(SEED);
        let samples = values(vae.sample(64, device))?;
        let rows: Vec<&[f32]> = samples.chunks(8 * shape.numel()).collect();
        save_image_grid(
            &out.join("samples.png"),
            &rows,
            &vec!["sample"; rows.len()],
            shape,
            2,
        )?;

        // A walk over the first two latent dimensions.
        let g = cli.grid.max(2);
        let step = |i: usize| -cli.span + 2.0 * cli.span * i as f32 / (g - 1) as f32;
        let mut codes = vec![0.0f32; g * g * d];
        for row in 0..g {
            for col in 0..g {
                let base = (row * g + col) * d;
                codes[base] = step(col);
                codes[base + 1] = -step(row);
            }
        }
        let walk = values(vae.decode(Tensor::from_data(
            TensorData::new(codes, [g * g, d]),
            device,
        )))?;
        let rows: Vec<&[f32]> = walk.chunks(g * shape.numel()).collect();
        let labels: Vec<String> = (0..rows.len())
            // `+ 0.0`: the middle row is "z2 = 0.0", not "-0.0".
            .map(|row| format!("z2 = {:.1}", -step(row) + 0.0))
            .collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        save_image_grid(&out.join("latent_walk.png"), &rows, &labels, shape, 1)?;

        // Interpolations between pairs of test images.
        let path = out.join("interpolation.png");
        if save_vae_interpolations(&path, vae, test, 6, 12, 2, device)? == 0 {
            println!("(no interpolation.png: the test split holds fewer than two images)");
        }

        let scores = evaluate_vae(vae, test, 250, 50, SEED, device)?;
        let mut table = Table::new(["", ""]);
        table.row(["latent dimensions", &d.to_string()]);
        table.row(["test images", &scores.images.to_string()]);
        table.row([
            "test negative ELBO (nats/image)",
            &format!("{:.2}", scores.negative_elbo),
        ]);
        table.row([
            "  reconstruction",
            &format!("{:.2}", scores.reconstruction_nll),
        ]);
        table.row(["  KL", &format!("{:.2}", scores.kl)]);
        table.row([
            "test NLL, 50-sample IWAE (nats/image)",
            &format!("{:.2}", scores.iw_nll),
        ]);
        write_json(&out.join("generate.json"), &scores)?;
        print!("\n{table}");
        println!(
            "pictures in {}: samples.png, latent_walk.png (z1 from {:.1} to {:.1} left to right, z2 \
             by row), interpolation.png",
            out.display(),
            -cli.span,
            cli.span
        );
        Ok(())
    })
}
