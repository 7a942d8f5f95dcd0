//! An autoencoder as a learned image compressor: encode the test images to their codes, quantise
//! the codes to 8 bits, write them to a file, read the file back and decode. Compares the bytes
//! per image with the raw pixels and with PNG, and the quality (PSNR) with float codes.
//!
//! ```text
//! cargo run --release --example compress                          # trains keras-mlp on the sample
//! cargo run --release --example compress -- --dataset fashion-mnist --epochs 20
//! cargo run --release --example compress -- --model runs/train_conv-mnist-sample
//! ```

use burn::tensor::{Tensor, TensorData};
use clap::Parser;
use serde::Serialize;

use autoencoders::cli::{Defaults, ModelDirArgs, TrainerArgs, exit_on_error};
use autoencoders::models::per_image_psnr;
use autoencoders::models::{Autoencoder, ModelConfig, VanillaAutoencoderConfig};
use autoencoders::run::{Run, write_json};
use autoencoders::table::Table;
use autoencoders::train::classify::encode_all;
use autoencoders::train::codes::QuantizedCodes;
use autoencoders::train::{TrainError, png_bytes, save_reconstruction_grid, values};

const NAME: &str = "compress";
const DEFAULTS: Defaults = Defaults::new(50, 256, 32);

#[derive(Parser)]
#[command(about = "Compress images to 8-bit latent codes and back")]
struct Cli {
    #[command(flatten)]
    common: TrainerArgs,
    #[command(flatten)]
    pretrained: ModelDirArgs,
}

#[derive(Serialize)]
struct Row {
    method: String,
    bytes_per_image: f64,
    ratio_to_raw: f64,
    psnr_db: Option<f64>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        let run = Run::prepare(NAME, &cli.common, &DEFAULTS)?;
        let out = &run.out;
        let latent = cli.common.latent_dim(&DEFAULTS);
        let config = VanillaAutoencoderConfig::new().with_latent_dim(latent);
        let model = run.model(&cli.pretrained, ModelConfig::Vanilla(config))?;
        let (model, test, device) = (&model, &run.data.test, run.device());
        let shape = test.shape();
        let n = test.count();
        // Encode everything, quantise, write, read back.
        let codes = encode_all(model, test, device)?;
        let d = model.latent_dim();
        let kind = model.config().kind().to_string();
        let quantized = QuantizedCodes::quantize(&kind, &codes, d)?;
        let path = out.join("codes.aeq");
        quantized.save(&path)?;
        let file_bytes = std::fs::metadata(&path)
            .map_err(|e| TrainError::Io {
                path: path.clone(),
                source: e,
            })?
            .len();
        let restored = QuantizedCodes::load(&path)?.dequantize();

        // Decode float and 8-bit codes; PSNR of each image against its original.
        let decode_psnr = |codes: &[f32]| -> Result<(f64, Vec<f32>), TrainError> {
            let (mut total, mut first) = (0.0, Vec::new());
            for start in (0..n).step_by(500) {
                let end = (start + 500).min(n);
                let z = TensorData::new(codes[start * d..end * d].to_vec(), [end - start, d]);
                let decoded = model.decode(Tensor::from_data(z, device));
                if start == 0 {
                    first = values(decoded.clone())?;
                }
                let originals = test.batch(start..end, device).images;
                total += per_image_psnr(decoded, originals)
                    .sum()
                    .into_scalar::<f64>();
            }
            Ok((total / n as f64, first))
        };
        let (psnr_float, _) = decode_psnr(&codes)?;
        let (psnr_8bit, mut decoded_8bit) = decode_psnr(&restored)?;

        // PNG: every test image encoded losslessly on its own.
        let mut png_total = 0usize;
        for i in 0..n {
            png_total += png_bytes(test.image(i).unwrap_or_default(), shape)?.len();
        }
        let png = png_total as f64 / n as f64;

        let raw = shape.numel() as f64;
        let rows = vec![
            Row {
                method: "raw pixels (8-bit)".into(),
                bytes_per_image: raw,
                ratio_to_raw: 1.0,
                psnr_db: None,
            },
            Row {
                method: "PNG, each image alone (lossless)".into(),
                bytes_per_image: png,
                ratio_to_raw: raw / png,
                psnr_db: None,
            },
            Row {
                method: format!("{d} float32 codes"),
                bytes_per_image: 4.0 * d as f64,
                ratio_to_raw: raw / (4.0 * d as f64),
                psnr_db: Some(psnr_float),
            },
            Row {
                method: format!("{d} 8-bit codes (file, header included)"),
                bytes_per_image: file_bytes as f64 / n as f64,
                ratio_to_raw: raw / (file_bytes as f64 / n as f64),
                psnr_db: Some(psnr_8bit),
            },
        ];
        let mut table = Table::new(["method", "bytes/image", "ratio to raw", "PSNR"]);
        for r in &rows {
            table.row([
                r.method.clone(),
                format!("{:.1}", r.bytes_per_image),
                format!("{:.1}x", r.ratio_to_raw),
                r.psnr_db
                    .map_or("lossless".into(), |p| format!("{p:.2} dB")),
            ]);
        }
        let originals = test
            .batch(0..20, device)
            .images
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap_or_default();
        decoded_8bit.truncate(originals.len());
        save_reconstruction_grid(
            &out.join("compressed.png"),
            &originals,
            &decoded_8bit,
            shape,
            10,
        )?;
        write_json(&out.join("compress.json"), &rows)?;
        print!("\n{} test images of {}, model `{kind}`\n{table}", n, shape);
        println!(
            "codes: {} ({file_bytes} bytes); compressed.png: originals above 8-bit-code decodings",
            path.display()
        );
        Ok(())
    })
}
