//! Filling in missing pixels with an autoencoder: hide part of each image, reconstruct, keep the
//! observed pixels and take the hidden ones from the reconstruction — once, or iterating so that
//! each pass sees the previous pass's guesses.

use burn::tensor::{Bool, Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use ae_data::ImageShape;
use ae_models::Autoencoder;

use crate::error::{Result, TrainError};

/// Which pixels are hidden.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MaskKind {
    /// Each pixel (all channels) hidden independently with this probability.
    RandomPixels {
        /// Probability of hiding a pixel.
        fraction: f64,
    },
    /// A `size x size` square at a random place in each image.
    Block {
        /// Side of the square.
        size: usize,
    },
}

/// Seeded masks for `count` images: `true` marks a hidden value, laid out `[N, C, H, W]`.
pub fn make_masks(count: usize, shape: ImageShape, kind: MaskKind, seed: u64) -> Result<Vec<bool>> {
    let (c, h, w) = (shape.channels, shape.height, shape.width);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut masks = vec![false; count * shape.numel()];
    for image in masks.chunks_exact_mut(shape.numel()) {
        let mut hidden = vec![false; h * w];
        match kind {
            MaskKind::RandomPixels { fraction } => {
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(TrainError::InvalidArgument {
                        what: "mask fraction",
                        message: format!("{fraction} is not in [0, 1]"),
                    });
                }
                hidden
                    .iter_mut()
                    .for_each(|m| *m = rng.random_bool(fraction));
            }
            MaskKind::Block { size } => {
                if size == 0 || size > h || size > w {
                    return Err(TrainError::InvalidArgument {
                        what: "mask block",
                        message: format!("a {size}x{size} block does not fit {h}x{w} images"),
                    });
                }
                let (top, left) = (
                    rng.random_range(0..=h - size),
                    rng.random_range(0..=w - size),
                );
                for y in top..top + size {
                    hidden[y * w + left..y * w + left + size].fill(true);
                }
            }
        }
        for channel in image.chunks_exact_mut(h * w) {
            channel.copy_from_slice(&hidden);
        }
        debug_assert_eq!(image.len(), c * h * w);
    }
    Ok(masks)
}

/// Fills the hidden values of `images` with `fill` (e.g. the mean image) and then, `iterations`
/// times, replaces them with the model's reconstruction of the current guess; observed values are
/// never changed. `iterations = 0` returns the initial fill.
///
/// # Shapes
/// - images, hidden, fill: `[N, C, H, W]`
/// - output: `[N, C, H, W]`
pub fn impute<M: Autoencoder + ?Sized>(
    model: &M,
    images: Tensor<4>,
    hidden: Tensor<4, Bool>,
    fill: Tensor<4>,
    iterations: usize,
) -> Tensor<4> {
    let mut guess = images.clone().mask_where(hidden.clone(), fill);
    for _ in 0..iterations {
        let reconstruction = model.reconstruct(guess);
        guess = images.clone().mask_where(hidden.clone(), reconstruction);
    }
    guess
}

/// A mask as a device tensor.
pub fn mask_tensor(mask: &[bool], dims: [usize; 4], device: &Device) -> Tensor<4, Bool> {
    Tensor::from_data(TensorData::new(mask.to_vec(), dims), device)
}

/// The mean squared error over the hidden values only.
pub fn hidden_mse(imputed: &[f32], truth: &[f32], hidden: &[bool]) -> f64 {
    let (sum, n) = imputed
        .iter()
        .zip(truth)
        .zip(hidden)
        .filter(|(_, h)| **h)
        .fold((0.0, 0usize), |(s, n), ((a, b), _)| {
            let d = f64::from(a - b);
            (s + d * d, n + 1)
        });
    sum / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_seeded_and_shaped() {
        let shape = ImageShape::new(2, 6, 5);
        let a = make_masks(3, shape, MaskKind::Block { size: 3 }, 1).unwrap();
        assert_eq!(
            a,
            make_masks(3, shape, MaskKind::Block { size: 3 }, 1).unwrap()
        );
        // Each image: a 3x3 block in both channels.
        for image in a.chunks(shape.numel()) {
            assert_eq!(image.iter().filter(|&&m| m).count(), 2 * 9);
            assert_eq!(image[..30], image[30..]);
        }
        let r = make_masks(
            200,
            ImageShape::new(1, 10, 10),
            MaskKind::RandomPixels { fraction: 0.3 },
            2,
        )
        .unwrap();
        let frac = r.iter().filter(|&&m| m).count() as f64 / r.len() as f64;
        assert!((frac - 0.3).abs() < 0.01, "{frac}");
        assert!(make_masks(1, shape, MaskKind::Block { size: 7 }, 0).is_err());
    }

    #[test]
    fn hidden_mse_by_hand() {
        let hidden = [true, false, true];
        assert_eq!(
            hidden_mse(&[1.0, 9.0, 0.0], &[0.0, 0.0, 0.5], &hidden),
            (1.0 + 0.25) / 2.0
        );
    }
}
