//! Data imputation with an autoencoder: hide part of each test image (random pixels or a block),
//! fill the hidden values from the model's reconstruction — once, and iterating — and compare the
//! error on the hidden values with filling them from the training set's mean image.
//!
//! ```text
//! cargo run --release --example impute                                # masking-trained AE, 50% pixels
//! cargo run --release --example impute -- --mask block --block 12
//! cargo run --release --example impute -- --model runs/train_vanilla-mnist-sample
//! ```

use burn::tensor::{Tensor, TensorData};
use clap::{Parser, ValueEnum};
use serde::Serialize;

use autoencoders::cli::ranges;
use autoencoders::cli::{Defaults, ModelDirArgs, TrainerArgs, exit_on_error};
use autoencoders::models::{
    Corruption, DenoisingAutoencoderConfig, DenoisingBaseConfig, ModelConfig,
    VanillaAutoencoderConfig,
};
use autoencoders::run::{Run, write_json};
use autoencoders::table::Table;
use autoencoders::train::impute::{MaskKind, hidden_mse, impute, make_masks, mask_tensor};
use autoencoders::train::{TrainError, save_image_grid};

const NAME: &str = "impute";
const DEFAULTS: Defaults = Defaults::new(50, 256, 32);
const MASK_SEED: u64 = 99;

#[derive(Parser)]
#[command(about = "Fill in hidden pixels with an autoencoder")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    #[command(flatten)]
    pretrained: ModelDirArgs,
    /// What to hide: random pixels (--fraction) or a square block (--block).
    #[arg(long, value_enum, default_value_t = Mask::Random)]
    mask: Mask,
    /// Fraction of pixels hidden (random mask).
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::open_fraction, default_value_t = 0.5)]
    fraction: f64,
    /// Side of the hidden square (block mask).
    #[arg(long, value_parser = ranges::count::<1, 4096>, default_value_t = 12)]
    block: usize,
    /// Passes of the iterative fill-in.
    #[arg(long, value_parser = ranges::count::<1, 1000>, default_value_t = 10)]
    iterations: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mask {
    Random,
    Block,
}

#[derive(Serialize)]
struct Row {
    method: String,
    hidden_mse: f64,
    hidden_psnr_db: f64,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(NAME, &cli.common, &DEFAULTS)?;
        let out = &run.out;
        let latent = cli.common.latent_dim(&DEFAULTS);
        // Trained with 30% of the pixels dropped to 0, so that it learns to fill holes.
        let config = DenoisingAutoencoderConfig::new()
            .with_base(DenoisingBaseConfig::Mlp(
                VanillaAutoencoderConfig::new().with_latent_dim(latent),
            ))
            .with_corruption(Corruption::Masking { fraction: 0.3 });
        let model = run.model(&cli.pretrained, ModelConfig::Denoising(config))?;
        let (model, test, device) = (&model, &run.data.test, run.device());
        let shape = test.shape();
        let n = test.count();
        let kind = match cli.mask {
            Mask::Random => MaskKind::RandomPixels {
                fraction: cli.fraction,
            },
            Mask::Block => MaskKind::Block { size: cli.block },
        };
        let masks = make_masks(n, shape, kind, MASK_SEED)?;
        if !masks.contains(&true) {
            // Every figure would be a perfect 0 on nothing.
            return Err(TrainError::InvalidArgument {
                what: "--fraction",
                message: format!(
                    "{} hides no pixel of the {n} test images: use a larger fraction",
                    cli.fraction
                ),
            });
        }
        let mean_image = run.data.train.mean_image();
        let read = |t: Tensor<4>| {
            t.into_data()
                .try_to_vec_as::<f32>()
                .map_err(|e| TrainError::Training(format!("{e:?}")))
        };

        // Fill-ins: the mean image; the model once and iterated, starting from zeros (the
        // masking corruption the default model was trained on).
        let methods = [
            ("mean image of the training set".to_string(), true, 0),
            ("autoencoder, one pass".to_string(), false, 1),
            (
                format!("autoencoder, {} passes", cli.iterations),
                false,
                cli.iterations,
            ),
        ];
        let (mut truth, mut filled) = (
            Vec::with_capacity(n * shape.numel()),
            vec![Vec::new(); methods.len()],
        );
        for start in (0..n).step_by(500) {
            let end = (start + 500).min(n);
            let dims = [end - start, shape.channels, shape.height, shape.width];
            let images = test.batch(start..end, device).images;
            let hidden = mask_tensor(
                &masks[start * shape.numel()..end * shape.numel()],
                dims,
                device,
            );
            truth.extend(read(images.clone())?);
            for (i, (_, use_mean, passes)) in methods.iter().enumerate() {
                let fill = if *use_mean {
                    let tiled: Vec<f32> = mean_image
                        .iter()
                        .copied()
                        .cycle()
                        .take(dims.iter().product())
                        .collect();
                    Tensor::from_data(TensorData::new(tiled, dims), device)
                } else {
                    Tensor::zeros(dims, device)
                };
                filled[i].extend(read(impute(
                    model,
                    images.clone(),
                    hidden.clone(),
                    fill,
                    *passes,
                ))?);
            }
        }
        let rows: Vec<Row> = methods
            .iter()
            .zip(&filled)
            .map(|((name, _, _), values)| {
                let mse = hidden_mse(values, &truth, &masks);
                Row {
                    method: name.clone(),
                    hidden_mse: mse,
                    hidden_psnr_db: -10.0 * mse.max(1e-10).log10(),
                }
            })
            .collect();
        let mut table = Table::new(["fill-in", "MSE on hidden pixels", "PSNR on hidden pixels"]);
        for r in &rows {
            table.row([
                r.method.clone(),
                format!("{:.5}", r.hidden_mse),
                format!("{:.2} dB", r.hidden_psnr_db),
            ]);
        }

        // Picture: masked (hidden shown mid-gray) / one pass / iterated / truth, 10 images (or
        // as many as the test split has).
        let k = (10 * shape.numel()).min(truth.len());
        let masked: Vec<f32> = truth[..k]
            .iter()
            .zip(&masks[..k])
            .map(|(&v, &m)| if m { 0.5 } else { v })
            .collect();
        let picture: Vec<&[f32]> = vec![&masked, &filled[1][..k], &filled[2][..k], &truth[..k]];
        save_image_grid(
            &out.join("impute.png"),
            &picture,
            &["masked (gray)", "one pass", "iterated", "truth"],
            shape,
            2,
        )?;
        write_json(&out.join("impute.json"), &rows)?;
        print!(
            "\n{n} test images, model `{}`\n{table}",
            model.config().kind()
        );
        println!(
            "artifacts: {} (impute.png: masked / one pass / {} passes / true; impute.json)",
            out.display(),
            cli.iterations
        );
        Ok(())
    })
}
