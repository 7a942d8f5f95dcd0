//! Measuring speed: training-step and inference throughput of any autoencoder, matmul GFLOP/s,
//! FLOP counts, peak memory — the pieces of the `backend_bench` example. Each measurement runs
//! a warm-up, then several repetitions, and synchronises with the device once per repetition
//! (reading one value back), never per step.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;

use ae_models::Autoencoder;
use ae_models::capture::CapturedReconstruction;

use ae_train::{CapturedAdam, CapturedTrainingStep, Result, TrainError, read_f64};

/// Repeated measurements of one figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// What was measured (`"dense train"`, ...).
    pub workload: String,
    /// The device (`"flex"`, `"wgpu"`, ...).
    pub device: String,
    /// Unit of the values (`"samples/s"`, `"GFLOP/s"`, ...).
    pub unit: &'static str,
    /// One value per repetition.
    pub values: Vec<f64>,
}

impl Measurement {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median (mean of the two middle values for an even count).
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// The smallest and largest value.
    pub fn range(&self) -> (f64, f64) {
        let v = self.sorted();
        (
            v.first().copied().unwrap_or(f64::NAN),
            v.last().copied().unwrap_or(f64::NAN),
        )
    }
}

/// Runs `measure` `warmup` times (discarded) and then `reps` times.
pub fn repeat(
    warmup: usize,
    reps: usize,
    mut measure: impl FnMut() -> Result<f64>,
) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        measure()?;
    }
    (0..reps).map(|_| measure()).collect()
}

/// Counting the GPU kernels a piece of work launches, through CubeCL's launch observer (every
/// launch the process issues, on any CubeCL device; nothing on the CPU backends, which launch no
/// kernels — and nothing in a build without a GPU backend, where the work just runs).
pub mod launches {
    #[cfg(any(
        feature = "wgpu",
        feature = "vulkan",
        feature = "metal",
        feature = "cuda"
    ))]
    mod observer {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        use burn::cubecl::logging::{LaunchObservation, LaunchObserver};

        #[derive(Default)]
        struct Count(Mutex<HashMap<&'static str, usize>>);

        impl LaunchObserver for Count {
            fn launched(&self, kernel: &'static str) {
                if let Ok(mut counts) = self.0.lock() {
                    *counts.entry(kernel).or_default() += 1;
                }
            }
        }

        /// Runs `work`, counting each kernel's launches meanwhile.
        pub(super) fn observed<R>(work: impl FnOnce() -> R) -> (R, HashMap<&'static str, usize>) {
            let count = Arc::new(Count::default());
            let watching = LaunchObservation::new(count.clone());
            let result = work();
            drop(watching);
            let counts = count.0.lock().map(|c| c.clone()).unwrap_or_default();
            (result, counts)
        }
    }

    #[cfg(not(any(
        feature = "wgpu",
        feature = "vulkan",
        feature = "metal",
        feature = "cuda"
    )))]
    mod observer {
        /// Without a GPU backend nothing launches a kernel.
        pub(super) fn observed<R>(
            work: impl FnOnce() -> R,
        ) -> (R, std::collections::HashMap<&'static str, usize>) {
            (work(), Default::default())
        }
    }

    /// Runs `work` and returns what it returns with the number of kernels launched meanwhile
    /// (by any thread of the process).
    pub fn counted<R>(work: impl FnOnce() -> R) -> (R, usize) {
        let (result, kernels) = by_kernel(work);
        (result, kernels.iter().map(|(_, n)| n).sum())
    }

    /// Runs `work` and returns what it returns with the launches of each kernel meanwhile, most
    /// launched first (the names shortened as CubeCL's profiling logger shortens them).
    pub fn by_kernel<R>(work: impl FnOnce() -> R) -> (R, Vec<(String, usize)>) {
        let (result, counts) = observer::observed(work);
        let mut kernels: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(name, n)| (shortened(name), n))
            .collect();
        kernels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        (result, kernels)
    }

    /// A kernel's type name without module paths (`burn_cubecl::kernel::unary::Kernel<..>` to
    /// `Kernel<..>`).
    fn shortened(name: &str) -> String {
        let mut out = String::new();
        let mut segment = String::new();
        for c in name.chars() {
            if c.is_alphanumeric() || c == '_' || c == ':' {
                segment.push(c);
            } else {
                out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
                segment.clear();
                out.push(c);
            }
        }
        out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
        out
    }
}

/// What a training step costs on a GPU backend, beside its throughput: the kernels it
/// launches and the host time it takes to issue them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepCost {
    /// Kernel launches per step (forward, backward, optimiser).
    pub launches_per_step: f64,
    /// Host microseconds per step: the time to issue the steps, before the one read-back that
    /// waits for the device (on a GPU that keeps up, the step's host cost).
    pub host_us_per_step: f64,
    /// Reads that wait for the device, per step.
    pub syncs_per_step: f64,
}

/// A training benchmark: the model on the autodiff device and its Adam state, stepped on one
/// fixed batch so that only the step (forward, backward, optimiser) is timed.
pub struct TrainingBench<M: Module> {
    model: Option<M>,
    optim: ModuleOptimizer,
    batch: Tensor<4>,
    /// The step captured once and replayed ([`TrainingBench::captured`]).
    captured: Option<CapturedTrainingStep<M>>,
}

impl<M> TrainingBench<M>
where
    M: Autoencoder + Module + 'static,
{
    /// Prepares `model` (built on a plain device) and a batch of `batch_size` uniform images.
    pub fn new(model: M, batch_size: usize, device: &Device) -> Self {
        let batch = uniform_images(&model, batch_size, &device.clone().autodiff());
        Self {
            model: Some(model.train()),
            optim: ae_train::adam_optimizer(&AdamConfig::new().with_epsilon(1e-8)),
            batch,
            captured: None,
        }
    }

    /// The same benchmark with the step captured once and replayed ([`CapturedTrainingStep`],
    /// the same Adam); the capture is not timed.
    ///
    /// # Errors
    /// Where the device cannot capture a training step (the CPU backends, `fusion`), saying so.
    pub fn captured(model: M, batch_size: usize, device: &Device) -> Result<Self> {
        let mut bench = Self::new(model.clone(), batch_size, device);
        let adam = CapturedAdam {
            learning_rate: 1e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        };
        let example = bench.batch.clone().without_autodiff();
        bench.captured = Some(CapturedTrainingStep::new(model, example, adam)?);
        Ok(bench)
    }

    /// Runs `steps` training steps; returns samples per second.
    pub fn run(&mut self, steps: usize) -> Result<f64> {
        let (seconds, _) = self.timed(steps)?;
        Ok((steps * self.batch.dims()[0]) as f64 / seconds)
    }

    /// Runs `steps` training steps, one read-back at the end; returns the seconds in all and
    /// the seconds to issue the steps (before the read-back waits for the device).
    fn timed(&mut self, steps: usize) -> Result<(f64, f64)> {
        if let Some(captured) = &mut self.captured {
            let start = Instant::now();
            let mut last = None;
            for _ in 0..steps {
                last = Some(captured.step(self.batch.clone())?);
            }
            let issued = start.elapsed().as_secs_f64();
            if let Some(loss) = last {
                read_f64(loss)?;
            }
            return Ok((start.elapsed().as_secs_f64(), issued));
        }
        let mut model = self
            .model
            .take()
            .ok_or_else(|| TrainError::Training("no model".into()))?;
        let start = Instant::now();
        let mut last = None;
        for _ in 0..steps {
            let output = model.forward(self.batch.clone());
            let grads = GradientsParams::from_grads(output.loss.backward(), &model);
            model = self.optim.step(1e-3, model, grads);
            last = Some(output.loss);
        }
        let issued = start.elapsed().as_secs_f64();
        if let Some(loss) = last {
            read_f64(loss.without_autodiff())?;
        }
        let seconds = start.elapsed().as_secs_f64();
        self.model = Some(model);
        Ok((seconds, issued))
    }

    /// What `steps` training steps cost on a GPU backend (kernel launches counted by CubeCL's
    /// observer; the steps run once more to count them; no launches without a GPU backend).
    pub fn step_cost(&mut self, steps: usize) -> Result<StepCost> {
        let (timed, launches) = launches::counted(|| self.timed(steps));
        let (_, issued) = timed?;
        let steps = steps.max(1) as f64;
        Ok(StepCost {
            launches_per_step: launches as f64 / steps,
            host_us_per_step: issued * 1e6 / steps,
            syncs_per_step: 1.0 / steps,
        })
    }
}

/// Seconds taken by `steps` calls of `op`, synchronised once at the end: each call's output
/// feeds a running one-value checksum, which is read back (so the device cannot skip or defer
/// the work).
fn timed_steps(steps: usize, device: &Device, mut op: impl FnMut() -> Tensor<1>) -> Result<f64> {
    let start = Instant::now();
    let mut checksum = Tensor::<1>::zeros([1], device);
    for _ in 0..steps {
        checksum = checksum + op();
    }
    read_f64(checksum)?;
    Ok(start.elapsed().as_secs_f64())
}

/// A batch of `batch_size` images of `model`'s item shape, uniform in `[0, 1]`.
fn uniform_images<M: Autoencoder>(model: &M, batch_size: usize, device: &Device) -> Tensor<4> {
    let [c, h, w] = model.input_shape();
    Tensor::random(
        [batch_size, c, h, w],
        Distribution::Uniform(0.0, 1.0),
        device,
    )
}

/// The first value of a batch of images: what a timed loop adds to its checksum.
fn first_value(images: Tensor<4>) -> Tensor<1> {
    images.slice([0..1, 0..1, 0..1, 0..1]).reshape([1])
}

/// Samples per second of `steps` encode + decode passes (no autodiff) over a batch of
/// `batch_size` uniform images.
pub fn inference_throughput<M: Autoencoder>(
    model: &M,
    batch_size: usize,
    steps: usize,
    device: &Device,
) -> Result<f64> {
    let batch = uniform_images(model, batch_size, device);
    let seconds = timed_steps(steps, device, || {
        first_value(model.reconstruct(batch.clone()))
    })?;
    Ok((steps * batch_size) as f64 / seconds)
}

/// Samples per second of `steps` replays of `model`'s reconstruction captured for batches of
/// `batch_size` uniform images ([`CapturedReconstruction`]: each replay writes the batch into
/// the captured input and copies the result out), the capture itself not timed.
pub fn captured_inference_throughput<M: Autoencoder + Clone + 'static>(
    model: &M,
    batch_size: usize,
    steps: usize,
    device: &Device,
) -> Result<f64> {
    let batch = uniform_images(model, batch_size, device);
    let mut captured = CapturedReconstruction::new(model.clone(), batch.clone())?;
    let mut failure = None;
    let seconds = timed_steps(steps, device, || {
        match captured.reconstruct(batch.clone()) {
            Ok(out) => first_value(out),
            Err(err) => {
                failure.get_or_insert(err);
                Tensor::zeros([1], device)
            }
        }
    })?;
    if let Some(err) = failure {
        return Err(err.into());
    }
    Ok((steps * batch_size) as f64 / seconds)
}

/// Millions of values per second that `activation` (e.g. `burn::tensor::activation::sigmoid`)
/// transforms, applied `steps` times to a `[rows, cols]` tensor of values in `[-4, 4]`: the
/// element-wise cost inside a training step, measured on its own.
pub fn activation_throughput(
    activation: impl Fn(Tensor<2>) -> Tensor<2>,
    [rows, cols]: [usize; 2],
    steps: usize,
    device: &Device,
) -> Result<f64> {
    let x = Tensor::<2>::random([rows, cols], Distribution::Uniform(-4.0, 4.0), device);
    let seconds = timed_steps(steps, device, || {
        activation(x.clone()).slice([0..1, 0..1]).reshape([1])
    })?;
    Ok((steps * rows * cols) as f64 / seconds / 1e6)
}

/// How [`conv_layer_throughput`] computes a stride-2 3x3 convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvLowering {
    /// Burn's `Conv2d` (on flex: flex's own lowering).
    Backend,
    /// Zero padding, `unfold4d` (im2col) and one batched matmul, from public Burn operations.
    UnfoldMatmul,
}

/// Samples per second of `steps` forward passes of a stride-2, padding-1, 3x3 convolution from
/// `channels[0]` to `channels[1]` channels over `[batch, channels[0], side, side]` inputs, computed
/// as `lowering` says (the conv autoencoder's encoder layers: `[1, 32]` at side 28, `[32, 64]` at
/// side 14).
pub fn conv_layer_throughput(
    lowering: ConvLowering,
    batch: usize,
    channels: [usize; 2],
    side: usize,
    steps: usize,
    device: &Device,
) -> Result<f64> {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::module::unfold4d;
    use burn::tensor::ops::{PadMode, UnfoldOptions};

    let [c, o] = channels;
    let conv = Conv2dConfig::new(channels, [3, 3])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device);
    let x = Tensor::<4>::random(
        [batch, c, side, side],
        Distribution::Uniform(0.0, 1.0),
        device,
    );
    let out_side = side.div_ceil(2);
    let weight = conv.weight.val().reshape([1, o, c * 9]);
    let bias = conv.bias.as_ref().map(|b| b.val().reshape([1, o, 1]));
    let seconds = timed_steps(steps, device, || {
        let y = match lowering {
            ConvLowering::Backend => conv.forward(x.clone()),
            ConvLowering::UnfoldMatmul => {
                let padded = x.clone().pad((1, 1, 1, 1), PadMode::Constant(0.0));
                let options = UnfoldOptions::new([2, 2], [0, 0], [1, 1]);
                let columns = unfold4d(padded, [3, 3], options); // [N, C * 9, L]
                let y = weight.clone().matmul(columns);
                let y = match &bias {
                    Some(bias) => y + bias.clone(),
                    None => y,
                };
                y.reshape([batch, o, out_side, out_side])
            }
        };
        y.slice([0..1, 0..1, 0..1, 0..1]).reshape([1])
    })?;
    Ok((steps * batch) as f64 / seconds)
}

/// GFLOP/s of `steps` products by `product` of two `n x n` matrices (`2 n^3` FLOPs each), e.g.
/// `ae_models::ops::matmul` or Burn's `Tensor::matmul`.
pub fn matmul_gflops(
    n: usize,
    steps: usize,
    device: &Device,
    product: fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
) -> Result<f64> {
    let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let seconds = timed_steps(steps, device, || {
        product(a.clone(), b.clone())
            .slice([0..1, 0..1])
            .reshape([1])
    })?;
    Ok(2.0 * (n as f64).powi(3) * steps as f64 / seconds / 1e9)
}

/// FLOPs of one training step of a stack of dense layers with these widths (input first) on
/// `batch` samples: each layer's matmul costs `2 B in out` forward and twice that backward
/// (gradients of the input and of the weights), `6 B in out` in all. Activations, the loss and
/// the optimiser add a few FLOPs per value, ignored here.
pub fn dense_training_flops(widths: &[usize], batch: usize) -> f64 {
    widths
        .windows(2)
        .map(|w| 6.0 * batch as f64 * w[0] as f64 * w[1] as f64)
        .sum()
}

/// The process's peak resident memory in bytes (`VmHWM` of `/proc/self/status`; Linux only).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let m = |values: Vec<f64>| Measurement {
            workload: "w".into(),
            device: "d".into(),
            unit: "u",
            values,
        };
        assert_eq!(m(vec![3.0, 1.0, 2.0]).median(), 2.0);
        assert_eq!(m(vec![4.0, 1.0, 2.0, 3.0]).median(), 2.5);
        assert_eq!(m(vec![4.0, 1.0, 2.0, 3.0]).range(), (1.0, 4.0));
    }

    #[test]
    fn dense_flops_by_hand() {
        // 784-128-784 at batch 2: 6 * 2 * (784 * 128 * 2) = 2,408,448.
        assert_eq!(dense_training_flops(&[784, 128, 784], 2), 2_408_448.0);
    }

    #[test]
    fn measurements_run_on_the_cpu() {
        let device = Device::flex();
        let model = ae_models::VanillaAutoencoderConfig::new()
            .with_hidden(vec![16])
            .with_latent_dim(4)
            .init(&device);
        let mut bench = TrainingBench::new(model.clone(), 8, &device);
        let values = repeat(1, 2, || bench.run(2)).unwrap();
        assert_eq!(values.len(), 2);
        assert!(values.iter().all(|v| v.is_finite() && *v > 0.0));
        assert!(inference_throughput(&model, 8, 2, &device).unwrap() > 0.0);
        assert!(matmul_gflops(32, 2, &device, ae_models::ops::matmul).unwrap() > 0.0);
        for lowering in [ConvLowering::Backend, ConvLowering::UnfoldMatmul] {
            assert!(conv_layer_throughput(lowering, 2, [3, 4], 8, 2, &device).unwrap() > 0.0);
        }
        let sigmoid = burn::tensor::activation::sigmoid::<2>;
        assert!(activation_throughput(sigmoid, [4, 8], 2, &device).unwrap() > 0.0);
        assert!(peak_rss_bytes().unwrap() > 0);
    }
}
