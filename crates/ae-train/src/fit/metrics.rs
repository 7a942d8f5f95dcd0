//! What a training or validation step hands to burn-train's metrics, and the reconstruction
//! metrics (MSE and PSNR) that Burn does not ship without its network-using `vision` feature.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use ae_models::{per_image_mse, per_image_psnr};

/// A reconstruction and its target, for [`MseMetric`] and [`PsnrMetric`].
pub struct ReconstructionInput {
    /// # Shapes
    /// `[N, C, H, W]`
    pub reconstruction: Tensor<4>,
    /// # Shapes
    /// `[N, C, H, W]`
    pub target: Tensor<4>,
}

/// The named loss terms of a step, for [`LossTermMetric`].
pub struct LossTermsInput {
    /// `(name, value)` of each term.
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// Images in the batch.
    pub batch_size: usize,
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

/// Predictions, targets and the mask of observed targets, for [`RmseMetric`].
pub struct MaskedInput {
    /// # Shapes
    /// `[N, M]`
    pub predictions: Tensor<2>,
    /// # Shapes
    /// `[N, M]`
    pub target: Tensor<2>,
    /// # Shapes
    /// `[N, M]`
    pub mask: Tensor<2>,
}

/// Root mean squared error over the observed entries of an epoch (every rating weighs the same,
/// whatever batch it falls in).
#[derive(Clone)]
pub struct RmseMetric {
    name: MetricName,
    squared: f64,
    count: usize,
    batch: (f64, usize),
}

impl Default for RmseMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl RmseMetric {
    /// A metric named "RMSE".
    pub fn new() -> Self {
        Self {
            name: Arc::new("RMSE".to_string()),
            squared: 0.0,
            count: 0,
            batch: (f64::NAN, 0),
        }
    }

    fn epoch_value(&self) -> f64 {
        (self.squared / self.count.max(1) as f64).sqrt()
    }

    fn entry(&self, final_entry: bool) -> SerializedEntry {
        let epoch = self.epoch_value();
        let formatted = format!("epoch {epoch:.4} - batch {:.4}", self.batch.0);
        let serialized = if final_entry {
            NumericEntry::Final(epoch).serialize()
        } else {
            NumericEntry::Aggregated {
                aggregated_value: self.batch.0,
                count: self.batch.1,
            }
            .serialize()
        };
        SerializedEntry::new(formatted, serialized)
    }
}

impl Metric for RmseMetric {
    type Input = MaskedInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        input: &MaskedInput,
        _metadata: &MetricMetadata,
    ) -> std::result::Result<SerializedEntry, TensorReadError> {
        let diff = (input.predictions.clone() - input.target.clone()) * input.mask.clone();
        let squared = diff.square().sum().try_into_scalar::<f64>()?;
        let count = input.mask.clone().sum().try_into_scalar::<f64>()?.round() as usize;
        self.squared += squared;
        self.count += count;
        self.batch = ((squared / count.max(1) as f64).sqrt(), count);
        Ok(self.entry(false))
    }

    fn compute(&mut self) -> std::result::Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(true))
    }

    fn clear(&mut self) {
        *self = Self::new();
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }
}

impl Numeric for RmseMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.batch.0,
            count: self.batch.1,
        })
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.epoch_value(),
            count: self.count,
        })
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.epoch_value())
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::Device;

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
    #[test]
    fn rmse_metric_weighs_every_rating_equally() {
        let device = Device::flex();
        let m = |v: [f32; 4]| Tensor::<1>::from_floats(v, &device).reshape([2, 2]);
        let mut metric = RmseMetric::new();
        // Batch 1: one observed error of 2. Batch 2: three observed errors of 0.
        let first = MaskedInput {
            predictions: m([3.0, 9.0, 0.0, 0.0]),
            target: m([1.0, 0.0, 0.0, 0.0]),
            mask: m([1.0, 0.0, 0.0, 0.0]),
        };
        let second = MaskedInput {
            predictions: m([2.0, 2.0, 2.0, 5.0]),
            target: m([2.0, 2.0, 2.0, 0.0]),
            mask: m([1.0, 1.0, 1.0, 0.0]),
        };
        let meta = MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(0),
            lr: None,
        };
        metric.update(&first, &meta).unwrap();
        metric.update(&second, &meta).unwrap();
        // sqrt(4 / 4) = 1 (a mean of batch RMSEs would give 1.0 too, but not of 2 and 0 with
        // weights 1 and 3: that is 0.5).
        assert!((metric.final_value().current() - 1.0).abs() < 1e-12);
    }
}
