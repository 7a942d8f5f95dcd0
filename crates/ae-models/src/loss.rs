//! Reconstruction losses, as mean per element or per sample.

use burn::config::Config;
use burn::tensor::Tensor;
use burn::tensor::activation::{log_sigmoid, sigmoid};

use crate::error::{ModelError, Result};

/// What the decoder's last layer is followed by.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum OutputActivation {
    /// Sigmoid: reconstructions in `(0, 1)`, like pixel intensities. Required by BCE.
    Sigmoid,
    /// None: unbounded reconstructions (for standardised, not `[0, 1]`, data).
    Identity,
}

impl OutputActivation {
    /// Turns decoder logits into reconstructions.
    pub fn apply<const D: usize>(self, logits: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Sigmoid => sigmoid(logits),
            Self::Identity => logits,
        }
    }
}

/// How a reconstruction is scored against its target.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ReconstructionLoss {
    /// Mean squared error between the reconstruction and the target.
    Mse,
    /// Binary cross-entropy of the target intensities (in `[0, 1]`) under the decoder's logits,
    /// computed from the logits for numerical safety. Requires a sigmoid output.
    Bce,
}

/// Mean squared error per sample: the mean over every axis but the first.
///
/// # Shapes
/// - reconstruction, target: `[N, ...]` flattened to `[N, D]`
/// - output: `[N]`
pub fn mse_per_sample(reconstruction: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    (reconstruction - target)
        .square()
        .mean_dim(1)
        .squeeze_dim(1)
}

/// Element-wise binary cross-entropy with logits: `-(t log σ(x) + (1 - t) log(1 - σ(x)))`.
///
/// Written as `x (1 - t) - log σ(x)`, which needs one `log_sigmoid` and never takes the log of
/// a rounded-off probability. Burn's `BinaryCrossEntropyLoss` takes integer targets only, while
/// image intensities are fractional.
///
/// # Shapes
/// - logits, target: `[N, D]`
/// - output: `[N, D]`
pub fn bce_with_logits(logits: Tensor<2>, target: Tensor<2>) -> Tensor<2> {
    let one_minus_t = target.neg().add_scalar(1.0);
    logits.clone() * one_minus_t - log_sigmoid(logits)
}

impl ReconstructionLoss {
    /// Checks that the loss fits the output: BCE models intensities in `[0, 1]` and needs a
    /// sigmoid output.
    pub fn check_output(self, output: OutputActivation) -> Result<()> {
        if self == Self::Bce && output != OutputActivation::Sigmoid {
            return Err(ModelError::InvalidConfig {
                field: "loss",
                message: "is Bce, which models intensities in [0, 1]: use output_activation \
                          Sigmoid, or loss Mse"
                    .into(),
            });
        }
        Ok(())
    }

    /// The loss averaged over every element of the batch (Keras' `mse` and
    /// `binary_crossentropy`).
    ///
    /// `logits` are the decoder's pre-activation outputs, `reconstruction` the activated ones.
    ///
    /// # Shapes
    /// - logits, reconstruction, target: `[N, D]`
    /// - output: `[1]`
    pub fn mean(
        &self,
        logits: Tensor<2>,
        reconstruction: Tensor<2>,
        target: Tensor<2>,
    ) -> Tensor<1> {
        match self {
            Self::Mse => (reconstruction - target).square().mean(),
            Self::Bce => bce_with_logits(logits, target).mean(),
        }
    }

    /// The loss summed over the elements of each sample, then averaged over the batch (the
    /// per-image scale of variational models, in nats for BCE).
    ///
    /// # Shapes
    /// - logits, reconstruction, target: `[N, D]`
    /// - output: `[1]`
    pub fn sum_per_sample_mean(
        &self,
        logits: Tensor<2>,
        reconstruction: Tensor<2>,
        target: Tensor<2>,
    ) -> Tensor<1> {
        let [n, _] = target.dims();
        let total = match self {
            Self::Mse => (reconstruction - target).square().sum(),
            Self::Bce => bce_with_logits(logits, target).sum(),
        };
        total.div_scalar(n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData, Tolerance};

    fn t(values: [[f32; 2]; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::from(values), device)
    }

    #[test]
    fn mse_by_hand() {
        let device = Device::flex();
        let r = t([[0.0, 1.0], [0.5, 0.5]], &device);
        let y = t([[0.0, 0.0], [1.0, 0.0]], &device);
        // Per sample: (0 + 1) / 2 = 0.5 and (0.25 + 0.25) / 2 = 0.25.
        mse_per_sample(r.clone(), y.clone())
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.5, 0.25]), Tolerance::default());
        let mean = ReconstructionLoss::Mse.mean(r.clone(), r.clone(), y.clone());
        mean.into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.375]), Tolerance::default());
        let per_image = ReconstructionLoss::Mse.sum_per_sample_mean(r.clone(), r, y);
        per_image
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.75]), Tolerance::default());
    }

    #[test]
    fn bce_with_logits_by_hand() {
        let device = Device::flex();
        // x = 0: σ = 0.5, loss = ln 2 whatever the target. x = ln 3: σ = 0.75;
        // t = 1 gives -ln 0.75, t = 0.5 gives -(0.5 ln 0.75 + 0.5 ln 0.25).
        let ln3 = 3f32.ln();
        let x = t([[0.0, 0.0], [ln3, ln3]], &device);
        let y = t([[1.0, 0.3], [1.0, 0.5]], &device);
        let expected = [
            [2f32.ln(), 2f32.ln()],
            [-(0.75f32.ln()), -(0.5 * 0.75f32.ln() + 0.5 * 0.25f32.ln())],
        ];
        bce_with_logits(x, y)
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from(expected), Tolerance::default());
    }

    #[test]
    fn bce_is_finite_for_extreme_logits() {
        let device = Device::flex();
        let x = t([[100.0, -100.0], [100.0, -100.0]], &device);
        let y = t([[1.0, 0.0], [0.0, 1.0]], &device);
        let values = bce_with_logits(x, y)
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
        assert!(values[0] < 1e-6 && values[1] < 1e-6);
        assert!((values[2] - 100.0).abs() < 1e-3 && (values[3] - 100.0).abs() < 1e-3);
    }
}
