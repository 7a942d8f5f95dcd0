//! Trains a sparse autoencoder (a dense autoencoder with a KL or L1 sparsity penalty on its code)
//! and reports how sparse the codes of the test images are.
//!
//! ```text
//! cargo run --release --example train_sparse
//! cargo run --release --example train_sparse -- --penalty l1 --sparsity-weight 0.001
//! ```

use clap::{Parser, ValueEnum};

use autoencoders::cli::ranges::{self, MAX_WIDTH};
use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{SparseAutoencoderConfig, SparsityPenalty, VanillaAutoencoderConfig};
use autoencoders::run::Run;
use autoencoders::train::{TrainError, evaluate_sparsity};

const TRAINER: &str = "train_sparse";
const DEFAULTS: Defaults = Defaults::new(50, 256, 64);

#[derive(Parser)]
#[command(about = "Train a sparse autoencoder (KL or L1 penalty on the code)")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    /// The penalty: kl (sigmoid code, target rate) or l1 (ReLU code).
    #[arg(long, value_enum, default_value_t = Penalty::Kl)]
    penalty: Penalty,
    /// The penalty's weight in the loss (the reconstruction term is a per-pixel mean, ~0.01-0.1).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::non_negative, default_value_t = 0.001)]
    sparsity_weight: f64,
    /// The target mean activation ρ of each unit (KL only).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::open_fraction, default_value_t = 0.05)]
    sparsity_target: f64,
    /// Widths of the encoder's hidden layers.
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>, value_delimiter = ',', default_value = "128,64")]
    hidden: Vec<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Penalty {
    Kl,
    L1,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(TRAINER, &cli.common, &DEFAULTS)?;
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
            .with_latent_dim(cli.common.latent_dim(&DEFAULTS));
        let model = SparseAutoencoderConfig::new()
            .with_base(base.with_input_shape(run.shape().dims()))
            .with_penalty(penalty)
            .try_init(run.device())?;
        let mut trained = run.train(model)?;
        let stats = evaluate_sparsity(
            &trained.model,
            &run.data.test,
            run.training().batch_size,
            run.device(),
        )?;
        trained
            .report
            .add("test code mean activation", stats.mean_activation);
        trained.report.add(
            "test code fraction inactive (< 0.01)",
            stats.inactive_fraction,
        );
        trained.report.save(&run.out)?;
        print!("\n{}", trained.report.table());
        println!("artifacts: {}", run.out.display());
        Ok(())
    })
}
