//! What a training step hands its metrics: for each metric, a weighted sum and its weight on
//! the device ([`StepSums`]), which [`DeviceMeanMetric`](super::DeviceMeanMetric) accumulates.

use std::sync::Arc;

use burn::tensor::Tensor;

/// A metric's `(sum, weight)` for one step, on the device: ready, or computed when the metric
/// asks for it.
#[derive(Clone)]
pub enum StepSum {
    /// Computed in the step (cheap: a loss times its rows). (Boxed: a tensor handle is large.)
    Ready(Box<(Tensor<1>, Tensor<1>)>),
    /// Computed by the metric, on burn-train's metric thread: per-image work (MSE, PSNR) stays
    /// off the training thread, which matters on CPU backends, whose operations run eagerly.
    Deferred(Arc<dyn Fn() -> (Tensor<1>, Tensor<1>) + Send + Sync>),
}

impl std::fmt::Debug for StepSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(..) => f.write_str("Ready"),
            Self::Deferred(_) => f.write_str("Deferred"),
        }
    }
}

/// What one step adds to each metric, on the device: for each metric key, a weighted sum and
/// its weight (for a mean over images: the sum of the real rows' per-image values, and the
/// number of real rows).
#[derive(Debug, Clone, Default)]
pub struct StepSums {
    /// `(key, sum)`.
    pub entries: Vec<(&'static str, StepSum)>,
}

/// The sum of per-row `values` over the rows `mask` weights (every row when `None`), and the
/// count of those rows.
///
/// # Shapes
/// - values, mask: `[N]`
/// - outputs: `[1]`, `[1]`
pub fn row_sums(values: Tensor<1>, mask: Option<&Tensor<1>>) -> (Tensor<1>, Tensor<1>) {
    let rows = match mask {
        Some(mask) => mask.clone().sum(),
        None => Tensor::full([1], values.dims()[0] as f32, &values.device()),
    };
    (masked_sum(values, mask), rows)
}

/// The sum of per-row `values` over the rows `mask` weights (every row when `None`).
///
/// # Shapes
/// - values, mask: `[N]`
/// - output: `[1]`
pub fn masked_sum(values: Tensor<1>, mask: Option<&Tensor<1>>) -> Tensor<1> {
    match mask {
        Some(mask) => (values * mask.clone()).sum(),
        None => values.sum(),
    }
}

impl StepSums {
    /// Adds a mean over rows (`[1]`) under `key`, weighted by `rows` (`[1]`).
    pub fn add_mean(&mut self, key: &'static str, mean: Tensor<1>, rows: Tensor<1>) {
        self.entries
            .push((key, StepSum::Ready(Box::new((mean * rows.clone(), rows)))));
    }

    /// Adds a sum and its weight under `key`.
    pub fn add_sum(&mut self, key: &'static str, sum: Tensor<1>, weight: Tensor<1>) {
        self.entries
            .push((key, StepSum::Ready(Box::new((sum, weight)))));
    }

    /// Adds a sum the metric computes when it reads the step, under `key`.
    pub fn add_deferred(
        &mut self,
        key: &'static str,
        sum: impl Fn() -> (Tensor<1>, Tensor<1>) + Send + Sync + 'static,
    ) {
        self.entries.push((key, StepSum::Deferred(Arc::new(sum))));
    }

    /// The same sums, detached from the autodiff graph (deferred sums are built from detached
    /// tensors already).
    pub fn without_autodiff(self) -> Self {
        Self {
            entries: self
                .entries
                .into_iter()
                .map(|(k, sum)| {
                    let sum = match sum {
                        StepSum::Ready(pair) => {
                            let (s, w) = *pair;
                            StepSum::Ready(Box::new((s.without_autodiff(), w.without_autodiff())))
                        }
                        deferred => deferred,
                    };
                    (k, sum)
                })
                .collect(),
        }
    }
}
