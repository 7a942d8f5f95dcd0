//! Checkpoints written atomically, finding the newest complete one to resume from, and checking
//! one before burn-train reads it.

use std::fs;
use std::path::{Path, PathBuf};

use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

use burn::module::Module;

use super::Trainable;
use super::step_logs::LogFailure;

/// The three record kinds burn-train checkpoints each epoch.
pub const CHECKPOINT_KINDS: [&str; 3] = ["model", "optim", "scheduler"];

/// Saves `{name}-{epoch}.bpk` in a folder, through a temporary file and a rename, so that a run
/// killed while saving leaves either the old state or the new one, never half a file.
/// (burn-train's own `FileCheckpointer` writes in place.)
pub struct AtomicFileCheckpointer {
    directory: PathBuf,
    name: String,
    stop: Option<LogFailure>,
}

impl AtomicFileCheckpointer {
    /// A checkpointer for records called `name` in `directory` (created if needed).
    pub fn new(directory: &Path, name: &str) -> Self {
        // An error here surfaces on the first save, with the path.
        let _ = fs::create_dir_all(directory);
        Self {
            directory: directory.to_path_buf(),
            name: name.to_string(),
            stop: None,
        }
    }

    /// Saves nothing once a log of the run failed: the epoch's logs may be incomplete (a log
    /// can fail after the learner last checked whether to stop), and the run is stopping.
    pub(super) fn unless_failed(mut self, failure: LogFailure) -> Self {
        self.stop = Some(failure);
        self
    }

    fn path(&self, epoch: usize) -> PathBuf {
        checkpoint_path(&self.directory, &self.name, epoch)
    }
}

/// The file of one checkpoint record.
pub fn checkpoint_path(directory: &Path, name: &str, epoch: usize) -> PathBuf {
    directory.join(format!("{name}-{epoch}.bpk"))
}

/// Checkpoint files burn-train asked to delete while no newer complete checkpoint existed:
/// `(file, epoch)`. burn-train saves and deletes each record kind on a thread of its own, so the
/// model's thread can delete epoch N's model while epoch N+1's optimizer is still being written;
/// a run stopped then would keep no complete checkpoint at all. A file waits here until a newer
/// epoch has all three records ([`remove_superseded`]).
static SUPERSEDED: std::sync::Mutex<Vec<(PathBuf, usize)>> = std::sync::Mutex::new(Vec::new());

/// Deletes the files burn-train asked to delete in `directory` whose epoch is older than its
/// newest complete checkpoint. [`fit`](super::fit) calls it when training ends, the
/// checkpointers after each save and deletion.
pub(super) fn remove_superseded(directory: &Path) {
    let Some(complete) = latest_complete_checkpoint(directory) else {
        return;
    };
    let Ok(mut pending) = SUPERSEDED.lock() else {
        return;
    };
    pending.retain(|(file, epoch)| {
        if file.parent() == Some(directory) && *epoch < complete {
            // Gone already is as good as deleted.
            let _ = fs::remove_file(file);
            false
        } else {
            true
        }
    });
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        if self.stop.as_ref().is_some_and(LogFailure::is_set) {
            return Ok(());
        }
        let path = self.path(epoch);
        let tmp = ae_io::temporary_path(&path);
        // A record that cannot be written (a full disk) leaves no temporary file behind.
        let saved = record
            .save(tmp.clone())
            .and_then(|()| fs::rename(&tmp, &path).map_err(CheckpointerError::IOError));
        if saved.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        saved?;
        ae_io::record_written(&path);
        remove_superseded(&self.directory);
        Ok(())
    }

    /// Deletes the record of `epoch` once a newer epoch has all three records (burn-train
    /// writes the three on separate threads: until then it is the newest complete one).
    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        if let Ok(mut pending) = SUPERSEDED.lock() {
            pending.push((self.path(epoch), epoch));
        }
        remove_superseded(&self.directory);
        Ok(())
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        R::load(self.path(epoch))
    }
}

/// The kind and epoch of a checkpoint record's file name (`optim-3.bpk`: `("optim", 3)`).
pub(super) fn checkpoint_file(name: &str) -> Option<(&str, usize)> {
    let (kind, rest) = name.split_once('-')?;
    let epoch = rest.strip_suffix(".bpk")?;
    if !CHECKPOINT_KINDS.contains(&kind) || !epoch.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, epoch.parse().ok()?))
}

/// The newest epoch for which the model, optimizer and scheduler checkpoints all exist.
pub fn latest_complete_checkpoint(directory: &Path) -> Option<usize> {
    let entries = fs::read_dir(directory).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            checkpoint_file(&name).map(|(_, epoch)| epoch)
        })
        .filter(|&epoch| {
            CHECKPOINT_KINDS
                .iter()
                .all(|kind| checkpoint_path(directory, kind, epoch).is_file())
        })
        .max()
}

/// After a resumed run: deletes the checkpoints of epochs other than the last two and `best`,
/// what burn-train keeps of a run it trained from the start. (Its strategies know only the
/// epochs of their own process, so the epochs before a resume were never deleted: two more sets
/// of records on every resume.)
pub(super) fn keep_as_a_fresh_run(directory: &Path, best: Option<usize>) {
    let Some(last) = latest_complete_checkpoint(directory) else {
        return;
    };
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    for path in entries.flatten().map(|entry| entry.path()) {
        let epoch = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(checkpoint_file)
            .map(|(_, epoch)| epoch);
        if let Some(epoch) = epoch
            && epoch + 1 < last
            && Some(epoch) != best
        {
            let _ = fs::remove_file(path);
        }
    }
}

/// Loads the three records of checkpoint `epoch` the way burn-train will, and the model's into
/// the model: a truncated, foreign or mismatched file is an error here rather than a panic
/// inside burn-train.
pub(super) fn check_checkpoint<M: Trainable>(
    model: &M,
    dir: &std::path::Path,
    epoch: usize,
) -> crate::error::Result<M> {
    use burn::optim::OptimizerRecord;
    use burn::optim::lr_scheduler::LrSchedulerRecord;
    use burn::store::ModuleRecord;
    use burn::train::checkpoint::Checkpointer;

    let bad = |kind: &str, message: String| crate::error::TrainError::BadCheckpoint {
        path: checkpoint_path(dir, kind, epoch),
        message,
    };
    // Burn reads them: each must be a regular file first (a FIFO would block its reader).
    for kind in CHECKPOINT_KINDS {
        let path = checkpoint_path(dir, kind, epoch);
        ae_io::check_file(&path, ae_io::Limit::data())?;
    }
    let load = |kind: &str| AtomicFileCheckpointer::new(dir, kind);
    let record: ModuleRecord = load("model")
        .restore(epoch)
        .map_err(|e| bad("model", e.to_string()))?;
    let steps = super::ModelSteps::new(model.clone(), super::Precision::F32);
    let loaded = steps
        .try_load_record(record)
        .map_err(|e| bad("model", format!("it does not fit this model: {e}")))?;
    let non_finite = ae_models::persist::non_finite_parameters(&loaded)?;
    if non_finite > 0 {
        return Err(bad(
            "model",
            format!(
                "{non_finite} of its weights are NaN or infinite (the run diverged by then); \
                 delete that epoch's files to resume from an earlier one"
            ),
        ));
    }
    Checkpointer::<OptimizerRecord>::restore(&load("optim"), epoch)
        .map_err(|e| bad("optim", e.to_string()))?;
    Checkpointer::<LrSchedulerRecord>::restore(&load("scheduler"), epoch)
        .map_err(|e| bad("scheduler", e.to_string()))?;
    Ok(loaded.model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_epoch_stays_until_a_newer_one_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let touch =
            |kind: &str, epoch: usize| fs::write(checkpoint_path(d, kind, epoch), b"x").unwrap();
        for kind in CHECKPOINT_KINDS {
            touch(kind, 1);
        }
        // burn-train's model thread: epoch 2's model saved, epoch 1's deleted, while the other
        // threads still write epoch 2's optimizer and scheduler.
        touch("model", 2);
        let model = AtomicFileCheckpointer::new(d, "model");
        Checkpointer::<()>::delete(&model, 1).unwrap();
        assert_eq!(latest_complete_checkpoint(d), Some(1), "epoch 1 was lost");
        touch("optim", 2);
        touch("scheduler", 2);
        remove_superseded(d);
        assert_eq!(latest_complete_checkpoint(d), Some(2));
        assert!(!checkpoint_path(d, "model", 1).exists());
    }

    #[test]
    fn latest_complete_needs_all_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(latest_complete_checkpoint(d), None);
        for kind in CHECKPOINT_KINDS {
            fs::write(checkpoint_path(d, kind, 2), b"x").unwrap();
        }
        fs::write(checkpoint_path(d, "model", 3), b"x").unwrap();
        fs::write(checkpoint_path(d, "optim", 3), b"x").unwrap();
        // Epoch 3 lacks its scheduler record: an interrupted save. Resume from 2.
        assert_eq!(latest_complete_checkpoint(d), Some(2));
        fs::write(checkpoint_path(d, "scheduler", 3), b"x").unwrap();
        assert_eq!(latest_complete_checkpoint(d), Some(3));
    }

    #[test]
    fn a_resumed_run_keeps_what_a_fresh_run_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for epoch in 1..=5 {
            for kind in CHECKPOINT_KINDS {
                fs::write(checkpoint_path(d, kind, epoch), "x").unwrap();
            }
        }
        fs::write(d.join("notes-1.bpk"), "a user's").unwrap();
        keep_as_a_fresh_run(d, Some(2));
        let mut left: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let expected: Vec<String> = [2, 4, 5]
            .iter()
            .flat_map(|e| ["model", "optim", "scheduler"].map(|k| format!("{k}-{e}.bpk")))
            .chain(["notes-1.bpk".to_string()])
            .collect();
        let mut expected = expected;
        expected.sort();
        assert_eq!(left, expected);
    }
}
