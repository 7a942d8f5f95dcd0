//! Reading tensors back from the device, with the backend's failure as a typed error.

use burn::tensor::{Int, Tensor};

use crate::error::{Result, TrainError};

/// Reads a one-value tensor back as `f64`.
pub fn read_f64(tensor: Tensor<1>) -> Result<f64> {
    tensor
        .try_into_scalar::<f64>()
        .map_err(|e| TrainError::Training(format!("reading a value back: {e:?}")))
}

/// Reads a tensor's values back to the host as `f32`, whatever the backend's element type.
pub fn values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .try_into_data()
        .map_err(|e| TrainError::Training(format!("reading values back: {e}")))?
        .try_to_vec_as::<f32>()
        .map_err(|e| TrainError::Training(format!("reading values back: {e:?}")))
}

/// Reads an integer tensor's values back to the host as `i64`.
pub fn int_values<const D: usize>(tensor: Tensor<D, Int>) -> Result<Vec<i64>> {
    tensor
        .try_into_data()
        .map_err(|e| TrainError::Training(format!("reading values back: {e}")))?
        .try_to_vec_as::<i64>()
        .map_err(|e| TrainError::Training(format!("reading values back: {e:?}")))
}
