//! Reconstruction losses, as mean per element or per sample.

use burn::config::Config;
use burn::tensor::Tensor;

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
            Self::Sigmoid => crate::ops::sigmoid(logits),
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

/// Mean squared error of each image (mean over its values).
///
/// # Shapes
/// - reconstruction, target: `[N, C, H, W]`
/// - output: `[N]`
pub fn per_image_mse(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let flat: Tensor<2> = crate::ops::squared_difference(reconstruction, target).flatten(1, 3);
    flat.mean_dim(1).squeeze_dim(1)
}

/// Peak signal-to-noise ratio of each image in dB, for values in `[0, 1]`: `10 log10(1 / MSE)`.
/// The MSE is floored at 1e-10 (100 dB) so that a perfect reconstruction gives a finite value;
/// a non-finite MSE stays non-finite.
///
/// # Shapes
/// - reconstruction, target: `[N, C, H, W]`
/// - output: `[N]`
pub fn per_image_psnr(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    psnr_of_mse(per_image_mse(reconstruction, target))
}

/// PSNR in dB of each MSE of [`per_image_mse`], for values in `[0, 1]`: `10 log10(1 / MSE)`,
/// the MSE floored at 1e-10 as in [`per_image_psnr`].
///
/// # Shapes
/// - mse, output: `[N]`
pub fn psnr_of_mse(mse: Tensor<1>) -> Tensor<1> {
    mse.clamp_min(1e-10)
        .log()
        .mul_scalar(-10.0 / std::f64::consts::LN_10)
}

pub use crate::ops::bce_with_logits;

/// The mean of per-row values over the rows `mask` weights (`None`: over every row).
///
/// # Shapes
/// - per_row, mask: `[N]`
/// - output: `[1]`
pub fn masked_mean(per_row: Tensor<1>, mask: Option<&Tensor<1>>) -> Tensor<1> {
    match mask {
        None => per_row.mean(),
        // The mask is never all zeros: a padded batch holds at least one real row.
        Some(mask) => (per_row * mask.clone()).sum() / mask.clone().sum(),
    }
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

    /// The loss of each element.
    ///
    /// `logits` are the decoder's pre-activation outputs, `reconstruction` the activated ones.
    ///
    /// # Shapes
    /// - logits, reconstruction, target: `[N, D]`
    /// - output: `[N, D]`
    fn per_element(
        &self,
        logits: Tensor<2>,
        reconstruction: Tensor<2>,
        target: Tensor<2>,
    ) -> Tensor<2> {
        match self {
            Self::Mse => crate::ops::squared_difference(reconstruction, target),
            Self::Bce => bce_with_logits(logits, target),
        }
    }

    /// The loss averaged over every element of the rows `mask` weights (Keras' `mse` and
    /// `binary_crossentropy` when every row counts).
    ///
    /// `logits` are the decoder's pre-activation outputs, `reconstruction` the activated ones.
    ///
    /// # Shapes
    /// - logits, reconstruction, target: `[N, D]`
    /// - mask: `[N]`
    /// - output: `[1]`
    pub fn mean(
        &self,
        logits: Tensor<2>,
        reconstruction: Tensor<2>,
        target: Tensor<2>,
        mask: Option<&Tensor<1>>,
    ) -> Tensor<1> {
        let per_element = self.per_element(logits, reconstruction, target);
        match mask {
            None => per_element.mean(),
            Some(_) => masked_mean(per_element.mean_dim(1).squeeze_dim(1), mask),
        }
    }

    /// The loss summed over the elements of each sample, then averaged over the rows `mask`
    /// weights (the per-image scale of variational models, in nats for BCE).
    ///
    /// # Shapes
    /// - logits, reconstruction, target: `[N, D]`
    /// - mask: `[N]`
    /// - output: `[1]`
    pub fn sum_per_sample_mean(
        &self,
        logits: Tensor<2>,
        reconstruction: Tensor<2>,
        target: Tensor<2>,
        mask: Option<&Tensor<1>>,
    ) -> Tensor<1> {
        let [n, _] = target.dims();
        let per_element = self.per_element(logits, reconstruction, target);
        match mask {
            None => per_element.sum().div_scalar(n as f64),
            Some(_) => masked_mean(per_element.sum_dim(1).squeeze_dim(1), mask),
        }
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
        per_image_mse(
            r.clone().reshape([2, 1, 1, 2]),
            y.clone().reshape([2, 1, 1, 2]),
        )
        .into_data()
        .assert_approx_eq::<f32>(&TensorData::from([0.5, 0.25]), Tolerance::default());
        let mean = ReconstructionLoss::Mse.mean(r.clone(), r.clone(), y.clone(), None);
        mean.into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.375]), Tolerance::default());
        let per_image =
            ReconstructionLoss::Mse.sum_per_sample_mean(r.clone(), r.clone(), y.clone(), None);
        per_image
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.75]), Tolerance::default());
        // Masked to the first row, both losses are that row's: a mean of 0.5, a sum of 1.
        let first = Tensor::<1>::from_floats([1.0, 0.0], &device);
        ReconstructionLoss::Mse
            .mean(r.clone(), r.clone(), y.clone(), Some(&first))
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([0.5]), Tolerance::default());
        ReconstructionLoss::Mse
            .sum_per_sample_mean(r.clone(), r, y, Some(&first))
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([1.0]), Tolerance::default());
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
}
