//! Metrics accumulated on the device and read back a bounded number of times per epoch.
//!
//! burn-train hands every step's output to every metric. A metric that reads its value back at
//! each step (as burn's `LossMetric` does) makes the host wait for the device at each step, which
//! on a GPU drains the queue. Here each step adds, for each metric, a weighted sum and its weight
//! to a two-value tensor on the device ([`StepSums`]); the metric reads it back every
//! `read_every` steps (for the progress display) and once at the end of the epoch. The epoch
//! value is the same per-row mean a reading at every step would give.

use std::sync::{Arc, Mutex};

use burn::tensor::{ExecutionError, Tensor, TensorReadError};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use super::step_sums::{StepSum, StepSums};

/// Where a loss first stopped being finite, or had grown past [`GROWTH_LIMIT`] times its first
/// step's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Divergence {
    /// `"train"` or `"valid"`.
    pub split: &'static str,
    /// The epoch, from 1.
    pub epoch: usize,
    /// The step within the epoch, from 1.
    pub step: usize,
    /// For a loss that stayed finite: its first step's value and the epoch's mean it reached.
    pub grew: Option<(f64, f64)>,
}

/// How many times its first step's value the train loss may reach before training stops as
/// diverged. A loss that explodes without overflowing (a VAE at `--lr 1e6` reaches 1.9e33 and
/// stays finite) would otherwise end in a model and a report that look like results; an
/// autoencoder's loss starts near its largest (an untrained model) and training lowers it.
pub const GROWTH_LIMIT: f64 = 1e4;

/// What the metrics of one [`fit`](crate::fit) share: how often they read back, the epoch the
/// run starts after, and where the loss metric reports a divergence.
#[derive(Debug, Clone, Default)]
pub struct MetricsContext {
    /// Steps between two reads of a device-side metric (at least 1).
    pub read_every: usize,
    /// Epochs finished before this run (a resumed run's checkpoint).
    pub first_epoch: usize,
    /// Filled by the loss metric when the loss stops being finite.
    pub divergence: Arc<Mutex<Option<Divergence>>>,
    /// What the train loss's growth is measured against in a resumed run: the first epoch's
    /// train loss (a trained model's loss would make a small baseline). `None`: the run's first
    /// step.
    pub loss_baseline: Option<f64>,
}

impl MetricsContext {
    /// Reads every `read_every` steps, from the first epoch.
    pub fn new(read_every: usize) -> Self {
        Self {
            read_every: read_every.max(1),
            ..Self::default()
        }
    }

    /// The divergence the loss metric found, if any.
    pub fn divergence(&self) -> Option<Divergence> {
        self.divergence.lock().ok().and_then(|d| *d)
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
    /// `[sum, weight]` on the device, and for the loss a third value: the count of steps
    /// whose sum was not finite. (Only the loss needs it: counting costs kernel launches at
    /// every step, which a GPU pays for.) One accumulator per device the steps ran on: with
    /// several devices (`FitOptions::with_devices`) each worker's sums stay on its own device
    /// and are added on the host when read.
    sums: Vec<Tensor<1>>,
    steps: usize,
    /// The epoch's running value at the last read, and whether this step read it.
    last: Option<f64>,
    fresh: bool,
    /// For the loss: where to report a non-finite value, and the epochs ended so far.
    watch: Option<Arc<Mutex<Option<Divergence>>>>,
    /// For the loss: the first training step's value in this run (read once, at that step), or
    /// [`MetricsContext::loss_baseline`].
    first_loss: Option<f64>,
    first_epoch: usize,
    epochs_ended: usize,
    split: &'static str,
}

impl DeviceMeanMetric {
    /// The mean of the sums stored under `key`, shown as `name`, read as `context` says.
    pub fn new(key: &'static str, name: &str, context: &MetricsContext) -> Self {
        Self {
            key,
            name: Arc::new(name.to_string()),
            unit: None,
            higher_is_better: false,
            reduction: Reduction::Mean,
            read_every: context.read_every.max(1),
            sums: Vec::new(),
            steps: 0,
            last: None,
            fresh: false,
            watch: None,
            first_loss: None,
            first_epoch: context.first_epoch,
            epochs_ended: 0,
            split: "train",
        }
    }

    /// The loss (key `"loss"`), which also stops training when it stops being finite: its
    /// update fails with the epoch and step, and `context` keeps them for the caller.
    pub fn loss(context: &MetricsContext) -> Self {
        let mut metric = Self::new("loss", "Loss", context);
        metric.watch = Some(context.divergence.clone());
        metric.first_loss = context.loss_baseline.filter(|&loss| loss > 0.0);
        metric
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

    fn read(&mut self) -> Result<Option<f64>, TensorReadError> {
        if self.sums.is_empty() {
            return Ok(None);
        }
        let mut values = [0.0f64; 3];
        for sums in &self.sums {
            let read = sums.clone().try_into_data()?.try_to_vec_as::<f64>()?;
            for (total, value) in values.iter_mut().zip(read) {
                *total += value;
            }
        }
        let (sum, weight) = (values[0], values[1]);
        let bad = values[2];
        let mean = sum / weight;
        let epoch = self.first_epoch + self.epochs_ended + 1;
        let divergence = if bad > 0.0 || !sum.is_finite() {
            // Once the weights are not finite, every later loss is not either: the first bad
            // step is the count of steps less the count of bad ones.
            Some(Divergence {
                split: self.split,
                epoch,
                step: self.steps + 1 - (bad.round() as usize).clamp(1, self.steps.max(1)),
                grew: None,
            })
        } else {
            self.first_loss
                .filter(|&first| self.split == "train" && first > 0.0)
                .filter(|&first| mean > GROWTH_LIMIT * first)
                .map(|first| Divergence {
                    split: self.split,
                    epoch,
                    step: self.steps,
                    grew: Some((first, mean)),
                })
        };
        if let (Some(watch), Some(divergence)) = (&self.watch, divergence) {
            if let Ok(mut slot) = watch.lock() {
                slot.get_or_insert(divergence);
            }
            return Err(TensorReadError::Execution(ExecutionError::WithContext {
                reason: format!(
                    "the {} loss diverged by epoch {} step {}",
                    divergence.split, divergence.epoch, divergence.step
                ),
            }));
        }
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
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.fresh = false;
        // Training steps come with a learning rate, validation steps without.
        self.split = if metadata.lr.is_some() {
            "train"
        } else {
            "valid"
        };
        if let Some((_, sum)) = input.entries.iter().find(|(k, _)| *k == self.key) {
            let (sum, weight) = match sum {
                StepSum::Ready(pair) => (pair.0.clone(), pair.1.clone()),
                StepSum::Deferred(compute) => compute(),
            };
            let device = sum.device();
            let at = self.sums.iter().position(|sums| sums.device() == device);
            // On the GPU one in-place launch (the running sums are a buffer of this metric's
            // own); elsewhere a concatenation and an addition.
            let added = at.is_some_and(|at| {
                ae_models::ops::accumulate_into(&self.sums[at], sum.clone(), weight.clone()).is_ok()
            });
            if !added {
                let step = if self.watch.is_some() {
                    let bad = sum.clone().is_nan().float() + sum.clone().is_inf().float();
                    Tensor::cat(vec![sum, weight, bad], 0)
                } else {
                    Tensor::cat(vec![sum, weight], 0)
                };
                let sums = match at {
                    Some(at) => self.sums.swap_remove(at) + step,
                    None => ae_models::ops::fresh_copy(step),
                };
                self.sums.push(sums);
            }
            self.steps += 1;
            // The loss reads its first training step once: what later reads are compared with
            // (one wait for the device per run).
            // (Not shown: a step's value beside the epochs' running means would read as one.)
            // A first loss of 0 (nothing to grow from) is read again at the next step.
            if self.watch.is_some() && self.split == "train" && self.first_loss.is_none() {
                self.first_loss = self.read()?.filter(|&loss| loss > 0.0);
            }
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
        self.sums.clear();
        self.steps = 0;
        self.last = None;
        self.fresh = false;
        self.epochs_ended += 1;
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
mod tests;
