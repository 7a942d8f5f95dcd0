//! Trains the convolutional autoencoder (Conv 32-64 stride 2 → latent, mirrored with transposed
//! convolutions) and writes an artifact folder.
//!
//! ```text
//! cargo run --release --example train_conv
//! cargo run --release --example train_conv -- --dataset fashion-mnist --epochs 2
//! ```

use clap::Parser;

use autoencoders::cli::ranges;
use autoencoders::cli::{Defaults, TrainerArgs, exit_on_error};
use autoencoders::models::ConvAutoencoderConfig;
use autoencoders::run::Run;
use autoencoders::train::TrainError;

const TRAINER: &str = "train_conv";
const DEFAULTS: Defaults = Defaults::new(10, 128, 32);

#[derive(Parser)]
#[command(about = "Train the convolutional autoencoder")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    /// Channels after each stride-2 convolution (the decoder mirrors them).
    #[arg(long, value_parser = ranges::count::<1, 4096>, value_delimiter = ',', default_value = "32,64")]
    channels: Vec<usize>,
    /// Odd kernel size.
    #[arg(long, value_parser = ranges::count::<1, 31>, default_value_t = 3)]
    kernel_size: usize,
    /// Batch normalisation after each hidden convolution.
    #[arg(long)]
    batch_norm: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(TRAINER, &cli.common, &DEFAULTS)?;
        let config = ConvAutoencoderConfig::new()
            .with_channels(cli.channels.clone())
            .with_kernel_size(cli.kernel_size)
            .with_batch_norm(cli.batch_norm)
            .with_latent_dim(cli.common.latent_dim(&DEFAULTS));
        let model = config
            .with_input_shape(run.shape().dims())
            .try_init(run.device())?;
        let trained = run.train(model)?;
        print!("\n{}", trained.report.table());
        println!("artifacts: {}", run.out.display());
        Ok(())
    })
}
