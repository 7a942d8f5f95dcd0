//! What a training or validation step hands to burn-train's metrics, and the reconstruction
//! metrics (MSE and PSNR) that Burn does not ship without its network-using `vision` feature.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::ItemLazy;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, LossInput, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};

use ae_models::AutoencoderOutput;

/// The output of one step: the loss and its parts, the reconstruction and its target.
pub struct ReconstructionOutput {
    /// The total loss.
    ///
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// Named loss terms (the first is the reconstruction term).
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// The reconstruction.
    ///
    /// # Shapes
    /// `[N, C, H, W]`
    pub reconstruction: Tensor<4>,
    /// What the reconstruction is scored against.
    ///
    /// # Shapes
    /// `[N, C, H, W]`
    pub target: Tensor<4>,
}

impl ReconstructionOutput {
    /// Gathers a model's output and the target it was scored against.
    pub fn new(output: AutoencoderOutput, target: Tensor<4>) -> Self {
        Self {
            loss: output.loss,
            terms: output
                .terms
                .into_iter()
                .map(|t| (t.name, t.value))
                .collect(),
            reconstruction: output.reconstruction,
            target,
        }
    }
}

impl ItemLazy for ReconstructionOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        // Dispatch the queued work now so the metric thread does not wait on an idle queue, and
        // drop the autodiff graph: metrics need values only.
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            terms: self
                .terms
                .into_iter()
                .map(|(n, t)| (n, t.without_autodiff()))
                .collect(),
            reconstruction: self.reconstruction.without_autodiff(),
            target: self.target.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for ReconstructionOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

/// A reconstruction and its target, for [`MseMetric`] and [`PsnrMetric`].
pub struct ReconstructionInput {
    /// # Shapes
    /// `[N, C, H, W]`
    pub reconstruction: Tensor<4>,
    /// # Shapes
    /// `[N, C, H, W]`
    pub target: Tensor<4>,
}

impl Adaptor<ReconstructionInput> for ReconstructionOutput {
    fn adapt(&self) -> ReconstructionInput {
        ReconstructionInput {
            reconstruction: self.reconstruction.clone(),
            target: self.target.clone(),
        }
    }
}

/// The named loss terms of a step, for [`LossTermMetric`].
pub struct LossTermsInput {
    /// `(name, value)` of each term.
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// Images in the batch.
    pub batch_size: usize,
}

impl Adaptor<LossTermsInput> for ReconstructionOutput {
    fn adapt(&self) -> LossTermsInput {
        LossTermsInput {
            terms: self.terms.clone(),
            batch_size: self.target.dims()[0],
        }
    }
}

/// One named term of a model's loss (`"kl"`, `"sparsity"`, ...), averaged over the epoch.
#[derive(Clone)]
pub struct LossTermMetric {
    term: &'static str,
    name: MetricName,
    state: NumericMetricState,
}

impl LossTermMetric {
    /// The metric of the term called `term`.
    pub fn new(term: &'static str) -> Self {
        Self {
            term,
            name: Arc::new(term.to_string()),
            state: NumericMetricState::default(),
        }
    }
}

impl Metric for LossTermMetric {
    type Input = LossTermsInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        input: &LossTermsInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        if let Some((_, value)) = input.terms.iter().find(|(n, _)| *n == self.term) {
            let value = value.clone().mean().try_into_scalar::<f64>()?;
            self.state.update(value, input.batch_size);
        }
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name.clone()).precision(4)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name.clone()).precision(4)))
    }

    fn clear(&mut self) {
        self.state.reset();
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }
}

impl Numeric for LossTermMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}

/// Mean squared error of each image (mean over its pixels).
///
/// # Shapes
/// - reconstruction, target: `[N, C, H, W]`
/// - output: `[N]`
pub fn per_image_mse(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let flat: Tensor<2> = (reconstruction - target).square().flatten(1, 3);
    flat.mean_dim(1).squeeze_dim(1)
}

/// Peak signal-to-noise ratio of each image in dB, for pixels in `[0, 1]`:
/// `10 log10(1 / MSE)`. The MSE is floored at 1e-10 (100 dB) so that a perfect reconstruction
/// gives a finite value.
///
/// # Shapes
/// - reconstruction, target: `[N, C, H, W]`
/// - output: `[N]`
pub fn per_image_psnr(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let mse = per_image_mse(reconstruction, target).clamp_min(1e-10);
    mse.log().mul_scalar(-10.0 / std::f64::consts::LN_10)
}

macro_rules! reconstruction_metric {
    ($(#[$doc:meta])* $name:ident, $label:literal, $unit:expr, $higher:expr, $per_image:path) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            name: MetricName,
            state: NumericMetricState,
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $name {
            /// The metric.
            pub fn new() -> Self {
                Self {
                    name: Arc::new($label.to_string()),
                    state: NumericMetricState::default(),
                }
            }

            fn format(&self) -> FormatOptions {
                let options = FormatOptions::new(self.name.clone()).precision(4);
                match $unit {
                    Some(unit) => options.unit(unit),
                    None => options,
                }
            }
        }

        impl Metric for $name {
            type Input = ReconstructionInput;

            fn name(&self) -> MetricName {
                self.name.clone()
            }

            fn update(
                &mut self,
                input: &ReconstructionInput,
                _metadata: &MetricMetadata,
            ) -> Result<SerializedEntry, TensorReadError> {
                let [n, ..] = input.target.dims();
                let value = $per_image(input.reconstruction.clone(), input.target.clone())
                    .mean()
                    .try_into_scalar::<f64>()?;
                self.state.update(value, n);
                Ok(self.state.compute_update(self.format()))
            }

            fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
                Ok(self.state.compute_final(self.format()))
            }

            fn clear(&mut self) {
                self.state.reset();
            }

            fn attributes(&self) -> MetricAttributes {
                NumericAttributes {
                    unit: $unit.map(str::to_string),
                    higher_is_better: $higher,
                }
                .into()
            }
        }

        impl Numeric for $name {
            fn value(&self) -> Option<NumericEntry> {
                Some(self.state.current_value())
            }

            fn running_value(&self) -> Option<NumericEntry> {
                Some(self.state.running_value())
            }

            fn final_value(&self) -> NumericEntry {
                self.state.final_value()
            }
        }
    };
}

reconstruction_metric!(
    /// Reconstruction mean squared error per pixel (pixels in `[0, 1]`), averaged over images.
    MseMetric,
    "MSE",
    None::<&str>,
    false,
    per_image_mse
);

reconstruction_metric!(
    /// Peak signal-to-noise ratio in dB (pixels in `[0, 1]`), averaged over images.
    PsnrMetric,
    "PSNR",
    Some("dB"),
    true,
    per_image_psnr
);

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData, Tolerance};

    #[test]
    fn psnr_and_mse_by_hand() {
        let device = Device::flex();
        // Image 0: error 0.1 on every pixel -> MSE 0.01 -> 20 dB.
        // Image 1: error 0.5 on one pixel of four -> MSE 0.0625 -> 12.04 dB.
        let target = Tensor::<4>::zeros([2, 1, 2, 2], &device);
        let recon = Tensor::<4>::from_data(
            TensorData::new(
                vec![0.1f32, 0.1, 0.1, 0.1, 0.5, 0.0, 0.0, 0.0],
                [2, 1, 2, 2],
            ),
            &device,
        );
        per_image_mse(recon.clone(), target.clone())
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.01, 0.0625]), Tolerance::default());
        let expected = [20.0, -10.0 * 0.0625f32.log10()];
        per_image_psnr(recon, target.clone())
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from(expected), Tolerance::default());
        let perfect = per_image_psnr(target.clone(), target)
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert!(
            perfect.iter().all(|&v| (v - 100.0).abs() < 1e-3),
            "{perfect:?}"
        );
    }

    #[test]
    fn metrics_average_over_images_weighted_by_batch() {
        let device = Device::flex();
        let mut metric = MseMetric::new();
        let meta = MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(0),
            lr: None,
        };
        let batch = |n: usize, v: f32| ReconstructionInput {
            reconstruction: Tensor::full([n, 1, 1, 2], v, &device),
            target: Tensor::zeros([n, 1, 1, 2], &device),
        };
        metric.update(&batch(1, 1.0), &meta).unwrap(); // MSE 1 for one image
        metric.update(&batch(3, 0.0), &meta).unwrap(); // MSE 0 for three images
        metric.compute().unwrap();
        match metric.final_value() {
            NumericEntry::Final(v) => assert!((v - 0.25).abs() < 1e-9, "{v}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
