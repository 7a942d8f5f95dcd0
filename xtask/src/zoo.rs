//! `cargo xtask zoo`: trains the zoo's models with fixed seeds, writes each as a model folder
//! with a model card, and (`--ship`) copies the shipped ones into `crates/ae-models/pretrained`.
//!
//! Each model is trained by its trainer example, the same command as the README's figures plus
//! `--weights f16`; when the f16 weights' test MSE is more than 1% above the f32 weights', the
//! model is trained again and stored at f32.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Error;

/// One model of the zoo: a preset trained on a dataset by a trainer.
struct Entry {
    model: &'static str,
    dataset: &'static str,
    trainer: &'static str,
    args: &'static [&'static str],
    /// Shipped in `crates/ae-models/pretrained` (the shipped ones stay under ~8 MB in all).
    ship: bool,
}

const fn entry(
    model: &'static str,
    dataset: &'static str,
    trainer: &'static str,
    args: &'static [&'static str],
    ship: bool,
) -> Entry {
    Entry {
        model,
        dataset,
        trainer,
        args,
        ship,
    }
}

const FASHION: &str = "fashion-mnist";
const SAMPLE: &str = "mnist-sample";

/// Every grayscale preset on both datasets (the colour presets, `*-64-rgb` and `*-128-rgb`, are
/// for a user's own photographs: `photo_patches`). Trainer arguments beyond the preset's
/// defaults are the README's (epochs on Fashion-MNIST).
const ENTRIES: &[Entry] = &[
    entry("keras-mlp", SAMPLE, "train_vanilla", &[], true),
    entry(
        "keras-mlp",
        FASHION,
        "train_vanilla",
        &["--epochs", "20"],
        true,
    ),
    entry("conv-mnist", SAMPLE, "train_conv", &[], true),
    entry(
        "conv-mnist",
        FASHION,
        "train_conv",
        &["--epochs", "5"],
        true,
    ),
    entry("vae-mlp", SAMPLE, "train_vae", &[], true),
    entry("vae-mlp", FASHION, "train_vae", &["--epochs", "10"], true),
    entry("sparse-kl", SAMPLE, "train_sparse", &[], false),
    entry(
        "sparse-kl",
        FASHION,
        "train_sparse",
        &["--epochs", "20"],
        false,
    ),
    entry(
        "sparse-l1",
        SAMPLE,
        "train_sparse",
        &["--penalty", "l1"],
        false,
    ),
    entry(
        "sparse-l1",
        FASHION,
        "train_sparse",
        &["--penalty", "l1", "--epochs", "20"],
        false,
    ),
    entry("denoising-mlp", SAMPLE, "train_denoising", &[], false),
    entry(
        "denoising-mlp",
        FASHION,
        "train_denoising",
        &["--epochs", "10"],
        false,
    ),
    entry(
        "denoising-conv",
        SAMPLE,
        "train_denoising",
        &["--arch", "conv"],
        false,
    ),
    entry(
        "denoising-conv",
        FASHION,
        "train_denoising",
        &["--arch", "conv", "--epochs", "5"],
        false,
    ),
    entry(
        "denoising-masking",
        SAMPLE,
        "train_denoising",
        &["--noise", "masking", "--noise-level", "0.3"],
        false,
    ),
    entry(
        "denoising-masking",
        FASHION,
        "train_denoising",
        &[
            "--noise",
            "masking",
            "--noise-level",
            "0.3",
            "--epochs",
            "10",
        ],
        false,
    ),
    entry("vae-conv", SAMPLE, "train_vae", &["--arch", "conv"], false),
    entry(
        "vae-conv",
        FASHION,
        "train_vae",
        &["--arch", "conv", "--epochs", "10"],
        false,
    ),
];

/// The seed of every zoo run.
const SEED: &str = "42";
/// How much worse (relative test MSE) f16 weights may be before a model is stored at f32.
const F16_TOLERANCE: f64 = 0.01;
/// The folder the shipped models go to.
const SHIPPED: &str = "crates/ae-models/pretrained";

/// Runs the zoo task: every entry (or those named by `only`, as `model/dataset` or `model`),
/// into `out/<model>-<dataset>`; `ship` copies the shipped ones into the crate.
pub fn zoo(out: &Path, only: &[String], ship: bool, features: &str) -> Result<(), Error> {
    let commit = commit()?;
    let chosen: Vec<&Entry> = ENTRIES
        .iter()
        .filter(|e| {
            only.is_empty()
                || only
                    .iter()
                    .any(|o| *o == e.model || *o == format!("{}/{}", e.model, e.dataset))
        })
        .collect();
    if chosen.is_empty() {
        let names: Vec<String> = ENTRIES
            .iter()
            .map(|e| format!("{}/{}", e.model, e.dataset))
            .collect();
        return Err(format!("--only names no zoo model; they are: {}", names.join(", ")).into());
    }
    for entry in chosen {
        let dir = out.join(format!("{}-{}", entry.model, entry.dataset));
        let mut weights = "f16";
        train(entry, &dir, weights, features)?;
        let report = read_json(&dir.join("report.json"))?;
        let (stored, full) = (test_mse(&report)?, full_precision_mse(&report));
        if let Some(full) = full
            && stored > full * (1.0 + F16_TOLERANCE)
        {
            println!(
                "{}/{}: f16 test MSE {stored:.6} is more than 1% above f32's {full:.6}: stored at f32",
                entry.model, entry.dataset
            );
            weights = "f32";
            train(entry, &dir, weights, features)?;
        }
        write_card(entry, &dir, &commit)?;
        if ship && entry.ship {
            let shipped = Path::new(SHIPPED).join(format!("{}-{}", entry.model, entry.dataset));
            fs::create_dir_all(&shipped)?;
            for file in ["config.json", "model.bpk", "card.json", "README.md"] {
                fs::copy(dir.join(file), shipped.join(file))?;
            }
            println!("shipped {}", shipped.display());
        }
    }
    Ok(())
}

/// The trainer's command line for an entry (as written in its card).
fn trainer_args(entry: &Entry, weights: &str) -> Vec<String> {
    let mut args: Vec<String> = vec!["--dataset".into(), entry.dataset.into()];
    args.extend(entry.args.iter().map(|a| a.to_string()));
    args.extend([
        "--seed".into(),
        SEED.into(),
        "--weights".into(),
        weights.into(),
    ]);
    args
}

fn train(entry: &Entry, dir: &Path, weights: &str, features: &str) -> Result<(), Error> {
    // The card is this task's, not the run's: the trainer refuses folders with files it did not
    // write.
    for file in ["card.json", "README.md"] {
        match fs::remove_file(dir.join(file)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    let mut args = trainer_args(entry, weights);
    args.extend([
        "--out".into(),
        dir.display().to_string(),
        "--overwrite".into(),
    ]);
    crate::run_example(features, entry.trainer, &args)
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?)
}

fn test_mse(report: &Value) -> Result<f64, Error> {
    report["test"]["mse"]
        .as_f64()
        .ok_or_else(|| "report.json has no test.mse".into())
}

fn full_precision_mse(report: &Value) -> Option<f64> {
    report["extra"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == "test MSE with f32 weights")
        .and_then(|pair| pair[1].as_f64())
}

/// The commit the models are trained at (`-dirty` when the tree has changes).
fn commit() -> Result<String, Error> {
    let git = |args: &[&str]| Command::new("git").args(args).output();
    let head = git(&["rev-parse", "--short", "HEAD"])?;
    let hash = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"])?
        .stdout
        .is_empty();
    Ok(if dirty { format!("{hash}-dirty") } else { hash })
}

/// Writes `card.json` and `README.md` (the model card) beside the model.
fn write_card(entry: &Entry, dir: &Path, commit: &str) -> Result<(), Error> {
    let report = read_json(&dir.join("report.json"))?;
    let weights = fs::read(dir.join("model.bpk"))?;
    let sha256 = format!("{:x}", Sha256::digest(&weights));
    let weights_dtype = report["weights"].as_str().unwrap_or("f32").to_string();
    let command = format!(
        "cargo run --release --example {} -- {}",
        entry.trainer,
        trainer_args(entry, &weights_dtype).join(" ")
    );
    let metrics: Vec<Value> = report["extra"].as_array().cloned().unwrap_or_default();
    let card = json!({
        "model": entry.model,
        "dataset": entry.dataset,
        "trainer": entry.trainer,
        "command": command,
        "commit": commit,
        "seed": SEED.parse::<u64>()?,
        "epochs": report["epochs"],
        "images": report["images"],
        "device": report["device"],
        "machine": report["machine"]["cpu"],
        "train_seconds": report["train_seconds"],
        "parameters": report["parameters"],
        "weights_dtype": weights_dtype,
        "weights_bytes": weights.len(),
        "weights_sha256": sha256,
        "test_mse": report["test"]["mse"],
        "test_psnr_db": report["test"]["psnr_db"],
        "mean_image_mse": report["mean_image_mse"],
        "metrics": metrics,
    });
    fs::write(
        dir.join("card.json"),
        serde_json::to_string_pretty(&card)? + "\n",
    )?;
    let mut md = format!(
        "# {} trained on {}\n\nTrained by `{}` ({} epochs, seed {}) at commit `{commit}` on {} ({}).\n\n```text\n{command}\n```\n\n| | |\n|---|---|\n",
        entry.model,
        entry.dataset,
        entry.trainer,
        card["epochs"],
        SEED,
        card["device"].as_str().unwrap_or("?"),
        card["machine"].as_str().unwrap_or("?"),
    );
    md += &format!("| parameters | {} |\n", card["parameters"]);
    md += &format!(
        "| weights | {weights_dtype}, {} bytes, sha256 `{sha256}` |\n",
        weights.len()
    );
    md += &format!(
        "| images (train / valid / test) | {} |\n",
        card["images"]
            .as_array()
            .map(|v| v
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" / "))
            .unwrap_or_default()
    );
    md += &format!(
        "| test MSE | {:.5} |\n",
        card["test_mse"].as_f64().unwrap_or(f64::NAN)
    );
    md += &format!(
        "| test PSNR | {:.2} dB |\n",
        card["test_psnr_db"].as_f64().unwrap_or(f64::NAN)
    );
    md += &format!(
        "| test MSE of the mean image | {:.5} |\n",
        card["mean_image_mse"].as_f64().unwrap_or(f64::NAN)
    );
    for pair in &metrics {
        md += &format!(
            "| {} | {:.4} |\n",
            pair[0].as_str().unwrap_or("?"),
            pair[1].as_f64().unwrap_or(f64::NAN)
        );
    }
    md += "\nLoad it with `autoencoders::models::pretrained(\"";
    md += &format!("{}\", \"{}\", &device)`.\n", entry.model, entry.dataset);
    fs::write(dir.join("README.md"), md)?;
    Ok(())
}
