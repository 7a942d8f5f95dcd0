//! One line of metrics per epoch and split, written as JSON lines beside the model.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use serde::{Deserialize, Serialize};

use super::data_parallel::training_devices;
use super::device::{GpuAdapter, backend_name};
use super::options::FitOptions;
use super::step_logs::LogFailure;

/// The metrics of one split of one epoch (epoch means, e.g. `{"Loss": 0.031, "PSNR": 16.2}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// `"train"` or `"valid"`.
    pub split: String,
    /// Metric name to its value over the epoch.
    pub metrics: BTreeMap<String, f64>,
    /// Seconds from the start of the training run (this process) to the end of this split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<f64>,
    /// The devices the epoch ran on (`flex`, `wgpu:0,wgpu:1`, `ws://host:3000`): a resumed run
    /// may continue elsewhere. Absent in logs of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<String>,
    /// What the devices are, one per device: a GPU's adapter as it names itself (`NVIDIA H100
    /// 80GB HBM3`), else the device's name (`flex`, `ws://host:3000`). A resume compares these,
    /// so that `wgpu` and `wgpu:0` naming one card is no move. Absent in logs of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<String>,
    /// The precision the epoch's steps computed in (`f32`, `bf16`, ...): a resumed run may
    /// continue in another. Absent in logs of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
}

impl EpochMetrics {
    /// Where and how the epoch ran, as `on flex in f32` (empty when the log does not say).
    pub fn ran(&self) -> String {
        let on = self.devices.as_deref().map(|d| format!("on {d}"));
        let within = self.precision.as_deref().map(|p| format!("in {p}"));
        on.into_iter().chain(within).collect::<Vec<_>>().join(" ")
    }
}

/// Where a run's epochs run, as each line of `metrics.jsonl` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RanOn {
    /// The training devices as the user named them, else the backends' names.
    devices: String,
    /// What they are ([`EpochMetrics::hardware`]).
    hardware: String,
    /// The precision of the steps.
    precision: String,
}

impl RanOn {
    /// The training devices of `options`, computing in `precision`.
    pub(super) fn of(options: &FitOptions, precision: &str) -> Self {
        let training = training_devices(options);
        let names: Vec<String> = if options.device_names.len() == training.len() {
            options.device_names.clone()
        } else {
            training.iter().map(backend_name).collect()
        };
        let hardware: Vec<String> = training
            .iter()
            .zip(&names)
            .map(|(device, name)| GpuAdapter::of(device).map_or_else(|| name.clone(), |a| a.name))
            .collect();
        Self {
            devices: names.join(","),
            hardware: hardware.join(","),
            precision: precision.to_string(),
        }
    }

    /// The notice a run resumed in `run_dir` prints when it continues elsewhere, or in another
    /// precision, than its epoch `earlier` ran. Other names for the same parts (`wgpu` and
    /// `wgpu:0` on a one-GPU machine) are no move.
    pub(super) fn change_from(&self, run_dir: &Path, earlier: &EpochMetrics) -> Option<String> {
        let moved = earlier
            .devices
            .as_deref()
            .is_some_and(|d| d != self.devices)
            && earlier.hardware.as_deref() != Some(self.hardware.as_str());
        let changed = earlier
            .precision
            .as_deref()
            .is_some_and(|p| p != self.precision);
        (moved || changed).then(|| {
            format!(
                "--resume: epoch {} of {} ran {}; the run continues on {} in {} (metrics.jsonl \
                 records where each epoch ran)",
                earlier.epoch,
                run_dir.display(),
                earlier.ran(),
                self.devices,
                self.precision
            )
        })
    }
}

/// A burn-train [`MetricLogger`] that appends one [`EpochMetrics`] JSON line per epoch and split
/// to a file, and keeps them in memory for the caller (see [`EpochLog::records`]).
///
/// Each line is written and flushed when its epoch ends, so an interrupted run keeps the lines of
/// the epochs it finished.
pub struct EpochLog {
    file: Option<File>,
    path: PathBuf,
    names: HashMap<MetricId, String>,
    current: HashMap<String, BTreeMap<String, f64>>,
    records: Arc<Mutex<Vec<EpochMetrics>>>,
    started: Instant,
    devices: Option<String>,
    hardware: Option<String>,
    precision: Option<String>,
    failure: Option<LogFailure>,
}

impl EpochLog {
    /// Opens `path` holding the lines of `previous` only (the epochs a resumed run keeps, none
    /// for a fresh run: the lines of epochs after a resume's checkpoint would stand beside the
    /// new ones), written atomically, then appended to; elapsed times count from `started`.
    pub fn open(path: &Path, previous: &[EpochMetrics], started: Instant) -> std::io::Result<Self> {
        let kept: String = previous
            .iter()
            .filter_map(|record| serde_json::to_string(record).ok())
            .map(|line| line + "\n")
            .collect();
        ae_io::write_atomic(path, kept.as_bytes())?;
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Self {
            file: Some(file),
            path: path.to_path_buf(),
            names: HashMap::new(),
            current: HashMap::new(),
            records: Arc::default(),
            started,
            devices: None,
            hardware: None,
            precision: None,
            failure: None,
        })
    }

    /// A line that cannot be written stops training through `failure` (see [`LogFailure`]).
    pub(super) fn stopping_on_failure(mut self, failure: LogFailure) -> Self {
        self.failure = Some(failure);
        self
    }

    /// Records where the epochs run in every line (see [`EpochMetrics::devices`]).
    pub(super) fn ran_on(mut self, ran_on: &RanOn) -> Self {
        self.devices = Some(ran_on.devices.clone());
        self.hardware = Some(ran_on.hardware.clone());
        self.precision = Some(ran_on.precision.clone());
        self
    }

    /// A handle on the lines logged so far; it stays valid after the logger moves into the
    /// learner.
    pub fn records(&self) -> Arc<Mutex<Vec<EpochMetrics>>> {
        self.records.clone()
    }
}

fn entry_value(entry: &NumericEntry) -> f64 {
    match entry {
        NumericEntry::Value(v) | NumericEntry::Final(v) => *v,
        NumericEntry::Aggregated {
            aggregated_value, ..
        } => *aggregated_value,
    }
}

impl MetricLogger for EpochLog {
    fn log(&mut self, update: MetricsUpdate, _epoch: usize, split: &Split) {
        let values = self.current.entry(split.to_string()).or_default();
        for numeric in update.entries_numeric {
            let Some(name) = self.names.get(&numeric.entry.metric_id) else {
                continue;
            };
            // The epoch's final value when this is the closing entry, else the running mean.
            let value = match &numeric.numeric_entry {
                Some(final_entry @ NumericEntry::Final(_)) => Some(entry_value(final_entry)),
                _ => numeric.running_entry.as_ref().map(entry_value),
            };
            if let Some(v) = value {
                values.insert(name.clone(), v);
            }
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        _epoch: usize,
        _split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        // Checkpoint selection reads burn-train's own FileMetricLogger, registered first.
        Err(format!(
            "{} keeps epoch means only, not `{name}`'s history",
            self.path.display()
        ))
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        let split = summary.split.to_string();
        let metrics = self.current.remove(&split).unwrap_or_default();
        let record = EpochMetrics {
            epoch: summary.epoch_number,
            split,
            metrics,
            elapsed_seconds: Some(self.started.elapsed().as_secs_f64()),
            devices: self.devices.clone(),
            hardware: self.hardware.clone(),
            precision: self.precision.clone(),
        };
        if let Some(file) = &mut self.file {
            // One write of the whole line; a failed one is cut back off, so that the file
            // never ends in half a line (a resume reads every line).
            let length = file.metadata().map(|m| m.len());
            let written = serde_json::to_string(&record)
                .map_err(std::io::Error::other)
                .and_then(|line| file.write_all(format!("{line}\n").as_bytes()))
                .and_then(|()| file.flush());
            if let Err(e) = written {
                if let Ok(length) = length {
                    let _ = file.set_len(length);
                }
                self.file = None;
                match &self.failure {
                    Some(failure) => failure.record(&self.path, e),
                    None => log::warn!("cannot write {}: {e}", self.path.display()),
                }
            }
        }
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
    }
}

/// The warm-up (to the end of the first training split) and the steady training rate (items per
/// second over the later training splits, each timed from the end of the validation split
/// before it) of a run's epoch records.
pub(super) fn warmup_and_steady(
    records: &[EpochMetrics],
    items: usize,
) -> (Option<f64>, Option<f64>) {
    let end = |epoch: usize, split: &str| {
        records
            .iter()
            .find(|r| r.epoch == epoch && r.split == split)
            .and_then(|r| r.elapsed_seconds)
    };
    let Some(first) = records.iter().map(|r| r.epoch).min() else {
        return (None, None);
    };
    let warmup = end(first, "train");
    let last = records.iter().map(|r| r.epoch).max().unwrap_or(first);
    let mut seconds = 0.0;
    for epoch in first + 1..=last {
        match (end(epoch - 1, "valid"), end(epoch, "train")) {
            (Some(start), Some(stop)) => seconds += stop - start,
            _ => return (warmup, None),
        }
    }
    let epochs = last - first;
    let steady = (epochs > 0 && seconds > 0.0).then(|| (epochs * items) as f64 / seconds);
    (warmup, steady)
}

/// The epoch of the lowest validation loss, which burn-train's checkpointing keeps.
pub(super) fn best_valid_epoch(epochs: &[EpochMetrics]) -> Option<usize> {
    epochs
        .iter()
        .filter(|record| record.split == "valid")
        .filter_map(|record| Some((record.epoch, *record.metrics.get("Loss")?)))
        .filter(|(_, loss)| loss.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(epoch, _)| epoch)
}

/// Reads a `metrics.jsonl` file back.
///
/// A last line without its newline that does not parse is left out with a warning: a write
/// cut short (a full disk, a killed process) tore it, and the epoch it was for is trained again
/// on `--resume`.
pub fn read_epoch_log(path: &Path) -> crate::Result<Vec<EpochMetrics>> {
    let text = ae_io::read_to_string(path, ae_io::Limit::data())?;
    let torn = (!text.ends_with('\n')).then(|| text.lines().count());
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(e) if torn == Some(i + 1) => {
                log::warn!(
                    "{} line {}: left out, cut short ({e})",
                    path.display(),
                    i + 1
                );
            }
            Err(e) => {
                return Err(crate::TrainError::InvalidArgument {
                    what: "metrics log",
                    message: format!("{} line {}: {e}", path.display(), i + 1),
                });
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn earlier(devices: &str, hardware: Option<&str>, precision: &str) -> EpochMetrics {
        EpochMetrics {
            epoch: 2,
            split: "train".into(),
            metrics: BTreeMap::new(),
            elapsed_seconds: None,
            devices: Some(devices.into()),
            hardware: hardware.map(Into::into),
            precision: Some(precision.into()),
        }
    }

    #[test]
    fn a_resume_says_when_it_moves_to_other_parts_or_precision() {
        let here = RanOn {
            devices: "wgpu:0".into(),
            hardware: "NVIDIA H100 80GB HBM3".into(),
            precision: "f32".into(),
        };
        let dir = Path::new("runs/x");
        // Another name for the same card: no notice.
        let same_card = earlier("wgpu", Some("NVIDIA H100 80GB HBM3"), "f32");
        assert_eq!(here.change_from(dir, &same_card), None);
        // Another card, a log of an earlier version (no hardware), another precision: said.
        for moved in [
            earlier("wgpu", Some("llvmpipe (LLVM 19.1.7, 256 bits)"), "f32"),
            earlier("wgpu", None, "f32"),
            earlier("wgpu:0", Some("NVIDIA H100 80GB HBM3"), "bf16"),
        ] {
            let notice = here.change_from(dir, &moved).expect("a notice");
            assert!(
                notice.contains("the run continues on wgpu:0 in f32"),
                "{notice}"
            );
        }
        assert_eq!(here.change_from(dir, &earlier("wgpu:0", None, "f32")), None);
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_any_other_bad_line_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let line = serde_json::to_string(&earlier("flex", None, "f32")).unwrap();
        std::fs::write(&path, format!("{line}\n{}", &line[..line.len() / 2])).unwrap();
        assert_eq!(read_epoch_log(&path).unwrap().len(), 1);
        std::fs::write(&path, format!("{}\n{line}\n", &line[..line.len() / 2])).unwrap();
        let err = read_epoch_log(&path).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
