//! Mixed precision (`--precision`): the layers compute in `bf16` or `f16` inside a training or
//! validation step, the master weights, the optimizer, the losses and the metrics stay in `f32`
//! (see [`ae_models::ops::autocast`]), and an `f16` step scales its loss so that small gradients
//! survive the 16-bit backward pass — PyTorch's `autocast` + `GradScaler` recipe.

use std::sync::{Arc, Mutex};

use burn::config::Config;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, FloatDType, Tensor};
use burn::train::TrainOutput;

use crate::error::{Result, TrainError};

/// The number type the layers of a training step compute in.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Every tensor in `f32` (the default). On CUDA, Burn's matmul may still run the products in
    /// TF32 on tensor cores (see [`Precision::Tf32`]).
    F32,
    /// `f32` tensors whose matrix products run in TF32 on tensor cores: CUDA on Ampere or later
    /// only. Burn 0.22.1's CUDA matmul already does this for `f32` whenever it picks its
    /// tensor-core tiles, with no switch to turn it off; this choice asks for it and refuses a
    /// device without it.
    Tf32,
    /// Dense layers and convolutions in `bfloat16` (the range of `f32`, 8 bits of mantissa): no
    /// loss scaling needed. On flex and CUDA; wgpu/Vulkan store bf16 but have no arithmetic.
    Bf16,
    /// Dense layers and convolutions in IEEE `f16`, with dynamic loss scaling. On flex, CUDA
    /// and wgpu/Vulkan devices with `shaderFloat16`.
    F16,
}

// Burn's `Config` derive does not take `#[default]` on a variant.
#[allow(clippy::derivable_impls)]
impl Default for Precision {
    fn default() -> Self {
        Self::F32
    }
}

impl Precision {
    /// Every choice, in the order `--precision` lists them.
    pub const ALL: [Precision; 4] = [Self::F32, Self::Tf32, Self::Bf16, Self::F16];

    /// The name used on command lines and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Tf32 => "tf32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
        }
    }

    /// The type the layers compute in, when it is not `f32`.
    pub fn compute_dtype(self) -> Option<FloatDType> {
        match self {
            Self::F32 | Self::Tf32 => None,
            Self::Bf16 => Some(FloatDType::BF16),
            Self::F16 => Some(FloatDType::F16),
        }
    }

    /// Checks that `device` computes in this precision.
    ///
    /// # Errors
    /// [`TrainError::InvalidArgument`] naming `--precision`, the device and what to use instead.
    pub fn check(self, device: &Device) -> Result<()> {
        self.check_on(device, true)
    }

    /// [`Self::check`], suggesting instead only precisions the device computes in, and `f16`
    /// only where `f16_allowed` (its loss scaling needs a run on one device).
    pub(super) fn check_on(self, device: &Device, f16_allowed: bool) -> Result<()> {
        let name = super::device::device_name(device);
        // What to use instead: the half types the device computes in, then f32.
        let instead = [Self::Bf16, Self::F16]
            .into_iter()
            .filter(|&other| other != self && (other != Self::F16 || f16_allowed))
            .filter(|other| {
                other
                    .compute_dtype()
                    .is_some_and(|dtype| device.supports_dtype(dtype))
            })
            .map(Self::name)
            .chain(["f32"])
            .collect::<Vec<_>>()
            .join(" or ");
        let refuse = |message: String| {
            Err(TrainError::InvalidArgument {
                what: "--precision",
                message,
            })
        };
        match self {
            Self::F32 => Ok(()),
            Self::Tf32 if ae_models::ops::supports_tf32(device) => Ok(()),
            Self::Tf32 => refuse(format!(
                "tf32 needs TF32 tensor cores (CUDA on an Ampere or later GPU), which {name} does \
                 not have: use {instead}"
            )),
            Self::Bf16 | Self::F16 => {
                let dtype = self.compute_dtype().unwrap_or(FloatDType::F32);
                if device.supports_dtype(dtype) {
                    return Ok(());
                }
                // cubecl-wgpu registers bf16 for storage only.
                let why = if self == Self::Bf16 && name.contains("wgpu") {
                    " (a Vulkan device may store bf16 but not compute in it)"
                } else {
                    ""
                };
                refuse(format!(
                    "{} needs arithmetic in {}, which {name} does not have{why}: use {instead}",
                    self.name(),
                    self.name(),
                ))
            }
        }
    }
}

/// What a [`ModelSteps`](super::ModelSteps) computes in: the precision, and for `f16` the loss
/// scale its copies share (burn-train clones the learner model every step and onto every
/// device).
#[derive(Debug, Clone, Default)]
pub struct StepPrecision {
    precision: Precision,
    loss_scale: Option<Arc<LossScale>>,
}

impl StepPrecision {
    /// Steps in `precision`, with a fresh loss scale for `f16`.
    pub fn new(precision: Precision) -> Self {
        let loss_scale = (precision == Precision::F16).then(|| Arc::new(LossScale::default()));
        Self {
            precision,
            loss_scale,
        }
    }

    /// f16 steps whose loss scale starts at `scale` instead of 2^16 (kept between f32's
    /// smallest normal number and 2^127: an infinite scale would skip every step).
    pub fn f16_with_scale(scale: f32) -> Self {
        let scale = if scale.is_nan() {
            INITIAL_LOSS_SCALE
        } else {
            scale.clamp(f32::MIN_POSITIVE, 2f32.powi(127))
        };
        Self {
            precision: Precision::F16,
            loss_scale: Some(Arc::new(LossScale::starting_at(scale))),
        }
    }

    /// The precision.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Runs a forward pass with the layers in this precision.
    pub fn forward<T>(&self, forward: impl FnOnce() -> T) -> T {
        match self.precision.compute_dtype() {
            Some(dtype) => ae_models::ops::autocast(dtype, forward),
            None => forward(),
        }
    }

    /// Back-propagates `loss` to the parameters of `module`: scaled, unscaled and checked for
    /// `f16`, whose step is skipped (no gradients) when a gradient overflowed.
    pub fn backward<M: Module, O>(&self, module: &M, loss: Tensor<1>, item: O) -> TrainOutput<O> {
        match &self.loss_scale {
            None => TrainOutput::new(module, loss.backward(), item),
            Some(scale) => scale.backward(module, loss, item),
        }
    }

    /// The loss scale of an `f16` step.
    pub fn loss_scale(&self) -> Option<&LossScale> {
        self.loss_scale.as_deref()
    }
}

/// Dynamic loss scaling, PyTorch's `GradScaler` defaults: the loss is multiplied by the scale
/// (2^16 at first) before the backward pass and the gradients divided by it after; a step whose
/// gradients are not all finite is skipped and halves the scale; 2,000 finite steps in a row
/// double it. Checking the gradients reads one number back per step.
#[derive(Debug)]
pub struct LossScale {
    state: Mutex<ScaleState>,
}

#[derive(Debug, Clone, Copy)]
struct ScaleState {
    scale: f32,
    finite_steps: u32,
    skipped: u64,
}

/// The first scale.
pub const INITIAL_LOSS_SCALE: f32 = 65536.0;
/// Finite steps in a row after which the scale doubles.
pub const LOSS_SCALE_GROWTH_INTERVAL: u32 = 2000;

impl Default for LossScale {
    fn default() -> Self {
        Self::starting_at(INITIAL_LOSS_SCALE)
    }
}

impl LossScale {
    /// A loss scale starting at `scale`.
    pub fn starting_at(scale: f32) -> Self {
        Self {
            state: Mutex::new(ScaleState {
                scale,
                finite_steps: 0,
                skipped: 0,
            }),
        }
    }

    fn state(&self) -> ScaleState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current scale.
    pub fn scale(&self) -> f32 {
        self.state().scale
    }

    /// Steps skipped so far because a gradient overflowed.
    pub fn skipped_steps(&self) -> u64 {
        self.state().skipped
    }

    fn record(&self, finite: bool) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if finite {
            state.finite_steps += 1;
            if state.finite_steps >= LOSS_SCALE_GROWTH_INTERVAL {
                state.finite_steps = 0;
                // f32's largest power of two: the scale stays finite.
                state.scale = (state.scale * 2.0).min(2f32.powi(127));
            }
        } else {
            state.finite_steps = 0;
            state.skipped += 1;
            state.scale = (state.scale * 0.5).max(f32::MIN_POSITIVE);
            log::info!(
                "f16 step skipped: a gradient overflowed; loss scale now {}",
                state.scale
            );
        }
    }

    fn backward<M: Module, O>(&self, module: &M, loss: Tensor<1>, item: O) -> TrainOutput<O> {
        let scale = self.scale();
        let mut output = TrainOutput::new(module, loss.mul_scalar(scale).backward(), item);
        let mut unscale = Unscale {
            grads: &mut output.grads,
            factor: 1.0 / scale,
            total: None,
        };
        module.visit(&mut unscale);
        // The sum of every gradient is finite exactly when each one is (an infinity or a NaN
        // anywhere makes it non-finite), and it is one value to read back.
        let finite = unscale
            .total
            .is_none_or(|total| total.into_scalar::<f32>().is_finite());
        self.record(finite);
        if !finite {
            // A parameter without a gradient is left as it is by burn-train's optimizers.
            output.grads = GradientsParams::new();
        }
        output
    }
}

/// Divides every gradient by the loss scale, summing them all on the device.
struct Unscale<'a> {
    grads: &'a mut GradientsParams,
    factor: f32,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for Unscale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let grad = grad.mul_scalar(self.factor);
            let sum = grad.clone().sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + sum,
                None => sum,
            });
            self.grads.register(param.id, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_halves_on_overflow_and_doubles_after_a_run_of_finite_steps() {
        let scale = LossScale::starting_at(1024.0);
        scale.record(false);
        assert_eq!((scale.scale(), scale.skipped_steps()), (512.0, 1));
        for _ in 0..LOSS_SCALE_GROWTH_INTERVAL - 1 {
            scale.record(true);
        }
        assert_eq!(scale.scale(), 512.0);
        scale.record(true);
        assert_eq!(scale.scale(), 1024.0);
        // An overflow restarts the count.
        scale.record(true);
        scale.record(false);
        for _ in 0..LOSS_SCALE_GROWTH_INTERVAL - 1 {
            scale.record(true);
        }
        assert_eq!((scale.scale(), scale.skipped_steps()), (512.0, 2));
    }

    #[test]
    fn names_and_types() {
        let names: Vec<_> = Precision::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["f32", "tf32", "bf16", "f16"]);
        assert_eq!(Precision::F16.compute_dtype(), Some(FloatDType::F16));
        assert_eq!(Precision::Bf16.compute_dtype(), Some(FloatDType::BF16));
        assert_eq!(Precision::Tf32.compute_dtype(), None);
        assert_eq!(Precision::default(), Precision::F32);
    }

    #[test]
    fn the_cpu_has_no_tf32_and_computes_in_bf16_and_f16() {
        let device = Device::flex();
        let err = Precision::Tf32.check(&device).unwrap_err().to_string();
        assert!(err.contains("--precision") && err.contains("tf32"), "{err}");
        Precision::Bf16.check(&device).unwrap();
        Precision::F16.check(&device).unwrap();
        Precision::F32.check(&device).unwrap();
    }
}
