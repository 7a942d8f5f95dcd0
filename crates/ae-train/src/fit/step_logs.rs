//! burn-train's per-step metric logs (`train/epoch-1/Loss.log`, one value per line, the layout of
//! burn-train's `FileMetricLogger`), written so that a failed write ends training with an error
//! naming the file. burn-train's own logger writes on a thread per file and panics there on any
//! error; on a full disk the panics cascade through its destructors and abort the process (exit
//! 134), and this is where a filling disk usually shows first, before a checkpoint.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::train::Interrupter;
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

/// The first log a run could not write, shared by its loggers: recording it stops training
/// (burn-train's interrupter, before the epoch's checkpoint), and [`fit`](super::fit) returns it.
#[derive(Clone)]
pub(super) struct LogFailure {
    first: Arc<Mutex<Option<(PathBuf, std::io::Error)>>>,
    interrupter: Interrupter,
}

impl LogFailure {
    /// Failures stop the learner that `interrupter` belongs to.
    pub(super) fn new(interrupter: Interrupter) -> Self {
        Self {
            first: Arc::default(),
            interrupter,
        }
    }

    /// Keeps the first failure and stops training.
    pub(super) fn record(&self, path: &Path, error: std::io::Error) {
        if let Ok(mut first) = self.first.lock() {
            first.get_or_insert((path.to_path_buf(), error));
        }
        self.interrupter
            .stop(Some("a training log could not be written"));
    }

    /// Whether a failure was recorded: the epoch's checkpoint is then not saved (a log may
    /// fail after the learner last checked whether to stop).
    pub(super) fn is_set(&self) -> bool {
        self.first.lock().map_or(true, |first| first.is_some())
    }

    /// The first failure, if any.
    pub(super) fn take(&self) -> Option<(PathBuf, std::io::Error)> {
        self.first.lock().ok()?.take()
    }
}

/// The per-step logs of a run folder (see the module's documentation).
pub(super) struct StepLogs {
    dir: PathBuf,
    names: HashMap<MetricId, String>,
    open: HashMap<String, (PathBuf, BufWriter<File>)>,
    /// The files this process has begun: an epoch trained again after a resume starts its
    /// file afresh (as burn-train's logger does) instead of appending to the killed run's lines.
    begun: HashSet<PathBuf>,
    epoch: Option<usize>,
    failure: LogFailure,
    failed: bool,
}

impl StepLogs {
    /// The logs under `dir`; a write that fails is recorded in `failure`.
    pub(super) fn new(dir: &Path, failure: LogFailure) -> Self {
        Self {
            dir: dir.to_path_buf(),
            names: HashMap::new(),
            open: HashMap::new(),
            begun: HashSet::new(),
            epoch: None,
            failure,
            failed: false,
        }
    }

    /// `train/epoch-3/Loss.log`, as burn-train names it.
    fn path(&self, name: &str, epoch: usize, split: &Split) -> PathBuf {
        self.dir
            .join(split.to_string())
            .join(format!("epoch-{epoch}"))
            .join(format!("{}.log", name.replace(' ', "_")))
    }

    fn fail(&mut self, path: &Path, error: std::io::Error) {
        self.failed = true;
        self.open.clear();
        self.failure.record(path, error);
    }

    /// Flushes and closes every open log.
    fn close_all(&mut self) {
        for (_, (path, mut file)) in std::mem::take(&mut self.open) {
            if let Err(error) = file.flush() {
                self.fail(&path, error);
                return;
            }
        }
    }

    fn append(&mut self, name: &str, value: &str, epoch: usize, split: &Split) {
        let key = format!("{name}_{split}");
        if !self.open.contains_key(&key) {
            let path = self.path(name, epoch, split);
            let first = self.begun.insert(path.clone());
            let opened = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    OpenOptions::new()
                        .create(true)
                        .append(!first)
                        .write(true)
                        .truncate(first)
                        .open(&path)
                });
            match opened {
                Ok(file) => {
                    self.open.insert(key.clone(), (path, BufWriter::new(file)));
                }
                Err(error) => return self.fail(&path, error),
            }
        }
        if let Some((path, file)) = self.open.get_mut(&key)
            && let Err(error) = file.write_all(format!("{value}\n").as_bytes())
        {
            let path = path.clone();
            self.fail(&path, error);
        }
    }
}

impl MetricLogger for StepLogs {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        if self.failed {
            return;
        }
        if self.epoch != Some(epoch) {
            self.close_all();
            self.epoch = Some(epoch);
        }
        let entries = update
            .entries
            .iter()
            .chain(update.entries_numeric.iter().map(|numeric| &numeric.entry));
        let lines: Vec<(String, String)> = entries
            .filter(|entry| !entry.serialized_entry.is_not_available())
            .filter_map(|entry| {
                let name = self.names.get(&entry.metric_id)?;
                Some((name.clone(), entry.serialized_entry.serialized.clone()))
            })
            .collect();
        for (name, value) in lines {
            self.append(&name, &value, epoch, split);
            if self.failed {
                return;
            }
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        // Never an error: burn-train's event store panics on one (and may abort the process
        // unwinding); a log that cannot be read or written has stopped training already, and
        // checkpoint selection makes do with the values it has.
        let path = self.path(name, epoch, split);
        if let Some((_, file)) = self.open.get_mut(&format!("{name}_{split}"))
            && let Err(error) = file.flush()
        {
            self.fail(&path, error);
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                log::warn!("cannot read {}: {e}", path.display());
                String::new()
            }
        };
        Ok(text
            .lines()
            .filter(|line| !line.is_empty())
            .filter_map(|line| match NumericEntry::deserialize(line) {
                Ok(entry) => Some(entry),
                Err(e) => {
                    // A line cut short by a full disk or a killed process.
                    log::warn!("{}: left out {line:?} ({e})", path.display());
                    None
                }
            })
            .collect())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, _summary: EpochSummary) {
        if !self.failed {
            self.close_all();
        }
    }
}

impl Drop for StepLogs {
    fn drop(&mut self) {
        if !self.failed {
            self.close_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_that_cannot_be_written_stops_training_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let interrupter = Interrupter::new();
        let failure = LogFailure::new(interrupter.clone());
        // A file where the split's folder would go: its logs cannot be created.
        std::fs::write(dir.path().join("train"), "in the way").unwrap();
        let mut logs = StepLogs::new(dir.path(), failure.clone());
        logs.append("Loss", "0.5", 1, &Split::Train);
        assert!(interrupter.should_stop());
        let (path, _) = failure.take().expect("the failure is kept");
        assert_eq!(path, dir.path().join("train/epoch-1/Loss.log"));
    }

    #[test]
    fn values_are_read_back_as_burn_train_reads_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let failure = LogFailure::new(Interrupter::new());
        let mut logs = StepLogs::new(dir.path(), failure.clone());
        for value in ["0.5", "0.25"] {
            logs.append("Loss", value, 2, &Split::Valid);
        }
        let read = logs.read_numeric("Loss", 2, &Split::Valid).unwrap();
        let values: Vec<f64> = read.iter().map(|entry| entry.current()).collect();
        assert_eq!(values, [0.5, 0.25]);
        assert!(
            logs.read_numeric("Loss", 3, &Split::Valid)
                .unwrap()
                .is_empty()
        );
        drop(logs);
        let text = std::fs::read_to_string(dir.path().join("valid/epoch-2/Loss.log")).unwrap();
        assert_eq!(text, "0.5\n0.25\n");
        assert!(failure.take().is_none());
        // burn-train's own logger reads the same files the same way.
        let mut burns = burn::train::logger::FileMetricLogger::new(dir.path());
        let read = burns.read_numeric("Loss", 2, &Split::Valid).unwrap();
        assert_eq!(
            read.iter().map(|e| e.current()).collect::<Vec<_>>(),
            [0.5, 0.25]
        );
    }

    #[test]
    fn a_resumed_epoch_starts_its_log_afresh_and_a_torn_line_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("valid/epoch-3/Loss.log");
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        // A killed run's epoch 3, cut in the middle of a line.
        std::fs::write(&log, "0.5\n0.2").unwrap();
        let mut logs = StepLogs::new(dir.path(), LogFailure::new(Interrupter::new()));
        let read = logs.read_numeric("Loss", 3, &Split::Valid).unwrap();
        assert_eq!(read.len(), 2, "0.2 parses: only its newline is missing");
        std::fs::write(&log, "0.5\n0.25,6").unwrap();
        assert_eq!(
            logs.read_numeric("Loss", 3, &Split::Valid).unwrap().len(),
            2
        );
        std::fs::write(&log, "0.5\n0.25,").unwrap();
        assert_eq!(
            logs.read_numeric("Loss", 3, &Split::Valid).unwrap().len(),
            1
        );
        // Trained again after the resume: the file holds this run's values only.
        logs.append("Loss", "0.125", 3, &Split::Valid);
        drop(logs);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "0.125\n");
    }
}
