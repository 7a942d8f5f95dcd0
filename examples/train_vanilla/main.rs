//! Trains the dense autoencoder of the Keras tutorial (784-128-64-32-64-128-784, ReLU, sigmoid
//! output, Adam, MSE, batch 256) and writes an artifact folder.
//!
//! ```text
//! cargo run --release --example train_vanilla                       # embedded MNIST sample
//! cargo run --release --example train_vanilla -- --dataset fashion-mnist --epochs 20
//! cargo run --release --features wgpu --example train_vanilla -- --device wgpu
//! ```

use clap::{Parser, ValueEnum};

use autoencoders::cli::ranges::{self, MAX_WIDTH};
use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::{ReconstructionLoss, VanillaAutoencoderConfig, WeightInit};
use autoencoders::run::Run;
use autoencoders::train::TrainError;

const TRAINER: &str = "train_vanilla";
const DEFAULTS: Defaults = Defaults::new(50, 256, 32);

#[derive(Parser)]
#[command(about = "Train the dense (MLP) autoencoder of the Keras tutorial")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    /// Widths of the encoder's hidden layers (the decoder mirrors them).
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>, value_delimiter = ',', default_value = "128,64")]
    hidden: Vec<usize>,
    /// Reconstruction loss.
    #[arg(long, value_enum, default_value_t = Loss::Mse)]
    loss: Loss,
    /// Weight initialisation: keras (Glorot-uniform, zero biases) or pytorch.
    #[arg(long, value_enum, default_value_t = Init::Keras)]
    init: Init,
}

#[derive(Clone, Copy, ValueEnum)]
enum Init {
    Keras,
    Pytorch,
}

#[derive(Clone, Copy, ValueEnum)]
enum Loss {
    Mse,
    Bce,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(TRAINER, &cli.common, &DEFAULTS)?;
        let loss = match cli.loss {
            Loss::Mse => ReconstructionLoss::Mse,
            Loss::Bce => ReconstructionLoss::Bce,
        };
        let config = VanillaAutoencoderConfig::new()
            .with_hidden(cli.hidden.clone())
            .with_latent_dim(cli.common.latent_dim(&DEFAULTS))
            .with_loss(loss)
            .with_init(match cli.init {
                Init::Keras => WeightInit::Keras,
                Init::Pytorch => WeightInit::PyTorch,
            });
        let model = config
            .with_input_shape(run.shape().dims())
            .try_init(run.device())?;
        let trained = run.train(model)?;
        print!("\n{}", trained.report.table());
        println!("artifacts: {}", run.out.display());
        Ok(())
    })
}
