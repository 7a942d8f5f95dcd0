//! Trains a sparse autoencoder (a dense autoencoder with a KL or L1 sparsity penalty on its code)
//! and reports how sparse the codes of the test images are.
//!
//! ```text
//! cargo run --release --example train_sparse
//! cargo run --release --example train_sparse -- --penalty l1 --sparsity-weight 0.001
//! ```

use clap::{Parser, ValueEnum};

use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{SparseAutoencoderConfig, SparsityPenalty, VanillaAutoencoderConfig};
use autoencoders::train::{TrainError, evaluate_sparsity, run_training};

const TRAINER: &str = "train_sparse";
const DEFAULTS: Defaults = Defaults {
    epochs: 50,
    batch_size: 256,
    latent_dim: 64,
};

#[derive(Parser)]
#[command(about = "Train a sparse autoencoder (KL or L1 penalty on the code)")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    /// The penalty: kl (sigmoid code, target rate) or l1 (ReLU code).
    #[arg(long, value_enum, default_value_t = Penalty::Kl)]
    penalty: Penalty,
    /// The penalty's weight in the loss (the reconstruction term is a per-pixel mean, ~0.01-0.1).
    #[arg(long, default_value_t = 0.001)]
    sparsity_weight: f64,
    /// The target mean activation ρ of each unit (KL only).
    #[arg(long, default_value_t = 0.05)]
    sparsity_target: f64,
    /// Widths of the encoder's hidden layers.
    #[arg(long, value_delimiter = ',', default_value = "128,64")]
    hidden: Vec<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Penalty {
    Kl,
    L1,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit_on_error(|| -> Result<(), TrainError> {
        let settings = cli.common.settings(TRAINER, DEFAULTS)?;
        let out = cli.common.out_dir(TRAINER);
        let penalty = match cli.penalty {
            Penalty::Kl => SparsityPenalty::Kl {
                weight: cli.sparsity_weight,
                target: cli.sparsity_target,
            },
            Penalty::L1 => SparsityPenalty::L1 {
                weight: cli.sparsity_weight,
            },
        };
        let base = VanillaAutoencoderConfig::new()
            .with_hidden(cli.hidden.clone())
            .with_latent_dim(cli.common.latent_dim(DEFAULTS));
        let mut run = run_training(&settings, &out, cli.common.resume, |shape, device| {
            let config = SparseAutoencoderConfig::new()
                .with_base(base.with_input_shape(shape.dims()))
                .with_penalty(penalty);
            Ok(config.try_init(device)?)
        })?;
        let stats = evaluate_sparsity(&run.model, &run.test, 500, &run.device)?;
        run.report
            .add("test code mean activation", stats.mean_activation);
        run.report.add(
            "test code fraction inactive (< 0.01)",
            stats.inactive_fraction,
        );
        run.report.save(&out)?;
        print!("\n{}", run.report.table());
        println!("artifacts: {}", out.display());
        Ok(())
    })
}
