//! Metrics accumulated on the device and read back a bounded number of times per epoch.
//!
//! burn-train hands every step's output to every metric. A metric that reads its value back at
//! each step (as burn's `LossMetric` does) makes the host wait for the device at each step, which
//! on a GPU drains the queue. Here each step adds, for each metric, a weighted sum and its weight
//! to a two-value tensor on the device ([`StepSums`]); the metric reads it back every
//! `read_every` steps (for the progress display) and once at the end of the epoch. The epoch
//! value is the same per-row mean a reading at every step would give.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

/// What one step adds to each metric, on the device: for each metric key, a weighted sum and
/// its weight (for a mean over images: the sum of the real rows' per-image values, and the
/// number of real rows).
#[derive(Debug, Clone, Default)]
pub struct StepSums {
    /// `(key, sum, weight)`.
    ///
    /// # Shapes
    /// sum, weight: `[1]`
    pub entries: Vec<(&'static str, Tensor<1>, Tensor<1>)>,
}

impl StepSums {
    /// Adds the per-row `values` of the rows `mask` weights (every row when `None`) under `key`,
    /// weighted by the number of those rows.
    ///
    /// # Shapes
    /// - values, mask: `[N]`
    pub fn add_rows(&mut self, key: &'static str, values: Tensor<1>, mask: Option<&Tensor<1>>) {
        let (sum, weight) = match mask {
            Some(mask) => ((values * mask.clone()).sum(), mask.clone().sum()),
            None => (values.clone().sum(), values.ones_like().sum()),
        };
        self.entries.push((key, sum, weight));
    }

    /// Adds a mean over rows (`[1]`) under `key`, weighted by `rows` (`[1]`).
    pub fn add_mean(&mut self, key: &'static str, mean: Tensor<1>, rows: Tensor<1>) {
        self.entries.push((key, mean * rows.clone(), rows));
    }

    /// Adds a sum and its weight under `key`.
    pub fn add_sum(&mut self, key: &'static str, sum: Tensor<1>, weight: Tensor<1>) {
        self.entries.push((key, sum, weight));
    }

    /// The same sums, detached from the autodiff graph.
    pub fn without_autodiff(self) -> Self {
        Self {
            entries: self
                .entries
                .into_iter()
                .map(|(k, s, w)| (k, s.without_autodiff(), w.without_autodiff()))
                .collect(),
        }
    }
}

/// How an accumulated `(sum, weight)` becomes the metric's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// `sum / weight`.
    Mean,
    /// `sqrt(sum / weight)`: a root mean square, e.g. RMSE from squared errors.
    RootMean,
}

/// A metric of burn-train whose epoch value is a weighted mean accumulated on the device: the
/// loss, its terms, MSE, PSNR, RMSE. Values are read back every `read_every` steps and at the
/// end of each epoch; between reads the metric reports no new value.
#[derive(Clone)]
pub struct DeviceMeanMetric {
    key: &'static str,
    name: MetricName,
    unit: Option<&'static str>,
    higher_is_better: bool,
    reduction: Reduction,
    read_every: usize,
    sums: Option<Tensor<1>>,
    steps: usize,
    /// The epoch's running value at the last read, and whether this step read it.
    last: Option<f64>,
    fresh: bool,
}

impl DeviceMeanMetric {
    /// The mean of the sums stored under `key`, shown as `name`, read every `read_every` steps
    /// (at least 1).
    pub fn new(key: &'static str, name: &str, read_every: usize) -> Self {
        Self {
            key,
            name: Arc::new(name.to_string()),
            unit: None,
            higher_is_better: false,
            reduction: Reduction::Mean,
            read_every: read_every.max(1),
            sums: None,
            steps: 0,
            last: None,
            fresh: false,
        }
    }

    /// The loss (key `"loss"`).
    pub fn loss(read_every: usize) -> Self {
        Self::new("loss", "Loss", read_every)
    }

    /// With a unit shown after the value.
    pub fn with_unit(mut self, unit: &'static str) -> Self {
        self.unit = Some(unit);
        self
    }

    /// Marks larger values as better (PSNR, accuracy).
    pub fn higher_is_better(mut self) -> Self {
        self.higher_is_better = true;
        self
    }

    /// With another reduction than the mean.
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    fn read(&self) -> Result<Option<f64>, TensorReadError> {
        let Some(sums) = &self.sums else {
            return Ok(None);
        };
        let values = sums.clone().try_into_data()?.try_to_vec_as::<f64>()?;
        let (sum, weight) = (values[0], values[1]);
        let mean = sum / weight;
        Ok(Some(match self.reduction {
            Reduction::Mean => mean,
            Reduction::RootMean => mean.sqrt(),
        }))
    }

    fn entry(&self) -> SerializedEntry {
        match self.last {
            Some(value) => {
                let unit = self.unit.map_or(String::new(), |u| format!(" {u}"));
                SerializedEntry::new(format!("{value:.4}{unit}"), value.to_string())
            }
            None => SerializedEntry::not_available(self.unit),
        }
    }
}

impl Metric for DeviceMeanMetric {
    type Input = StepSums;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        input: &StepSums,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.fresh = false;
        if let Some((_, sum, weight)) = input.entries.iter().find(|(k, ..)| *k == self.key) {
            let step = Tensor::cat(vec![sum.clone(), weight.clone()], 0);
            self.sums = Some(match self.sums.take() {
                Some(sums) => sums + step,
                None => step,
            });
            self.steps += 1;
            if self.steps.is_multiple_of(self.read_every) {
                self.last = self.read()?;
                self.fresh = true;
            }
        }
        Ok(self.entry())
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        self.last = self.read()?;
        self.fresh = true;
        Ok(self.entry())
    }

    fn clear(&mut self) {
        self.sums = None;
        self.steps = 0;
        self.last = None;
        self.fresh = false;
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: self.unit.map(str::to_string),
            higher_is_better: self.higher_is_better,
        }
        .into()
    }
}

impl Numeric for DeviceMeanMetric {
    fn value(&self) -> Option<NumericEntry> {
        self.last
            .filter(|_| self.fresh)
            .map(|v| NumericEntry::Aggregated {
                aggregated_value: v,
                count: self.steps,
            })
    }

    fn running_value(&self) -> Option<NumericEntry> {
        self.value()
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.last.unwrap_or(f64::NAN))
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn meta() -> MetricMetadata {
        MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(0),
            lr: None,
        }
    }

    /// Per-row means read every third step equal the mean of every step's values, weighted by
    /// rows; between reads the metric reports nothing new.
    #[test]
    fn sparse_reads_give_the_per_row_mean() {
        let device = Device::flex();
        let mut metric = DeviceMeanMetric::new("mse", "MSE", 3);
        let batches: [&[f32]; 4] = [&[1.0, 1.0], &[0.0, 0.0], &[4.0, 4.0], &[0.5]];
        let mut reported = Vec::new();
        for values in batches {
            let mut sums = StepSums::default();
            sums.add_rows("mse", Tensor::<1>::from_floats(values, &device), None);
            metric.update(&sums, &meta()).unwrap();
            reported.push(metric.value().is_some());
        }
        assert_eq!(reported, [false, false, true, false]);
        metric.compute().unwrap();
        // (1 + 1 + 0 + 0 + 4 + 4 + 0.5) / 7 rows.
        match metric.final_value() {
            NumericEntry::Final(v) => assert!((v - 10.5 / 7.0).abs() < 1e-6, "{v}"),
            other => panic!("unexpected {other:?}"),
        }
        metric.clear();
        metric.compute().unwrap();
        assert!(metric.final_value().current().is_nan());
    }

    /// A padded batch counts its real rows only.
    #[test]
    fn masked_rows_are_left_out() {
        let device = Device::flex();
        let mut metric = DeviceMeanMetric::new("mse", "MSE", 100);
        let mut sums = StepSums::default();
        let values = Tensor::<1>::from_floats([2.0, 4.0, 100.0], &device);
        let mask = Tensor::<1>::from_floats([1.0, 1.0, 0.0], &device);
        sums.add_rows("mse", values, Some(&mask));
        metric.update(&sums, &meta()).unwrap();
        metric.compute().unwrap();
        assert!((metric.final_value().current() - 3.0).abs() < 1e-6);
    }

    /// RMSE over every observed rating, whatever batch it falls in.
    #[test]
    fn root_mean_weighs_every_rating_equally() {
        let device = Device::flex();
        let mut metric =
            DeviceMeanMetric::new("rmse", "RMSE", 1).with_reduction(Reduction::RootMean);
        // Batch 1: one observed error of 2. Batch 2: three observed errors of 0.
        for (squared, count) in [(4.0, 1.0), (0.0, 3.0)] {
            let mut sums = StepSums::default();
            sums.add_sum(
                "rmse",
                Tensor::<1>::from_floats([squared], &device),
                Tensor::<1>::from_floats([count], &device),
            );
            metric.update(&sums, &meta()).unwrap();
        }
        metric.compute().unwrap();
        // sqrt(4 / 4) = 1 (a mean of the batch RMSEs weighted by ratings would give 0.5).
        assert!((metric.final_value().current() - 1.0).abs() < 1e-12);
    }
}
