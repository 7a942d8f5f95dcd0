//! Input corruption for denoising autoencoders, applied explicitly (Burn's `Dropout` and
//! `GaussianNoise` layers are inactive outside training, but a denoising model is also evaluated
//! on corrupted inputs).

use burn::config::Config;
use burn::tensor::{Distribution, Tensor};

use crate::error::{ModelError, Result};

/// How inputs in `[0, 1]` are corrupted. Random draws use the device's generator, so
/// `device.seed(s)` before corrupting makes the corruption reproducible.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum Corruption {
    /// Adds `N(0, std²)` noise to every value, then clips to `[0, 1]` when `clip`.
    Gaussian {
        /// The noise's standard deviation.
        std: f64,
        /// Clip the result to `[0, 1]`.
        clip: bool,
    },
    /// Sets a random `fraction` of the values to 0 (masking noise of Vincent et al., 2008).
    Masking {
        /// The fraction of values dropped, in `[0, 1]`.
        fraction: f64,
    },
    /// Sets a random `fraction` of the values to 0 or 1, with equal chance.
    SaltAndPepper {
        /// The fraction of values replaced, in `[0, 1]`.
        fraction: f64,
    },
}

impl Corruption {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let (field, value, max) = match *self {
            Self::Gaussian { std, .. } => ("corruption.std", std, f64::INFINITY),
            Self::Masking { fraction } | Self::SaltAndPepper { fraction } => {
                ("corruption.fraction", fraction, 1.0)
            }
        };
        if value.is_nan() || value < 0.0 || value > max {
            return Err(ModelError::InvalidConfig {
                field,
                message: format!("{value} is out of range [0, {max}]"),
            });
        }
        Ok(())
    }

    /// Returns a corrupted copy of `images`; `images` itself is not changed.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, C, H, W]`
    pub fn apply(&self, images: Tensor<4>) -> Tensor<4> {
        let shape = images.shape();
        let device = images.device();
        match *self {
            Self::Gaussian { std, clip } => {
                let noisy = images + Tensor::random(shape, Distribution::Normal(0.0, std), &device);
                if clip { noisy.clamp(0.0, 1.0) } else { noisy }
            }
            Self::Masking { fraction } => {
                let keep = Tensor::<4>::random(shape, Distribution::Uniform(0.0, 1.0), &device)
                    .greater_equal_elem(fraction);
                images.mask_fill(keep.bool_not(), 0.0)
            }
            Self::SaltAndPepper { fraction } => {
                let u =
                    Tensor::<4>::random(shape.clone(), Distribution::Uniform(0.0, 1.0), &device);
                let hit = u.lower_elem(fraction);
                let salt = Tensor::<4>::random(shape, Distribution::Uniform(0.0, 1.0), &device)
                    .greater_equal_elem(0.5)
                    .float();
                images.mask_where(hit, salt)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn images(device: &Device) -> Tensor<4> {
        Tensor::full([4, 1, 16, 16], 0.5, device)
    }

    #[test]
    fn corruption_is_reproducible_from_a_seed_and_leaves_the_input_alone() {
        let device = Device::flex();
        for c in [
            Corruption::Gaussian {
                std: 0.5,
                clip: true,
            },
            Corruption::Masking { fraction: 0.3 },
            Corruption::SaltAndPepper { fraction: 0.2 },
        ] {
            let x = images(&device);
            device.seed(11);
            let a = c.apply(x.clone());
            device.seed(11);
            let b = c.apply(x.clone());
            a.clone().into_data().assert_eq(&b.into_data(), true);
            device.seed(12);
            let other = c.apply(x.clone()).into_data();
            assert_ne!(
                a.clone().into_data(),
                other,
                "{c:?}: another seed, other noise"
            );
            // The clean input is unchanged.
            let clean = x.into_data().try_to_vec_as::<f32>().unwrap();
            assert!(clean.iter().all(|&v| v == 0.5));
            let values = a.into_data().try_to_vec_as::<f32>().unwrap();
            assert!(values.iter().all(|&v| (0.0..=1.0).contains(&v)), "{c:?}");
        }
    }

    #[test]
    fn fractions_are_about_right() {
        let device = Device::flex();
        device.seed(3);
        let x = Tensor::full([64, 1, 32, 32], 0.5, &device);
        let n = 64.0 * 32.0 * 32.0;
        let masked = Corruption::Masking { fraction: 0.25 }.apply(x.clone());
        let zeros = masked.equal_elem(0.0).int().sum().into_scalar::<i64>() as f64 / n;
        assert!((zeros - 0.25).abs() < 0.01, "{zeros}");
        let sp = Corruption::SaltAndPepper { fraction: 0.1 }.apply(x.clone());
        let changed = sp.not_equal_elem(0.5).int().sum().into_scalar::<i64>() as f64 / n;
        assert!((changed - 0.1).abs() < 0.01, "{changed}");
        let g = Corruption::Gaussian {
            std: 0.1,
            clip: false,
        }
        .apply(x.clone());
        let std = (g - x).square().mean().into_scalar::<f64>().sqrt();
        assert!((std - 0.1).abs() < 0.005, "{std}");
        assert!(Corruption::Masking { fraction: 1.5 }.validate().is_err());
    }
}
