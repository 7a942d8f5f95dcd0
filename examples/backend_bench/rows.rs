//! The rows that run a model: training steps (ordinary or captured), inference (ordinary or
//! captured) and end-to-end runs through `fit`, each with what a step costs on a GPU backend.

use burn::tensor::Device;

use autoencoders::bench::{
    Measurement, TrainingBench, captured_inference_throughput, inference_throughput, repeat,
};
use autoencoders::data::{fashion_mnist, mnist_sample};
use autoencoders::models::{Autoencoder, VanillaAutoencoderConfig};
use autoencoders::train::{FitOptions, TrainError, Trainable, TrainingConfig, fit};

use super::{Cli, DENSE_BATCH};

pub(crate) fn dense_training(cli: &Cli, device: &Device) -> Result<Vec<f64>, TrainError> {
    let model = VanillaAutoencoderConfig::new().try_init(device)?;
    let mut bench = TrainingBench::new(model, DENSE_BATCH, device);
    repeat(cli.warmup, cli.reps, || bench.run(cli.steps))
}

/// The training rows of `bench` (`--reps` repetitions after `--warmup`); on a GPU backend also
/// what a step costs — kernel launches, host time, syncs per step — as rows of their own.
pub(crate) fn training_rows<M>(
    cli: &Cli,
    bench: &mut TrainingBench<M>,
    cost: Option<(&str, &str, &mut Vec<Measurement>)>,
) -> Result<Vec<f64>, TrainError>
where
    M: autoencoders::models::Autoencoder + burn::module::Module + 'static,
{
    let values = repeat(cli.warmup, cli.reps, || bench.run(cli.steps))?;
    if let Some((workload, device, extra)) = cost {
        if cli.kernels {
            let (run, kernels) = autoencoders::bench::launches::by_kernel(|| bench.run(1));
            run?;
            println!("\nkernels of one {workload} step on {device}:");
            for (kernel, count) in kernels {
                println!("  {count:>4}  {kernel}");
            }
        }
        let cost = bench.step_cost(cli.steps)?;
        for (unit, value) in [
            ("launches_per_step", cost.launches_per_step),
            ("host_us_per_step", cost.host_us_per_step),
            ("syncs_per_step", cost.syncs_per_step),
        ] {
            extra.push(Measurement {
                workload: workload.to_string(),
                device: device.to_string(),
                unit,
                values: vec![value],
            });
        }
    }
    Ok(values)
}

/// An end-to-end training run of `model` through `fit` (the trainers' pipeline: fixed-size
/// batches, device-resident data where it fits, device-side metrics, validation every epoch):
/// its warm-up (seconds to the end of the first epoch) and steady training throughput (images per
/// second over the later epochs).
pub(crate) fn end_to_end<M>(
    cli: &Cli,
    model: M,
    batch_size: usize,
    device: &Device,
) -> Result<(f64, f64, Option<f64>), TrainError>
where
    M: Trainable<Batch = autoencoders::data::ImageBatch>,
{
    let data = fashion_mnist(None).or_else(|_| mnist_sample())?;
    let train = match cli.e2e_limit {
        Some(n) => data.train.take(n),
        None => data.train,
    };
    let (train, valid) = train.split(0.1, 42)?;
    let config = TrainingConfig::new()
        .with_epochs(cli.e2e_epochs.max(2))
        .with_batch_size(cli.e2e_batch_size.unwrap_or(batch_size))
        .with_precision(cli.e2e_precision.into());
    let dir = std::env::temp_dir().join(format!("backend_bench-e2e-{}", std::process::id()));
    let valid_batches = valid.count().div_ceil(config.batch_size) * config.epochs;
    // `--strategy ddp` trains with DDP on the one device measured: NCCL's path on a one-GPU
    // machine, and what it costs.
    let options = FitOptions::new(&dir, device)
        .with_capture(cli.e2e_capture)
        .with_data_parallel(cli.device.strategy.into());
    let run = || fit(model, train, valid, &config, &options);
    // Kernel launches per step (training and validation steps), counted on GPU backends.
    let (fitted, launches) = {
        let (fitted, kernels) = autoencoders::bench::launches::by_kernel(run);
        let launches: usize = kernels.iter().map(|(_, n)| n).sum();
        if cli.kernels {
            // Per training or validation step: what the loop launches beside the step itself.
            let steps = fitted
                .as_ref()
                .map_or(1, |f| f.train_items / config.batch_size + valid_batches)
                .max(1);
            println!("\nkernels per step of the end-to-end run (training and validation):");
            for (kernel, count) in kernels {
                println!("  {:>7.2}  {kernel}", count as f64 / steps as f64);
            }
        }
        (fitted, launches)
    };
    let _ = std::fs::remove_dir_all(&dir);
    let fitted = fitted.map_err(in_bench_flags)?;
    if cli.e2e_capture && !fitted.captured {
        return Err(TrainError::InvalidArgument {
            what: "--e2e-capture",
            message: "this run could not be captured (the message above says why)".into(),
        });
    }
    let steps = fitted.train_items / config.batch_size + valid_batches;
    Ok((
        fitted.warmup_seconds.unwrap_or(f64::NAN),
        fitted.steady_items_per_second.unwrap_or(f64::NAN),
        (launches > 0).then(|| launches as f64 / steps.max(1) as f64),
    ))
}

/// The trainers' flags that `fit`'s errors name, and this benchmark's flags for the same setting.
const E2E_FLAGS: [(&str, &str); 3] = [
    ("--batch-size", "--e2e-batch-size"),
    ("--precision", "--e2e-precision"),
    ("--epochs", "--e2e-epochs"),
];

/// `fit`'s refusal as this benchmark's flags say it: `fit` speaks the trainers' flags
/// (`--batch-size`), the user of `backend_bench` gave `--e2e-batch-size`.
pub(crate) fn in_bench_flags(error: TrainError) -> TrainError {
    let TrainError::InvalidArgument { what, message } = error else {
        return error;
    };
    let what = E2E_FLAGS
        .iter()
        .find(|(trainer, _)| *trainer == what)
        .map_or(what, |(_, bench)| *bench);
    let message = E2E_FLAGS.iter().fold(message, |text, (trainer, bench)| {
        // Only whole flags: `--precision` inside `--e2e-precision` stays.
        text.split(' ')
            .map(|word| match word.strip_prefix(trainer) {
                Some(rest) if rest.is_empty() || rest.starts_with([',', ';', ')', '.']) => {
                    format!("{bench}{rest}")
                }
                _ => word.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    });
    TrainError::InvalidArgument { what, message }
}

/// Samples per second of an inference row (`*-captured`: replays of a captured reconstruction);
/// on GPU backends (`cost` given) also the kernel launches the host issues per forward pass,
/// counted as the difference between a run of `2 steps` and one of `steps`, so that a capture's
/// own warm-up passes do not count.
pub(crate) fn inference_rows<M: Autoencoder + Clone + 'static>(
    cli: &Cli,
    workload: &str,
    model: &M,
    batch: usize,
    device: &Device,
    cost: Option<(&str, &mut Vec<Measurement>)>,
) -> Result<Vec<f64>, TrainError> {
    let captured = workload.ends_with("-captured");
    let throughput = |steps: usize| {
        if captured {
            captured_inference_throughput(model, batch, steps, device)
        } else {
            inference_throughput(model, batch, steps, device)
        }
    };
    let values = repeat(cli.warmup, cli.reps, || throughput(cli.steps))?;
    if let Some((device_name, extra)) = cost {
        let count = |steps| {
            let (result, launches) = autoencoders::bench::launches::counted(|| throughput(steps));
            result.map(|_| launches as f64)
        };
        let per_forward = (count(2 * cli.steps)? - count(cli.steps)?) / cli.steps as f64;
        extra.push(Measurement {
            workload: workload.to_string(),
            device: device_name.to_string(),
            unit: "launches_per_forward (issued by the host)",
            values: vec![per_forward],
        });
    }
    Ok(values)
}
