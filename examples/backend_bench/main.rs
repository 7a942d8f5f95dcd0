//! The same workloads on every backend compiled in: training-step and inference throughput of
//! the zoo's models, the data pipeline, a large matmul and the dense step's achieved GFLOP/s, and
//! the process's peak memory. One table, median and min-max over repetitions after a warm-up.
//!
//! ```text
//! cargo run --release --features ndarray,wgpu --example backend_bench
//! cargo run --release --example backend_bench -- --devices flex --workloads dense-train,matmul
//! cargo xtask bench                                           # the same, short alias
//! ```

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Tensor, activation};
use clap::Parser;
use serde::Serialize;

use autoencoders::bench::{
    ConvLowering, Measurement, TrainingBench, activation_throughput, conv_layer_throughput,
    dense_training_flops, matmul_gflops, peak_rss_bytes, repeat,
};
use autoencoders::cli::ranges::{self, MAX_WIDTH};
use autoencoders::cli::{DeviceArgs, PrecisionArg, StrategyArg, exit_on_error};
use autoencoders::data::{ImageBatcher, fashion_mnist};
use autoencoders::models::{ConvAutoencoderConfig, VaeConfig, VanillaAutoencoderConfig, ops};
use autoencoders::run::{MachineInfo, check_writable, write_json};
use autoencoders::table::Table;
use autoencoders::train::{Backend, DeviceSpec, TrainError};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;

mod rows;

use rows::{dense_training, end_to_end, inference_rows, training_rows};

const WORKLOADS: [&str; 20] = [
    "dense-train",
    "conv-train",
    "vae-train",
    "dense-infer",
    "conv-infer",
    "dense-train-captured",
    "dense-infer-captured",
    "conv-infer-captured",
    "data",
    "matmul",
    "matmul-burn",
    "conv-layers",
    "conv-layers-unfold",
    "dense-gflops",
    "sigmoid",
    "sigmoid-burn",
    "relu",
    "e2e-dense",
    "e2e-conv",
    "e2e-vae",
];

#[derive(Parser)]
#[command(about = "Throughput of the zoo's workloads on every compiled backend")]
#[command(mut_arg("devices", |a| a.help(
    "The devices to measure, one after the other (e.g. flex,wgpu); default: every backend \
     compiled in that has a device here"
)))]
struct Cli {
    /// The devices to measure, one after the other: --devices flex,wgpu, or --device (default:
    /// every backend compiled in that has a device here).
    #[command(flatten)]
    device: DeviceArgs,
    /// Workloads (default: all but e2e-*): dense-train, conv-train, vae-train, dense-infer,
    /// conv-infer, dense-train-captured, dense-infer-captured, conv-infer-captured (the same
    /// replayed from a captured graph), data, matmul, matmul-burn, conv-layers, conv-layers-unfold, dense-gflops, sigmoid,
    /// sigmoid-burn, relu; e2e-dense, e2e-conv,
    /// e2e-vae (whole training runs through `fit`: warm-up and steady throughput).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Timed repetitions per figure.
    #[arg(long, value_parser = ranges::count::<1, 1000>, default_value_t = 5)]
    reps: usize,
    /// Untimed repetitions first.
    #[arg(long, value_parser = ranges::count::<0, 1000>, default_value_t = 1)]
    warmup: usize,
    /// Steps per repetition (training and inference).
    #[arg(long, value_parser = ranges::count::<1, 1_000_000>, default_value_t = 20)]
    steps: usize,
    /// Side of the square matmul.
    #[arg(long, value_parser = ranges::count::<1, 16_384>, default_value_t = 2048)]
    matmul_size: usize,
    /// Epochs of each end-to-end run (`e2e-*`: real training through `fit`, the trainers' code
    /// path, on Fashion-MNIST's training split when installed, else the embedded sample).
    #[arg(long, value_parser = ranges::count::<2, 1000>, default_value_t = 3)]
    e2e_epochs: usize,
    /// Use only the first N training images in the end-to-end runs.
    #[arg(long, value_parser = ranges::count::<2, { usize::MAX }>)]
    e2e_limit: Option<usize>,
    /// Batch size of the end-to-end runs (default: the workload's fixed-batch size).
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>)]
    e2e_batch_size: Option<usize>,
    /// What the end-to-end runs' layers compute in (`--precision` of the trainers); their rows
    /// are named `e2e-dense-f16` and so on when it is not f32.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    e2e_precision: PrecisionArg,
    /// Train the end-to-end runs with `--capture` (one captured step replayed per batch; the
    /// models that cannot be captured are refused); their rows are named `e2e-dense-captured`.
    #[arg(long)]
    e2e_capture: bool,
    /// Batch size of the inference rows (default: 1024 dense, 512 conv; at most 65,536, ~1.6 GB
    /// of the conv AE's activations); a small batch shows the host's cost per forward pass,
    /// which a captured graph cuts.
    #[arg(long, value_parser = ranges::count::<1, 65_536>)]
    infer_batch_size: Option<usize>,
    /// Write the measurements as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// On GPU backends, also print which kernels one training step launches, and how often (for
    /// the end-to-end rows: per training or validation step of the whole run).
    #[arg(long)]
    kernels: bool,
}

#[derive(Serialize)]
struct Report {
    machine: MachineInfo,
    burn_version: &'static str,
    measurements: Vec<Measurement>,
    peak_rss_mib: Option<f64>,
}

/// The dense autoencoder's layer widths (784-128-64-32-64-128-784).
const DENSE_WIDTHS: [usize; 7] = [784, 128, 64, 32, 64, 128, 784];
const DENSE_BATCH: usize = 256;
const CONV_BATCH: usize = 128;
const VAE_BATCH: usize = 128;

/// Refuses a kernel switch (`AE_CPU_KERNELS`, ...) with a value it does not know.
fn check_kernel_switches() -> Result<(), TrainError> {
    autoencoders::models::ops::check_kernel_switches().map_err(|message| {
        TrainError::InvalidArgument {
            what: "environment",
            message,
        }
    })
}

fn default_devices() -> Vec<DeviceSpec> {
    [
        Backend::Flex,
        Backend::NdArray,
        Backend::Wgpu,
        Backend::Cuda,
    ]
    .into_iter()
    .map(DeviceSpec::new)
    .filter(|spec| spec.device().is_ok())
    .collect()
}

/// Measures `workload` on `device`. `dense` holds this device's dense-training samples/s once
/// measured, so that `dense-gflops` converts them instead of training again.
fn measure(
    cli: &Cli,
    workload: &str,
    device_name: &str,
    device: &Device,
    dense: &mut Option<Vec<f64>>,
    extra: &mut Vec<Measurement>,
) -> Result<Option<Measurement>, TrainError> {
    // What a step costs is counted on the GPU backends only (the CPU launches no kernels).
    let gpu = device_name
        .parse::<DeviceSpec>()
        .is_ok_and(|spec| spec.backend.is_gpu());
    let (unit, values) = match workload {
        "dense-train" => {
            let model = VanillaAutoencoderConfig::new().try_init(device)?;
            let mut bench = TrainingBench::new(model, DENSE_BATCH, device);
            let cost = gpu.then_some((workload, device_name, &mut *extra));
            let values = training_rows(cli, &mut bench, cost)?;
            *dense = Some(values.clone());
            ("samples/s", values)
        }
        "dense-gflops" => {
            let samples_per_second = match dense.take() {
                Some(values) => values,
                None => dense_training(cli, device)?,
            };
            let flops_per_sample = dense_training_flops(&DENSE_WIDTHS, 1);
            let gflops = samples_per_second
                .iter()
                .map(|s| s * flops_per_sample / 1e9)
                .collect();
            ("GFLOP/s", gflops)
        }
        "conv-train" => {
            let model = ConvAutoencoderConfig::new().try_init(device)?;
            let mut bench = TrainingBench::new(model, CONV_BATCH, device);
            let cost = gpu.then_some((workload, device_name, &mut *extra));
            ("samples/s", training_rows(cli, &mut bench, cost)?)
        }
        "dense-train-captured" => {
            let model = VanillaAutoencoderConfig::new().try_init(device)?;
            let mut bench = match TrainingBench::captured(model, DENSE_BATCH, device) {
                Ok(bench) => bench,
                Err(err) => {
                    println!("skipping {workload} on {device_name}: {err}");
                    return Ok(None);
                }
            };
            let cost = gpu.then_some((workload, device_name, &mut *extra));
            ("samples/s", training_rows(cli, &mut bench, cost)?)
        }
        "vae-train" => {
            let model = VaeConfig::new().try_init(device)?;
            let mut bench = TrainingBench::new(model, VAE_BATCH, device);
            let cost = gpu.then_some((workload, device_name, &mut *extra));
            ("samples/s", training_rows(cli, &mut bench, cost)?)
        }
        "dense-infer" | "dense-infer-captured" => {
            let model = VanillaAutoencoderConfig::new().try_init(device)?;
            let batch = cli.infer_batch_size.unwrap_or(1024);
            let cost = gpu.then_some((device_name, &mut *extra));
            (
                "samples/s",
                inference_rows(cli, workload, &model, batch, device, cost)?,
            )
        }
        "conv-infer" | "conv-infer-captured" => {
            let model = ConvAutoencoderConfig::new().try_init(device)?;
            let batch = cli.infer_batch_size.unwrap_or(512);
            let cost = gpu.then_some((device_name, &mut *extra));
            (
                "samples/s",
                inference_rows(cli, workload, &model, batch, device, cost)?,
            )
        }
        "data" => {
            if fashion_mnist(None).is_err() {
                println!("skipping `data` on {device_name}: Fashion-MNIST is not installed");
                return Ok(None);
            }
            let run = || -> Result<f64, TrainError> {
                // Parse the gzip IDX files and batch the whole training split onto the device.
                let start = Instant::now();
                let data = fashion_mnist(None)?;
                let items: Vec<_> = (0..data.train.len())
                    .filter_map(|i| data.train.get(i).ok())
                    .collect();
                let mut checksum = 0.0f64;
                for chunk in items.chunks(DENSE_BATCH) {
                    let batch = ImageBatcher::new().batch(chunk.to_vec(), device);
                    checksum += f64::from(batch.images.dims()[0] as u32);
                }
                assert_eq!(checksum as usize, data.train.len());
                Ok(start.elapsed().as_secs_f64())
            };
            ("s (60k images)", repeat(cli.warmup, cli.reps, run)?)
        }
        // Element-wise work on the dense model's output ([256, 784]): sigmoid (an `exp` per
        // value) against relu (a compare), in millions of values per second.
        // `sigmoid` is the models' (`ae_models::ops`: this workspace's kernel on flex),
        // `sigmoid-burn` Burn's own.
        "sigmoid" | "sigmoid-burn" | "relu" => {
            let activation = match workload {
                "sigmoid" => autoencoders::models::ops::sigmoid::<2>,
                "sigmoid-burn" => activation::sigmoid::<2>,
                _ => activation::relu::<2>,
            };
            let shape = [DENSE_BATCH, DENSE_WIDTHS[0]];
            let run = || activation_throughput(activation, shape, cli.steps * 10, device);
            ("M values/s", repeat(cli.warmup, cli.reps, run)?)
        }
        // The conv autoencoder's two encoder layers, forward, batch 512: flex's convolution
        // against im2col (`unfold4d`) and one matmul from public Burn operations.
        "conv-layers" | "conv-layers-unfold" => {
            let lowering = if workload == "conv-layers" {
                ConvLowering::Backend
            } else {
                ConvLowering::UnfoldMatmul
            };
            for (channels, side) in [([1, 32], 28), ([32, 64], 14)] {
                let run =
                    || conv_layer_throughput(lowering, 512, channels, side, cli.steps, device);
                extra.push(Measurement {
                    workload: format!("{workload} {}->{} at {side}", channels[0], channels[1]),
                    device: device_name.to_string(),
                    unit: "samples/s",
                    values: repeat(cli.warmup, cli.reps, run)?,
                });
            }
            return Ok(None);
        }
        // A square product: `matmul` is the zoo's (`ae_models::ops::matmul`, this workspace's
        // product on flex), `matmul-burn` Burn's own.
        "matmul" | "matmul-burn" => {
            let product = match workload {
                "matmul" => ops::matmul,
                _ => |a: Tensor<2>, b: Tensor<2>| a.matmul(b),
            };
            let run = || matmul_gflops(cli.matmul_size, 5, device, product);
            ("GFLOP/s", repeat(cli.warmup, cli.reps, run)?)
        }
        // One run each (a run is whole epochs): warm-up and steady rate as two rows.
        "e2e-dense" | "e2e-conv" | "e2e-vae" => {
            let precision = autoencoders::train::Precision::from(cli.e2e_precision);
            let mut label = if precision == autoencoders::train::Precision::F32 {
                workload.to_string()
            } else {
                format!("{workload}-{}", precision.name())
            };
            if cli.e2e_capture {
                label.push_str("-captured");
            }
            if cli.device.strategy == StrategyArg::Ddp {
                label.push_str("-ddp");
            }
            let (warmup, steady, launches) = match workload {
                "e2e-dense" => {
                    let model = VanillaAutoencoderConfig::new().try_init(device)?;
                    end_to_end(cli, model, DENSE_BATCH, device)?
                }
                "e2e-conv" => {
                    let model = ConvAutoencoderConfig::new().try_init(device)?;
                    end_to_end(cli, model, CONV_BATCH, device)?
                }
                _ => {
                    let model = VaeConfig::new().try_init(device)?;
                    end_to_end(cli, model, VAE_BATCH, device)?
                }
            };
            if let Some(launches) = launches {
                extra.push(Measurement {
                    workload: label.clone(),
                    device: device_name.to_string(),
                    unit: "launches_per_step (training and validation)",
                    values: vec![launches],
                });
            }
            extra.push(Measurement {
                workload: format!("{label} warm-up"),
                device: device_name.to_string(),
                unit: "s",
                values: vec![warmup],
            });
            return Ok(Some(Measurement {
                workload: label,
                device: device_name.to_string(),
                unit: "images/s (steady)",
                values: vec![steady],
            }));
        }
        other => {
            return Err(TrainError::InvalidArgument {
                what: "--workloads",
                message: format!(
                    "unknown workload {other:?}; known: {}",
                    WORKLOADS.join(", ")
                ),
            });
        }
    };
    Ok(Some(Measurement {
        workload: workload.to_string(),
        device: device_name.to_string(),
        unit,
        values,
    }))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        // The default devices are those that open: a mistyped switch would leave none.
        check_kernel_switches()?;
        let mut devices = cli.device.named();
        if devices.is_empty() {
            devices = default_devices();
        }
        let names: Vec<String> = devices.iter().map(ToString::to_string).collect();
        let workloads: Vec<String> = if cli.workloads.is_empty() {
            // The end-to-end runs train whole epochs: asked for by name only.
            WORKLOADS
                .iter()
                .filter(|w| !w.starts_with("e2e"))
                .map(|w| w.to_string())
                .collect()
        } else {
            cli.workloads.clone()
        };
        // What can be refused is refused before minutes of measuring.
        if let Some(other) = workloads.iter().find(|w| !WORKLOADS.contains(&w.as_str())) {
            return Err(TrainError::InvalidArgument {
                what: "--workloads",
                message: format!(
                    "unknown workload {other:?}; known: {}",
                    WORKLOADS.join(", ")
                ),
            });
        }
        if let Some(path) = &cli.json {
            check_writable(path, "--json")?;
        }
        let machine = MachineInfo::detect();
        println!(
            "{} ({} cores), Burn 0.22.1; devices: {}; {} timed repetitions after {} warm-up, {} steps each",
            machine.cpu,
            machine.cores,
            names.join(", "),
            cli.reps,
            cli.warmup,
            cli.steps
        );
        let opened = devices
            .iter()
            .map(DeviceSpec::device)
            .collect::<Result<Vec<_>, _>>()?;
        if workloads.iter().any(|w| w.starts_with("e2e")) {
            let precision = autoencoders::train::Precision::from(cli.e2e_precision);
            for device in &opened {
                precision.check(device).map_err(rows::in_bench_flags)?;
            }
        } else if cli.e2e_limit.is_some() || cli.e2e_batch_size.is_some() || cli.e2e_capture {
            eprintln!(
                "note: the --e2e-* flags set the e2e-* workloads, and none is measured here \
                 (--workloads e2e-dense,e2e-conv,e2e-vae)"
            );
        }
        let mut measurements = Vec::new();
        for (device, name) in opened.iter().zip(&names) {
            if let Some(adapter) = autoencoders::train::GpuAdapter::of(device) {
                println!("device {name}: {adapter}");
            }
            device.seed(0);
            let mut dense = None;
            for workload in &workloads {
                eprintln!("measuring {workload} on {name} ...");
                let mut extra = Vec::new();
                // On the CPU on one of rayon's threads, as `fit` runs its loop.
                let measured = ops::on_kernel_threads(device, || {
                    measure(&cli, workload, name, device, &mut dense, &mut extra)
                })?;
                measurements.extend(extra);
                measurements.extend(measured);
            }
        }
        if measurements.is_empty() {
            return Err(TrainError::InvalidArgument {
                what: "--workloads",
                message: "nothing was measured: every workload asked for was skipped on every \
                          device (the lines above say why)"
                    .into(),
            });
        }
        let mut table = Table::new(["workload", "device", "median", "min - max", "unit"]);
        for m in &measurements {
            let (lo, hi) = m.range();
            let fmt = |v: f64| {
                if v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.3}")
                }
            };
            table.row([
                m.workload.clone(),
                m.device.clone(),
                fmt(m.median()),
                format!("{} - {}", fmt(lo), fmt(hi)),
                m.unit.to_string(),
            ]);
        }
        let peak = peak_rss_bytes().map(|b| b as f64 / (1024.0 * 1024.0));
        print!("\n{table}");
        if let Some(mib) = peak {
            println!("peak resident memory of the process: {mib:.0} MiB");
        }
        if let Some(path) = &cli.json {
            let report = Report {
                machine,
                burn_version: "0.22.1",
                measurements,
                peak_rss_mib: peak,
            };
            write_json(path, &report)?;
            println!("measurements: {}", path.display());
        }
        Ok(())
    })
}
