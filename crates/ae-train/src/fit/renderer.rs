//! Progress as plain lines, for logs, pipes and CI (burn-train's TUI takes over on a terminal).

use std::collections::HashMap;
use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// Prints a line at each quarter of an epoch's split (once it has run for a second) and a summary
/// line when it ends:
///
/// ```text
/// epoch 1/10 train  25% (1792/7200 items)
/// epoch 1/10 train: Loss 0.0615 | MSE 0.0615 | PSNR 12.32 dB | 7200 items in 1.9 s (3789 items/s)
/// ```
pub struct PlainRenderer {
    label: String,
    epoch: usize,
    total_epochs: usize,
    split: String,
    split_items: usize,
    split_start: Instant,
    next_quarter: usize,
    names: HashMap<MetricId, (String, Option<String>)>,
    order: Vec<MetricId>,
    means: HashMap<MetricId, (f64, f64)>,
}

impl Default for PlainRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl PlainRenderer {
    /// A renderer printing to standard output.
    pub fn new() -> Self {
        Self {
            label: "training".into(),
            epoch: 1,
            total_epochs: 0,
            split: String::new(),
            split_items: 0,
            split_start: Instant::now(),
            next_quarter: 1,
            names: HashMap::new(),
            order: Vec::new(),
            means: HashMap::new(),
        }
    }

    fn record(&mut self, state: MetricState) {
        let MetricState::Numeric(entry, Some(value)) = state else {
            return;
        };
        let mean = self.means.entry(entry.metric_id).or_insert((0.0, 0.0));
        match value {
            NumericEntry::Final(v) => *mean = (v, 1.0),
            NumericEntry::Value(v) => {
                mean.0 += v;
                mean.1 += 1.0;
            }
            NumericEntry::Aggregated {
                aggregated_value,
                count,
            } => {
                mean.0 += aggregated_value * count as f64;
                mean.1 += count as f64;
            }
        }
    }

    fn summary(&self) -> String {
        self.order
            .iter()
            .filter_map(|id| {
                let (sum, n) = self.means.get(id)?;
                let (name, unit) = self.names.get(id)?;
                let unit = unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
                Some(format!(
                    "{name} {:.4}{unit}",
                    sum / n.max(f64::MIN_POSITIVE)
                ))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

impl MetricsRendererTraining for PlainRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state);
    }
}

impl MetricsRendererEvaluation for PlainRenderer {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        self.record(state);
    }
}

impl TrainingProgressLogger for PlainRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
        self.label = label.unwrap_or("training").to_string();
        if starting_epoch > 1 {
            println!(
                "{}: resuming at epoch {starting_epoch} of {total_epochs}",
                self.label
            );
        } else {
            println!("{}: {total_epochs} epochs", self.label);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        // Called with the number of epochs completed; the next lines are about the next one.
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.split_items = total_items;
        self.split_start = Instant::now();
        self.next_quarter = 1;
        self.means.clear();
    }

    fn update_split(&mut self, items_processed: usize) {
        // Quarter lines only for splits long enough to wonder about; short ones get the summary.
        if self.split_items == 0 || self.split_start.elapsed().as_secs_f64() < 1.0 {
            return;
        }
        let quarter = items_processed * 4 / self.split_items;
        if quarter >= self.next_quarter && quarter < 4 {
            println!(
                "epoch {}/{} {} {:>3}% ({items_processed}/{} items)",
                self.epoch,
                self.total_epochs,
                self.split,
                items_processed * 100 / self.split_items,
                self.split_items
            );
            self.next_quarter = quarter + 1;
        }
    }

    fn end_split(&mut self) {
        let secs = self.split_start.elapsed().as_secs_f64();
        println!(
            "epoch {}/{} {}: {} | {} items in {secs:.1} s ({:.0} items/s)",
            self.epoch,
            self.total_epochs,
            self.split,
            self.summary(),
            self.split_items,
            self.split_items as f64 / secs.max(1e-9)
        );
    }

    fn end(&mut self) {
        // burn-train calls this however training ended: an error, if any, follows.
        if self.epoch < self.total_epochs {
            println!(
                "{}: stopped in epoch {} of {}",
                self.label, self.epoch, self.total_epochs
            );
        } else {
            println!("{}: done", self.label);
        }
    }

    fn log_event_training(&mut self, _event: String) {
        // burn-train sends an "Iteration" event per step: progress lines already cover it.
    }
}

impl EvaluationProgressLogger for PlainRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, name: &str, total_items: usize) {
        self.start_split(name, total_items);
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        self.update_split(items_processed);
    }

    fn end_test(&mut self) {
        self.end_split();
    }

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for PlainRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        let unit = match &definition.attributes {
            burn::train::metric::MetricAttributes::Numeric(attrs) => attrs.unit.clone(),
            burn::train::metric::MetricAttributes::None => None,
        };
        if !self.order.contains(&definition.metric_id) {
            self.order.push(definition.metric_id.clone());
        }
        self.names
            .insert(definition.metric_id, (definition.name.to_string(), unit));
    }
}
