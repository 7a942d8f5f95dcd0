//! Input corruption for denoising autoencoders, applied explicitly (Burn's `Dropout` and
//! `GaussianNoise` layers are inactive outside training, but a denoising model is also evaluated
//! on corrupted inputs).

use burn::config::Config;
use burn::tensor::{Bool, Distribution, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{ModelError, Result};

/// How inputs in `[0, 1]` are corrupted.
///
/// [`apply`](Self::apply) draws from the device's generator (fast; used in training).
/// [`apply_seeded`](Self::apply_seeded) draws on the host from its own seed: the same noise on
/// every backend and whatever else the process draws concurrently (used for evaluation).
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

impl Corruption {
    /// Like [`apply`](Self::apply), with noise drawn on the host from `seed` alone.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, C, H, W]`
    pub fn apply_seeded(&self, images: Tensor<4>, seed: u64) -> Tensor<4> {
        let dims = images.dims();
        let device = images.device();
        let n: usize = dims.iter().product();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut uniform = || rng.random::<f64>();
        let floats = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, dims), &device);
        let bools = |v: Vec<bool>| Tensor::<4, Bool>::from_data(TensorData::new(v, dims), &device);
        match *self {
            Self::Gaussian { std, clip } => {
                // Box–Muller: two uniforms give a standard normal.
                let noise: Vec<f32> = (0..n)
                    .map(|_| {
                        let (u1, u2) = (uniform().max(f64::MIN_POSITIVE), uniform());
                        (std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                    })
                    .collect();
                let noisy = images + floats(noise);
                if clip { noisy.clamp(0.0, 1.0) } else { noisy }
            }
            Self::Masking { fraction } => {
                let hidden: Vec<bool> = (0..n).map(|_| uniform() < fraction).collect();
                images.mask_fill(bools(hidden), 0.0)
            }
            Self::SaltAndPepper { fraction } => {
                let (hit, salt): (Vec<bool>, Vec<f32>) = (0..n)
                    .map(|_| {
                        (
                            uniform() < fraction,
                            if uniform() < 0.5 { 0.0 } else { 1.0 },
                        )
                    })
                    .unzip();
                images.mask_where(bools(hit), floats(salt))
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
            let a = c.apply_seeded(x.clone(), 11);
            let b = c.apply_seeded(x.clone(), 11);
            a.clone().into_data().assert_eq(&b.into_data(), true);
            let other = c.apply_seeded(x.clone(), 12).into_data();
            assert_ne!(
                a.clone().into_data(),
                other,
                "{c:?}: another seed, other noise"
            );
            // The clean input is unchanged.
            let clean = x.clone().into_data().try_to_vec_as::<f32>().unwrap();
            assert!(clean.iter().all(|&v| v == 0.5));
            let values = a.into_data().try_to_vec_as::<f32>().unwrap();
            assert!(values.iter().all(|&v| (0.0..=1.0).contains(&v)), "{c:?}");
            // The device-generator path corrupts too, within range.
            let values = c.apply(x).into_data().try_to_vec_as::<f32>().unwrap();
            assert!(values.iter().all(|&v| (0.0..=1.0).contains(&v)), "{c:?}");
            assert!(values.iter().any(|&v| v != 0.5), "{c:?}");
        }
    }

    #[test]
    fn fractions_are_about_right() {
        let device = Device::flex();
        let x = Tensor::full([64, 1, 32, 32], 0.5, &device);
        let n = 64.0 * 32.0 * 32.0;
        let seeded = Corruption::Masking { fraction: 0.25 }.apply_seeded(x.clone(), 5);
        let zeros = seeded.equal_elem(0.0).int().sum().into_scalar::<i64>() as f64 / n;
        assert!((zeros - 0.25).abs() < 0.01, "{zeros}");
        let g = Corruption::Gaussian {
            std: 0.1,
            clip: false,
        }
        .apply_seeded(x.clone(), 6);
        let std = (g - x.clone()).square().mean().into_scalar::<f64>().sqrt();
        assert!((std - 0.1).abs() < 0.005, "{std}");
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
