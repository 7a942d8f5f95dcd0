//! Bounds on what a configuration may ask for, checked by every `validate()` before anything is
//! allocated: a configuration from a user or a file that asks for more fails with an error that
//! names the field, instead of aborting the process when the allocation fails.

use crate::error::{ModelError, Result};

/// The widest layer, code or channel count a configuration may ask for.
pub const MAX_WIDTH: usize = 1 << 20;
/// The most values one input may have (`C * H * W`): 16M, a 4096x4096 RGB image.
pub const MAX_INPUT_VALUES: usize = 1 << 24;
/// The most layers of a stack.
pub const MAX_LAYERS: usize = 64;
/// The most parameters a model may have: 2^28 (1 GiB of `f32` weights; training holds about four
/// times that with the gradients and Adam's two moments).
pub const MAX_PARAMETERS: u128 = 1 << 28;

fn invalid<T>(field: &'static str, message: String) -> Result<T> {
    Err(ModelError::InvalidConfig { field, message })
}

/// `value` is in `1..=MAX_WIDTH`.
pub(crate) fn check_width(field: &'static str, value: usize) -> Result<()> {
    match value {
        0 => invalid(field, "must be at least 1".into()),
        v if v > MAX_WIDTH => invalid(field, format!("{v} is above the limit of {MAX_WIDTH}")),
        _ => Ok(()),
    }
}

/// Every width is in `1..=MAX_WIDTH`, and there are at most [`MAX_LAYERS`].
pub(crate) fn check_widths(field: &'static str, widths: &[usize]) -> Result<()> {
    if widths.len() > MAX_LAYERS {
        return invalid(
            field,
            format!(
                "has {} layers, above the limit of {MAX_LAYERS}",
                widths.len()
            ),
        );
    }
    for &w in widths {
        if w == 0 {
            return invalid(field, format!("{widths:?} has a layer of width 0"));
        }
        if w > MAX_WIDTH {
            return invalid(
                field,
                format!("{widths:?} has a layer of width {w}, above the limit of {MAX_WIDTH}"),
            );
        }
    }
    Ok(())
}

/// No dimension is 0 and the product is at most [`MAX_INPUT_VALUES`].
pub(crate) fn check_input_shape(field: &'static str, shape: [usize; 3]) -> Result<()> {
    if shape.contains(&0) {
        return invalid(field, format!("{shape:?} has a zero dimension"));
    }
    let values = shape.iter().map(|&d| d as u128).product::<u128>();
    if values > MAX_INPUT_VALUES as u128 {
        return invalid(
            field,
            format!("{shape:?} holds {values} values, above the limit of {MAX_INPUT_VALUES}"),
        );
    }
    Ok(())
}

/// At most [`MAX_PARAMETERS`].
pub(crate) fn check_parameters(count: u128) -> Result<()> {
    if count > MAX_PARAMETERS {
        return invalid(
            "(the whole model)",
            format!(
                "the configuration asks for {count} parameters, above the limit of \
                 {MAX_PARAMETERS}; use smaller layers or codes"
            ),
        );
    }
    Ok(())
}

/// Weights and biases of a stack of dense layers with these widths, input first.
pub(crate) fn dense_parameters(widths: &[usize]) -> u128 {
    widths
        .windows(2)
        .map(|w| w[0] as u128 * w[1] as u128 + w[1] as u128)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_by_hand() {
        assert!(check_width("w", 1).is_ok() && check_width("w", 0).is_err());
        assert!(check_width("w", MAX_WIDTH + 1).is_err());
        assert!(check_widths("h", &[3, 0]).is_err());
        assert!(check_widths("h", &vec![1; MAX_LAYERS + 1]).is_err());
        assert!(check_input_shape("s", [1, 28, 28]).is_ok());
        assert!(check_input_shape("s", [usize::MAX, usize::MAX, 2]).is_err());
        // 784-128-784: 784 * 128 + 128 + 128 * 784 + 784.
        assert_eq!(dense_parameters(&[784, 128, 784]), 201_616);
        assert!(check_parameters(MAX_PARAMETERS + 1).is_err());
    }
}
