//! Principal component analysis, the linear baseline every autoencoder is compared with: an
//! autoencoder with a linear encoder and decoder trained with MSE spans the same subspace.
//!
//! Fitted from the covariance matrix with Burn's SVD (`burn::linalg::svd`): for a symmetric
//! positive semi-definite matrix the left singular vectors are the eigenvectors and the singular
//! values the eigenvalues (the variances along the components).

use burn::tensor::{Device, Tensor, TensorData};

use ae_data::ImageDataset;
use ae_models::ops::matmul;

use crate::error::{Result, TrainError};

/// QR sweeps allowed per singular value; covariance matrices converge in far fewer.
const SVD_SWEEPS: usize = 64;

/// A fitted PCA: the data mean and the top principal directions.
#[derive(Debug, Clone)]
pub struct Pca {
    /// The mean of the training data.
    ///
    /// # Shapes
    /// `[1, D]`
    pub mean: Tensor<2>,
    /// The principal directions as rows, by decreasing variance.
    ///
    /// # Shapes
    /// `[k, D]`
    pub components: Tensor<2>,
    /// The variance of the data along each component.
    pub explained_variance: Vec<f64>,
    /// The total variance of the data (the sum over all directions).
    pub total_variance: f64,
}

impl Pca {
    /// Fits `k` components to the rows of `data`.
    ///
    /// # Shapes
    /// - data: `[N, D]`
    ///
    /// # Errors
    /// When `k` is 0 or more than `D`, or there are fewer than two rows.
    pub fn fit(data: Tensor<2>, k: usize) -> Result<Self> {
        let [n, d] = data.dims();
        if k == 0 || k > d || n < 2 {
            return Err(TrainError::InvalidArgument {
                what: "PCA",
                message: format!("{k} components of {n} samples of dimension {d}"),
            });
        }
        let mean = data.clone().mean_dim(0);
        let centered = data - mean.clone();
        let covariance = matmul(centered.clone().transpose(), centered).div_scalar((n - 1) as f64);
        // Burn's SVD panics on some degenerate inputs (NaN or infinite values): they are an
        // error here, and so is any panic left.
        let non_finite =
            covariance.clone().is_nan().int().sum() + covariance.clone().is_inf().int().sum();
        let non_finite = crate::eval::int_values(non_finite)?
            .first()
            .copied()
            .unwrap_or(0);
        if non_finite > 0 {
            return Err(TrainError::InvalidArgument {
                what: "PCA",
                message: format!(
                    "the data's covariance has {non_finite} NaN or infinite entries: the data \
                     holds NaN, infinite or overflowing values"
                ),
            });
        }
        // Burn's SVD also panics when its QR iteration does not converge, as on images whose
        // pixels are mostly constant (a covariance of low rank); a small ridge on the diagonal
        // (1e-6 of the mean variance: far below anything PCA reports) lets it converge.
        let ridge = |covariance: Tensor<2>| {
            let eye = Tensor::<2>::eye(d, &covariance.device());
            let trace = (covariance.clone() * eye.clone())
                .sum()
                .into_scalar::<f32>();
            let mean_variance = (trace / d as f32).max(f32::MIN_POSITIVE);
            covariance + eye.mul_scalar(1e-6 * mean_variance)
        };
        let (u, s, _vt) = quiet_svd(covariance.clone())
            .or_else(|| quiet_svd(ridge(covariance)))
            .ok_or_else(|| {
                TrainError::Training(
                    "PCA: Burn's SVD did not converge on this data's covariance, even with a \
                     small ridge: the data may be (nearly) constant"
                        .into(),
                )
            })?;
        let variances = s
            .into_data()
            .try_to_vec_as::<f64>()
            .map_err(|e| TrainError::Training(format!("reading PCA variances: {e:?}")))?;
        let components = u.slice([0..d, 0..k]).transpose();
        Ok(Self {
            mean,
            components,
            explained_variance: variances[..k].to_vec(),
            total_variance: variances.iter().sum(),
        })
    }

    /// Fits `k` components to a dataset's images (pixels in `[0, 1]`, flattened).
    pub fn fit_dataset(data: &ImageDataset, k: usize, device: &Device) -> Result<Self> {
        Self::fit(flat_images(data, device), k)
    }

    /// The codes (coordinates along the components) of `x`.
    ///
    /// # Shapes
    /// - x: `[N, D]`
    /// - output: `[N, k]`
    pub fn transform(&self, x: Tensor<2>) -> Tensor<2> {
        matmul(x - self.mean.clone(), self.components.clone().transpose())
    }

    /// Back from codes to data space.
    ///
    /// # Shapes
    /// - codes: `[N, k]`
    /// - output: `[N, D]`
    pub fn inverse_transform(&self, codes: Tensor<2>) -> Tensor<2> {
        matmul(codes, self.components.clone()) + self.mean.clone()
    }

    /// The mean squared reconstruction error (per value) of `x`.
    ///
    /// # Shapes
    /// - x: `[N, D]`
    pub fn reconstruction_mse(&self, x: Tensor<2>) -> f64 {
        let reconstruction = self.inverse_transform(self.transform(x.clone()));
        (reconstruction - x).square().mean().into_scalar::<f64>()
    }

    /// The fraction of the total variance the components keep.
    pub fn explained_variance_ratio(&self) -> f64 {
        self.explained_variance.iter().sum::<f64>() / self.total_variance.max(f64::MIN_POSITIVE)
    }
}

/// A dataset's images as rows of `[0, 1]` values.
///
/// # Shapes
/// - output: `[N, C * H * W]`
pub fn flat_images(data: &ImageDataset, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = data
        .pixels()
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    Tensor::from_data(
        TensorData::new(values, [data.count(), data.shape().numel()]),
        device,
    )
}

/// Burn's SVD of `covariance`, or `None` where it panics, without the panic's message and
/// backtrace on the terminal (the caller reports the failure as an error).
fn quiet_svd(covariance: Tensor<2>) -> Option<(Tensor<2>, Tensor<1>, Tensor<2>)> {
    crate::quiet::catch_quietly(|| burn::linalg::svd::<2, 1>(covariance, SVD_SWEEPS)).ok()
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    #[test]
    fn finds_a_known_principal_axis() {
        let device = Device::flex();
        // Points spread along (1, 1) (±3) with a little spread along (1, -1) (±0.1), offset by
        // (5, -2).
        // Every point appears at +0.1 and at -0.1, so the two spreads are uncorrelated.
        let mut rows = Vec::new();
        for i in 0..25 {
            let a = -3.0 + 6.0 * i as f32 / 24.0;
            for b in [0.1, -0.1] {
                let r = std::f32::consts::FRAC_1_SQRT_2;
                rows.extend([5.0 + (a + b) * r, -2.0 + (a - b) * r]);
            }
        }
        let x = Tensor::<2>::from_data(TensorData::new(rows, [50, 2]), &device);
        let pca = Pca::fit(x.clone(), 1).unwrap();
        let c = pca
            .components
            .clone()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert!(
            (c[0].abs() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3
                && (c[1].abs() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3,
            "{c:?}"
        );
        assert!(c[0] * c[1] > 0.0, "same sign: the (1, 1) direction, {c:?}");
        let mean = pca.mean.clone().into_data().try_to_vec_as::<f32>().unwrap();
        assert!((mean[0] - 5.0).abs() < 1e-4 && (mean[1] + 2.0).abs() < 1e-4);
        // The residual is the spread along (1, -1): 0.1² per point over 2 values.
        assert!((pca.reconstruction_mse(x.clone()) - 0.005).abs() < 1e-4);
        assert!(pca.explained_variance_ratio() > 0.99);
        // All components reconstruct exactly.
        let full = Pca::fit(x.clone(), 2).unwrap();
        assert!(full.reconstruction_mse(x) < 1e-8);
        assert!(full.explained_variance[0] > full.explained_variance[1]);
    }

    #[test]
    fn bad_sizes_are_errors() {
        let device = Device::flex();
        let x = Tensor::<2>::zeros([5, 3], &device);
        assert!(Pca::fit(x.clone(), 0).is_err());
        assert!(Pca::fit(x, 4).is_err());
    }

    /// Degenerate data: constant (a zero covariance) fits, with zero variances; NaN or infinite
    /// values are an error naming the problem, not a panic inside Burn's SVD.
    #[test]
    fn degenerate_data_fits_or_is_an_error() {
        let device = Device::flex();
        let constant = Tensor::<2>::ones([6, 3], &device);
        let pca = Pca::fit(constant, 2).unwrap();
        assert!(pca.explained_variance.iter().all(|v| v.abs() < 1e-12));
        for bad in [f32::NAN, f32::INFINITY] {
            let mut values = vec![1.0f32; 18];
            values[4] = bad;
            let x = Tensor::<2>::from_data(TensorData::new(values, [6, 3]), &device);
            match Pca::fit(x, 2) {
                Err(err) => assert!(err.to_string().contains("NaN or infinite"), "{err}"),
                Ok(_) => panic!("non-finite data was fitted"),
            }
        }
    }

    /// Rows that are multiples of one image (a covariance of rank one, over 784 dimensions) are
    /// fitted, whether or not Burn's SVD needs the ridge, and nothing panics.
    #[test]
    fn data_of_rank_one_is_fitted() {
        let device = Device::flex();
        let image: Vec<f32> = (0..784).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        let values: Vec<f32> = (0..300)
            .flat_map(|row| image.iter().map(move |v| v * (row % 17) as f32 / 16.0))
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(values, [300, 784]), &device);
        let pca = Pca::fit(x, 2).expect("a rank-one covariance is fitted");
        assert!(pca.explained_variance[0] > 0.0);
        assert!(pca.explained_variance[1] < 1e-3 * pca.explained_variance[0]);
    }
}
